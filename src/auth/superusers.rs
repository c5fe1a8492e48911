//! The `_superusers` auth collection: lookup, sign-in, token checks and the CLI's
//! create/update/delete. Superusers bypass every API rule and own the admin UI.

use rusqlite::{Connection, OptionalExtension, Row};
use serde_json::{Value, json};

use super::records;
use crate::db::Store;
use crate::error::{Error, FieldErrors, Result};
use crate::password;
use crate::schema::Snapshot;
use crate::validate;

pub const COLLECTION_ID: &str = "pbc_3142635823";
pub const COLLECTION_NAME: &str = "_superusers";
/// The admin UI's session cookie: a superuser's `adminSession` token.
pub const SESSION_COOKIE: &str = "hearth_session";

#[derive(Debug, Clone)]
pub struct Superuser {
    pub id: String,
    pub email: String,
    pub email_visibility: bool,
    pub verified: bool,
    pub created: String,
    pub updated: String,
}

const COLUMNS: &str = "id, email, emailVisibility, verified, created, updated";

impl Superuser {
    fn from_row(r: &Row) -> rusqlite::Result<Self> {
        Ok(Self {
            id: r.get(0)?,
            email: r.get(1)?,
            email_visibility: r.get(2)?,
            verified: r.get(3)?,
            created: r.get(4)?,
            updated: r.get(5)?,
        })
    }

    pub fn find_by_email(conn: &Connection, email: &str) -> Result<Option<Self>> {
        let sql = format!("SELECT {COLUMNS} FROM _superusers WHERE email = ?1 COLLATE NOCASE");
        Ok(conn
            .prepare_cached(&sql)?
            .query_row([email], Self::from_row)
            .optional()?)
    }

    pub fn find_by_id(conn: &Connection, id: &str) -> Result<Option<Self>> {
        let sql = format!("SELECT {COLUMNS} FROM _superusers WHERE id = ?1");
        Ok(conn
            .prepare_cached(&sql)?
            .query_row([id], Self::from_row)
            .optional()?)
    }

    pub fn count(conn: &Connection) -> Result<i64> {
        Ok(conn
            .prepare_cached("SELECT count(*) FROM _superusers")?
            .query_row([], |r| r.get(0))?)
    }

    /// The record as PocketBase's API shows it (keys sorted, secrets never included).
    pub fn to_json(&self) -> Value {
        json!({
            "collectionId": COLLECTION_ID,
            "collectionName": COLLECTION_NAME,
            "created": self.created,
            "email": self.email,
            "emailVisibility": self.email_visibility,
            "id": self.id,
            "updated": self.updated,
            "verified": self.verified,
        })
    }
}

/// Resolves a token of `kind` to its superuser, or None when it is forged, expired, of
/// another kind or collection, or its superuser is gone or has rotated its tokenKey. The
/// check itself is the one every auth collection uses.
pub fn from_token(
    conn: &Connection,
    schema: &Snapshot,
    raw: &str,
    kind: &str,
) -> Result<Option<Superuser>> {
    match records::from_token(conn, schema, raw, kind)? {
        Some(auth) if auth.collection.id == COLLECTION_ID => Superuser::find_by_id(conn, auth.id()),
        _ => Ok(None),
    }
}

fn validate_input(email: &str, password_text: Option<&str>) -> Result<()> {
    let mut errors = FieldErrors::new();
    if let Some(e) = validate::email(email) {
        errors.insert("email".into(), e.into());
    }
    if let Some(e) = password_text.and_then(validate::password) {
        errors.insert("password".into(), e.into());
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::validation(errors))
    }
}

/// What `upsert` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Saved {
    Created,
    Updated,
}

/// Creates the superuser or, if the email exists, sets its password (rotating its tokenKey).
pub fn upsert(store: &Store, email: &str, password_text: &str) -> Result<Saved> {
    validate_input(email, Some(password_text))?;
    let hash = password::hash(password_text)?;
    store.write(|tx| match Superuser::find_by_email(tx, email)? {
        Some(user) => set_password(tx, &user.id, &hash).map(|_| Saved::Updated),
        None => insert(tx, email, &hash).map(|_| Saved::Created),
    })
}

pub fn create(store: &Store, email: &str, password_text: &str) -> Result<Superuser> {
    validate_input(email, Some(password_text))?;
    let hash = password::hash(password_text)?;
    store.write(|tx| {
        if Superuser::find_by_email(tx, email)?.is_some() {
            let mut errors = FieldErrors::new();
            errors.insert(
                "email".into(),
                crate::error::FieldError::new("validation_not_unique", "Value must be unique.")
                    .into(),
            );
            return Err(Error::validation(errors));
        }
        insert(tx, email, &hash)
    })
}

/// Creates the first superuser (the installer's): refused once any superuser exists, checked
/// in the same transaction, so two installers racing create one.
pub fn create_first(store: &Store, email: &str, password_text: &str) -> Result<Superuser> {
    validate_input(email, Some(password_text))?;
    let hash = password::hash(password_text)?;
    store.write(|tx| {
        if Superuser::count(tx)? > 0 {
            return Err(Error::Forbidden("A superuser exists already.".into()));
        }
        insert(tx, email, &hash)
    })
}

pub fn update_password(store: &Store, email: &str, password_text: &str) -> Result<()> {
    validate_input(email, Some(password_text))?;
    let hash = password::hash(password_text)?;
    store.write(|tx| {
        let user = Superuser::find_by_email(tx, email)?
            .ok_or_else(|| Error::NotFound(format!("superuser {email} does not exist")))?;
        set_password(tx, &user.id, &hash)
    })
}

pub fn delete(store: &Store, email: &str) -> Result<()> {
    validate_input(email, None)?;
    store.write(|tx| {
        let user = Superuser::find_by_email(tx, email)?
            .ok_or_else(|| Error::NotFound(format!("superuser {email} does not exist")))?;
        // PocketBase refuses to delete the last superuser, so an instance never locks itself out.
        if Superuser::count(tx)? <= 1 {
            return Err(Error::bad_request(
                "You can't delete the only existing superuser.",
            ));
        }
        tx.execute("DELETE FROM _superusers WHERE id = ?1", [&user.id])?;
        Ok(())
    })
}

fn insert(conn: &Connection, email: &str, hash: &str) -> Result<Superuser> {
    let now = crate::datetime::now();
    let id = crate::ids::record_id();
    conn.prepare_cached(
        "INSERT INTO _superusers (id, email, password, tokenKey, emailVisibility, verified, created, updated)
         VALUES (?1, ?2, ?3, ?4, FALSE, TRUE, ?5, ?5)",
    )?
    .execute((&id, email, hash, crate::ids::token_key(), &now))?;
    Superuser::find_by_id(conn, &id)?.ok_or_else(|| Error::internal("inserted superuser vanished"))
}

fn set_password(conn: &Connection, id: &str, hash: &str) -> Result<()> {
    conn.prepare_cached(
        "UPDATE _superusers SET password = ?1, tokenKey = ?2, updated = ?3 WHERE id = ?4",
    )?
    .execute((hash, crate::ids::token_key(), crate::datetime::now(), id))?;
    Ok(())
}
