//! The webhook worker: a thread of its own (HTTP to other servers can be slow; request
//! handling never waits on it). It posts each due delivery, signed, records the outcome,
//! schedules retries with exponential backoff and jitter, and prunes settled deliveries
//! past the retention period.
//!
//! Every POST carries `X-Hearth-Event`, `X-Hearth-Delivery` and
//! `X-Hearth-Signature: sha256=<hex HMAC-SHA256(secret, raw body)>`.

use std::sync::Weak;
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use rand::RngExt;
use sha2::Sha256;

use super::store::{self, Due, Outcome};
use crate::config::WebhookOptions;
use crate::db::Store;
use crate::error::Result;
use crate::outbound;
use crate::state::AppState;

/// Deliveries sent at once (each on a short-lived thread of the worker).
const BATCH: usize = 8;

/// `sha256=<hex>` of the body under `secret`, as sent in `X-Hearth-Signature`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let mut out = String::with_capacity(7 + digest.len() * 2);
    out.push_str("sha256=");
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

pub fn now_ms() -> i64 {
    crate::datetime::unix_micros() / 1000
}

/// The wait before attempt `attempts + 1`: backoff doubled per attempt made, capped, plus
/// up to 25% random jitter so failing receivers are not hit in lockstep.
pub fn retry_delay(opts: &WebhookOptions, attempts: u32) -> Duration {
    let exp = attempts.saturating_sub(1).min(20);
    let base = opts
        .backoff
        .saturating_mul(1u32 << exp)
        .min(opts.max_backoff);
    let jitter = rand::rng().random_range(0..=base.as_millis() as u64 / 4);
    base + Duration::from_millis(jitter)
}

/// The HTTP client of the worker. Its resolver refuses forbidden targets (see `outbound`)
/// and the connection goes to the addresses it checked. Redirects are not followed (one
/// could lead anywhere), nor, while private targets are refused, an environment proxy:
/// behind a proxy the target is resolved by the proxy, out of the check's reach.
pub fn agent(opts: &WebhookOptions) -> ureq::Agent {
    let config = ureq::Agent::config_builder()
        .timeout_global(Some(opts.timeout))
        .timeout_connect(Some(opts.timeout.min(Duration::from_secs(5))))
        .http_status_as_error(false)
        .max_redirects(0)
        .user_agent(format!("hearth-webhooks/{}", crate::VERSION));
    outbound::guarded_agent(config, opts.allow_private, "--webhook-allow-private")
}

/// Why a POST did not deliver.
enum Failure {
    /// A non-2xx answer (its status) or a network error (0), worth retrying.
    Retry(u16, String),
    /// The target is one webhooks may not reach: retrying cannot help.
    Refused(String),
}

/// Posts one delivery; Ok(status) for a 2xx.
fn post(agent: &ureq::Agent, d: &Due) -> std::result::Result<u16, Failure> {
    let res = agent
        .post(&d.url)
        .header("Content-Type", "application/json")
        .header("X-Hearth-Event", &d.event)
        .header("X-Hearth-Delivery", &d.id)
        .header(
            "X-Hearth-Signature",
            signature(&d.secret, d.payload.as_bytes()),
        )
        .send(d.payload.as_bytes());
    match res {
        Ok(res) => {
            let status = res.status().as_u16();
            if (200..300).contains(&status) {
                Ok(status)
            } else {
                Err(Failure::Retry(status, format!("HTTP {status}")))
            }
        }
        Err(e) => match outbound::refused(&e) {
            Some(refused) => Err(Failure::Refused(refused.to_string())),
            None => Err(Failure::Retry(0, e.to_string())),
        },
    }
}

fn attempt(agent: &ureq::Agent, opts: &WebhookOptions, d: &Due) -> Outcome {
    let attempts = d.attempts + 1;
    match post(agent, d) {
        Ok(status) => Outcome {
            status: "delivered",
            attempts,
            next_at_ms: 0,
            response: status,
            error: String::new(),
        },
        Err(Failure::Refused(error)) => {
            log::warn!("webhook delivery {} to {}: {error}", d.id, d.url);
            Outcome {
                status: "failed",
                attempts,
                next_at_ms: 0,
                response: 0,
                error,
            }
        }
        Err(Failure::Retry(status, error)) => {
            let last = attempts >= opts.max_attempts;
            log::warn!(
                "webhook delivery {} to {}: attempt {attempts} failed: {error}{}",
                d.id,
                d.url,
                if last { " (giving up)" } else { "" }
            );
            Outcome {
                status: if last { "failed" } else { "pending" },
                attempts,
                next_at_ms: now_ms() + retry_delay(opts, attempts).as_millis() as i64,
                response: status,
                error,
            }
        }
    }
}

