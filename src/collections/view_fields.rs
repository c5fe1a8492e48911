//! The fields a view query produces, as PocketBase infers them, for a view collection being
//! saved and for `POST /api/collections/meta/dry-run-view`, which answers them with a
//! sample of the query's records (PocketBase's `DryRunView`) and never writes anything.

use std::sync::Arc;

use rusqlite::Connection;
use serde_json::{Value, json};

use super::view_columns;
use crate::error::{Error, FieldError, FieldErrors, Result};
use crate::records::output::{self, Viewer};
use crate::schema::collection::{self, Rules};
use crate::schema::{Collection, CollectionType, Field, FieldKind, field};

/// How many records a dry run shows, as PocketBase's handler asks for.
const SAMPLE: usize = 10;

/// Why a query gives no fields.
enum Problem {
    /// SQLite refused it.
    Sql(rusqlite::Error),
    /// No column is named `id`.
    MissingId,
}

/// The fields of a view, one per result column of its query, as PocketBase infers them: a
/// column taken straight from a collection field is a copy of that field (renamed to its
/// alias), `id` is the text primary key, `COUNT(..)`, `TOTAL(..)` and `CAST(.. AS type)` are
/// numbers, text or bools as their text says (see `view_columns`), anything else is `json`.
pub(super) fn view_fields(
    tx: &Connection,
    all: &[Arc<Collection>],
    c: &Collection,
) -> Result<Vec<Field>> {
    let query = c
        .options
        .get("viewQuery")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if query.is_empty() {
        return Ok(Vec::new());
    }
    let view_error = |code: &str, message: String| {
        let mut errors = FieldErrors::new();
        errors.insert("viewQuery".into(), FieldError::new(code, &message).into());
        Error::invalid("Failed to create collection.", errors)
    };
    fields_of(tx, all, query).map_err(|p| match p {
        Problem::Sql(e) => view_error(
            "validation_invalid_view_query",
            format!("Invalid query - {e}."),
        ),
        Problem::MissingId => view_error(
            "validation_missing_view_id",
            "The query must select an id column.".into(),
        ),
    })
}

fn fields_of(
    conn: &Connection,
    all: &[Arc<Collection>],
    query: &str,
) -> std::result::Result<Vec<Field>, Problem> {
    let stmt = conn
        .prepare(&format!("SELECT * FROM ({query}) LIMIT 0"))
        .map_err(Problem::Sql)?;
    let written = view_columns::columns(query);
    let mut fields = Vec::new();
    for col in stmt.columns_with_metadata() {
        let name = col.name().to_owned();
        if name == "id" {
            let mut f = Field::new("id", FieldKind::Text(field::TextField::default()));
            if let FieldKind::Text(t) = &mut f.kind {
                t.primary_key = true;
                t.required = true;
                t.pattern = "^[a-z0-9]+$".into();
            }
            f.system = true;
            fields.push(f);
            continue;
        }
        let source = col
            .table_name()
            .and_then(|t| all.iter().find(|x| x.name == t))
            .and_then(|x| col.origin_name().and_then(|o| x.field(o)));
        let f = match source {
            Some(src) => {
                let mut f = src.clone();
                f.id = format!("_clone_{}", crate::ids::secret(4));
                f.name = name;
                f.system = false;
                f
            }
            None => {
                let kind = written
                    .iter()
                    .find(|(_, alias)| alias.eq_ignore_ascii_case(&name))
                    .and_then(|(expression, _)| view_columns::computed_kind(expression))
                    .unwrap_or(FieldKind::Json(field::JsonField {
                        max_size: 1,
                        ..Default::default()
                    }));
                Field::new(&name, kind)
            }
        };
        fields.push(f);
    }
    if !fields.iter().any(|f| f.name == "id") {
        return Err(Problem::MissingId);
    }
    Ok(fields)
}

/// PocketBase's `DryRunView`: `{fields, sample}` for `query`, or the reason it gives none,
/// worded as PocketBase words it (the handler puts it after "Invalid view query. Raw
/// error:"). Runs on a read-only connection, so the query cannot change anything.
pub fn dry_run(
    conn: &Connection,
    all: &[Arc<Collection>],
    query: &str,
) -> std::result::Result<Value, String> {
    let query = query.trim().trim_matches(';');
    if view_columns::statements(query) > 1 {
        return Err("multiple statements are not supported".into());
    }
    if let Some(problem) = view_columns::select_list_problem(query) {
        return Err(problem);
    }
    let fields = fields_of(conn, all, query).map_err(|p| match p {
        Problem::Sql(e) => sql_error(&e),
        Problem::MissingId => "missing required id column (you can use `(ROW_NUMBER() OVER()) \
                               as id` if you don't have one)"
            .into(),
    })?;
    let name = format!("temp_view_{}", crate::ids::secret(5));
    let temp = Collection {
        id: collection::default_id(CollectionType::View, &name),
        name,
        kind: CollectionType::View,
        system: false,
        fields,
        indexes: Vec::new(),
        rules: Rules::default(),
        options: serde_json::Map::new(),
        created: String::new(),
        updated: String::new(),
    };
    let sample = sample(conn, &temp, query)
        .map_err(|e| format!("failed to retrieve query records: {}", sql_error(&e)))?;
    let mut ids: Vec<&str> = Vec::with_capacity(sample.len());
    for record in &sample {
        let id = record.get("id").and_then(Value::as_str).unwrap_or_default();
        if id.is_empty() {
            return Err("the query could return records with empty or invalid ids".into());
        }
        if ids.contains(&id) {
            return Err("the query could return records with non-unique ids".into());
        }
        ids.push(id);
    }
    Ok(json!({"fields": temp.fields, "sample": sample}))
}

/// The first records of the query, read as records of the temporary view `temp`.
fn sample(
    conn: &Connection,
    temp: &Collection,
    query: &str,
) -> rusqlite::Result<Vec<serde_json::Map<String, Value>>> {
    let sql = format!("SELECT * FROM (SELECT * FROM ({query})) LIMIT {SAMPLE}");
    let mut stmt = conn.prepare(&sql)?;
    let viewer = Viewer {
        superuser: true,
        record_id: None,
    };
    let rows = stmt.query_map([], |row| output::record(temp, row, viewer))?;
    rows.collect()
}

/// A SQLite error as PocketBase's driver words it: `SQL logic error: no such column: x (1)`.
fn sql_error(e: &rusqlite::Error) -> String {
    let (code, message) = match e {
        rusqlite::Error::SqliteFailure(err, message) => {
            (err.extended_code, message.clone().unwrap_or_default())
        }
        rusqlite::Error::SqlInputError { error, msg, .. } => (error.extended_code, msg.clone()),
        other => return other.to_string(),
    };
    // PocketBase reads the columns through a view it creates in `main`, where SQLite names
    // a missing table with its schema.
    let message = match message.strip_prefix("no such table: ") {
        Some(table) if !table.contains('.') => format!("no such table: main.{table}"),
        _ => message,
    };
    let primary = code & 0xff;
    let what = match primary {
        1 => "SQL logic error",
        4 => "query aborted",
        5 => "database is locked",
        7 => "out of memory",
        8 => "attempt to write a readonly database",
        9 => "interrupted",
        18 => "string or blob too big",
        20 => "datatype mismatch",
        _ => "unknown error",
    };
    format!("{what}: {message} ({primary})")
}
