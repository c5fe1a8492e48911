//! Certificates from an ACME directory (Let's Encrypt) for `hearth serve DOMAIN...`: one
//! per domain, obtained in the background when the server starts, cached in the data dir's
//! `.acme/` and renewed when a third of their lifetime is left. Control of a domain is
//! proven by TLS-ALPN-01 (on the HTTPS port) or HTTP-01 (on the HTTP port), in the order
//! `--acme-challenges` gives; a failed challenge is retried with the next one.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime};

use instant_acme::{
    Account, AccountCredentials, AuthorizationStatus, ChallengeType, Identifier, NewAccount,
    NewOrder, OrderStatus, RetryPolicy,
};
use sha2::{Digest, Sha256};

use super::certs::{self, Certificates};
use crate::config::{AcmeConfig, Challenge};
use crate::error::{Error, Result};

/// How often certificates are checked for renewal.
const CHECK_EVERY: Duration = Duration::from_secs(12 * 3600);
/// After a failure, the first retry waits this long, doubling up to `RETRY_AT_MOST`.
const RETRY_FIRST: Duration = Duration::from_secs(2);
const RETRY_AT_MOST: Duration = Duration::from_secs(3600);
/// How long the directory may take to validate a challenge or issue a certificate.
const POLL: RetryPolicy = RetryPolicy::new()
    .initial_delay(Duration::from_millis(250))
    .timeout(Duration::from_secs(90));

/// Loads cached certificates now and starts the task that obtains and renews them.
pub fn start(config: AcmeConfig, store: Arc<Certificates>) -> Result<()> {
    std::fs::create_dir_all(&config.cache)
        .map_err(|e| Error::internal(format!("cannot create {}: {e}", config.cache.display())))?;
    for domain in &config.domains {
        match cached(&config.cache, domain) {
            Ok(Some((key, _))) => store.install(Some(domain), Arc::new(key)),
            Ok(None) => {}
            Err(e) => log::warn!("ACME: ignoring the cached certificate for {domain}: {e}"),
        }
    }
    let store = Arc::downgrade(&store);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::internal(format!("ACME runtime: {e}")))?;
    std::thread::Builder::new()
        .name("acme".into())
        .spawn(move || runtime.block_on(keep_certificates(config, store)))
        .map_err(|e| Error::internal(format!("ACME thread: {e}")))?;
    Ok(())
}

/// Obtains and renews until the server is gone.
async fn keep_certificates(config: AcmeConfig, store: Weak<Certificates>) {
    let mut retry = RETRY_FIRST;
    let mut account = None;
    loop {
        let Some(live) = store.upgrade() else { break };
        let wait = match renew_due(&config, &live, &mut account).await {
            Ok(()) => {
                retry = RETRY_FIRST;
                CHECK_EVERY
            }
            Err(e) => {
                log::warn!("ACME: {e}; trying again in {}s", retry.as_secs());
                let wait = retry;
                retry = (retry * 2).min(RETRY_AT_MOST);
                wait
            }
        };
        drop(live);
        tokio::time::sleep(wait).await;
    }
}

/// Obtains a certificate for every domain that has none or whose renewal is due.
async fn renew_due(
    config: &AcmeConfig,
    store: &Certificates,
    account: &mut Option<Account>,
) -> Result<()> {
    for domain in &config.domains {
        let due = match cached(&config.cache, domain) {
            Ok(Some((_, renew_at))) => SystemTime::now() >= renew_at,
            _ => true,
        };
        if !due && store.has(domain) {
            continue;
        }
        let account = match account {
            Some(a) => a,
            None => account.insert(sign_up(config).await?),
        };
        let pem = obtain(config, account, store, domain).await?;
        let key = certs::from_pem(pem.as_bytes(), pem.as_bytes())?;
        write_private(&cert_path(&config.cache, domain), pem.as_bytes())?;
        store.install(Some(domain), Arc::new(key));
        log::info!("ACME: certificate for {domain} obtained");
    }
    Ok(())
}

/// The account at the directory: the cached one, or a new one (then cached).
async fn sign_up(config: &AcmeConfig) -> Result<Account> {
    let fail =
        |e: instant_acme::Error| Error::internal(format!("account at {}: {e}", config.directory));
    let builder = match &config.ca {
        Some(ca) => Account::builder_with_root(ca),
        None => Account::builder(),
    }
    .map_err(fail)?;
    let path = config
        .cache
        .join(format!("account-{}.json", short_hash(&config.directory)));
    if let Ok(saved) = std::fs::read(&path)
        && let Ok(credentials) = serde_json::from_slice::<AccountCredentials>(&saved)
    {
        return builder.from_credentials(credentials).await.map_err(fail);
    }
    let contact = config.email.as_ref().map(|e| format!("mailto:{e}"));
    let contact: Vec<&str> = contact.iter().map(String::as_str).collect();
    let (account, credentials) = builder
        .create(
            &NewAccount {
                contact: &contact,
                terms_of_service_agreed: true,
                only_return_existing: false,
            },
            config.directory.clone(),
            None,
        )
        .await
        .map_err(fail)?;
    let json = serde_json::to_vec(&credentials).map_err(Error::internal)?;
    write_private(&path, &json)?;
    Ok(account)
}

