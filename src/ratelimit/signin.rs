//! The sign-in limits of the `--auth-ip-limit` and `--auth-identity-limit` flags, on by
//! default: per client IP, and per identity (the email or username tried), so neither one
//! address nor a botnet can guess one account's password. The per-IP one is the default the
//! settings' rules replace for the requests they cover (see `http::rate_limit`).

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::error::{Error, Result};

/// How many sign-in attempts are allowed; 0 switches a limit off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthLimits {
    /// Attempts per client IP per minute.
    pub per_ip_per_minute: u32,
    /// Attempts per identity per 15 minutes.
    pub per_identity_per_15_minutes: u32,
}

impl Default for AuthLimits {
    fn default() -> Self {
        Self {
            per_ip_per_minute: 60,
            per_identity_per_15_minutes: 20,
        }
    }
}

pub struct Limiter {
    per_ip: Option<DefaultKeyedRateLimiter<IpAddr>>,
    per_identity: Option<DefaultKeyedRateLimiter<String>>,
}

/// `n` attempts spread over `window`, all of which may come at once.
fn quota(n: u32, window: Duration) -> Option<Quota> {
    let burst = NonZeroU32::new(n)?;
    Quota::with_period(window / n).map(|q| q.allow_burst(burst))
}

fn too_many() -> Error {
    Error::TooManyRequests("Too Many Requests.".into())
}

impl Limiter {
    pub fn new(limits: AuthLimits) -> Self {
        Self {
            per_ip: quota(limits.per_ip_per_minute, Duration::from_secs(60))
                .map(RateLimiter::keyed),
            per_identity: quota(
                limits.per_identity_per_15_minutes,
                Duration::from_secs(15 * 60),
            )
            .map(RateLimiter::keyed),
        }
    }

    /// Counts one sign-in attempt from `ip` for `identity` (if any); 429 once either is spent.
    pub fn auth_attempt(&self, ip: Option<IpAddr>, identity: Option<&str>) -> Result<()> {
        if let (Some(limiter), Some(ip)) = (&self.per_ip, ip) {
            limiter.check_key(&ip).map_err(|_| too_many())?;
        }
        if let (Some(limiter), Some(identity)) =
            (&self.per_identity, identity.filter(|i| !i.is_empty()))
        {
            limiter
                .check_key(&identity.to_lowercase())
                .map_err(|_| too_many())?;
        }
        Ok(())
    }

    /// Forgets keys whose limits have fully recovered, so memory stays bounded.
    pub fn sweep(&self) {
        if let Some(l) = &self.per_ip {
            l.retain_recent();
        }
        if let Some(l) = &self.per_identity {
            l.retain_recent();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_attempts_run_out_and_zero_disables() {
        let limiter = Limiter::new(AuthLimits {
            per_ip_per_minute: 0,
            per_identity_per_15_minutes: 3,
        });
        for _ in 0..3 {
            assert!(limiter.auth_attempt(None, Some("a@b.c")).is_ok());
        }
        assert!(
            limiter.auth_attempt(None, Some("A@B.C")).is_err(),
            "case does not dodge the limit"
        );
        assert!(limiter.auth_attempt(None, Some("other@b.c")).is_ok());
        let off = Limiter::new(AuthLimits {
            per_ip_per_minute: 0,
            per_identity_per_15_minutes: 0,
        });
        for _ in 0..1000 {
            assert!(
                off.auth_attempt(Some([127, 0, 0, 1].into()), Some("x"))
                    .is_ok()
            );
        }
    }
}
