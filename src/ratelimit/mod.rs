//! Rate limits. Two kinds live side by side:
//! - `signin`: hearth's own sign-in limits from the `--auth-*-limit` flags (per client IP
//!   and per account), on by default;
//! - `rules` and `windows`: PocketBase's `rateLimits` settings (`enabled`, `excludedIPs`,
//!   `rules: [{label, audience, duration, maxRequests}]`), matched and counted as
//!   PocketBase's rate-limit middleware does. `Live` holds the rules in force and their
//!   counters; a settings change replaces both at once.
//!
//! Nothing here knows HTTP: `http::rate_limit` builds the labels of a request and asks.

pub mod rules;
mod signin;
pub mod windows;

use std::net::IpAddr;
use std::sync::{Arc, RwLock};

use serde_json::{Map, Value};

pub use rules::{RateLimits, Rule};
pub use signin::{AuthLimits, Limiter};
pub use windows::Windows;

/// The `rateLimits` settings in force and the request counters they keep.
#[derive(Default)]
pub struct Live {
    current: RwLock<Arc<RateLimits>>,
    windows: Windows,
}

/// Who a request is, as far as the rules care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    Guest,
    /// Signed in as a record of any auth collection but `_superusers`.
    Auth,
}

impl Audience {
    /// The rule audiences that apply to this caller, as PocketBase lists them.
    pub fn accepted(self) -> &'static [&'static str] {
        match self {
            Self::Guest => &[rules::AUDIENCE_ALL, rules::AUDIENCE_GUEST],
            Self::Auth => &[rules::AUDIENCE_ALL, rules::AUDIENCE_AUTH],
        }
    }
}

/// What the rules decided about one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// No rule is in force for it (rules off, none matched): the flags' defaults apply.
    Uncovered,
    /// A rule covers it (or its address is excluded from limits) and lets it through.
    Allowed,
    /// A rule covers it and its window is spent; the rule, for the log.
    Refused(String),
}

impl Live {
    /// The rules in force.
    pub fn current(&self) -> Arc<RateLimits> {
        self.current
            .read()
            .map_or_else(|p| p.into_inner().clone(), |r| r.clone())
    }

    /// Takes the `rateLimits` of `settings`. With `reset`, or when the rules changed, every
    /// counter starts afresh, as PocketBase's settings reload drops its limiters.
    pub fn configure(&self, settings: &Map<String, Value>, reset: bool) {
        let next = RateLimits::from_settings(settings);
        let mut current = match self.current.write() {
            Ok(c) => c,
            Err(p) => p.into_inner(),
        };
        if reset || **current != next {
            self.windows.clear();
        }
        *current = Arc::new(next);
    }

    /// Counts one request of `audience` from `client` against the first rule matching
    /// `labels`; `counter` names the window (PocketBase's limiter id) given the rule, and
    /// `None` from it counts under the rule's own label and audience.
    pub fn check(
        &self,
        limits: &RateLimits,
        labels: &[String],
        audience: Audience,
        client: IpAddr,
        counter: Option<&str>,
    ) -> Verdict {
        let Some(rule) = limits.find(labels, audience.accepted()) else {
            return Verdict::Uncovered;
        };
        let id = match counter {
            Some(prefix) => format!("{prefix}{}", rule.audience),
            None => format!("{}{}", rule.label, rule.audience),
        };
        if self.windows.allow(&id, &client.to_string(), rule) {
            Verdict::Allowed
        } else {
            Verdict::Refused(rule.to_string())
        }
    }

    /// Forgets windows that have run out, so memory stays bounded.
    pub fn sweep(&self) {
        self.windows.sweep();
    }
}
