//! The app's own frontend: the files of `--public-dir` (PocketBase's `pb_public`) served at
//! `/`, behind every route of the API and the admin UI (it is the app's default service,
//! and never answers under `/api/` or `/_/`). A directory serves its `index.html`; a path
//! without a file extension that names no file serves the root `index.html`, so a
//! single-page app's client routes load (`--index-fallback=false` turns that off). Nothing
//! outside the folder is reachable: no `..`, no encoded separators, no dotfiles, and no
//! symbolic link that leads out. ETag, Last-Modified, 304 and ranges come from actix-files;
//! fingerprinted assets (`app-3f9a1c2e.js`) are cached for a year, everything else
//! revalidates.

use std::path::{Path, PathBuf};

use actix_files::NamedFile;
use actix_web::http::Method;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};

use crate::state::AppState;

/// Marks an answer as one of the app's files, so the admin UI's strict security headers
/// (its CSP, no framing) stay off the app's own pages.
#[derive(Clone, Copy, Debug)]
pub struct PublicFile;

/// The default service: a file of the public folder, or the JSON 404 every unknown route
/// gets.
pub async fn serve(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let wanted = matches!(*req.method(), Method::GET | Method::HEAD);
    let path = req.path();
    let reserved = path == "/_" || path.starts_with("/_/") || path.starts_with("/api/");
    if !wanted || reserved {
        return crate::http::not_found_response(req.method());
    }
    let dir = &state.config.public_dir;
    let found = match find(dir, path) {
        Some(file) => Some(file),
        None if state.config.index_fallback && is_client_route(path) => find(dir, "/index.html"),
        None => None,
    };
    let Some(file) = found else {
        return crate::http::not_found_response(req.method());
    };
    let opened = match NamedFile::open(&file) {
        Ok(f) => f.use_etag(true).use_last_modified(true),
        Err(_) => return crate::http::not_found_response(req.method()),
    };
    let cache = if fingerprinted(&file) {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let mut res = opened.into_response(&req);
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    res.extensions_mut().insert(PublicFile);
    res
}

/// `/users/42` is a client route; `/app.js` (a missing file) and `/%2eenv` are not.
fn is_client_route(path: &str) -> bool {
    percent_decode(path).is_some_and(|p| !p.rsplit('/').next().unwrap_or_default().contains('.'))
}

/// The file `url_path` names under `root`, if it is one the folder may serve.
fn find(root: &Path, url_path: &str) -> Option<PathBuf> {
    let decoded = percent_decode(url_path)?;
    let mut candidate = root.to_path_buf();
    for segment in decoded.split('/').filter(|s| !s.is_empty()) {
        // No parent steps, no dotfiles, nothing a platform could read as a separator.
        if segment.starts_with('.') || segment.contains(['\\', '\0', ':']) {
            return None;
        }
        candidate.push(segment);
    }
    if candidate.is_dir() {
        candidate.push("index.html");
    }
    // Symbolic links are followed only where they stay inside the folder.
    let real = candidate.canonicalize().ok()?;
    let real_root = root.canonicalize().ok()?;
    (real.starts_with(&real_root) && real.is_file()).then_some(real)
}

/// `%xx` escapes decoded; None for a malformed escape or text that is not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// A build tool's content-hashed name: a hash of 8 to 32 characters after a `-` or `.`
/// (Vite's `index-DsWAitPp.js`, webpack's `main.8e0d62a03c28a4d5ba3e.js`).
fn fingerprinted(file: &Path) -> bool {
    let Some(stem) = file.file_stem().and_then(|s| s.to_str()) else {
        return false;
    };
    let bytes = stem.as_bytes();
    (8..=32).any(|n| {
        bytes.len() > n
            && matches!(bytes[bytes.len() - n - 1], b'-' | b'.')
            && hash_like(&bytes[bytes.len() - n..])
    })
}

/// A content hash: letters, digits, `_` or `-` (Rollup's base64url), with a digit or an
/// upper-case letter past the first (so that no plain word passes).
fn hash_like(part: &[u8]) -> bool {
    part.iter()
        .all(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'-')
        && (part.iter().any(u8::is_ascii_digit) || part[1..].iter().any(u8::is_ascii_uppercase))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_outside_the_folder_or_hidden_are_never_found() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("site");
        std::fs::create_dir_all(root.join("assets")).unwrap();
        std::fs::write(root.join("index.html"), "home").unwrap();
        std::fs::write(root.join(".env"), "secret").unwrap();
        std::fs::write(dir.path().join("outside.txt"), "out").unwrap();
        std::fs::write(root.join("assets/app.js"), "js").unwrap();

        assert!(find(&root, "/").is_some());
        assert!(find(&root, "/assets/app.js").is_some());
        assert!(find(&root, "/assets/%61pp.js").is_some());
        for bad in [
            "/../outside.txt",
            "/%2e%2e/outside.txt",
            "/assets/..%2f..%2foutside.txt",
            "/.env",
            "/%2eenv",
            "/assets/app.js%00",
            "/%zz",
        ] {
            assert_eq!(find(&root, bad), None, "{bad}");
        }
    }

    #[test]
    fn hashed_names_are_fingerprints() {
        assert!(fingerprinted(Path::new("index-4f3a2b1c.js")));
        assert!(fingerprinted(Path::new("main.3f9a1c2e.css")));
        assert!(!fingerprinted(Path::new("index.html")));
        assert!(!fingerprinted(Path::new("my-component.js")));
        assert!(!fingerprinted(Path::new("abcdefgh1.js")));
        // Vite/Rollup: 8 base64url characters, possibly without a digit, possibly with `-`.
        assert!(fingerprinted(Path::new("index-DsWAitPp.js")));
        assert!(fingerprinted(Path::new("MyComponent-B-x_3kQ2.js")));
        assert!(fingerprinted(Path::new("index-BsnPf0Xs.css")));
        // webpack's 20 hex characters.
        assert!(fingerprinted(Path::new("main.8e0d62a03c28a4d5ba3e.js")));
        assert!(!fingerprinted(Path::new("hero-Background.png")));
        assert!(!fingerprinted(Path::new("jquery-3.7.1.min.js")));
        assert!(!fingerprinted(Path::new("my-component-library.js")));
    }
}
