//! `$app` for the JS hooks, with full access as PocketBase's `$app` has: records by id, by
//! filter (with `{:name}` parameters), by a field's value, counts, collections; and saving
//! and deleting records through the record write service. Inside a model hook they use
//! the hook's open transaction (PocketBase's `e.app`): what it wrote is seen, and a save
//! joins it instead of waiting for the writer this thread already holds.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::Server;
use crate::error::{Error, Result};
use crate::files::Staging;
use crate::filter::RequestInfo;
use rusqlite::Connection;

use super::lent;
use crate::collections::write::within;
use crate::records::write::RecordHooks;
use crate::records::{self, Caller, Ctx, ListOptions, Secrets};
use crate::schema::{Collection, Snapshot};

/// Answers `op` when it is one of `$app`'s; None otherwise.
pub fn call(
    state: &dyn Server,
    hooks: &dyn RecordHooks,
    op: &str,
    args: &Value,
) -> Option<Result<Value>> {
    let answered = match op {
        "app.findCollectionByNameOrId" => collection(state, &args[0]).map(|c| c.to_json()),
        "app.findRecordById" => find_by_id(state, &args[0], text(&args[1])),
        "app.findRecordsByIds" => {
            let ids: Vec<String> = args[1]
                .as_array()
                .into_iter()
                .flatten()
                .map(|v| text(v).to_owned())
                .collect();
            let mut found = Vec::new();
            for id in ids {
                match find_by_id(state, &args[0], &id) {
                    Ok(record) => found.push(record),
                    Err(Error::NotFound(_)) => {}
                    Err(e) => return Some(Err(e)),
                }
            }
            Ok(Value::Array(found))
        }
        "app.findRecordsByFilter" => find_by_filter(
            state,
            &args[0],
            text(&args[1]),
            text(&args[2]),
            args[3].as_u64().unwrap_or(0),
            args[4].as_u64().unwrap_or(0),
            &args[5],
        )
        .map(Value::Array),
        "app.findFirstRecordByFilter" => first(find_by_filter(
            state,
            &args[0],
            text(&args[1]),
            "",
            1,
            0,
            &args[2],
        )),
        "app.findFirstRecordByData" => {
            let key = text(&args[1]);
            if !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') || key.is_empty() {
                return Some(Err(Error::bad_request(format!(
                    "Invalid field name {key:?}."
                ))));
            }
            let params = json!({ "value": args[2] });
            first(find_by_filter(
                state,
                &args[0],
                &format!("{key} = {{:value}}"),
                "",
                1,
                0,
                &params,
            ))
        }
        "app.findAuthRecordByEmail" => {
            let params = json!({ "email": args[1] });
            first(find_by_filter(
                state,
                &args[0],
                "email = {:email}",
                "",
                1,
                0,
                &params,
            ))
        }
        "app.countRecords" => count(state, &args[0]).map(|n| json!(n)),
        "app.settings" => read(state, |conn| {
            Ok(crate::settings::public(crate::settings::load(conn)?))
        }),
        "app.sendMail" => send_mail(state, args),
        "app.mailLink" => mail_link(state, args),
        "app.mailNotice" => mail_notice(state, args),
        "app.validatePassword" => {
            validate_password(state, &args[0], text(&args[1]), text(&args[2]))
        }
        "app.findAllCollections" => all_collections(state, args),
        "app.saveCollection" => save_collection(state, args),
        "app.deleteCollection" => delete_collection(state, &args[0]),
        "app.dbExecute" => super::sql::execute(state, text(&args[0]), &args[1]),
        "app.dbQuery" => super::sql::query(state, text(&args[0]), &args[1]),
        "app.save" => save(state, hooks, args),
        "app.delete" => delete(state, hooks, &args[0], text(&args[1])),
        _ => return None,
    };
    Some(answered)
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or("")
}

fn first(found: Result<Vec<Value>>) -> Result<Value> {
    found?.into_iter().next().ok_or_else(Error::not_found)
}

/// The collections as they are now: inside a model hook's or a migration's transaction, as
/// that transaction sees them (a migration may have just created one).
fn schema(state: &dyn Server) -> Result<Arc<Snapshot>> {
    let mut snapshot = None;
    let in_tx = lent::tx(&mut |tx| {
        snapshot = Some(within::snapshot(tx.conn())?);
        Ok(Value::Null)
    });
    match (in_tx, snapshot) {
        (Some(Err(e)), _) => Err(e),
        (_, Some(snapshot)) => Ok(Arc::new(snapshot)),
        _ => Ok(state.schema().snapshot()),
    }
}

