//! An S3-compatible bucket, as PocketBase's `s3` settings name one (`bucket`, `region`,
//! `endpoint`, `accessKey`, `secret`, `forcePathStyle`). Requests are signed by rusty-s3
//! (which does no IO) and sent by ureq, hearth's HTTP client: bodies stream from and into
//! files, never whole in memory, and a large file goes up in parts. Blocking: callers are
//! on the blocking pool or a background thread.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use rusty_s3::actions::{CreateMultipartUpload, DeleteObjects, ListObjectsV2, ObjectIdentifier};
use rusty_s3::{Credentials, S3Action, UrlStyle};
use serde_json::Value;
use ureq::SendBody;

use crate::error::{Error, Result};

/// How long a signature stays valid: one request's worth.
const SIGNED_FOR: Duration = Duration::from_secs(15 * 60);

/// Files above this go up in parts of this size (or larger, for a file past 10,000 of
/// them), each streamed from its span of the file.
const PART: u64 = 8 * 1024 * 1024;

/// How many parts of one file go up at once: one connection rarely fills the link to a
/// bucket; the parts stream from disk, so this costs threads, not memory.
const PARTS_AT_ONCE: usize = 4;

/// The connection settings of a bucket (`s3` or `backups.s3`).
#[derive(Clone, PartialEq, Eq)]
pub struct Config {
    pub bucket: String,
    pub region: String,
    pub endpoint: String,
    pub access_key: String,
    pub secret: String,
    pub force_path_style: bool,
}

impl std::fmt::Debug for Config {
    // The secret is never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .field("force_path_style", &self.force_path_style)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// The settings object `s3` (or `backups.s3`), whether enabled or not.
    pub fn from_settings(s3: &Value) -> Self {
        let text = |k: &str| s3.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
        Self {
            bucket: text("bucket"),
            region: text("region"),
            endpoint: text("endpoint"),
            access_key: text("accessKey"),
            secret: text("secret"),
            force_path_style: s3
                .get("forcePathStyle")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        }
    }

    /// The settings object when it is enabled.
    pub fn enabled(s3: Option<&Value>) -> Option<Self> {
        let s3 = s3?;
        s3.get("enabled")
            .and_then(Value::as_bool)
            .unwrap_or(false)
            .then(|| Self::from_settings(s3))
    }

    /// The endpoint as a URL: AWS's own for the region when none is set, https when no
    /// scheme is given (as the AWS SDK PocketBase uses reads it).
    fn endpoint_url(&self) -> Result<url::Url> {
        let raw = match self.endpoint.trim() {
            "" => format!("https://s3.{}.amazonaws.com", self.region),
            e if e.contains("://") => e.to_owned(),
            e => format!("https://{e}"),
        };
        url::Url::parse(&raw).map_err(|_| Error::bad_request("Invalid S3 endpoint."))
    }
}

/// What the bucket says of an object.
#[derive(Debug, Clone)]
pub struct Meta {
    pub size: u64,
    /// As the bucket sends it, quotes included.
    pub etag: String,
    /// An HTTP date.
    pub modified: Option<String>,
    pub content_type: Option<String>,
}

/// An object being read: the bucket's status and the headers that describe the body
/// (lower-case names), and the body.
pub struct Object {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Box<dyn Read + Send>,
}

