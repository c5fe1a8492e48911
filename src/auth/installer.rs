//! The first-run installer: while an instance has no superuser, `hearth serve` prints a
//! one-time link (`/_/install/TOKEN`, valid `TTL`) whose page creates the first superuser, as
//! PocketBase's `pbinstall` link does. Only a digest of the token is kept, in memory: a
//! restart prints a new link, and the link stops working once any superuser exists.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::RngExt;
use sha2::{Digest, Sha256};

/// How long a printed link works (PocketBase's: 30 minutes).
pub const TTL: Duration = Duration::from_secs(30 * 60);

#[derive(Default)]
pub struct Installer {
    open: Mutex<Option<([u8; 32], Instant)>>,
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl Installer {
    /// A new token, replacing any earlier one.
    pub fn open(&self) -> String {
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        let mut rng = rand::rng();
        let token: String = (0..40)
            .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
            .collect();
        if let Ok(mut open) = self.open.lock() {
            *open = Some((digest(&token), Instant::now() + TTL));
        }
        token
    }

    /// Whether `token` is the open one and has not expired.
    pub fn admits(&self, token: &str) -> bool {
        let Ok(open) = self.open.lock() else {
            return false;
        };
        open.is_some_and(|(d, until)| d == digest(token) && Instant::now() < until)
    }

    /// The link is spent: a superuser exists.
    pub fn close(&self) {
        if let Ok(mut open) = self.open.lock() {
            *open = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_open_token_is_admitted_until_closed() {
        let installer = Installer::default();
        assert!(!installer.admits(""));
        let first = installer.open();
        assert!(installer.admits(&first));
        assert!(!installer.admits("forged"));
        let second = installer.open();
        assert!(!installer.admits(&first), "a new link replaces the old one");
        assert!(installer.admits(&second));
        installer.close();
        assert!(!installer.admits(&second));
    }
}
