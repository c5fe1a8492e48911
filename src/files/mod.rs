//! Uploaded files on disk, under `storage/<collectionId>/<recordId>/`: how a new file is
//! named, how an upload is staged and moved into place, thumbnails, and the URLs the API
//! serves them at. It knows nothing of HTTP or SQL: the record service decides which
//! names a record keeps, the handlers decide when (after the commit) files go.

pub mod bucket;
pub mod mime;
pub mod names;
pub mod remote;
pub mod removals;
pub mod store;
pub mod thumbs;
pub mod upload;

pub use store::Storage;
pub use upload::{Staged, Staging};

/// Where the API serves `filename` of a record: `/api/files/{collection}/{record}/{file}`.
/// For links in the admin UI and anywhere else that shows a record's files.
pub fn file_url(collection: &str, record_id: &str, filename: &str) -> String {
    format!(
        "/api/files/{}/{}/{}",
        encode(collection),
        encode(record_id),
        encode(filename)
    )
}

/// The URL of a thumbnail (`100x100`, or a size the field lists in `thumbs`); other sizes,
/// and files that are not images, are served as the original.
pub fn thumb_url(collection: &str, record_id: &str, filename: &str, size: &str) -> String {
    format!(
        "{}?thumb={}",
        file_url(collection, record_id, filename),
        encode(size)
    )
}

/// The URL that makes browsers save the file instead of showing it.
pub fn download_url(collection: &str, record_id: &str, filename: &str) -> String {
    format!("{}?download=1", file_url(collection, record_id, filename))
}

/// True when a stored name looks like an image a thumbnail can be made of (by its
/// extension: for listings that show a thumbnail without opening every file).
pub fn looks_like_image(filename: &str) -> bool {
    let ext = filename
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase());
    matches!(
        ext.as_deref(),
        Some("png" | "jpg" | "jpeg" | "gif" | "webp")
    )
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn encode(part: &str) -> String {
    let mut out = String::with_capacity(part.len());
    for b in part.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_escape_what_a_path_cannot_hold() {
        assert_eq!(
            file_url("posts", "abc", "a#b_x1.png"),
            "/api/files/posts/abc/a%23b_x1.png"
        );
        assert_eq!(
            thumb_url("posts", "abc", "a.png", "100x100"),
            "/api/files/posts/abc/a.png?thumb=100x100"
        );
        assert!(looks_like_image("a_x.JPG"));
        assert!(!looks_like_image("a_x.txt"));
    }
}