/// A certificate chain and its key for `domain`, as PEM, trying each challenge in turn.
async fn obtain(
    config: &AcmeConfig,
    account: &Account,
    store: &Certificates,
    domain: &str,
) -> Result<String> {
    let mut failures = Vec::new();
    for &challenge in &config.challenges {
        let mut tokens = Vec::new();
        let tried = order(account, store, domain, challenge, &mut tokens).await;
        store.close_challenges(domain, &tokens);
        match tried {
            Ok(pem) => return Ok(pem),
            Err(e) => failures.push(format!("{}: {e}", challenge_name(challenge))),
        }
    }
    Err(Error::internal(format!(
        "no certificate for {domain} ({})",
        failures.join("; ")
    )))
}

/// One order for `domain` proven with `challenge`; the tokens it opened go to `tokens`.
async fn order(
    account: &Account,
    store: &Certificates,
    domain: &str,
    challenge: Challenge,
    tokens: &mut Vec<String>,
) -> Result<String> {
    let fail = |e: instant_acme::Error| Error::internal(e.to_string());
    let identifiers = [Identifier::Dns(domain.to_owned())];
    let mut order = account
        .new_order(&NewOrder::new(&identifiers))
        .await
        .map_err(fail)?;
    let mut authorizations = order.authorizations();
    while let Some(authorization) = authorizations.next().await {
        let mut authorization = authorization.map_err(fail)?;
        match authorization.status {
            AuthorizationStatus::Pending => {}
            AuthorizationStatus::Valid => continue,
            other => return Err(Error::internal(format!("authorization is {other:?}"))),
        }
        let kind = match challenge {
            Challenge::TlsAlpn01 => ChallengeType::TlsAlpn01,
            Challenge::Http01 => ChallengeType::Http01,
        };
        let mut offered = authorization
            .challenge(kind)
            .ok_or_else(|| Error::internal("the directory does not offer this challenge"))?;
        let key_authorization = offered.key_authorization();
        match challenge {
            Challenge::TlsAlpn01 => {
                let cert = certs::alpn_challenge(domain, key_authorization.digest().as_ref())?;
                store.open_alpn_challenge(domain, Arc::new(cert));
            }
            Challenge::Http01 => {
                store.open_http_challenge(&offered.token, key_authorization.as_str());
                tokens.push(offered.token.clone());
            }
        }
        offered.set_ready().await.map_err(fail)?;
    }
    let status = order.poll_ready(&POLL).await.map_err(fail)?;
    if status != OrderStatus::Ready {
        return Err(Error::internal(format!("order is {status:?}")));
    }
    let key = order.finalize().await.map_err(fail)?;
    let chain = order.poll_certificate(&POLL).await.map_err(fail)?;
    Ok(format!("{chain}\n{key}"))
}

/// The cached certificate for `domain` and when it is due for renewal.
fn cached(cache: &Path, domain: &str) -> Result<Option<(rustls::sign::CertifiedKey, SystemTime)>> {
    let Ok(pem) = std::fs::read(cert_path(cache, domain)) else {
        return Ok(None);
    };
    let key = certs::from_pem(&pem, &pem)?;
    let leaf = key
        .cert
        .first()
        .ok_or_else(|| Error::internal("empty certificate chain"))?;
    Ok(Some((key.clone(), renew_at(leaf)?)))
}

/// When a third of the certificate's lifetime is left (30 days of Let's Encrypt's 90).
fn renew_at(leaf: &[u8]) -> Result<SystemTime> {
    use x509_cert::der::Decode;
    let cert = x509_cert::Certificate::from_der(leaf)
        .map_err(|e| Error::internal(format!("certificate: {e}")))?;
    let validity = cert.tbs_certificate.validity;
    let (from, until) = (
        validity.not_before.to_system_time(),
        validity.not_after.to_system_time(),
    );
    let lifetime = until.duration_since(from).unwrap_or_default();
    Ok(until - lifetime / 3)
}

fn cert_path(cache: &Path, domain: &str) -> PathBuf {
    cache.join(format!("{domain}.pem"))
}

fn challenge_name(challenge: Challenge) -> &'static str {
    match challenge {
        Challenge::TlsAlpn01 => "tls-alpn-01",
        Challenge::Http01 => "http-01",
    }
}

fn short_hash(text: &str) -> String {
    Sha256::digest(text.as_bytes())[..6]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Writes `bytes` to `path` readable by the owner only, replacing it whole.
fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let fail = |e: std::io::Error| Error::internal(format!("cannot write {}: {e}", path.display()));
    let partial = path.with_extension("partial");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&partial)
        .map_err(fail)?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(fail)?;
    std::fs::rename(&partial, path).map_err(fail)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::renew_at;

    fn certificate(from: SystemTime, until: SystemTime) -> Vec<u8> {
        let mut params = rcgen::CertificateParams::new(vec!["a.example".to_owned()]).unwrap();
        params.not_before = from.into();
        params.not_after = until.into();
        let key = rcgen::KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().to_vec()
    }

    #[test]
    fn renewal_is_due_with_a_third_of_the_lifetime_left() {
        let day = Duration::from_secs(24 * 3600);
        let now = SystemTime::now();
        // 90 days, 61 gone: 29 left, under a third.
        let due = certificate(now - day * 61, now + day * 29);
        assert!(renew_at(&due).unwrap() <= now);
        // 90 days, 59 gone: 31 left.
        let fresh = certificate(now - day * 59, now + day * 31);
        assert!(renew_at(&fresh).unwrap() > now);
        assert!(renew_at(b"not a certificate").is_err());
    }
}