/// Sends every due delivery (up to a batch at a time); returns how many were attempted.
/// Webhooks are served side by side, each one's deliveries in order; after a failure the
/// rest of that webhook's batch waits for the next round.
pub fn deliver_due(store: &Store, agent: &ureq::Agent, opts: &WebhookOptions) -> Result<usize> {
    let due = store.read_reserved(|c| store::due(c, now_ms(), BATCH))?;
    let mut by_webhook: Vec<Vec<&Due>> = Vec::new();
    for d in &due {
        match by_webhook.iter_mut().find(|g| g[0].webhook == d.webhook) {
            Some(group) => group.push(d),
            None => by_webhook.push(vec![d]),
        }
    }
    let outcomes: Vec<(String, Outcome)> = std::thread::scope(|s| {
        let handles: Vec<_> = by_webhook
            .into_iter()
            .map(|group| {
                s.spawn(move || {
                    let mut out = Vec::new();
                    for d in group {
                        let outcome = attempt(agent, opts, d);
                        let failed = outcome.status != "delivered";
                        out.push((d.id.clone(), outcome));
                        if failed {
                            break;
                        }
                    }
                    out
                })
            })
            .collect();
        handles
            .into_iter()
            .filter_map(|h| h.join().ok())
            .flatten()
            .collect()
    });
    if !outcomes.is_empty() {
        store.write(|tx| {
            for (id, outcome) in &outcomes {
                store::record_attempt(tx, id, outcome)?;
            }
            Ok(())
        })?;
    }
    Ok(outcomes.len())
}

/// Deletes settled deliveries older than the retention period.
pub fn prune(store: &Store, opts: &WebhookOptions) -> Result<usize> {
    let cutoff = time::OffsetDateTime::now_utc()
        - time::Duration::try_from(opts.retention).unwrap_or(time::Duration::WEEK);
    let cutoff = crate::datetime::format(cutoff);
    store.write(|tx| store::prune(tx, &cutoff))
}

/// hearth's id of the job that prunes settled deliveries (every ten minutes).
pub const PRUNE_JOB: &str = "__hearthWebhooksPrune__";

/// Starts the worker thread, and schedules the pruning in the `crons` registry. Ends when
/// the app is dropped.
pub fn start(state: Weak<AppState>, opts: WebhookOptions) {
    if let Some(app) = state.upgrade() {
        let (weak, kept) = (state.clone(), opts.clone());
        let work: crate::crons::Work = std::sync::Arc::new(move || {
            let Some(app) = weak.upgrade() else {
                return Ok(());
            };
            let n = prune(&app.db.data, &kept)?;
            if n > 0 {
                log::info!("pruned {n} settled webhook deliveries");
            }
            Ok(())
        });
        let owner = crate::crons::Owner::Server;
        if let Err(e) = app.crons.add(PRUNE_JOB, "*/10 * * * *", owner, work) {
            log::warn!("cannot schedule the webhook pruning: {e}");
        }
    }
    let spawned = std::thread::Builder::new()
        .name("webhooks".into())
        .spawn(move || {
            let agent = agent(&opts);
            loop {
                let Some(state) = state.upgrade() else { break };
                let sent = deliver_due(&state.db.data, &agent, &opts);
                drop(state);
                match sent {
                    // A full batch: more may be waiting.
                    Ok(n) if n >= BATCH => continue,
                    Ok(_) => {}
                    Err(e) => log::warn!("webhook delivery: {e}"),
                }
                std::thread::sleep(opts.poll);
            }
        });
    if let Err(e) = spawned {
        log::warn!("cannot start the webhook worker: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_sha256_hex() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn retries_back_off_exponentially_within_bounds() {
        let opts = WebhookOptions {
            backoff: Duration::from_secs(2),
            max_backoff: Duration::from_secs(60),
            ..WebhookOptions::default()
        };
        let first = retry_delay(&opts, 1);
        assert!(first >= Duration::from_secs(2) && first <= Duration::from_millis(2500));
        let third = retry_delay(&opts, 3);
        assert!(third >= Duration::from_secs(8) && third <= Duration::from_secs(10));
        let late = retry_delay(&opts, 30);
        assert!(late >= Duration::from_secs(60) && late <= Duration::from_secs(75));
    }
}
