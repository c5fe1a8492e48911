//! `hearth serve DOMAIN` end to end against Let's Encrypt's test server, Debian's `pebble`
//! (with `pebble-challtestsrv` as its DNS, answering 127.0.0.1 for every name): a
//! certificate obtained by TLS-ALPN-01 and by HTTP-01, verified against pebble's root,
//! cached and served again after a restart with pebble gone.

use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use hearth::App;
use hearth::config::Challenge;
use hearth::config::{AcmeConfig, Certificates, Config, TlsConfig};
use tokio::process::{Child, Command};

use crate::tls::{TestCa, client_config, client_trusting, peer_certificate};

pub const DOMAIN: &str = "app.hearth.test";

/// Whether pebble and its DNS run; when not, the test fails unless `HEARTH_SKIP` names
/// `pebble`.
pub fn pebble_bin() -> Option<()> {
    let runs = |bin: &str| {
        std::process::Command::new(bin)
            .arg("-h")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
    };
    if runs("pebble") && runs("pebble-challtestsrv") {
        return Some(());
    }
    crate::helpers::Tool::Pebble.missing("pebble does not run");
    None
}

fn free_tcp_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running pebble with its DNS; both are killed when dropped.
pub struct Pebble {
    pub directory: String,
    /// The CA file hearth trusts for the directory's own HTTPS.
    pub listener_ca: PathBuf,
    management: String,
    listener_ca_pem: String,
    _dns: Child,
    _pebble: Child,
    _dir: tempfile::TempDir,
}

impl Pebble {
    /// Starts pebble validating HTTP-01 on `http_port` and TLS-ALPN-01 on `tls_port`.
    pub async fn start(http_port: u16, tls_port: u16) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let ca = TestCa::new();
        let (cert, key) = ca.issue_to(dir.path(), &["localhost", "127.0.0.1"]);
        let listener_ca = dir.path().join("listener-ca.pem");
        std::fs::write(&listener_ca, ca.pem()).unwrap();

        let dns_port = free_udp_port();
        let dns = Command::new("pebble-challtestsrv")
            .args(["-dns01", &format!("127.0.0.1:{dns_port}")])
            .args(["-http01", "", "-https01", "", "-tlsalpn01", ""])
            .args(["-management", &format!("127.0.0.1:{}", free_tcp_port())])
            .args(["-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("pebble-challtestsrv starts");

        let (api, management) = (free_tcp_port(), free_tcp_port());
        let config = serde_json::json!({"pebble": {
            "listenAddress": format!("127.0.0.1:{api}"),
            "managementListenAddress": format!("127.0.0.1:{management}"),
            "certificate": cert, "privateKey": key,
            "httpPort": http_port, "tlsPort": tls_port,
            "ocspResponderURL": "", "externalAccountBindingRequired": false,
        }});
        let config_path = dir.path().join("pebble.json");
        std::fs::write(&config_path, config.to_string()).unwrap();
        let log = std::fs::File::create(dir.path().join("pebble.log")).unwrap();
        let pebble = Command::new("pebble")
            .arg("-config")
            .arg(&config_path)
            .args(["-dnsserver", &format!("127.0.0.1:{dns_port}")])
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .expect("pebble starts");

        let this = Self {
            directory: format!("https://127.0.0.1:{api}/dir"),
            listener_ca,
            management: format!("https://127.0.0.1:{management}"),
            listener_ca_pem: ca.pem(),
            _dns: dns,
            _pebble: pebble,
            _dir: dir,
        };
        let client = client_trusting(&this.listener_ca_pem);
        let started = Instant::now();
        while client.get(&this.directory).send().await.is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "pebble did not start: {}",
                this.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        this
    }

    /// The root pebble issues under (regenerated at every start).
    pub async fn root_pem(&self) -> String {
        client_trusting(&self.listener_ca_pem)
            .get(format!("{}/roots/0", self.management))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("pebble.log")).unwrap_or_default()
    }
}

