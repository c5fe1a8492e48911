//! Signing in with an OAuth2 identity, the record side (PocketBase's `oauth2Submit`): which
//! record an identity is (its `_externalAuths` link, else the record signed in already,
//! else the record with its verified email), what an existing record takes from the sign-in
//! (its email, `verified`; an unverified one loses its password and its other links, so
//! that whoever registered someone else's address first cannot keep the account), the
//! payload a new record is created from, and the link itself.

use rusqlite::{Connection, OptionalExtension};
use serde_json::{Map, Value, json};

use super::oauth2::AuthUser;
use super::records::{find_by_email, find_by_id};
use crate::error::{Error, FieldError, FieldErrors, Result};
use crate::schema::Collection;

/// The record `provider`'s user `provider_id` is linked to in `c`.
pub fn linked(
    conn: &Connection,
    c: &Collection,
    provider: &str,
    provider_id: &str,
) -> Result<Option<Map<String, Value>>> {
    let record_id: Option<String> = conn
        .prepare_cached(
            "SELECT recordRef FROM _externalAuths
             WHERE collectionRef = ?1 AND provider = ?2 AND providerId = ?3",
        )?
        .query_row((&c.id, provider, provider_id), |r| r.get(0))
        .optional()?;
    match record_id {
        Some(id) => find_by_id(conn, c, &id),
        None => Ok(None),
    }
}

/// Who the identity `user` of `provider` signs in as: its linked record, else `signed_in`
/// (the caller's own record of `c`), else the record with its (verified) email. The flag
/// says whether the link exists already.
pub fn find(
    conn: &Connection,
    c: &Collection,
    provider: &str,
    user: &AuthUser,
    signed_in: Option<&Map<String, Value>>,
) -> Result<Option<(Map<String, Value>, bool)>> {
    if let Some(record) = linked(conn, c, provider, &user.id)? {
        return Ok(Some((record, true)));
    }
    if let Some(record) = signed_in {
        return Ok(Some((record.clone(), false)));
    }
    if user.email.is_empty() {
        return Ok(None);
    }
    Ok(find_by_email(conn, c, &user.email)?.map(|r| (r, false)))
}