impl Object {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

pub struct Bucket {
    config: Config,
    bucket: rusty_s3::Bucket,
    credentials: Credentials,
    agent: ureq::Agent,
}

/// The error for a request the bucket answered with `status`.
fn refused(what: &str, status: u16, body: &str) -> Error {
    // S3 errors are XML with a <Code> and a <Message>; the code says enough.
    let code = body
        .split_once("<Code>")
        .and_then(|(_, rest)| rest.split_once("</Code>"))
        .map_or("", |(code, _)| code);
    Error::internal(format!("S3 {what}: {status} {code}"))
}

fn unreachable(what: &str, e: ureq::Error) -> Error {
    Error::internal(format!("S3 {what}: {e}"))
}

type Answer = ureq::http::Response<ureq::Body>;

/// The answer to a request for `what` when the bucket took it; the error otherwise.
fn took(what: &str, sent: std::result::Result<Answer, ureq::Error>) -> Result<Answer> {
    let mut res = sent.map_err(|e| unreachable(what, e))?;
    if !res.status().is_success() {
        let body = res.body_mut().read_to_string().unwrap_or_default();
        return Err(refused(what, res.status().as_u16(), &body));
    }
    Ok(res)
}

/// The text of the answer to a request for `what` the bucket took (S3 may answer 200
/// with an error in the body).
fn text_of(what: &str, sent: std::result::Result<Answer, ureq::Error>) -> Result<String> {
    let mut res = took(what, sent)?;
    let body = res.body_mut().read_to_string().unwrap_or_default();
    if body.contains("<Error>") {
        return Err(refused(what, res.status().as_u16(), &body));
    }
    Ok(body)
}

impl Bucket {
    pub fn new(config: Config) -> Result<Self> {
        let style = if config.force_path_style {
            UrlStyle::Path
        } else {
            UrlStyle::VirtualHost
        };
        let bucket = rusty_s3::Bucket::new(
            config.endpoint_url()?,
            style,
            config.bucket.clone(),
            config.region.clone(),
        )
        .map_err(|_| Error::bad_request("Invalid S3 bucket settings."))?;
        let credentials = Credentials::new(config.access_key.clone(), config.secret.clone());
        let agent = ureq::Agent::config_builder()
            .timeout_connect(Some(Duration::from_secs(10)))
            .timeout_recv_response(Some(Duration::from_secs(60)))
            .http_status_as_error(false)
            .user_agent(format!("hearth/{}", crate::VERSION))
            .build()
            .into();
        Ok(Self {
            config,
            bucket,
            credentials,
            agent,
        })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    fn creds(&self) -> Option<&Credentials> {
        Some(&self.credentials)
    }

    /// Uploads the file at `path` as `key`, streamed (in parts past `PART`).
    pub fn put_file(&self, key: &str, path: &Path, content_type: &str) -> Result<()> {
        let mut file = File::open(path)?;
        let len = file.metadata()?.len();
        if len <= PART {
            let url = self.put_url(key, content_type);
            let sent = self
                .agent
                .put(url.as_str())
                .header("content-length", len.to_string())
                .header("content-type", content_type)
                .send(SendBody::from_reader(&mut file));
            return took("upload", sent).map(drop);
        }
        self.put_parts(key, &file, len, content_type)
    }

    /// A signed PutObject URL for `key`, its content type signed with it.
    fn put_url(&self, key: &str, content_type: &str) -> url::Url {
        let mut put = self.bucket.put_object(self.creds(), key);
        put.headers_mut().insert("content-type", content_type);
        put.sign(SIGNED_FOR)
    }

    /// Uploads `bytes` as `key` (small objects: a connection test, a marker).
    pub fn put_bytes(&self, key: &str, bytes: &[u8], content_type: &str) -> Result<()> {
        let url = self.put_url(key, content_type);
        let sent = self
            .agent
            .put(url.as_str())
            .header("content-type", content_type)
            .send(bytes);
        took("upload", sent).map(drop)
    }

    fn put_parts(&self, key: &str, file: &File, len: u64, content_type: &str) -> Result<()> {
        let mut start = self.bucket.create_multipart_upload(self.creds(), key);
        start.headers_mut().insert("content-type", content_type);
        let url = start.sign(SIGNED_FOR);
        let sent = self
            .agent
            .post(url.as_str())
            .header("content-type", content_type)
            .send_empty();
        let body = text_of("upload", sent)?;
        let upload_id = CreateMultipartUpload::parse_response(&body)
            .map_err(|_| Error::internal("S3 upload: unreadable answer"))?
            .upload_id()
            .to_owned();
        let sent = self.send_parts(key, &upload_id, file, len);
        if sent.is_err() {
            // Parts already sent would be kept (and billed) until the upload is aborted.
            let url = self
                .bucket
                .abort_multipart_upload(self.creds(), key, &upload_id)
                .sign(SIGNED_FOR);
            if let Err(e) = self.agent.delete(url.as_str()).call() {
                log::warn!("S3: cannot abort the upload of {key}: {e}");
            }
        }
        sent
    }

    /// Sends the parts of `file`, up to `PARTS_AT_ONCE` at a time (each streams from its
    /// own span of the file), then completes the upload. The first failure stops the rest.
    fn send_parts(&self, key: &str, upload_id: &str, file: &File, len: u64) -> Result<()> {
        // S3 allows at most 10,000 parts: a file past 10,000 `PART`s gets larger parts.
        let part = PART.max(len.div_ceil(10_000));
        let count = usize::try_from(len.div_ceil(part))
            .map_err(|_| Error::internal("S3 upload: too many parts"))?;
        let next = AtomicUsize::new(0);
        let failed = AtomicBool::new(false);
        let sent: Vec<Result<Vec<(usize, String)>>> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..PARTS_AT_ONCE.min(count))
                .map(|_| {
                    scope.spawn(|| {
                        let mut etags = Vec::new();
                        loop {
                            let index = next.fetch_add(1, Ordering::Relaxed);
                            if index >= count || failed.load(Ordering::Relaxed) {
                                return Ok(etags);
                            }
                            let offset = index as u64 * part;
                            let size = part.min(len - offset);
                            match self.send_part(key, upload_id, index, file, offset, size) {
                                Ok(etag) => etags.push((index, etag)),
                                Err(e) => {
                                    failed.store(true, Ordering::Relaxed);
                                    return Err(e);
                                }
                            }
                        }
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|w| {
                    w.join()
                        .unwrap_or_else(|_| Err(Error::internal("S3 upload: a part panicked")))
                })
                .collect()
        });
        let mut etags = Vec::with_capacity(count);
        for part in sent {
            etags.extend(part?);
        }
        etags.sort_unstable_by_key(|(index, _)| *index);
        let done = self.bucket.complete_multipart_upload(
            self.creds(),
            key,
            upload_id,
            etags.iter().map(|(_, etag)| etag.as_str()),
        );
        let url = done.sign(SIGNED_FOR);
        let sent = self.agent.post(url.as_str()).send(done.body());
        text_of("upload", sent).map(drop)
    }

    /// Sends the part at `index` (`size` bytes of `file` from `offset`); its ETag.
    fn send_part(
        &self,
        key: &str,
        upload_id: &str,
        index: usize,
        file: &File,
        offset: u64,
        size: u64,
    ) -> Result<String> {
        let number =
            u16::try_from(index + 1).map_err(|_| Error::internal("S3 upload: too many parts"))?;
        let url = self
            .bucket
            .upload_part(self.creds(), key, number, upload_id)
            .sign(SIGNED_FOR);
        let mut span = Span {
            file,
            offset,
            left: size,
        };
        let sent = self
            .agent
            .put(url.as_str())
            .header("content-length", size.to_string())
            .send(SendBody::from_reader(&mut span));
        let res = took("upload", sent)?;
        res.headers()
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .ok_or_else(|| Error::internal("S3 upload: a part without an ETag"))
    }

    fn meta_of(res: &ureq::http::Response<ureq::Body>, size: u64) -> Meta {
        let header = |k: &str| {
            res.headers()
                .get(k)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        Meta {
            size,
            etag: header("etag").unwrap_or_default(),
            modified: header("last-modified"),
            content_type: header("content-type"),
        }
    }

    /// What the bucket says of `key`; None when there is no such object.
    pub fn head(&self, key: &str) -> Result<Option<Meta>> {
        let url = self.bucket.head_object(self.creds(), key).sign(SIGNED_FOR);
        let res = self
            .agent
            .head(url.as_str())
            .call()
            .map_err(|e| unreachable("read", e))?;
        match res.status().as_u16() {
            404 => Ok(None),
            s if (200..300).contains(&s) => {
                let size = res
                    .headers()
                    .get("content-length")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                Ok(Some(Self::meta_of(&res, size)))
            }
            s => Err(refused("read", s, "")),
        }
    }

    /// Reads `key`, passing `headers` on (a client's `Range`, `If-None-Match`,
    /// `If-Modified-Since`): the bucket answers them as for any HTTP client (206, 304,
    /// 416, ...). None when there is no such object.
    pub fn get(&self, key: &str, headers: &[(&str, &str)]) -> Result<Option<Object>> {
        let url = self.bucket.get_object(self.creds(), key).sign(SIGNED_FOR);
        let mut req = self.agent.get(url.as_str());
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        let mut res = req.call().map_err(|e| unreachable("read", e))?;
        let status = res.status().as_u16();
        if status == 404 {
            return Ok(None);
        }
        if !(200..300).contains(&status) && !matches!(status, 304 | 412 | 416) {
            let body = res.body_mut().read_to_string().unwrap_or_default();
            return Err(refused("read", status, &body));
        }
        let kept = [
            "content-length",
            "content-range",
            "content-type",
            "etag",
            "last-modified",
            "accept-ranges",
        ];
        let headers = kept
            .iter()
            .filter_map(|k| {
                let v = res.headers().get(*k)?.to_str().ok()?;
                Some(((*k).to_owned(), v.to_owned()))
            })
            .collect();
        let body = Box::new(res.into_body().into_reader());
        Ok(Some(Object {
            status,
            headers,
            body,
        }))
    }

    /// Downloads `key` into a new file at `dest`; false when there is no such object.
    pub fn download(&self, key: &str, dest: &Path) -> Result<bool> {
        let Some(mut object) = self.get(key, &[])? else {
            return Ok(false);
        };
        let mut out = std::io::BufWriter::with_capacity(256 * 1024, File::create_new(dest)?);
        std::io::copy(&mut object.body, &mut out)?;
        let file = out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        Ok(true)
    }

    /// Removes `keys` (missing ones are no error), a thousand per request.
    pub fn delete(&self, keys: &[String]) -> Result<()> {
        for chunk in keys.chunks(1000) {
            let objects: Vec<ObjectIdentifier> = chunk
                .iter()
                .map(|k| ObjectIdentifier::new(k.clone()))
                .collect();
            let mut action = DeleteObjects::new(&self.bucket, self.creds(), objects.iter());
            action.set_quiet(true);
            let url = action.sign(SIGNED_FOR);
            let (body, md5) = action.body_with_md5();
            let sent = self
                .agent
                .post(url.as_str())
                .header("content-md5", md5)
                .send(body);
            text_of("delete", sent)?;
        }
        Ok(())
    }

    /// Every object whose key starts with `prefix`: (key, size, last modified).
    pub fn list(&self, prefix: &str) -> Result<Vec<Listed>> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut action = ListObjectsV2::new(&self.bucket, self.creds());
            action.with_prefix(prefix);
            if let Some(t) = &token {
                action.with_continuation_token(t.as_str());
            }
            let url = action.sign(SIGNED_FOR);
            let body = text_of("list", self.agent.get(url.as_str()).call())?;
            let page = ListObjectsV2::parse_response(&body)
                .map_err(|_| Error::internal("S3 list: unreadable answer"))?;
            out.extend(page.contents.into_iter().map(|o| Listed {
                key: o.key,
                size: o.size.unwrap_or(0),
                modified: o.last_modified.unwrap_or_default(),
            }));
            match page.next_continuation_token {
                Some(t) if !t.is_empty() => token = Some(t),
                _ => return Ok(out),
            }
        }
    }

