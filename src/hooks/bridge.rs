//! The native side of the JS API: what `__native(op, args)` answers. `Common` holds the
//! operations every runtime has (logging, environment, `sleep`, `$security`); the loader
//! adds registration, the executors the app (records, collections, ...).

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Digest;

use rquickjs::Ctx;

use super::Server;
use super::records::JsHooks;
use super::registry::Registry;
use super::runtime::{Host, Js};
use crate::error::{Error, Result};

/// The hex HMAC of `text` with `key` (HMAC takes keys of any length).
macro_rules! hmac {
    ($digest:ty, $key:expr, $text:expr) => {{
        match <Hmac<$digest> as KeyInit>::new_from_slice($key) {
            Ok(mut mac) => {
                mac.update($text);
                hex(&mac.finalize().into_bytes())
            }
            Err(_) => String::new(),
        }
    }};
}

/// The longest `sleep`, whatever the budget says.
const MAX_SLEEP: Duration = Duration::from_secs(60);

/// Operations every runtime answers; None for an op it does not know. `dir` is the
/// hooks folder (`__hooks`).
pub fn common(op: &str, args: &Value, dir: &Path) -> Option<Result<Value>> {
    let answered = match op {
        "readModule" => read_module(dir, args.as_str().unwrap_or("")),
        "httpSend" => super::http::send(args),
        "log" => {
            let level = args[0].as_str().unwrap_or("info");
            let text = args[1].as_str().unwrap_or("");
            match level {
                "error" => log::error!(target: "hearth::hooks", "{text}"),
                "warn" => log::warn!(target: "hearth::hooks", "{text}"),
                "debug" => log::debug!(target: "hearth::hooks", "{text}"),
                _ => log::info!(target: "hearth::hooks", "{text}"),
            }
            Ok(Value::Null)
        }
        "sleep" => {
            let wanted = Duration::from_millis(args.as_u64().unwrap_or(0)).min(MAX_SLEEP);
            // Never past the call's budget: the interrupt comes right after.
            let budget = Js::remaining().unwrap_or(wanted);
            std::thread::sleep(wanted.min(budget + Duration::from_millis(1)));
            Ok(Value::Null)
        }
        "getenv" => Ok(json!(
            std::env::var(args.as_str().unwrap_or("")).unwrap_or_default()
        )),
        "randomString" => {
            let len = args[0].as_u64().unwrap_or(0).min(1 << 20) as usize;
            Ok(json!(crate::ids::random_string(
                len,
                args[1].as_str().unwrap_or("")
            )))
        }
        "hash" => {
            let text = args[1].as_str().unwrap_or("").as_bytes();
            let digest = match args[0].as_str() {
                Some("md5") => hex(&md5::Md5::digest(text)),
                Some("sha512") => hex(&sha2::Sha512::digest(text)),
                _ => hex(&sha2::Sha256::digest(text)),
            };
            Ok(json!(digest))
        }
        "hmac" => {
            let text = args[1].as_str().unwrap_or("").as_bytes();
            let key = args[2].as_str().unwrap_or("").as_bytes();
            let mac = match args[0].as_str() {
                Some("sha512") => hmac!(sha2::Sha512, key, text),
                _ => hmac!(sha2::Sha256, key, text),
            };
            Ok(json!(mac))
        }
        "equal" => {
            let (a, b) = (
                args[0].as_str().unwrap_or("").as_bytes(),
                args[1].as_str().unwrap_or("").as_bytes(),
            );
            // Constant time for equal lengths.
            let same =
                a.len() == b.len() && a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0;
            Ok(json!(same))
        }
        "bytesToString" => {
            let bytes: Vec<u8> = args
                .as_array()
                .map(|a| a.iter().map(|b| b.as_u64().unwrap_or(0) as u8).collect())
                .unwrap_or_default();
            Ok(json!(String::from_utf8_lossy(&bytes)))
        }
        "stringToBytes" => Ok(json!(args.as_str().unwrap_or("").as_bytes())),
        "encrypt" => encrypt(
            args[0].as_str().unwrap_or(""),
            args[1].as_str().unwrap_or(""),
        ),
        "decrypt" => decrypt(
            args[0].as_str().unwrap_or(""),
            args[1].as_str().unwrap_or(""),
        ),
        "createJWT" => create_jwt(&args[0], args[1].as_str().unwrap_or(""), args[2].as_i64()),
        "parseJWT" => parse_jwt(args[0].as_str().unwrap_or(""), args[1].as_str()),
        "parseUnverifiedJWT" => parse_jwt(args[0].as_str().unwrap_or(""), None),
        _ => return None,
    };
    Some(answered)
}

