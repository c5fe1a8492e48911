//! Settings encrypted at rest, as PocketBase's `--encryptionEnv`: AES-256-GCM with the 32
//! characters of an environment variable as the key, stored as base64 of a random 12-byte
//! nonce followed by the sealed JSON (PocketBase's `security.Encrypt`, so either reads the
//! other's). The key of each open `data.db` is kept here by the database's path, so every
//! connection's `settings::load` finds it without the key travelling through every call.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use base64::Engine;
use ring::aead;
use ring::rand::{SecureRandom, SystemRandom};

use crate::error::{Error, Result};

static KEYS: Mutex<Option<HashMap<PathBuf, String>>> = Mutex::new(None);

fn normal(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
}

/// The value of the environment variable `env` that `--encryption-env` names.
pub fn key_from_env(env: &str) -> Result<String> {
    std::env::var(env).map_err(|_| {
        Error::internal(format!(
            "--encryption-env {env}: the environment variable {env} is not set"
        ))
    })
}

/// The key of the database at `path`, read from the environment variable `env`: exactly
/// 32 characters, else start-up stops with one line saying so.
pub fn use_key(path: &Path, env: &str) -> Result<()> {
    let key = key_from_env(env)?;
    if key.len() != 32 {
        return Err(Error::internal(format!(
            "--encryption-env {env}: the key must be 32 characters (it has {})",
            key.len()
        )));
    }
    let mut keys = KEYS.lock().unwrap_or_else(PoisonError::into_inner);
    keys.get_or_insert_with(HashMap::new)
        .insert(normal(path), key);
    Ok(())
}

/// Gives the database at `to` the key of the one at `from`, if it has one (a restore checks
/// its archive's copy as the server will read it).
pub fn share_key(from: &Path, to: &Path) {
    let mut keys = KEYS.lock().unwrap_or_else(PoisonError::into_inner);
    let Some(map) = keys.as_mut() else {
        return;
    };
    if let Some(key) = map.get(&normal(from)).cloned() {
        map.insert(normal(to), key);
    }
}

/// The key registered for the database file at `path`, if any.
pub fn key_for(path: Option<&str>) -> Option<String> {
    let path = normal(Path::new(path?));
    let keys = KEYS.lock().unwrap_or_else(PoisonError::into_inner);
    keys.as_ref()?.get(&path).cloned()
}

fn sealing_key(key: &str) -> Result<aead::LessSafeKey> {
    let unbound = aead::UnboundKey::new(&aead::AES_256_GCM, key.as_bytes()).map_err(|_| {
        Error::internal(format!(
            "the encryption key must be 32 characters (it has {})",
            key.len()
        ))
    })?;
    Ok(aead::LessSafeKey::new(unbound))
}

/// PocketBase's `security.Encrypt`.
pub fn encrypt(plain: &[u8], key: &str) -> Result<String> {
    let sealing = sealing_key(key)?;
    let mut nonce = [0u8; aead::NONCE_LEN];
    SystemRandom::new()
        .fill(&mut nonce)
        .map_err(|_| Error::internal("no randomness for a nonce"))?;
    let mut sealed = plain.to_vec();
    sealing
        .seal_in_place_append_tag(
            aead::Nonce::assume_unique_for_key(nonce),
            aead::Aad::empty(),
            &mut sealed,
        )
        .map_err(|_| Error::internal("the settings cannot be encrypted"))?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&sealed);
    Ok(base64::engine::general_purpose::STANDARD.encode(out))
}

/// PocketBase's `security.Decrypt`: `text` is base64 of a 12-byte nonce followed by the
/// AES-256-GCM sealed data.
pub fn decrypt(text: &str, key: &str) -> Result<Vec<u8>> {
    let opening = sealing_key(key)?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|e| Error::internal(format!("the encrypted settings are not base64 ({e})")))?;
    if bytes.len() < aead::NONCE_LEN {
        return Err(Error::internal("the encrypted settings are too short"));
    }
    let (nonce, sealed) = bytes.split_at(aead::NONCE_LEN);
    let nonce = aead::Nonce::try_assume_unique_for_key(nonce)
        .map_err(|_| Error::internal("the encrypted settings have no nonce"))?;
    let mut sealed = sealed.to_vec();
    let opened = opening
        .open_in_place(nonce, aead::Aad::empty(), &mut sealed)
        .map_err(|_| {
            Error::internal("the settings cannot be decrypted with that key (wrong key?)")
        })?;
    Ok(opened.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_sealed_opens_with_the_key_only() {
        let key = "0123456789abcdef0123456789abcdef";
        let sealed = encrypt(br#"{"a":1}"#, key).unwrap_or_default();
        assert!(!sealed.contains("\"a\""));
        assert_eq!(
            decrypt(&sealed, key).ok().as_deref(),
            Some(&br#"{"a":1}"#[..])
        );
        assert!(decrypt(&sealed, "0123456789abcdef0123456789abcdeX").is_err());
        assert_ne!(
            encrypt(b"x", key).ok(),
            encrypt(b"x", key).ok(),
            "a new nonce each time"
        );
    }
}