/// The collection named (or with the id) `which`, or with `which.id` for a collection value.
fn collection(state: &dyn Server, which: &Value) -> Result<Arc<Collection>> {
    let key = match which {
        Value::Object(c) => c.get("id").or_else(|| c.get("name")).map_or("", text),
        other => text(other),
    };
    schema(state)?.find(key).ok_or_else(Error::not_found)
}

/// `$app`'s view of records: a superuser's, every rule passed.
fn ctx(state: &dyn Server) -> Result<Ctx> {
    Ok(Ctx {
        caller: Caller::Superuser,
        request: RequestInfo::default(),
        schema: schema(state)?,
        changes: Default::default(),
        validate: true,
    })
}

/// `findAllCollections(...types)`: every collection, or those of the types named.
fn all_collections(state: &dyn Server, types: &Value) -> Result<Value> {
    let types: Vec<&str> = types.as_array().into_iter().flatten().map(text).collect();
    Ok(Value::Array(
        schema(state)?
            .all()
            .iter()
            .filter(|c| types.is_empty() || types.contains(&c.kind.as_str()))
            .map(|c| c.to_json())
            .collect(),
    ))
}

/// `$app.save(collection)`: the whole definition, created or updated.
fn save_collection(state: &dyn Server, body: &Value) -> Result<Value> {
    let mut saved = None;
    let in_tx = lent::tx(&mut |tx| {
        saved = Some(within::save(tx.conn(), body.clone())?);
        Ok(Value::Null)
    });
    let saved = match (in_tx, saved) {
        (Some(Err(e)), _) => return Err(e),
        (_, Some(saved)) => saved,
        _ => state.collections().save(body.clone())?,
    };
    Ok(saved.to_json())
}

/// `$app.delete(collection)`.
fn delete_collection(state: &dyn Server, which: &Value) -> Result<Value> {
    let c = collection(state, which)?;
    let in_tx = lent::tx(&mut |tx| {
        within::delete(tx.conn(), &c.id)?;
        Ok(Value::Null)
    });
    match in_tx {
        Some(done) => done,
        None => state.collections().delete(&c.id).map(|()| Value::Null),
    }
}

/// A record with its collection, as the prelude's `__record` builds a `Record` from it.
fn answer(c: &Collection, record: Map<String, Value>) -> Value {
    json!({
        "collection": {"id": c.id, "name": c.name, "type": c.kind.as_str()},
        "record": record,
    })
}

fn find_by_id(state: &dyn Server, which: &Value, id: &str) -> Result<Value> {
    let c = collection(state, which)?;
    let ctx = ctx(state)?;
    let record = read(state, |conn| records::view(conn, &c, &ctx, id))?;
    Ok(answer(&c, record))
}

fn find_by_filter(
    state: &dyn Server,
    which: &Value,
    filter: &str,
    sort: &str,
    limit: u64,
    offset: u64,
    params: &Value,
) -> Result<Vec<Value>> {
    let c = collection(state, which)?;
    let ctx = ctx(state)?;
    let filter = bind(filter, params)?;
    // No limit: everything (PocketBase's `limit <= 0`).
    let wanted = if limit == 0 { 1 << 40 } else { limit };
    let opts = ListOptions {
        page: 1,
        per_page: wanted.saturating_add(offset),
        skip_total: true,
        sort: sort.to_owned(),
        filter,
        search: String::new(),
    };
    let (items, _) = read(state, |conn| records::list(conn, &c, &ctx, &opts))?;
    Ok(items
        .into_iter()
        .skip(offset as usize)
        .map(|r| answer(&c, r))
        .collect())
}

/// Runs the read `f` on the open transaction of the model hook this thread is in, else
/// on a reader.
fn read<T>(state: &dyn Server, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
    let mut f = Some(f);
    let mut out = None;
    let in_tx = lent::tx(&mut |tx| {
        if let Some(f) = f.take() {
            out = Some(f(tx.conn()));
        }
        Ok(Value::Null)
    });
    match (in_tx, out, f) {
        (Some(Err(e)), _, _) => Err(e),
        (_, Some(out), _) => out,
        (_, None, Some(f)) => state.data().read(f),
        (_, None, None) => Err(Error::internal("a read ran nowhere")),
    }
}

