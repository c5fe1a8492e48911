//! Which address a request comes from: the connection's peer, unless the `trustedProxy`
//! settings name a header a proxy in front of hearth sets (`headers`, `useLeftmostIP`), as
//! PocketBase's `RequestEvent.RealIP` reads them. With no header named, `X-Forwarded-For`,
//! `X-Real-IP` and the like are ignored: anyone can send them. `http::client_ip` asks this
//! for every request; rate limits, request logs, realtime and OAuth2 checks and the hooks'
//! `e.realIP()` all use that one answer.

use std::net::IpAddr;
use std::sync::{Arc, RwLock};

use serde_json::{Map, Value};

/// The `trustedProxy` settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxy {
    pub headers: Vec<String>,
    /// Take the first valid address of the header's list instead of the last (only safe
    /// when the proxy replaces the header rather than appending to it).
    pub use_leftmost_ip: bool,
}

impl TrustedProxy {
    pub fn from_settings(settings: &Map<String, Value>) -> Self {
        let proxy = settings.get("trustedProxy");
        Self {
            headers: proxy
                .and_then(|p| p.get("headers"))
                .and_then(Value::as_array)
                .map(|list| {
                    list.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
            use_leftmost_ip: proxy
                .and_then(|p| p.get("useLeftmostIP"))
                .and_then(Value::as_bool)
                .unwrap_or(false),
        }
    }

    /// The address the first trusted header with one gives; `last_value(name)` is the last
    /// line of header `name` (the one the nearest proxy wrote). None: use the peer.
    pub fn real_ip<'a>(&self, last_value: impl Fn(&str) -> Option<&'a str>) -> Option<IpAddr> {
        self.headers.iter().find_map(|name| {
            let list = last_value(name).filter(|v| !v.is_empty())?;
            let parsed = |item: &str| item.trim().parse::<IpAddr>().ok();
            let mut items = list.split(',');
            let ip = if self.use_leftmost_ip {
                items.find_map(parsed)
            } else {
                items.rev().find_map(parsed)
            };
            ip.map(|ip| ip.to_canonical())
        })
    }
}

/// The `trustedProxy` settings in force, replaced when the settings change.
#[derive(Default)]
pub struct Live {
    current: RwLock<Arc<TrustedProxy>>,
}

impl Live {
    pub fn current(&self) -> Arc<TrustedProxy> {
        self.current
            .read()
            .map_or_else(|p| p.into_inner().clone(), |r| r.clone())
    }

    pub fn configure(&self, settings: &Map<String, Value>) {
        let next = Arc::new(TrustedProxy::from_settings(settings));
        match self.current.write() {
            Ok(mut c) => *c = next,
            Err(p) => *p.into_inner() = next,
        }
    }
}

/// The address as PocketBase writes it (Go's `StringExpanded`): IPv4 dotted, IPv6 as all
/// eight groups of four hex digits.
pub fn expanded(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => v6
            .segments()
            .iter()
            .map(|s| format!("{s:04x}"))
            .collect::<Vec<_>>()
            .join(":"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxy(headers: &[&str], leftmost: bool) -> TrustedProxy {
        TrustedProxy {
            headers: headers.iter().map(|h| (*h).to_owned()).collect(),
            use_leftmost_ip: leftmost,
        }
    }

    #[test]
    fn only_named_headers_count_rightmost_unless_told() {
        let sent = |name: &str| match name.to_ascii_lowercase().as_str() {
            "x-forwarded-for" => Some("bad, 1.1.1.1 , 2.2.2.2, junk"),
            "x-real-ip" => Some(""),
            "cf-connecting-ip" => Some("3.3.3.3"),
            _ => None,
        };
        let ip = |s: &str| s.parse::<IpAddr>().ok();
        assert_eq!(proxy(&[], false).real_ip(sent), None);
        assert_eq!(
            proxy(&["X-Forwarded-For"], false).real_ip(sent),
            ip("2.2.2.2")
        );
        assert_eq!(
            proxy(&["X-Forwarded-For"], true).real_ip(sent),
            ip("1.1.1.1")
        );
        assert_eq!(
            proxy(&["X-Real-IP", "Missing", "CF-Connecting-IP"], false).real_ip(sent),
            ip("3.3.3.3"),
            "an empty or missing header passes to the next"
        );
        assert_eq!(
            proxy(&["x-forwarded-for"], false).real_ip(|_| Some("::ffff:10.0.0.1")),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn ipv6_is_written_out_in_full() {
        assert_eq!(
            expanded("2001:db8::1".parse().unwrap_or(IpAddr::from([0; 4]))),
            "2001:0db8:0000:0000:0000:0000:0000:0001"
        );
        assert_eq!(expanded(IpAddr::from([127, 0, 0, 1])), "127.0.0.1");
    }
}
