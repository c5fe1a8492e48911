//! File names: the stored name of an upload (PocketBase's: the original name snake_cased,
//! a random suffix, the cleaned extension) and the check every name from a client passes
//! before it is joined to a path.

use std::sync::LazyLock;

use regex::Regex;

static EXT_INVALID: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[^\w.*\-+=#]+").unwrap_or_else(|_| unreachable!()));

const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

fn random(len: usize) -> String {
    use rand::RngExt;
    let mut rng = rand::rng();
    (0..len)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// The last path segment of a client's file name: browsers send bare names, but nothing
/// stops a client from sending `../../x`.
pub fn base_name(original: &str) -> &str {
    original.rsplit(['/', '\\']).next().unwrap_or_default()
}

/// The extension with its dot, a double one (`.tar.gz`) included, or "".
fn extension(name: &str) -> &str {
    let Some(primary) = name.rfind('.') else {
        return "";
    };
    match name[..primary].rfind('.') {
        Some(secondary) => &name[secondary..],
        None => &name[primary..],
    }
}

/// PocketBase's snake case: words split at non-word ASCII characters and underscores, an
/// underscore before an upper-case letter that follows a lower-case one, all lower-cased.
fn snake_case(s: &str) -> String {
    let mut out = String::new();
    for word in s.split(|c: char| !c.is_ascii_alphanumeric()) {
        if word.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push('_');
        }
        let mut prev_upper = true;
        for (i, c) in word.chars().enumerate() {
            let upper = c.is_ascii_uppercase();
            if upper && i > 0 && !prev_upper {
                out.push('_');
            }
            prev_upper = upper;
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// The name an upload is stored under: `my_file_x7k2p9q4ab.txt` for `My File.txt`.
/// `detected_ext` (with its dot) stands in when the original has no usable extension.
pub fn stored_name(original: &str, detected_ext: &str) -> String {
    let name = base_name(original);
    let original_ext = extension(name);
    let mut ext = EXT_INVALID.replace_all(original_ext, "").into_owned();
    if ext.is_empty() {
        ext = detected_ext.to_owned();
    }
    if ext.len() > 20 {
        ext = format!(".{}", &ext[ext.len() - 20..]);
    }
    let mut stem = snake_case(&name[..name.len() - original_ext.len()]);
    if stem.len() < 3 {
        stem.push_str(&random(10));
    } else if stem.len() > 100 {
        stem.truncate(100);
    }
    format!("{stem}_{}{ext}", random(10))
}

/// True for a name that can only mean a file inside a record's folder: 1 to 150 bytes, no
/// path separator, not starting with a dot (so never `.`, `..` or a hidden file).
pub fn is_plain(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 150
        && !name.starts_with('.')
        && !name.contains(['/', '\\', '\0'])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(name: &str) -> (String, String) {
        let (stem, rest) = name.rsplit_once('_').unwrap_or_default();
        let ext = rest.get(10..).unwrap_or_default().to_owned();
        assert!(rest[..10].bytes().all(|b| ALPHABET.contains(&b)), "{name}");
        (stem.to_owned(), ext)
    }

    #[test]
    fn names_follow_pocketbase() {
        assert_eq!(
            shape(&stored_name("My File.TXT", "")),
            ("my_file".into(), ".TXT".into())
        );
        assert_eq!(
            shape(&stored_name("MyPhoto.png", "")),
            ("my_photo".into(), ".png".into())
        );
        assert_eq!(shape(&stored_name("x.tar.gz", ".gz")).1, ".tar.gz");
        assert_eq!(shape(&stored_name("../../evil.png", "")).0, "evil");
        assert_eq!(shape(&stored_name("..\\..\\evil.png", "")).0, "evil");
        assert_eq!(
            shape(&stored_name("noext", ".txt")),
            ("noext".into(), ".txt".into())
        );
        assert_eq!(shape(&stored_name("a.p<n>g", "")).1, ".png");
        // Too short a stem gets a second random part.
        assert_eq!(shape(&stored_name("a.png", "")).0.len(), 11);
        assert!(is_plain(&stored_name("../.hidden", "")));
    }

    #[test]
    fn only_plain_names_pass() {
        assert!(is_plain("a_b.png"));
        for bad in [
            "",
            ".",
            "..",
            ".env",
            "a/b",
            "..\\x",
            "a\0b",
            &"a".repeat(151),
        ] {
            assert!(!is_plain(bad), "{bad:?}");
        }
    }
}
