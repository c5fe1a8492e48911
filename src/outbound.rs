//! Which addresses hearth's own outgoing requests may reach: webhook deliveries and OAuth2
//! avatar downloads. Unless their `--…-allow-private` flag is given, they may not reach this
//! machine, the local network or a cloud metadata service (so a superuser token, a stolen
//! one or a compromised OAuth2 provider cannot turn hearth into a probe of what sits behind
//! it).
//!
//! A webhook is checked twice: when its URL is saved (`check_url`: names and literal
//! addresses, no DNS), and at delivery (`GuardedResolver`), where it counts: the host is resolved once, every
//! address it resolves to is checked, and the connection goes to exactly those addresses
//! (ureq connects to what its resolver returns), so a DNS answer that changes between the
//! check and the connection (rebinding) cannot slip through.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::NextTimeout;

/// What kind of address `ip` is, if a webhook may not reach it.
pub fn forbidden(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        (0, _, _) => "unspecified",
        (127, _, _) => "loopback",
        (10, _, _) | (172, 16..=31, _) | (192, 168, _) => "private",
        (169, 254, _) => "link-local (cloud metadata)",
        (100, 64..=127, _) => "shared (CGNAT)",
        // IETF protocol assignments (Oracle Cloud's metadata is 192.0.0.192).
        (192, 0, 0) => "reserved",
        (198, 18..=19, _) => "benchmarking",
        (224..=239, _, _) => "multicast",
        (240..=255, _, _) => "reserved",
        _ => return None,
    })
}

fn forbidden_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if ip.is_unspecified() {
        return Some("unspecified");
    }
    if ip.is_loopback() {
        return Some("loopback");
    }
    let s = ip.segments();
    let v4 = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    match s {
        // IPv4-mapped (::ffff:a.b.c.d) and the old IPv4-compatible (::a.b.c.d) forms.
        [0, 0, 0, 0, 0, 0xffff, hi, lo] | [0, 0, 0, 0, 0, 0, hi, lo] => forbidden_v4(v4(hi, lo)),
        // NAT64 (64:ff9b::a.b.c.d) and 6to4 (2002:aabb:ccdd::) carry an IPv4 address too.
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => forbidden_v4(v4(hi, lo)),
        [0x2002, hi, lo, ..] => forbidden_v4(v4(hi, lo)),
        [first, ..] if first & 0xfe00 == 0xfc00 => Some("unique local (private)"),
        [first, ..] if first & 0xffc0 == 0xfe80 => Some("link-local"),
        [first, ..] if first & 0xffc0 == 0xfec0 => Some("site-local"),
        [first, ..] if first & 0xff00 == 0xff00 => Some("multicast"),
        _ => None,
    }
}

/// Names that lead to this machine or a metadata service whatever DNS says.
fn forbidden_name(host: &str) -> bool {
    const NAMES: [&str; 5] = [
        "localhost",
        "ip6-localhost",
        "ip6-loopback",
        "metadata",
        "instance-data",
    ];
    // `.internal` is reserved for private networks (metadata.google.internal), `.local` is
    // the local link (mDNS), `.localhost` is this machine.
    NAMES.contains(&host)
        || [".localhost", ".internal", ".local", ".localdomain"]
            .iter()
            .any(|tld| host.ends_with(tld))
}

/// An IPv4 address as the C resolver reads one (`inet_aton`): 1 to 4 parts, each decimal,
/// octal (`0177`) or hex (`0x7f`), the last filling the remaining bytes, so `2130706433`,
/// `0x7f.1` and `127.1` are all 127.0.0.1.
fn legacy_ipv4(host: &str) -> Option<Ipv4Addr> {
    let parts: Vec<&str> = host.split('.').collect();
    if parts.len() > 4 {
        return None;
    }
    let mut nums = Vec::with_capacity(parts.len());
    for p in parts {
        let n = if let Some(hex) = p.strip_prefix("0x").or_else(|| p.strip_prefix("0X")) {
            u32::from_str_radix(hex, 16).ok()?
        } else if p.len() > 1 && p.starts_with('0') {
            u32::from_str_radix(&p[1..], 8).ok()?
        } else if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) {
            p.parse().ok()?
        } else {
            return None;
        };
        nums.push(n);
    }
    let (last, head) = nums.split_last()?;
    if head.iter().any(|&n| n > 255) {
        return None;
    }
    let rest_bits = 32 - 8 * head.len() as u32;
    if rest_bits < 32 && *last >= 1 << rest_bits {
        return None;
    }
    let mut value = *last;
    for (i, n) in head.iter().enumerate() {
        value |= n << (24 - 8 * i as u32);
    }
    Some(Ipv4Addr::from(value))
}

