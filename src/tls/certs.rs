//! The certificates the HTTPS listener presents, chosen per handshake by the name the
//! client asked for (SNI), and the answers to ACME challenges in progress.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use crate::error::{Error, Result};

/// The ALPN protocol an ACME validator offers for TLS-ALPN-01 (RFC 8737).
pub const ACME_TLS_ALPN: &[u8] = b"acme-tls/1";

#[derive(Debug, Default)]
pub struct Certificates {
    /// By lowercase domain; ACME gives each domain its own.
    by_name: RwLock<HashMap<String, Arc<CertifiedKey>>>,
    /// For a handshake naming no known domain (or none at all): the certificate files, or
    /// the first domain's.
    fallback: RwLock<Option<Arc<CertifiedKey>>>,
    /// TLS-ALPN-01 challenge certificates by domain, while a challenge is open.
    alpn: RwLock<HashMap<String, Arc<CertifiedKey>>>,
    /// HTTP-01 key authorizations by token, while a challenge is open.
    tokens: RwLock<HashMap<String, String>>,
}

impl Certificates {
    /// Serves `key` for `domain` (None: for every name, as certificate files are).
    pub fn install(&self, domain: Option<&str>, key: Arc<CertifiedKey>) {
        if let Some(domain) = domain {
            write(&self.by_name).insert(domain.to_owned(), key.clone());
        }
        let mut fallback = write(&self.fallback);
        if domain.is_none() || fallback.is_none() {
            *fallback = Some(key);
        }
    }

    pub fn has(&self, domain: &str) -> bool {
        read(&self.by_name).contains_key(domain)
    }

    pub fn open_alpn_challenge(&self, domain: &str, key: Arc<CertifiedKey>) {
        write(&self.alpn).insert(domain.to_owned(), key);
    }

    pub fn open_http_challenge(&self, token: &str, key_authorization: &str) {
        write(&self.tokens).insert(token.to_owned(), key_authorization.to_owned());
    }

    /// Forgets every open challenge of `domain` and the given tokens.
    pub fn close_challenges(&self, domain: &str, tokens: &[String]) {
        write(&self.alpn).remove(domain);
        let mut open = write(&self.tokens);
        for token in tokens {
            open.remove(token);
        }
    }

    /// The key authorization for an HTTP-01 token, while its challenge is open.
    pub fn http_challenge(&self, token: &str) -> Option<String> {
        read(&self.tokens).get(token).cloned()
    }
}

impl ResolvesServerCert for Certificates {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let name = hello.server_name().map(str::to_ascii_lowercase);
        let validating = hello
            .alpn()
            .is_some_and(|mut offered| offered.any(|p| p == ACME_TLS_ALPN));
        if validating {
            // Only ever the challenge certificate: a validator must not get a real one.
            return name.and_then(|n| read(&self.alpn).get(&n).cloned());
        }
        name.and_then(|n| read(&self.by_name).get(&n).cloned())
            .or_else(|| read(&self.fallback).clone())
    }
}

/// A certificate chain and its key, from PEM text (both may be in one text).
pub fn from_pem(chain: &[u8], key: &[u8]) -> Result<CertifiedKey> {
    use rustls::pki_types::pem::PemObject;
    let chain = CertificateDer::pem_slice_iter(chain)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::internal(format!("certificate PEM: {e}")))?;
    if chain.is_empty() {
        return Err(Error::internal("no certificate in the PEM text"));
    }
    let key = PrivateKeyDer::from_pem_slice(key)
        .map_err(|e| Error::internal(format!("private key PEM: {e}")))?;
    from_der(chain, key)
}

pub fn from_der(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<CertifiedKey> {
    CertifiedKey::from_der(chain, key, &super::provider())
        .map_err(|e| Error::internal(format!("certificate and key: {e}")))
}

/// The self-signed certificate answering a TLS-ALPN-01 challenge for `domain`: the domain
/// as its only name and the key authorization's SHA-256 in the acmeIdentifier extension.
pub fn alpn_challenge(domain: &str, digest: &[u8]) -> Result<CertifiedKey> {
    let fail = |e: rcgen::Error| Error::internal(format!("TLS-ALPN-01 certificate: {e}"));
    let mut params = rcgen::CertificateParams::new(vec![domain.to_owned()]).map_err(fail)?;
    params.custom_extensions = vec![rcgen::CustomExtension::new_acme_identifier(digest)];
    let key = rcgen::KeyPair::generate().map_err(fail)?;
    let cert = params.self_signed(&key).map_err(fail)?;
    // Not `from_der`: its consistency check parses the certificate with webpki, which
    // refuses the critical acmeIdentifier extension a validator requires.
    let signer = super::provider()
        .key_provider
        .load_private_key(PrivatePkcs8KeyDer::from(key.serialize_der()).into())
        .map_err(|e| Error::internal(format!("TLS-ALPN-01 key: {e}")))?;
    Ok(CertifiedKey::new(vec![cert.der().clone()], signer))
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}
