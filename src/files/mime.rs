//! A file's type, from its first bytes (never from what the client claimed): what
//! `mimeTypes` is checked against, the `Content-Type` it is served with, and the extension
//! a name without one gets.

use std::io::Read;
use std::path::Path;

/// How many leading bytes decide the type.
pub const HEAD_LEN: usize = 8192;

/// Types a browser may show in place; everything else is served as an attachment.
const INLINE: &[&str] = &[
    "image/png",
    "image/jpg",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "image/x-icon",
    "image/bmp",
    "video/webm",
    "video/mp4",
    "video/3gpp",
    "video/quicktime",
    "video/x-ms-wmv",
    "audio/basic",
    "audio/aiff",
    "audio/mpeg",
    "audio/midi",
    "audio/mp3",
    "audio/wave",
    "audio/wav",
    "audio/x-wav",
    "audio/x-mpeg",
    "audio/x-m4a",
    "audio/aac",
    "application/pdf",
    "application/x-pdf",
];

/// The images thumbnails are made of.
pub const THUMBABLE: &[&str] = &[
    "image/png",
    "image/jpg",
    "image/jpeg",
    "image/gif",
    "image/webp",
];

/// The type of content starting with `head`, and the extension (with its dot) that goes
/// with it ("" when unknown).
pub fn sniff(head: &[u8]) -> (String, &'static str) {
    if let Some(kind) = infer::get(head) {
        let ext = match kind.extension() {
            "jpg" => ".jpg",
            "png" => ".png",
            "gif" => ".gif",
            "webp" => ".webp",
            "pdf" => ".pdf",
            "zip" => ".zip",
            "gz" => ".gz",
            "mp4" => ".mp4",
            "mp3" => ".mp3",
            "webm" => ".webm",
            "bmp" => ".bmp",
            "ico" => ".ico",
            _ => "",
        };
        return (kind.mime_type().to_owned(), ext);
    }
    if is_text(head) {
        let text = String::from_utf8_lossy(head);
        let start = text.trim_start().to_ascii_lowercase();
        if start.starts_with("<svg") || (start.starts_with("<?xml") && start.contains("<svg")) {
            return ("image/svg+xml".into(), ".svg");
        }
        if start.starts_with("<!doctype html") || start.starts_with("<html") {
            return ("text/html; charset=utf-8".into(), ".html");
        }
        if (start.starts_with('{') || start.starts_with('['))
            && head.len() < HEAD_LEN
            && serde_json::from_slice::<serde_json::Value>(head).is_ok()
        {
            return ("application/json".into(), ".json");
        }
        return ("text/plain; charset=utf-8".into(), ".txt");
    }
    ("application/octet-stream".into(), "")
}

/// UTF-8 without control bytes other than whitespace; a character cut at the end counts.
fn is_text(head: &[u8]) -> bool {
    let valid = match std::str::from_utf8(head) {
        Ok(s) => s,
        Err(e) if e.error_len().is_none() => {
            std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or_default()
        }
        Err(_) => return false,
    };
    !valid.is_empty()
        && !valid
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t' | '\x0c'))
}

/// The type of a stored file.
pub fn of_file(path: &Path) -> std::io::Result<String> {
    let mut head = Vec::with_capacity(HEAD_LEN);
    std::fs::File::open(path)?
        .take(HEAD_LEN as u64)
        .read_to_end(&mut head)?;
    Ok(sniff(&head).0)
}

/// True when `mime` (parameters ignored) is one of `allowed`.
pub fn is_one_of(mime: &str, allowed: &[String]) -> bool {
    let essence = essence(mime);
    allowed
        .iter()
        .any(|a| essence.eq_ignore_ascii_case(self::essence(a)))
}

pub fn essence(mime: &str) -> &str {
    mime.split(';').next().unwrap_or_default().trim()
}

pub fn is_inline(mime: &str) -> bool {
    INLINE.contains(&essence(mime))
}

pub fn is_thumbable(mime: &str) -> bool {
    THUMBABLE.contains(&essence(mime))
}

/// Types PocketBase sets by extension because content sniffing gets them wrong.
pub fn by_extension(name: &str) -> Option<&'static str> {
    let ext = name.rsplit_once('.')?.1;
    match ext {
        "svg" => Some("image/svg+xml"),
        "css" => Some("text/css"),
        "js" | "mjs" => Some("text/javascript"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_come_from_content() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR").0, "image/png");
        assert_eq!(sniff(b"hello\n").0, "text/plain; charset=utf-8");
        assert_eq!(sniff(b"{\"a\":1}").0, "application/json");
        assert_eq!(sniff(&[0u8, 1, 2, 3, 255]).0, "application/octet-stream");
        assert!(is_one_of(
            "text/plain; charset=utf-8",
            &["text/plain".into()]
        ));
        assert!(!is_one_of("image/png", &["image/jpeg".into()]));
    }
}