/// `$app.newMailClient().send(message)`: one mail per recipient (to, cc and bcc) into the
/// outbox, in the hook's transaction when there is one; the mailer delivers them.
fn send_mail(state: &dyn Server, message: &Value) -> Result<Value> {
    let subject = text(&message["subject"]).to_owned();
    let html = match text(&message["html"]) {
        "" => text(&message["text"]).to_owned(),
        html => html.to_owned(),
    };
    let mut recipients = Vec::new();
    for list in ["to", "cc", "bcc"] {
        for to in message[list].as_array().into_iter().flatten() {
            let address = match to {
                Value::String(a) => a.clone(),
                other => text(&other["address"]).to_owned(),
            };
            if !address.is_empty() {
                recipients.push(address);
            }
        }
    }
    if recipients.is_empty() {
        return Err(Error::bad_request("The mail has no recipient."));
    }
    let mails: Vec<crate::mail::Mail> = recipients
        .into_iter()
        .map(|to| crate::mail::Mail {
            to,
            subject: subject.clone(),
            html: html.clone(),
            kind: "hooks".into(),
        })
        .collect();
    let queue = |conn: &Connection| -> Result<Value> {
        for mail in &mails {
            crate::mail::queue(conn, mail)?;
        }
        Ok(Value::Null)
    };
    match lent::tx(&mut |tx| queue(tx.conn())) {
        Some(done) => done,
        None => state.data().write(|conn| queue(conn)),
    }
}

/// `$mails.sendRecordVerification/PasswordReset/ChangeEmail(app, record[, newEmail])`:
/// the flow's mail for the stored record, queued in the hook's transaction if it has one.
fn mail_link(state: &dyn Server, args: &Value) -> Result<Value> {
    let c = collection(state, &args[0])?;
    let (id, kind) = (text(&args[1]), text(&args[2]));
    let new_email = Some(text(&args[3])).filter(|e| !e.is_empty());
    let send = |conn: &Connection| -> Result<Value> {
        let record =
            crate::auth::records::find_by_id(conn, &c, id)?.ok_or_else(Error::not_found)?;
        crate::auth::account::mail_link(conn, &c, &record, kind, new_email)?;
        Ok(Value::Null)
    };
    match lent::tx(&mut |tx| send(tx.conn())) {
        Some(done) => done,
        None => state.data().write(|conn| send(conn)),
    }
}

/// `$mails.sendRecordOTP(app, record, otpId, pass)` and `sendRecordAuthAlert(app, record,
/// info)`: the collection's notice for the stored record, queued as `mail_link`'s.
fn mail_notice(state: &dyn Server, args: &Value) -> Result<Value> {
    let c = collection(state, &args[0])?;
    let (id, kind) = (text(&args[1]), text(&args[2]));
    let extra: Vec<(&str, &str)> = args[3]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.as_str(), v.as_str().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    let send = |conn: &Connection| -> Result<Value> {
        let record =
            crate::auth::records::find_by_id(conn, &c, id)?.ok_or_else(Error::not_found)?;
        crate::auth::account::mail_notice(conn, &c, &record, kind, &extra)?;
        Ok(Value::Null)
    };
    match lent::tx(&mut |tx| send(tx.conn())) {
        Some(done) => done,
        None => state.data().write(|conn| send(conn)),
    }
}

/// `record.validatePassword(p)`: whether `p` is the stored record's password.
fn validate_password(state: &dyn Server, which: &Value, id: &str, password: &str) -> Result<Value> {
    let c = collection(state, which)?;
    if !c.is_auth() {
        return Ok(json!(false));
    }
    let sql = format!("SELECT password FROM \"{}\" WHERE id = ?1", c.name);
    let stored: Option<String> = read(state, |conn| {
        Ok(rusqlite::OptionalExtension::optional(
            conn.prepare_cached(&sql)?.query_row([id], |r| r.get(0)),
        )?)
    })?;
    Ok(json!(stored.is_some_and(|hash| {
        crate::password::verify(password, &hash)
    })))
}

