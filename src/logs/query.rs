//! Reading the request logs: PocketBase's list (filter, sort, paging), one entry, and the
//! per-hour stats. Filters use the same language and compiler as records, over a
//! collection-shaped description of `_logs` (`data.status` reads inside the JSON).

use std::sync::{Arc, LazyLock};

use rusqlite::Connection;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::filter::{self, RequestInfo};
use crate::records::{self, Caller, Ctx, ListOptions};
use crate::schema::field::{DateField, JsonField, NumberField, TextField};
use crate::schema::{Collection, CollectionType, Field, FieldKind, Snapshot};

/// `_logs` described as a collection, so filters and sorts compile as they do for records.
static LOGS: LazyLock<Arc<Collection>> = LazyLock::new(|| {
    let rules = crate::schema::collection::Rules {
        list: None,
        view: None,
        create: None,
        update: None,
        delete: None,
    };
    Arc::new(Collection {
        id: "_logs".into(),
        name: "_logs".into(),
        kind: CollectionType::Base,
        system: true,
        fields: vec![
            Field::new("id", FieldKind::Text(TextField::default())),
            Field::new("level", FieldKind::Number(NumberField::default())),
            Field::new("message", FieldKind::Text(TextField::default())),
            Field::new("data", FieldKind::Json(JsonField::default())),
            Field::new("created", FieldKind::Date(DateField::default())),
        ],
        indexes: Vec::new(),
        rules,
        options: Map::new(),
        created: String::new(),
        updated: String::new(),
    })
});

fn ctx() -> Ctx {
    Ctx {
        caller: Caller::Superuser,
        request: RequestInfo::default(),
        schema: Arc::new(Snapshot::default()),
        changes: Default::default(),
        validate: true,
    }
}

/// A log as PocketBase's API shows it.
fn shaped(mut record: Map<String, Value>) -> Value {
    record.remove("collectionId");
    record.remove("collectionName");
    Value::Object(record)
}

/// PocketBase's logs accept `rowid` where records take `@rowid`.
fn sort_text(sort: &str) -> String {
    sort.split(',')
        .map(|t| {
            let t = t.trim();
            match t.trim_start_matches(['-', '+']) {
                "rowid" => t.replacen("rowid", "@rowid", 1),
                _ => t.to_owned(),
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

pub fn list(
    conn: &Connection,
    page: u64,
    per_page: u64,
    skip_total: bool,
    sort: &str,
    filter: &str,
) -> Result<(Vec<Value>, Option<u64>)> {
    let sort = if sort.trim().is_empty() {
        "-@rowid".to_owned()
    } else {
        sort_text(sort)
    };
    let opts = ListOptions {
        page,
        per_page,
        skip_total,
        sort,
        filter: filter.to_owned(),
        search: String::new(),
    };
    let (items, total) = records::list(conn, &LOGS, &ctx(), &opts)?;
    Ok((items.into_iter().map(shaped).collect(), total))
}

pub fn view(conn: &Connection, id: &str) -> Result<Value> {
    records::view(conn, &LOGS, &ctx(), id).map(shaped)
}

#[derive(Debug, Serialize, PartialEq)]
pub struct HourStat {
    pub total: u64,
    pub date: String,
}

/// Requests per hour matching `filter`, oldest first, as PocketBase's `/api/logs/stats`.
pub fn stats(conn: &Connection, filter: &str) -> Result<Vec<HourStat>> {
    let mut params = Vec::new();
    let condition = if filter.trim().is_empty() {
        "1".to_owned()
    } else {
        let snapshot = Snapshot::default();
        let request = RequestInfo::default();
        let scope = filter::Scope {
            collection: &LOGS,
            schema: &snapshot,
            request: &request,
            trust: crate::filter::Trust::Full,
        };
        filter::parse(filter)
            .and_then(|e| filter::compile(&e, &scope, &mut params))
            .map_err(|e| Error::bad_request(format!("Invalid filter format: {e}.")))?
    };
    let sql = format!(
        "SELECT count(*), strftime('%Y-%m-%d %H:00:00.000Z', t.created) AS hour \
         FROM _logs t WHERE {condition} GROUP BY hour ORDER BY hour"
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(params), |r| {
        Ok(HourStat {
            total: r.get::<_, i64>(0)?.max(0) as u64,
            date: r.get(1)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Requests per minute over the last `minutes`, oldest first, for the admin chart:
/// (minute as `HH:MM`, total, errors).
pub fn per_minute(conn: &Connection, since: &str) -> Result<Vec<(String, u64, u64)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT strftime('%Y-%m-%d %H:%M', created) AS minute, count(*), \
                sum(json_extract(data, '$.status') >= 400) \
         FROM _logs WHERE created >= ?1 GROUP BY minute ORDER BY minute",
    )?;
    let rows = stmt.query_map([since], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, i64>(1)?.max(0) as u64,
            r.get::<_, Option<i64>>(2)?.unwrap_or(0).max(0) as u64,
        ))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}