/// The host of an absolute http(s) URL, lowercased, without brackets or a trailing dot.
fn host_of(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host_port = authority.rsplit('@').next()?;
    let host = match host_port.strip_prefix('[') {
        Some(v6) => v6.split(']').next()?,
        None => host_port.split(':').next()?,
    };
    Some(host.trim_end_matches('.').to_ascii_lowercase())
}

/// Why a webhook may not be saved with `url`, or None if it may. Only what the URL itself
/// says (literal addresses, reserved names); where a name resolves is checked at delivery.
pub fn check_url(url: &str) -> Option<String> {
    let host = host_of(url)?;
    // A zone (`fe80::1%eth0`, written `%25eth0` in a URL) does not change the address kind.
    let bare = host.split('%').next().unwrap_or_default();
    let ip = bare
        .parse::<Ipv6Addr>()
        .map(IpAddr::V6)
        .ok()
        .or_else(|| legacy_ipv4(bare).map(IpAddr::V4));
    match ip {
        Some(ip) => forbidden(ip).map(|kind| format!("{ip} is a {kind} address")),
        None if forbidden_name(bare) => Some(format!("{bare} is a local or internal name")),
        None => None,
    }
}

/// A request refused because its host resolves to an address it may not reach.
#[derive(Debug)]
pub struct Refused {
    pub host: String,
    pub ip: IpAddr,
    pub kind: &'static str,
    /// The flag that would allow it.
    pub flag: &'static str,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "refused: {} resolves to {}, a {} address (start hearth with {} to allow it)",
            self.host, self.ip, self.kind, self.flag
        )
    }
}

impl std::error::Error for Refused {}

/// The resolver of an outgoing agent: resolves with `inner` (the system's, by default) and,
/// unless private targets are allowed, fails with `Refused` if any address is forbidden.
/// ureq connects only to the addresses returned here.
#[derive(Debug)]
pub struct GuardedResolver<R = DefaultResolver> {
    pub allow_private: bool,
    /// The flag that allows private targets, named in `Refused`.
    pub flag: &'static str,
    pub inner: R,
}

impl<R: Resolver> Resolver for GuardedResolver<R> {
    fn resolve(
        &self,
        uri: &Uri,
        config: &ureq::config::Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let addrs = self.inner.resolve(uri, config, timeout)?;
        if self.allow_private {
            return Ok(addrs);
        }
        if let Some((ip, kind)) = addrs
            .iter()
            .find_map(|a| forbidden(a.ip()).map(|kind| (a.ip(), kind)))
        {
            return Err(ureq::Error::Other(Box::new(Refused {
                host: uri.host().unwrap_or_default().to_owned(),
                ip,
                kind,
                flag: self.flag,
            })));
        }
        Ok(addrs)
    }
}

/// An agent built from `config` whose every connection (redirects included) goes through
/// `GuardedResolver`: unless `allow_private`, forbidden targets are refused, naming `flag`,
/// and no environment proxy is used (behind one the target would be resolved by the proxy,
/// out of the check's reach).
pub fn guarded_agent(
    config: ureq::config::ConfigBuilder<ureq::typestate::AgentScope>,
    allow_private: bool,
    flag: &'static str,
) -> ureq::Agent {
    let config = if allow_private {
        config
    } else {
        config.proxy(None)
    };
    ureq::Agent::with_parts(
        config.build(),
        ureq::unversioned::transport::DefaultConnector::default(),
        GuardedResolver {
            allow_private,
            flag,
            inner: DefaultResolver::default(),
        },
    )
}