/// hearth serving `DOMAIN` on fixed ports with certificates from `pebble`.
pub fn acme_config(
    data: &Path,
    http: u16,
    https: u16,
    pebble: &Pebble,
    challenges: &[Challenge],
) -> Config {
    let mut config = Config::for_dir(data, &format!("127.0.0.1:{http}"));
    config.workers = Some(1);
    config.tls = Some(TlsConfig {
        https: format!("127.0.0.1:{https}"),
        certificates: Some(Certificates::Acme(AcmeConfig {
            domains: vec![DOMAIN.into()],
            directory: pebble.directory.clone(),
            ca: Some(pebble.listener_ca.clone()),
            email: Some("ops@hearth.test".into()),
            challenges: challenges.to_vec(),
            cache: data.join(".acme"),
        })),
    });
    config
}

/// A client trusting `root` that reaches `DOMAIN` at 127.0.0.1:`port`.
pub fn domain_client(root: &str, port: u16) -> reqwest::Client {
    crate::helpers::client_builder()
        .tls_backend_preconfigured(client_config(root))
        .tls_info(true)
        .pool_max_idle_per_host(0)
        .resolve(DOMAIN, SocketAddr::from(([127, 0, 0, 1], port)))
        .build()
        .unwrap()
}

/// Waits until `DOMAIN` answers over HTTPS with a certificate that verifies against `root`.
pub async fn wait_for_certificate(client: &reqwest::Client, port: u16, pebble: &Pebble) -> Vec<u8> {
    let url = format!("https://{DOMAIN}:{port}/api/health");
    let started = Instant::now();
    loop {
        if let Ok(res) = client.get(&url).send().await {
            assert_eq!(res.status(), 200);
            return peer_certificate(&res);
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no certificate within a minute; pebble said:\n{}",
            pebble.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn obtains_a_certificate_with(challenge: Challenge) {
    if pebble_bin().is_none() {
        return;
    }
    let (http, https) = (free_tcp_port(), free_tcp_port());
    let pebble = Pebble::start(http, https).await;
    let data = tempfile::tempdir().unwrap();
    let app = App::build(acme_config(data.path(), http, https, &pebble, &[challenge])).unwrap();
    tokio::spawn(app.run_until_stopped());

    let root = pebble.root_pem().await;
    let client = domain_client(&root, https);
    let issued = wait_for_certificate(&client, https, &pebble).await;
    assert!(
        data.path()
            .join(".acme")
            .join(format!("{DOMAIN}.pem"))
            .is_file(),
        "the certificate is cached"
    );
    // Plain HTTP now redirects to it.
    let res = crate::helpers::client_builder()
        .redirect(reqwest::redirect::Policy::none())
        .resolve(DOMAIN, SocketAddr::from(([127, 0, 0, 1], http)))
        .build()
        .unwrap()
        .get(format!("http://{DOMAIN}:{http}/_/"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 308);
    assert_eq!(
        res.headers()["location"],
        format!("https://{DOMAIN}:{https}/_/").as_str()
    );
    drop(pebble);

    // Another server given the cache (pebble gone) serves the cached certificate at once.
    let again = tempfile::tempdir().unwrap();
    let cache = again.path().join(".acme");
    std::fs::create_dir_all(&cache).unwrap();
    for entry in std::fs::read_dir(data.path().join(".acme")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), cache.join(entry.file_name())).unwrap();
    }
    let mut config = Config::for_dir(again.path(), "127.0.0.1:0");
    config.tls = Some(TlsConfig {
        https: "127.0.0.1:0".into(),
        certificates: Some(Certificates::Acme(AcmeConfig {
            domains: vec![DOMAIN.into()],
            directory: "https://127.0.0.1:1/dir".into(),
            ca: None,
            email: None,
            challenges: vec![challenge],
            cache,
        })),
    });
    let app = App::build(config).unwrap();
    let port = app.https_port().unwrap();
    tokio::spawn(app.run_until_stopped());
    let res = domain_client(&root, port)
        .get(format!("https://{DOMAIN}:{port}/api/health"))
        .send()
        .await
        .expect("the cached certificate verifies");
    assert_eq!(peer_certificate(&res), issued);
}

#[tokio::test]
async fn a_certificate_is_obtained_by_tls_alpn_01() {
    obtains_a_certificate_with(Challenge::TlsAlpn01).await;
}

#[tokio::test]
async fn a_certificate_is_obtained_by_http_01() {
    obtains_a_certificate_with(Challenge::Http01).await;
}

#[tokio::test]
async fn the_next_challenge_is_tried_when_one_fails() {
    if pebble_bin().is_none() {
        return;
    }
    let (http, https) = (free_tcp_port(), free_tcp_port());
    // pebble checks TLS-ALPN-01 on a port nobody listens on: that challenge fails.
    let pebble = Pebble::start(http, free_tcp_port()).await;
    let data = tempfile::tempdir().unwrap();
    let challenges = [Challenge::TlsAlpn01, Challenge::Http01];
    let app = App::build(acme_config(data.path(), http, https, &pebble, &challenges)).unwrap();
    tokio::spawn(app.run_until_stopped());

    let root = pebble.root_pem().await;
    wait_for_certificate(&domain_client(&root, https), https, &pebble).await;
    // The first order failed its challenge, the second passed over HTTP.
    let log = pebble.log();
    assert!(log.contains("set INVALID by invalid authz"), "{log}");
    assert!(log.contains("Attempting to validate w/ HTTP"), "{log}");
}

/// base64(SHA-256(SubjectPublicKeyInfo)) of a certificate, as Chromium's
/// `--ignore-certificate-errors-spki-list` takes it.
fn spki_hash(der: &[u8]) -> String {
    use base64::Engine;
    use sha2::Digest;
    use x509_cert::der::{Decode, Encode};
    let cert = x509_cert::Certificate::from_der(der).unwrap();
    let spki = cert
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .unwrap();
    base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(spki))
}

#[tokio::test]
async fn the_browser_app_works_over_https_with_a_certificate_from_acme() {
    let Some(bin) = crate::browser::chromedriver() else {
        return;
    };
    if pebble_bin().is_none() {
        return;
    }
    let (http, https) = (free_tcp_port(), free_tcp_port());
    let pebble = Pebble::start(http, https).await;
    let data = tempfile::tempdir().unwrap();
    let site = crate::browser_app::page_site();
    let mut config = acme_config(data.path(), http, https, &pebble, &[Challenge::TlsAlpn01]);
    config.public_dir = site.path().to_path_buf();
    let app = App::build(config).unwrap();
    hearth::auth::superusers::upsert(
        &app.db().data,
        crate::helpers::ADMIN_EMAIL,
        crate::helpers::ADMIN_PASSWORD,
    )
    .unwrap();
    tokio::spawn(app.run_until_stopped());
    let root = pebble.root_pem().await;
    let client = domain_client(&root, https);
    let leaf = wait_for_certificate(&client, https, &pebble).await;
    let origin = format!("https://{DOMAIN}:{https}");
    let token = crate::helpers::superuser_token_at(&client, &origin).await;
    crate::browser_app::prepare_with(&client, &origin, &token).await;

    // Chromium reaches the domain on loopback and accepts pebble's certificate, which no
    // system trusts, by its key; the page runs on the HTTPS origin.
    let switches = [
        format!("--host-resolver-rules=MAP {DOMAIN} 127.0.0.1"),
        format!("--ignore-certificate-errors-spki-list={}", spki_hash(&leaf)),
    ];
    let got = crate::browser_app::run_page_with(&bin, &origin, &origin, &switches).await;

    assert_eq!(got, crate::browser_app::expected());
}
