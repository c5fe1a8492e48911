//! Apple sends a user's name once, in the `user` form value of its first redirect, and never
//! through a user-info endpoint. As PocketBase does, `/api/oauth2-redirect` keeps that name
//! for a minute under the code it came with, and the `auth-with-oauth2` call that spends the
//! code takes it. Only redirects handed to a waiting client are kept, at most `CAPACITY`
//! at once and each small, so nobody can fill the memory by posting names.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const TTL: Duration = Duration::from_secs(60);
const CAPACITY: usize = 10_000;
/// Longer codes are not kept: no provider's code comes near it, and the map stays small.
const MAX_CODE: usize = 512;
const MAX_NAME: usize = 150;

#[derive(Default)]
pub struct AppleNames {
    names: Mutex<HashMap<String, (String, Instant)>>,
}

impl AppleNames {
    /// Keeps `name` for the sign-in that spends `code`.
    pub fn keep(&self, code: &str, name: String) {
        if code.len() > MAX_CODE || name.len() > MAX_NAME {
            return;
        }
        let mut names = self.names.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        names.retain(|_, (_, at)| now.duration_since(*at) < TTL);
        if names.len() < CAPACITY {
            names.insert(code.to_owned(), (name, now));
        }
    }

    /// The name kept for `code`, once.
    pub fn take(&self, code: &str) -> Option<String> {
        let mut names = self.names.lock().unwrap_or_else(|p| p.into_inner());
        let (name, at) = names.remove(code)?;
        (at.elapsed() < TTL).then_some(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_taken_once() {
        let names = AppleNames::default();
        names.keep("code-1", "Ann Apple".into());
        assert_eq!(names.take("code-2"), None);
        assert_eq!(names.take("code-1").as_deref(), Some("Ann Apple"));
        assert_eq!(names.take("code-1"), None);
        names.keep(&"x".repeat(MAX_CODE + 1), "Long Code".into());
        assert_eq!(names.take(&"x".repeat(MAX_CODE + 1)), None);
    }
}
