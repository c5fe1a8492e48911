//! The request counters of the `rateLimits` rules: a fixed window per limiter id and client
//! address, as PocketBase's `rateClient` counts (whole seconds; a window opens at the first
//! request after the previous one ended and allows `maxRequests` in `duration` seconds).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use super::Rule;

/// One client's current window.
struct Window {
    start: i64,
    available: i64,
}

/// The windows of one limiter id, with the allowance it was created with.
struct Limiter {
    max: i64,
    interval: i64,
    clients: HashMap<String, Window>,
}

#[derive(Default)]
pub struct Windows {
    limiters: Mutex<HashMap<String, Limiter>>,
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl Windows {
    /// Takes one request of `client` from limiter `id` (created with `rule`'s allowance the
    /// first time it is used); false once the window is spent.
    pub fn allow(&self, id: &str, client: &str, rule: &Rule) -> bool {
        self.allow_at(id, client, rule, now())
    }

    fn allow_at(&self, id: &str, client: &str, rule: &Rule, now: i64) -> bool {
        let mut limiters = match self.limiters.lock() {
            Ok(l) => l,
            Err(p) => p.into_inner(),
        };
        let limiter = limiters.entry(id.to_owned()).or_insert_with(|| Limiter {
            max: rule.max_requests,
            interval: rule.duration,
            clients: HashMap::new(),
        });
        let (max, interval) = (limiter.max, limiter.interval);
        let window = limiter.clients.entry(client.to_owned()).or_insert(Window {
            start: 0,
            available: 0,
        });
        if now - window.start >= interval {
            window.available = max;
            window.start = now;
        }
        if window.available > 0 {
            window.available -= 1;
            true
        } else {
            false
        }
    }

    /// Forgets every counter (the rules changed).
    pub fn clear(&self) {
        match self.limiters.lock() {
            Ok(mut l) => l.clear(),
            Err(p) => p.into_inner().clear(),
        }
    }

    /// Drops the windows that have ended: a client seen again starts a new one anyway.
    pub fn sweep(&self) {
        let now = now();
        let mut limiters = match self.limiters.lock() {
            Ok(l) => l,
            Err(p) => p.into_inner(),
        };
        limiters.retain(|_, limiter| {
            let interval = limiter.interval;
            limiter.clients.retain(|_, w| now - w.start < interval);
            !limiter.clients.is_empty()
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_allows_its_requests_then_opens_anew() {
        let windows = Windows::default();
        let rule = Rule {
            label: "/a".into(),
            audience: String::new(),
            duration: 10,
            max_requests: 2,
        };
        let t = 1_000;
        assert!(windows.allow_at("a", "1.2.3.4", &rule, t));
        assert!(windows.allow_at("a", "1.2.3.4", &rule, t + 3));
        assert!(!windows.allow_at("a", "1.2.3.4", &rule, t + 9));
        assert!(windows.allow_at("a", "5.6.7.8", &rule, t + 9), "per client");
        assert!(
            windows.allow_at("b", "1.2.3.4", &rule, t + 9),
            "per limiter"
        );
        assert!(windows.allow_at("a", "1.2.3.4", &rule, t + 10));
    }
}