/// `$app.save(record)`: a new record is created, a found one updated, through the record
/// write service (validation, files, realtime, webhooks, hooks), with full access.
fn save(state: &dyn Server, hooks: &dyn RecordHooks, args: &Value) -> Result<Value> {
    let c = collection(state, &args["collection"])?;
    let mut ctx = ctx(state)?;
    ctx.validate = args["validate"].as_bool().unwrap_or(true);
    let mut body = args["data"].as_object().cloned().unwrap_or_default();
    for key in ["collectionId", "collectionName", "expand"] {
        body.remove(key);
    }
    let new = args["isNew"].as_bool().unwrap_or(true);
    let id = text(&args["id"]).to_owned();
    if !new {
        body.remove("id");
    }
    let id = (!new).then_some(id.as_str());
    let secrets = Secrets::prepare(state.data(), &c, &ctx, id, &body)?;
    let in_tx = lent::tx(&mut |tx| {
        let saved = match id {
            None => tx.create(&c, &ctx, &body, &secrets, None)?,
            Some(id) => tx.update(&c, &ctx, id, &body, &secrets, None)?,
        };
        Ok(answer(&c, saved))
    });
    if let Some(saved) = in_tx {
        return saved;
    }
    let staging = Staging::new(state.files());
    let writes = state.records_with(hooks);
    let saved = match id {
        None => writes.create(&c, &ctx, &body, staging, |_, r| Ok(r))?,
        Some(id) => writes.update(
            &c,
            &ctx,
            id,
            &body,
            staging,
            &records::write::always,
            |_, r| Ok(r),
        )?,
    };
    Ok(answer(&c, saved))
}

/// `$app.delete(record)`, with whatever cascades from it.
fn delete(state: &dyn Server, hooks: &dyn RecordHooks, which: &Value, id: &str) -> Result<Value> {
    let c = collection(state, which)?;
    let ctx = ctx(state)?;
    let in_tx = lent::tx(&mut |tx| {
        tx.delete(&c, &ctx, id)?;
        Ok(Value::Null)
    });
    if let Some(done) = in_tx {
        return done;
    }
    state
        .records_with(hooks)
        .delete(&c, &ctx, id, &records::write::always)?;
    Ok(Value::Null)
}

fn count(state: &dyn Server, which: &Value) -> Result<u64> {
    let c = collection(state, which)?;
    let ctx = ctx(state)?;
    let opts = ListOptions {
        page: 1,
        per_page: 1,
        skip_total: false,
        sort: String::new(),
        filter: String::new(),
        search: String::new(),
    };
    let (_, total) = read(state, |conn| records::list(conn, &c, &ctx, &opts))?;
    Ok(total.unwrap_or(0))
}

/// The filter with each `{:name}` outside quotes replaced by `params[name]` written as a
/// literal of the filter language (strings quoted and escaped), as PocketBase binds
/// `dbx.Params`: a value can never become syntax.
pub fn bind(filter: &str, params: &Value) -> Result<String> {
    let mut out = String::with_capacity(filter.len());
    let chars: Vec<char> = filter.chars().collect();
    let mut quote: Option<char> = None;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if let Some(q) = quote {
            out.push(c);
            if c == '\\' && i + 1 < chars.len() {
                out.push(chars[i + 1]);
                i += 2;
                continue;
            }
            if c == q {
                quote = None;
            }
            i += 1;
            continue;
        }
        if c == '\'' || c == '"' {
            quote = Some(c);
            out.push(c);
            i += 1;
            continue;
        }
        if c == '{' && chars.get(i + 1) == Some(&':') {
            let end = chars[i..].iter().position(|&c| c == '}').map(|p| p + i);
            if let Some(end) = end {
                let name: String = chars[i + 2..end].iter().collect();
                let value = params.get(&name).ok_or_else(|| {
                    Error::bad_request(format!("Missing filter parameter {name:?}."))
                })?;
                out.push_str(&literal(value));
                i = end + 1;
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    Ok(out)
}

fn literal(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => quoted(s),
        other => quoted(&other.to_string()),
    }
}

fn quoted(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::bind;

    #[test]
    fn parameters_become_literals_never_syntax() {
        let params = json!({"t": "x\" || id != \"", "n": 5, "b": true, "z": null});
        assert_eq!(
            bind("title = {:t} && views > {:n}", &params).unwrap(),
            r#"title = "x\" || id != \"" && views > 5"#
        );
        assert_eq!(
            bind("a = {:b} || c = {:z}", &params).unwrap(),
            "a = true || c = null"
        );
        // Inside quotes a placeholder is plain text.
        assert_eq!(bind("title = '{:t}'", &params).unwrap(), "title = '{:t}'");
        assert!(bind("title = {:missing}", &params).is_err());
    }
}
