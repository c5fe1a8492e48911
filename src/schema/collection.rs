//! A collection definition: the row of `_collections`, its JSON in PocketBase's API shape,
//! and the queries that load and store it.

use rusqlite::{Connection, Row};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::field::Field;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CollectionType {
    Base,
    Auth,
    View,
}

impl CollectionType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Base => "base",
            Self::Auth => "auth",
            Self::View => "view",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "base" => Some(Self::Base),
            "auth" => Some(Self::Auth),
            "view" => Some(Self::View),
            _ => None,
        }
    }
}

/// The five record rules; `None` means superusers only, `Some("")` means anyone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rules {
    pub list: Option<String>,
    pub view: Option<String>,
    pub create: Option<String>,
    pub update: Option<String>,
    pub delete: Option<String>,
}

/// Top-level keys of an auth collection's options, as PocketBase's API shows them.
pub const AUTH_OPTIONS: [&str; 15] = [
    "authRule",
    "manageRule",
    "authAlert",
    "oauth2",
    "passwordAuth",
    "mfa",
    "otp",
    "authToken",
    "passwordResetToken",
    "emailChangeToken",
    "verificationToken",
    "fileToken",
    "verificationTemplate",
    "resetPasswordTemplate",
    "confirmEmailChangeTemplate",
];

/// Token options whose `secret` never leaves the server.
pub const TOKEN_OPTIONS: [&str; 5] = [
    "authToken",
    "passwordResetToken",
    "emailChangeToken",
    "verificationToken",
    "fileToken",
];

#[derive(Debug, Clone, PartialEq)]
pub struct Collection {
    pub id: String,
    pub name: String,
    pub kind: CollectionType,
    pub system: bool,
    pub fields: Vec<Field>,
    pub indexes: Vec<String>,
    pub rules: Rules,
    /// Auth options (with their secrets) for auth collections, `viewQuery` for views.
    pub options: Map<String, Value>,
    pub created: String,
    pub updated: String,
}

const COLUMNS: &str = "id, name, type, system, fields, indexes, listRule, viewRule, createRule, \
                       updateRule, deleteRule, options, created, updated";

fn json_column<T: serde::de::DeserializeOwned>(row: &Row, idx: usize) -> rusqlite::Result<T> {
    let text: String = row.get(idx)?;
    serde_json::from_str(&text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Text, Box::new(e))
    })
}

/// PocketBase derives a missing collection id from type and name: `pbc_` + crc32.
pub fn default_id(kind: CollectionType, name: &str) -> String {
    format!(
        "pbc_{}",
        crc32fast::hash(format!("{}{name}", kind.as_str()).as_bytes())
    )
}

impl Collection {
    fn from_row(row: &Row) -> rusqlite::Result<Self> {
        let kind: String = row.get(2)?;
        Ok(Self {
            id: row.get(0)?,
            name: row.get(1)?,
            kind: CollectionType::parse(&kind).unwrap_or(CollectionType::Base),
            system: row.get(3)?,
            fields: json_column(row, 4)?,
            indexes: json_column(row, 5)?,
            rules: Rules {
                list: row.get(6)?,
                view: row.get(7)?,
                create: row.get(8)?,
                update: row.get(9)?,
                delete: row.get(10)?,
            },
            options: json_column(row, 11)?,
            created: row.get(12)?,
            updated: row.get(13)?,
        })
    }

    pub fn load_all(conn: &Connection) -> Result<Vec<Self>> {
        let sql = format!("SELECT {COLUMNS} FROM _collections ORDER BY rowid");
        let mut stmt = conn.prepare_cached(&sql)?;
        let rows = stmt.query_map([], Self::from_row)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    pub fn insert(&self, conn: &Connection) -> Result<()> {
        self.save(
            conn,
            &format!(
                "INSERT INTO _collections ({COLUMNS})
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
            ),
        )
    }

    pub fn update(&self, conn: &Connection) -> Result<()> {
        self.save(
            conn,
            "UPDATE _collections SET name = ?2, type = ?3, system = ?4, fields = ?5, indexes = ?6,
             listRule = ?7, viewRule = ?8, createRule = ?9, updateRule = ?10, deleteRule = ?11,
             options = ?12, created = ?13, updated = ?14 WHERE id = ?1",
        )
    }

    /// Binds every column in `COLUMNS` order as ?1..?14.
    fn save(&self, conn: &Connection, sql: &str) -> Result<()> {
        let encode = |r: serde_json::Result<String>| r.map_err(Error::internal);
        let fields = encode(serde_json::to_string(&self.fields))?;
        let indexes = encode(serde_json::to_string(&self.indexes))?;
        let options = encode(serde_json::to_string(&self.options))?;
        conn.prepare_cached(sql)?.execute(rusqlite::params![
            self.id,
            self.name,
            self.kind.as_str(),
            self.system,
            fields,
            indexes,
            self.rules.list,
            self.rules.view,
            self.rules.create,
            self.rules.update,
            self.rules.delete,
            options,
            self.created,
            self.updated,
        ])?;
        Ok(())
    }

    pub fn delete(conn: &Connection, id: &str) -> Result<()> {
        conn.prepare_cached("DELETE FROM _collections WHERE id = ?1")?
            .execute([id])?;
        Ok(())
    }

    pub fn is_auth(&self) -> bool {
        self.kind == CollectionType::Auth
    }

    pub fn is_view(&self) -> bool {
        self.kind == CollectionType::View
    }

    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The collection as PocketBase's API returns it: options flattened to the top level,
    /// token secrets and OAuth2 client secrets removed.
    pub fn to_json(&self) -> Value {
        let mut out = self.to_internal_json();
        for key in TOKEN_OPTIONS {
            if let Some(Value::Object(opt)) = out.get_mut(key) {
                opt.remove("secret");
            }
        }
        if let Some(Value::Array(providers)) =
            out.get_mut("oauth2").and_then(|o| o.get_mut("providers"))
        {
            for provider in providers.iter_mut().filter_map(Value::as_object_mut) {
                provider.remove("clientSecret");
            }
        }
        Value::Object(out)
    }

    /// Like `to_json` but with secrets: the base a PATCH is merged onto.
    pub fn to_internal_json(&self) -> Map<String, Value> {
        let mut out = Map::new();
        out.insert("id".into(), json!(self.id));
        out.insert("name".into(), json!(self.name));
        out.insert("type".into(), json!(self.kind.as_str()));
        out.insert("system".into(), json!(self.system));
        out.insert(
            "fields".into(),
            serde_json::to_value(&self.fields).unwrap_or(Value::Null),
        );
        out.insert("indexes".into(), json!(self.indexes));
        out.insert("listRule".into(), json!(self.rules.list));
        out.insert("viewRule".into(), json!(self.rules.view));
        out.insert("createRule".into(), json!(self.rules.create));
        out.insert("updateRule".into(), json!(self.rules.update));
        out.insert("deleteRule".into(), json!(self.rules.delete));
        out.insert("created".into(), json!(self.created));
        out.insert("updated".into(), json!(self.updated));
        for (k, v) in &self.options {
            out.insert(k.clone(), v.clone());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_pocketbase() {
        assert_eq!(default_id(CollectionType::Base, "posts"), "pbc_1125843985");
        assert_eq!(
            default_id(CollectionType::Auth, "_superusers"),
            "pbc_3142635823"
        );
    }
}