/// The AES-GCM key of `$security.encrypt/decrypt`: 16 or 32 bytes, as Go's AES takes them
/// (its 24-byte AES-192 has no counterpart in ring).
fn aes_key(key: &str) -> Result<ring::aead::LessSafeKey> {
    let algorithm = match key.len() {
        16 => &ring::aead::AES_128_GCM,
        32 => &ring::aead::AES_256_GCM,
        n => {
            return Err(Error::bad_request(format!(
                "crypto/aes: invalid key size {n}"
            )));
        }
    };
    let key = ring::aead::UnboundKey::new(algorithm, key.as_bytes())
        .map_err(|_| Error::bad_request("crypto/aes: invalid key"))?;
    Ok(ring::aead::LessSafeKey::new(key))
}

/// `$security.encrypt(data, key)`: base64 of a random nonce and the sealed data, as
/// PocketBase's `security.Encrypt`.
fn encrypt(data: &str, key: &str) -> Result<Value> {
    use ring::rand::SecureRandom;
    let key = aes_key(key)?;
    let mut nonce = [0u8; ring::aead::NONCE_LEN];
    ring::rand::SystemRandom::new()
        .fill(&mut nonce)
        .map_err(|_| Error::internal("no randomness for a nonce"))?;
    let mut sealed = data.as_bytes().to_vec();
    key.seal_in_place_append_tag(
        ring::aead::Nonce::assume_unique_for_key(nonce),
        ring::aead::Aad::empty(),
        &mut sealed,
    )
    .map_err(|_| Error::internal("cannot encrypt"))?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&sealed);
    Ok(json!(base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        out
    )))
}

/// `$security.decrypt(text, key)`: the data `encrypt` sealed.
fn decrypt(text: &str, key: &str) -> Result<Value> {
    let key = aes_key(key)?;
    let bytes = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, text)
        .map_err(|e| Error::bad_request(format!("Invalid cipher text: {e}")))?;
    if bytes.len() < ring::aead::NONCE_LEN {
        return Err(Error::bad_request("Invalid cipher text."));
    }
    let (nonce, sealed) = bytes.split_at(ring::aead::NONCE_LEN);
    let nonce = ring::aead::Nonce::try_assume_unique_for_key(nonce)
        .map_err(|_| Error::bad_request("Invalid cipher text."))?;
    let mut sealed = sealed.to_vec();
    let opened = key
        .open_in_place(nonce, ring::aead::Aad::empty(), &mut sealed)
        .map_err(|_| Error::bad_request("cipher: message authentication failed"))?;
    Ok(json!(String::from_utf8_lossy(opened)))
}

/// `$security.createJWT(payload, key, seconds)`: an HS256 token expiring in `seconds`.
fn create_jwt(payload: &Value, key: &str, seconds: Option<i64>) -> Result<Value> {
    let mut claims = payload.as_object().cloned().unwrap_or_default();
    if let Some(seconds) = seconds {
        let exp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
            + seconds;
        claims.insert("exp".into(), json!(exp));
    }
    let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    let key = jsonwebtoken::EncodingKey::from_secret(key.as_bytes());
    jsonwebtoken::encode(&header, &claims, &key)
        .map(Value::String)
        .map_err(|e| Error::bad_request(format!("Cannot create the token: {e}")))
}

/// `$security.parseJWT(token, key)` (verified: signature and expiry) and
/// `parseUnverifiedJWT(token)` (`key` None): the token's claims.
fn parse_jwt(token: &str, key: Option<&str>) -> Result<Value> {
    let invalid =
        |e: jsonwebtoken::errors::Error| Error::bad_request(format!("Invalid token: {e}"));
    let Some(key) = key else {
        let payload = token.split('.').nth(1).unwrap_or("");
        let bytes =
            base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
                .map_err(|e| Error::bad_request(format!("Invalid token: {e}")))?;
        return serde_json::from_slice(&bytes)
            .map_err(|e| Error::bad_request(format!("Invalid token: {e}")));
    };
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.required_spec_claims.clear();
    let key = jsonwebtoken::DecodingKey::from_secret(key.as_bytes());
    jsonwebtoken::decode::<serde_json::Map<String, Value>>(token, &key, &validation)
        .map(|data| Value::Object(data.claims))
        .map_err(invalid)
}

