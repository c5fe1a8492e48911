//! HTTPS with certificate files (`--https`, `--tls-cert`, `--tls-key`): the API over TLS with
//! a certificate from a test CA, the HTTP side redirecting to it, a renewed certificate
//! picked up without a restart, and clear refusals of unusable settings.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hearth::App;
use hearth::config::{Certificates, Config, TlsConfig};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use reqwest::redirect::Policy;
use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// A certificate authority of the test's own.
pub struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl TestCa {
    pub fn new() -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "hearth test CA");
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        Self { issuer }
    }

    pub fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// A certificate for `names` (DNS names or IP addresses) and its key, as PEM.
    pub fn issue(&self, names: &[&str]) -> (String, String) {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(names)
            .unwrap()
            .signed_by(&key, &self.issuer)
            .unwrap();
        (cert.pem(), key.serialize_pem())
    }

    /// Writes a certificate for `names` to `dir`, returning the cert and key paths.
    pub fn issue_to(&self, dir: &Path, names: &[&str]) -> (PathBuf, PathBuf) {
        let (cert, key) = self.issue(names);
        let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert_path, cert).unwrap();
        std::fs::write(&key_path, key).unwrap();
        (cert_path, key_path)
    }
}

/// TLS settings trusting only the roots in `pem`, without session resumption (a resumed
/// session would report the certificate of its first handshake).
pub fn client_config(pem: &str) -> rustls::ClientConfig {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let mut tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    tls.resumption = rustls::client::Resumption::disabled();
    tls
}

/// A client trusting only the roots in `pem`, reporting the peer certificate; a new
/// connection (and handshake) for every request.
pub fn client_trusting(pem: &str) -> reqwest::Client {
    crate::helpers::client_builder()
        .tls_backend_preconfigured(client_config(pem))
        .tls_info(true)
        .pool_max_idle_per_host(0)
        .redirect(Policy::none())
        .build()
        .unwrap()
}

/// The DER of the certificate the server presented.
pub fn peer_certificate(res: &reqwest::Response) -> Vec<u8> {
    res.extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|info| info.peer_certificate())
        .expect("a TLS peer certificate")
        .to_vec()
}

struct Running {
    http: u16,
    https: u16,
    _dir: tempfile::TempDir,
}

fn config_with_files(dir: &Path, cert: PathBuf, key: PathBuf) -> Config {
    let mut config = Config::for_dir(dir.join("data"), "127.0.0.1:0");
    config.workers = Some(1);
    config.tls = Some(TlsConfig {
        https: "127.0.0.1:0".into(),
        certificates: Some(Certificates::Files { cert, key }),
    });
    config
}

async fn start(dir: tempfile::TempDir, config: Config) -> Running {
    let app = App::build(config).expect("app builds");
    let (http, https) = (app.port(), app.https_port().expect("an HTTPS port"));
    tokio::spawn(app.run_until_stopped());
    Running {
        http,
        https,
        _dir: dir,
    }
}

#[tokio::test]
async fn the_api_answers_over_https_and_http_redirects_to_it() {
    let ca = TestCa::new();
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = ca.issue_to(dir.path(), &["localhost", "127.0.0.1"]);
    let config = config_with_files(dir.path(), cert, key);
    let app = start(dir, config).await;
    let client = client_trusting(&ca.pem());

    let res = client
        .get(format!("https://localhost:{}/api/health", app.https))
        .send()
        .await
        .expect("a verified TLS connection");
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["code"], 200, "{body}");

    // A client that does not trust the CA refuses the connection.
    let stranger = client_trusting(&TestCa::new().pem());
    let refused = stranger
        .get(format!("https://localhost:{}/api/health", app.https))
        .send()
        .await;
    assert!(refused.is_err(), "an untrusted certificate was accepted");

    // Plain HTTP only redirects, path and query kept, method kept (308).
    let res = client
        .post(format!(
            "http://localhost:{}/api/collections/users/records?x=1",
            app.http
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 308);
    assert_eq!(
        res.headers()["location"],
        format!(
            "https://localhost:{}/api/collections/users/records?x=1",
            app.https
        )
        .as_str()
    );
    // No HTTP-01 challenge is open: the JSON 404.
    let res = client
        .get(format!(
            "http://localhost:{}/.well-known/acme-challenge/abc",
            app.http
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["status"], 404, "{body}");
}

#[tokio::test]
async fn a_renewed_certificate_is_served_without_a_restart() {
    let ca = TestCa::new();
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = ca.issue_to(dir.path(), &["localhost"]);
    let first = CertificateDer::from_pem_file(&cert).unwrap().to_vec();
    let config = config_with_files(dir.path(), cert.clone(), key.clone());
    let files = dir.path().to_path_buf();
    let app = start(dir, config).await;
    let client = client_trusting(&ca.pem());
    let url = format!("https://localhost:{}/api/health", app.https);
    let res = client.get(&url).send().await.unwrap();
    assert_eq!(peer_certificate(&res), first);

    // A broken pair keeps the old certificate in service.
    std::fs::write(&key, "not a key").unwrap();
    tokio::time::sleep(Duration::from_secs(6)).await; // one watch period: time is the subject
    let res = client.get(&url).send().await.unwrap();
    assert_eq!(peer_certificate(&res), first);

    // A new pair replaces it.
    ca.issue_to(&files, &["localhost"]);
    let second = CertificateDer::from_pem_file(&cert).unwrap().to_vec();
    assert_ne!(first, second);
    let started = Instant::now();
    loop {
        let res = client.get(&url).send().await.unwrap();
        if peer_certificate(&res) == second {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the renewed certificate was not picked up"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn unusable_https_settings_are_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new();
    let (cert, key) = ca.issue_to(dir.path(), &["localhost"]);

    // --https without a certificate source.
    let mut config = config_with_files(dir.path(), cert.clone(), key.clone());
    config.tls.as_mut().unwrap().certificates = None;
    let err = App::build(config).err().expect("refused").to_string();
    assert!(err.contains("--tls-cert"), "{err}");

    // A key that does not belong to the certificate.
    let (_, other_key) = ca.issue(&["localhost"]);
    std::fs::write(&key, other_key).unwrap();
    let config = config_with_files(dir.path(), cert.clone(), key.clone());
    let err = App::build(config).err().expect("refused").to_string();
    assert!(err.contains("cert.pem"), "{err}");

    // A missing file.
    let config = config_with_files(dir.path(), dir.path().join("nope.pem"), key);
    let err = App::build(config).err().expect("refused").to_string();
    assert!(err.contains("nope.pem"), "{err}");
}
