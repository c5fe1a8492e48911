//! HTTPS: the rustls server configuration, the certificates it presents (from PEM files or
//! from an ACME directory such as Let's Encrypt) and the plain-HTTP side that redirects to
//! HTTPS and answers HTTP-01 challenges.

mod acme;
mod certs;
mod files;
mod redirect;

use std::sync::Arc;

use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;

use crate::config::{Certificates as Source, TlsConfig};
use crate::error::{Error, Result};

pub use certs::Certificates;
pub use redirect::{HttpsSide, to_https};

/// The HTTPS side of a running server: its rustls configuration and the certificate store
/// behind it, which the plain-HTTP side reads for HTTP-01 tokens.
pub struct Https {
    pub config: ServerConfig,
    pub certificates: Arc<Certificates>,
}

/// Loads the certificates (files now, ACME in the background once the server runs) and
/// builds the server configuration. Must run inside the server's async runtime.
pub fn prepare(tls: &TlsConfig) -> Result<Https> {
    let certificates = Arc::new(Certificates::default());
    match &tls.certificates {
        None => {
            return Err(Error::internal(
                "--https needs a certificate: --tls-cert FILE --tls-key FILE, or domains to \
                 obtain one for (`hearth serve example.com`)",
            ));
        }
        Some(Source::Files { cert, key }) => {
            files::load(&certificates, cert, key)?;
            files::watch(Arc::downgrade(&certificates), cert.clone(), key.clone());
        }
        Some(Source::Acme(config)) => {
            if let Some(bad) = config.domains.iter().find(|d| !is_domain(d)) {
                return Err(Error::internal(format!("{bad:?} is not a domain name")));
            }
            acme::start(config.clone(), certificates.clone())?
        }
    }
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::internal(format!("TLS: {e}")))?
        .with_no_client_auth()
        .with_cert_resolver(certificates.clone());
    // actix puts h2 and http/1.1 first; a validator offers only acme-tls/1.
    config.alpn_protocols = vec![certs::ACME_TLS_ALPN.to_vec()];
    Ok(Https {
        config,
        certificates,
    })
}

/// A DNS name a certificate can be issued for: dot-separated labels of letters, digits and
/// inner hyphens (also what keeps it a safe file name in the certificate cache).
fn is_domain(name: &str) -> bool {
    name.len() <= 253
        && name.contains('.')
        && name.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// The crypto the whole TLS stack uses (ring, as mail and webhooks).
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

#[cfg(test)]
mod tests {
    use super::is_domain;

    #[test]
    fn domains() {
        for good in ["example.com", "a.b-c.example.org", "xn--bcher-kva.example"] {
            assert!(is_domain(good), "{good}");
        }
        for bad in [
            "localhost",
            "",
            ".",
            "a..b",
            "-a.com",
            "a-.com",
            "../x.com",
            "a b.com",
            "*.a.com",
        ] {
            assert!(!is_domain(bad), "{bad}");
        }
    }
}