/// A CommonJS module for `require(path)`: relative paths from the hooks folder, `.js`
/// added when the name has none; answered as `{path, source}`.
fn read_module(dir: &Path, name: &str) -> Result<Value> {
    let wanted = Path::new(name);
    let base = if wanted.is_absolute() {
        wanted.to_path_buf()
    } else {
        dir.join(wanted)
    };
    let candidates = [
        base.clone(),
        base.with_extension("js"),
        base.join("index.js"),
    ];
    for path in candidates {
        if path.is_file() {
            let source = std::fs::read_to_string(&path).map_err(|e| {
                Error::bad_request(format!("Cannot read module {}: {e}", path.display()))
            })?;
            return Ok(json!({"path": path.to_string_lossy(), "source": source}));
        }
    }
    Err(Error::bad_request(format!("Cannot find module {name:?}")))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unknown(op: &str) -> Error {
    Error::bad_request(format!("{op} is not supported by hearth's hooks yet."))
}

/// The loader's host: the common operations, and registrations collected in order.
pub struct LoaderHost {
    pub dir: PathBuf,
    pub registrations: RefCell<Vec<Value>>,
}

impl Host for LoaderHost {
    fn call(&self, _: &Ctx<'_>, op: &str, args: Value) -> Result<Value> {
        if op == "register" {
            self.registrations.borrow_mut().push(args);
            return Ok(Value::Null);
        }
        if op == "cronRemove" {
            self.registrations
                .borrow_mut()
                .push(json!(["cronRemove", {"id": args}]));
            return Ok(Value::Null);
        }
        if op.starts_with("app.") {
            return Err(Error::bad_request(
                "$app is not available while the hooks files load; use it in handlers.",
            ));
        }
        common(op, &args, &self.dir).unwrap_or_else(|| Err(unknown(op)))
    }
}

/// An executor's host: the common operations and `$app`'s, once the server is up, and
/// what the record hooks call back into.
pub struct ExecutorHost {
    pub dir: PathBuf,
    pub app: AppHandle,
    pub registry: Arc<Registry>,
}

/// The server the executors serve, set once it exists (the hooks are loaded before).
pub type AppHandle = Arc<OnceLock<Weak<dyn Server>>>;

impl Host for ExecutorHost {
    fn call(&self, ctx: &Ctx<'_>, op: &str, args: Value) -> Result<Value> {
        match op {
            // Handlers run after loading: a `cronAdd` from one schedules its job at once, as
            // on PocketBase; other registrations do nothing there, as routes and hooks are
            // bound once at start.
            "register" if args[0] == "cron" => {
                if let Some(state) = self.app.get().and_then(Weak::upgrade) {
                    super::add_cron(&state, &args[1])?;
                }
                return Ok(Value::Null);
            }
            "register" => return Ok(Value::Null),
            "record.next" => return super::records::next(args),
            "use.next" => {
                let depth = args["depth"].as_u64().unwrap_or(0) as usize;
                let ran = super::lent::next(depth, Default::default()).map(Value::Object);
                super::runtime::restart_budget();
                return ran;
            }
            "cronRemove" => {
                if let Some(state) = self.app.get().and_then(Weak::upgrade) {
                    state.crons().remove(args.as_str().unwrap_or(""));
                }
                return Ok(Value::Null);
            }
            "handler" => {
                let id = args.as_u64().unwrap_or(u64::MAX) as usize;
                let handler = self
                    .registry
                    .handlers
                    .get(id)
                    .ok_or_else(|| Error::internal(format!("no hook handler {id}")))?;
                return Ok(json!({
                    "source": handler.source,
                    "file": handler.file,
                    "line": handler.line,
                }));
            }
            _ => {}
        }
        if op.starts_with("app.") {
            let Some(state) = self.app.get().and_then(Weak::upgrade) else {
                return Err(Error::internal("$app is used before the server is up"));
            };
            let hooks = JsHooks {
                ctx,
                registry: &self.registry,
            };
            if op == "app.runInTransaction" {
                return super::records::run_in_transaction(&*state, &hooks, &args);
            }
            return super::app::call(&*state, &hooks, op, &args)
                .unwrap_or_else(|| Err(unknown(op)));
        }
        common(op, &args, &self.dir).unwrap_or_else(|| Err(unknown(op)))
    }
}
