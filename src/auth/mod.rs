//! Authentication: password hashing, signed tokens, CSRF tokens and the superusers they
//! protect, and the OAuth2 providers. No HTTP server types here; handlers in `api/` and
//! `ui/` call into it.

pub mod account;
pub mod apple_names;
pub mod avatar;
pub mod csrf;
pub mod external;
pub mod installer;
pub mod mfa;
pub mod oauth2;
pub mod otp;
pub mod records;
pub mod signin;
pub mod superusers;
pub mod token;

/// Deletes the rows of `table` (`_mfas`, `_otps`) of collection `collection_id` older than
/// `seconds`.
pub fn delete_expired(
    conn: &rusqlite::Connection,
    table: &str,
    collection_id: &str,
    seconds: i64,
) -> crate::error::Result<usize> {
    let sql = format!(
        "DELETE FROM {table} WHERE collectionRef = ?1
         AND CAST(strftime('%s', created) AS INTEGER) < CAST(strftime('%s', 'now') AS INTEGER) - ?2"
    );
    Ok(conn
        .prepare_cached(&sql)?
        .execute((collection_id, seconds))?)
}