/// The `Refused` inside a request's error, if that is why it failed.
pub fn refused(e: &ureq::Error) -> Option<&Refused> {
    match e {
        ureq::Error::Other(inner) => inner.downcast_ref::<Refused>(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[test]
    fn private_loopback_link_local_and_metadata_addresses_are_forbidden() {
        for ip in [
            "127.0.0.1",
            "127.255.0.9",
            "0.0.0.0",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.0.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.100.100.200",
            "192.0.0.192",
            "224.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
            "fc00::1",
            "fd00:ec2::254",
            "fe80::1",
            "ff02::1",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(forbidden(ip).is_some(), "{ip}");
        }
        for ip in [
            "93.184.216.34",
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(forbidden(ip), None, "{ip}");
        }
    }

    #[test]
    fn urls_are_checked_by_literal_address_and_reserved_name() {
        for url in [
            "http://127.0.0.1:9000/hook",
            "http://user:pw@127.0.0.1/",
            "http://169.254.169.254/latest/meta-data/",
            "http://[::1]:8080/",
            "http://[::ffff:7f00:1]/",
            "http://[fe80::1%25eth0]/",
            "http://localhost/",
            "http://LOCALHOST./",
            "http://app.localhost/",
            "http://metadata.google.internal/computeMetadata/v1/",
            "http://2130706433/",
            "http://0x7f.1/",
            "http://0177.0.0.1/",
            "http://127.1/",
            "http://0/",
            "https://10.0.0.5/",
        ] {
            assert!(check_url(url).is_some(), "{url}");
        }
        for url in [
            "https://example.com/hooks",
            "http://93.184.216.34:8080/",
            "https://[2606:4700::1111]/",
            "https://1password.com/",
            "http://127.example.com/",
        ] {
            assert_eq!(check_url(url), None, "{url}");
        }
    }

    /// Answers every name with one address, counting the lookups: a DNS server whose next
    /// answer could be anything.
    #[derive(Debug)]
    struct OneAnswer {
        addr: SocketAddr,
        lookups: Arc<AtomicUsize>,
    }

    impl Resolver for OneAnswer {
        fn resolve(
            &self,
            _: &Uri,
            _: &ureq::config::Config,
            _: NextTimeout,
        ) -> Result<ResolvedSocketAddrs, ureq::Error> {
            self.lookups.fetch_add(1, Ordering::SeqCst);
            let mut out = self.empty();
            out.push(self.addr);
            Ok(out)
        }
    }

    /// An agent as the worker's, whose DNS answers `addr`; and its lookup count.
    fn agent_resolving_to(
        addr: SocketAddr,
        allow_private: bool,
    ) -> (ureq::Agent, Arc<AtomicUsize>) {
        let lookups = Arc::new(AtomicUsize::new(0));
        let config = ureq::Agent::config_builder()
            .proxy(None)
            .http_status_as_error(false)
            .timeout_global(Some(std::time::Duration::from_secs(5)))
            .build();
        let agent = ureq::Agent::with_parts(
            config,
            ureq::unversioned::transport::DefaultConnector::default(),
            GuardedResolver {
                allow_private,
                flag: "--webhook-allow-private",
                inner: OneAnswer {
                    addr,
                    lookups: lookups.clone(),
                },
            },
        );
        (agent, lookups)
    }

    #[test]
    fn the_connection_goes_to_the_checked_address_and_a_forbidden_one_is_never_dialled() {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        listener.set_nonblocking(true).unwrap();
        // `.invalid` never resolves in DNS: reaching the listener proves the connection
        // went to the one address the guarded resolver returned, looked up once.
        let url = format!("http://rebound.invalid:{}/hook", addr.port());

        let (agent, lookups) = agent_resolving_to(addr, false);
        let err = agent.post(&url).send("{}").unwrap_err();
        let why = refused(&err).expect("refused");
        assert_eq!((why.ip, why.kind), (addr.ip(), "loopback"));
        assert!(
            why.to_string()
                .contains("rebound.invalid resolves to 127.0.0.1")
        );
        assert_eq!(lookups.load(Ordering::SeqCst), 1);
        assert!(
            listener.accept().is_err(),
            "a refused target is never connected to"
        );

        listener.set_nonblocking(false).unwrap();
        let server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut buf = [0u8; 1024];
            let _ = stream.read(&mut buf).unwrap();
            stream
                .write_all(b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n")
                .unwrap();
        });
        let (agent, lookups) = agent_resolving_to(addr, true);
        let res = agent.post(&url).send("{}").unwrap();
        assert_eq!(res.status().as_u16(), 204);
        assert_eq!(lookups.load(Ordering::SeqCst), 1);
        server.join().unwrap();
    }

    #[test]
    fn legacy_ipv4_reads_like_inet_aton() {
        let ip = |s| legacy_ipv4(s).map(|a| a.to_string());
        assert_eq!(ip("2130706433").as_deref(), Some("127.0.0.1"));
        assert_eq!(ip("0x7f.0.0.1").as_deref(), Some("127.0.0.1"));
        assert_eq!(ip("127.1").as_deref(), Some("127.0.0.1"));
        assert_eq!(ip("10.0x10203").as_deref(), Some("10.1.2.3"));
        assert_eq!(ip("256.0.0.1"), None);
        assert_eq!(ip("1.2.3.4.5"), None);
        assert_eq!(ip("example.com"), None);
        assert_eq!(ip(""), None);
    }
}