    /// Removes every object under `prefix`.
    pub fn delete_prefix(&self, prefix: &str) -> Result<()> {
        let keys: Vec<String> = self.list(prefix)?.into_iter().map(|o| o.key).collect();
        self.delete(&keys)
    }

    /// Whether the bucket takes, lists and removes objects with these settings, as
    /// PocketBase's settings test checks it: a small file under a fresh prefix, uploaded,
    /// then removed with its prefix. The error says which step failed.
    pub fn check(&self) -> std::result::Result<(), String> {
        let prefix = format!("pb_settings_test_{}", crate::ids::secret(5));
        self.put_bytes(&format!("{prefix}/test.txt"), b"test", "text/plain")
            .map_err(|e| format!("failed to upload a test file: {}", detail(&e)))?;
        self.delete_prefix(&prefix)
            .map_err(|e| format!("failed to delete a test file: {}", detail(&e)))
    }
}

/// An error's own words, without the 500's wrapping.
fn detail(e: &Error) -> String {
    match e {
        Error::Internal(detail) => detail.clone(),
        e => e.to_string(),
    }
}

/// One object of a listing.
#[derive(Debug, Clone)]
pub struct Listed {
    pub key: String,
    pub size: u64,
    /// As the listing gives it (RFC 3339).
    pub modified: String,
}

/// `left` bytes of a file from `offset`, read by position (spans of one file are read by
/// several threads at once).
struct Span<'a> {
    file: &'a File,
    offset: u64,
    left: u64,
}

impl Read for Span<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let want = usize::try_from(self.left).map_or(buf.len(), |left| left.min(buf.len()));
        if want == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..want], self.offset)?;
        self.offset += n as u64;
        self.left -= n as u64;
        Ok(n)
    }
}