/// What an existing record takes from a sign-in.
#[derive(Debug, Default, PartialEq)]
pub struct Changes {
    /// The record had no email: the provider's.
    pub email: Option<String>,
    pub verify: bool,
    /// Not verified and not the caller's own: its password is replaced by a random one.
    pub reset_password: bool,
    /// Not verified: its other links go.
    pub unlink_all: bool,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// What `record` takes from signing in as `user` (`own`: it is the caller's record).
pub fn changes(record: &Map<String, Value>, user: &AuthUser, own: bool) -> Changes {
    let verified = record.get("verified").and_then(Value::as_bool) == Some(true);
    let email = record
        .get("email")
        .and_then(Value::as_str)
        .unwrap_or_default();
    Changes {
        email: (email.is_empty() && !user.email.is_empty()).then(|| user.email.clone()),
        verify: !verified && (email.is_empty() || email == user.email),
        reset_password: !verified && !own,
        unlink_all: !verified,
    }
}

/// Writes `changes` to record `id` of `c`; `password_hash` is the new random password's
/// hash when `reset_password`. A record turning verified gets a new token key, ending its
/// sessions, as PocketBase does.
pub fn apply(
    conn: &Connection,
    c: &Collection,
    id: &str,
    changes: &Changes,
    password_hash: Option<&str>,
) -> Result<()> {
    if changes.unlink_all {
        conn.prepare_cached(
            "DELETE FROM _externalAuths WHERE collectionRef = ?1 AND recordRef = ?2",
        )?
        .execute((&c.id, id))?;
    }
    let table = &c.name;
    if let Some(email) = &changes.email {
        conn.execute(
            &format!("UPDATE \"{table}\" SET email = ?1 WHERE id = ?2"),
            (email, id),
        )?;
    }
    if let (true, Some(hash)) = (changes.reset_password, password_hash) {
        conn.execute(
            &format!("UPDATE \"{table}\" SET password = ?1 WHERE id = ?2"),
            (hash, id),
        )?;
    }
    if changes.verify {
        let key = crate::ids::token_key();
        conn.execute(
            &format!("UPDATE \"{table}\" SET verified = TRUE, tokenKey = ?1 WHERE id = ?2"),
            (&key, id),
        )?;
    }
    Ok(())
}

/// Links record `id` of `c` to `provider`'s user `provider_id`. A record has one link per
/// provider: a second is PocketBase's unique-value error.
pub fn link(
    conn: &Connection,
    c: &Collection,
    id: &str,
    provider: &str,
    provider_id: &str,
) -> Result<()> {
    let taken: Option<String> = conn
        .prepare_cached(
            "SELECT id FROM _externalAuths
             WHERE collectionRef = ?1 AND recordRef = ?2 AND provider = ?3",
        )?
        .query_row((&c.id, id, provider), |r| r.get(0))
        .optional()?;
    if taken.is_some() {
        let mut errors = FieldErrors::new();
        for key in ["collectionRef", "provider", "recordRef"] {
            let e = FieldError::new("validation_not_unique", "Value must be unique.");
            errors.insert(key.into(), e.into());
        }
        return Err(Error::invalid("Failed to authenticate.", errors));
    }
    let now = crate::datetime::now();
    conn.prepare_cached(
        "INSERT INTO _externalAuths (id, collectionRef, recordRef, provider, providerId, created, updated)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
    )?
    .execute((crate::ids::record_id(), &c.id, id, provider, provider_id, &now))?;
    Ok(())
}

/// The body a new record of `c` is created from: `create_data`, with the provider's email
/// unless it sets one, and the user's id, name, username and avatar URL in the fields the
/// collection's `mappedFields` name, unless it sets those. (An avatar mapped to a file
/// field is downloaded instead: `auth::avatar`.)
pub fn payload(
    c: &Collection,
    create_data: &Map<String, Value>,
    user: &AuthUser,
) -> Map<String, Value> {
    let mut body = create_data.clone();
    let email_given = body
        .get("email")
        .and_then(Value::as_str)
        .is_some_and(|e| !e.is_empty());
    if !email_given {
        body.insert("email".into(), json!(user.email));
    }
    let mapped = c
        .options
        .get("oauth2")
        .and_then(|o| o.get("mappedFields"))
        .cloned()
        .unwrap_or(Value::Null);
    let values = [
        ("id", &user.id),
        ("name", &user.name),
        ("username", &user.username),
        ("avatarURL", &user.avatar_url),
    ];
    for (key, value) in values {
        let Some(field) = mapped
            .get(key)
            .and_then(Value::as_str)
            .filter(|f| !f.is_empty())
        else {
            continue;
        };
        let is_file = c.field(field).is_some_and(|f| f.type_name() == "file");
        if body.contains_key(field) || value.is_empty() || is_file {
            continue;
        }
        body.insert(field.to_owned(), json!(value));
    }
    body
}

/// A new record created from a sign-in is verified when its email is the one the provider
/// vouched for (both may be empty). Read from the row: the record as created may hide it.
pub fn verify_new(conn: &Connection, c: &Collection, id: &str, user: &AuthUser) -> Result<()> {
    conn.execute(
        &format!(
            "UPDATE \"{}\" SET verified = TRUE WHERE id = ?1 AND email = ?2 AND NOT verified",
            c.name
        ),
        (id, &user.email),
    )?;
    Ok(())
}

/// One `_externalAuths` link of a record, for the admin UI.
pub struct Link {
    pub id: String,
    pub provider: String,
    pub provider_id: String,
    pub created: String,
}

/// The providers record `id` of `c` is linked to, oldest first.
pub fn links(conn: &Connection, c: &Collection, id: &str) -> Result<Vec<Link>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, provider, providerId, created FROM _externalAuths
         WHERE collectionRef = ?1 AND recordRef = ?2 ORDER BY created, id",
    )?;
    let rows = stmt.query_map((&c.id, id), |r| {
        Ok(Link {
            id: r.get(0)?,
            provider: r.get(1)?,
            provider_id: r.get(2)?,
            created: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}
