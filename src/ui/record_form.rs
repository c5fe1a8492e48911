//! Create, edit and delete one record with a form generated from the collection's fields:
//! an input suited to each field type, relation pickers, JSON in a textarea, and the record
//! service's validation errors shown next to their fields. Auth records get verify and
//! password-reset actions.

use std::collections::BTreeMap;
use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde_json::{Map, Value, json};

use super::form::{Form, FormBody, read_record_form};
use super::record_body::{body_of, field_messages};
use super::record_inputs::{Input, Source, inputs};
use super::records::{find, section_of, superuser_ctx};
use super::{Admin, Chrome, flash, query_value};
use crate::auth::account;
use crate::error::{Error, Result};
use crate::files::Staging;
use crate::http::{blocking, writing};
use crate::records::{self, write};
use crate::schema::{Collection, FieldKind};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/collections/{name}/records/new", web::get().to(new))
        .route("/collections/{name}/records/new", web::post().to(create))
        .route("/collections/{name}/records/{id}", web::get().to(edit))
        .route("/collections/{name}/records/{id}", web::post().to(save))
        .route(
            "/collections/{name}/records/{id}/delete",
            web::get().to(confirm_delete),
        )
        .route(
            "/collections/{name}/records/{id}/delete",
            web::post().to(delete),
        )
        .route(
            "/collections/{name}/records/{id}/{action}",
            web::post().to(account_action),
        );
}

#[derive(Template)]
#[template(path = "record_form.html")]
struct RecordPage {
    chrome: Chrome,
    collection: String,
    /// None while creating.
    id: Option<String>,
    read_only: bool,
    /// The form uploads files (multipart/form-data).
    multipart: bool,
    /// Mail actions (verify, reset) apply to app users' auth collections.
    account_actions: bool,
    verified: bool,
    /// The OAuth2 providers the account is linked to.
    links: Vec<crate::auth::external::Link>,
    inputs: Vec<Input>,
    error: Option<String>,
}

fn record_url(c: &str, id: &str) -> String {
    format!(
        "/_/collections/{}/records/{}",
        query_value(c),
        query_value(id)
    )
}

fn table_url(c: &str) -> String {
    format!("/_/collections/{}/records", query_value(c))
}

#[allow(clippy::too_many_arguments)]
async fn render(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    admin: &Admin,
    c: Arc<Collection>,
    record: Option<Map<String, Value>>,
    form: Option<Form>,
    errors: BTreeMap<String, String>,
    error: Option<String>,
) -> Result<HttpResponse> {
    let creating = record.is_none();
    let id = record
        .as_ref()
        .and_then(|r| r.get("id"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let verified = record
        .as_ref()
        .and_then(|r| r.get("verified"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let status = if error.is_some() || !errors.is_empty() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let shared = state.clone();
    let table = c.clone();
    let account_actions = c.is_auth() && c.name != "_superusers";
    let linked = id.clone().filter(|_| account_actions);
    let (inputs, links) = blocking(move || {
        shared.db.data.read(|conn| {
            let source = match (&form, &record) {
                (Some(f), _) => Source::Submitted(f),
                (None, Some(r)) => Source::Stored(r),
                (None, None) => Source::Blank,
            };
            let inputs = inputs(
                conn,
                &shared,
                &table,
                creating,
                &source,
                &errors,
                record.as_ref(),
            )?;
            let links = match &linked {
                Some(id) => crate::auth::external::links(conn, &table, id)?,
                None => Vec::new(),
            };
            Ok((inputs, links))
        })
    })
    .await?;
    let title = match &id {
        Some(id) => format!("{} · {id}", c.name),
        None => format!("New {} record", c.name),
    };
    let (chrome, nonce) = Chrome::page(req, state, admin, &title, section_of(&c));
    let page = RecordPage {
        chrome,
        collection: c.name.clone(),
        id,
        read_only: c.is_view(),
        multipart: c
            .fields
            .iter()
            .any(|f| matches!(f.kind, FieldKind::File(_))),
        account_actions,
        verified,
        links,
        inputs,
        error,
    };
    super::html(req, status, &nonce, &page)
}

fn missing_collection(
    req: &HttpRequest,
    state: &AppState,
    admin: &Admin,
    name: &str,
) -> Result<HttpResponse> {
    super::message(
        req,
        state,
        admin,
        StatusCode::NOT_FOUND,
        &format!("There is no collection named “{name}”."),
        "/_/collections",
    )
}

async fn load(
    state: &web::Data<AppState>,
    c: &Arc<Collection>,
    id: &str,
) -> Result<Option<Map<String, Value>>> {
    let shared = state.clone();
    let c = c.clone();
    let id = id.to_owned();
    let ctx = superuser_ctx(state);
    match blocking(move || {
        shared
            .db
            .data
            .read(|conn| records::view(conn, &c, &ctx, &id))
    })
    .await
    {
        Ok(r) => Ok(Some(r)),
        Err(Error::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

async fn new(
    req: HttpRequest,
    state: web::Data<AppState>,
    admin: Admin,
    path: web::Path<String>,
) -> Result<HttpResponse> {
    let Some(c) = find(&state, &path) else {
        return missing_collection(&req, &state, &admin, &path);
    };
    if c.is_view() {
        return Ok(super::see_other(&table_url(&c.name)));
    }
    render(&req, &state, &admin, c, None, None, BTreeMap::new(), None).await
}

async fn edit(
    req: HttpRequest,
    state: web::Data<AppState>,
    admin: Admin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse> {
    let (name, id) = path.into_inner();
    let Some(c) = find(&state, &name) else {
        return missing_collection(&req, &state, &admin, &name);
    };
    let Some(record) = load(&state, &c, &id).await? else {
        return super::message(
            &req,
            &state,
            &admin,
            StatusCode::NOT_FOUND,
            &format!("{name} has no record with id “{id}”."),
            &table_url(&name),
        );
    };
    render(
        &req,
        &state,
        &admin,
        c,
        Some(record),
        None,
        BTreeMap::new(),
        None,
    )
    .await
}

async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    admin: Admin,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse> {
    let Some(c) = find(&state, &path) else {
        return missing_collection(&req, &state, &admin, &path);
    };
    let (form, uploads, staging) = read_record_form(&req, payload, &c, &state).await?;
    if !super::csrf_ok(&req, &state, form.csrf()) {
        return super::csrf_failed(&req, &state, &admin);
    }
    submit(req, state, admin, c, None, form, (uploads, staging)).await
}

async fn save(
    req: HttpRequest,
    state: web::Data<AppState>,
    admin: Admin,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> Result<HttpResponse> {
    let (name, id) = path.into_inner();
    let Some(c) = find(&state, &name) else {
        return missing_collection(&req, &state, &admin, &name);
    };
    let (form, uploads, staging) = read_record_form(&req, payload, &c, &state).await?;
    if !super::csrf_ok(&req, &state, form.csrf()) {
        return super::csrf_failed(&req, &state, &admin);
    }
    let Some(record) = load(&state, &c, &id).await? else {
        return super::message(
            &req,
            &state,
            &admin,
            StatusCode::NOT_FOUND,
            &format!("{name} has no record with id “{id}”; it may have been deleted."),
            &table_url(&name),
        );
    };
    submit(req, state, admin, c, Some(record), form, (uploads, staging)).await
}

/// Saves a submitted form; on success redirects to the table with a flash, otherwise shows
/// the form again with what was typed and the errors next to their fields.
async fn submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    admin: Admin,
    c: Arc<Collection>,
    record: Option<Map<String, Value>>,
    form: Form,
    (uploads, staging): (Map<String, Value>, Staging),
) -> Result<HttpResponse> {
    let creating = record.is_none();
    let body = match body_of(&c, &state.schema.snapshot(), &form, creating, &uploads) {
        Ok(body) => body,
        Err(errors) => {
            return render(
                &req,
                &state,
                &admin,
                c,
                record,
                Some(form),
                errors,
                Some("Some values could not be read. Check the fields marked below.".into()),
            )
            .await;
        }
    };
    let id = record
        .as_ref()
        .and_then(|r| r.get("id"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let shared = state.clone();
    let table = c.clone();
    let ctx = superuser_ctx(&state);
    let target = id.clone();
    let saved = writing(&state, Some(c.clone()), move |hooks| {
        let writes = shared.records_with(hooks);
        match target {
            Some(id) => writes.update(&table, &ctx, &id, &body, staging, &write::always, |_, r| {
                Ok(r)
            }),
            None => writes.create(&table, &ctx, &body, staging, |_, r| Ok(r)),
        }
    })
    .await;
    match saved {
        Ok(saved) => {
            let saved_id = saved.get("id").and_then(Value::as_str).unwrap_or_default();
            let verb = if creating { "created" } else { "saved" };
            Ok(flash::redirect(
                &req,
                &table_url(&c.name),
                &format!("Record {saved_id} {verb}."),
            ))
        }
        Err(Error::BadRequest { message, data }) => {
            let errors = field_messages(&data);
            render(
                &req,
                &state,
                &admin,
                c,
                record,
                Some(form),
                errors,
                Some(message),
            )
            .await
        }
        Err(Error::NotFound(_)) => super::message(
            &req,
            &state,
            &admin,
            StatusCode::NOT_FOUND,
            "The record was deleted while you were editing it.",
            &table_url(&c.name),
        ),
        Err(e) => Err(e),
    }
}

async fn confirm_delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    admin: Admin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse> {
    let (name, id) = path.into_inner();
    let ask = super::Confirm {
        heading: format!("Delete record {id}?"),
        text: format!(
            "The record is removed from {name} for good, and records that require it through a cascading relation are deleted with it."
        ),
        action: format!("{}/delete", record_url(&name, &id)),
        button: "Delete record".into(),
        cancel: record_url(&name, &id),
    };
    let section = find(&state, &name).map_or("collections", |c| section_of(&c));
    super::confirm(&req, &state, &admin, section, ask)
}

async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    admin: Admin,
    path: web::Path<(String, String)>,
    body: FormBody,
) -> Result<HttpResponse> {
    let form = Form::from(body);
    if !super::csrf_ok(&req, &state, form.csrf()) {
        return super::csrf_failed(&req, &state, &admin);
    }
    let (name, id) = path.into_inner();
    let Some(c) = find(&state, &name) else {
        return missing_collection(&req, &state, &admin, &name);
    };
    let shared = state.clone();
    let ctx = superuser_ctx(&state);
    let target = id.clone();
    let table = c.clone();
    let deleted = writing(&state, Some(c.clone()), move |hooks| {
        shared
            .records_with(hooks)
            .delete(&table, &ctx, &target, &write::always)
    })
    .await;
    match deleted {
        Ok(()) => Ok(flash::redirect(
            &req,
            &table_url(&name),
            &format!("Record {id} deleted."),
        )),
        Err(Error::NotFound(_)) => Ok(flash::redirect(
            &req,
            &table_url(&name),
            &format!("Record {id} was already gone."),
        )),
        Err(Error::BadRequest { message, .. }) => super::message(
            &req,
            &state,
            &admin,
            StatusCode::BAD_REQUEST,
            &message,
            &record_url(&name, &id),
        ),
        Err(e) => Err(e),
    }
}

/// `verify`, `send-verification` and `send-reset` on an auth record.
async fn account_action(
    req: HttpRequest,
    state: web::Data<AppState>,
    admin: Admin,
    path: web::Path<(String, String, String)>,
    body: FormBody,
) -> Result<HttpResponse> {
    let form = Form::from(body);
    if !super::csrf_ok(&req, &state, form.csrf()) {
        return super::csrf_failed(&req, &state, &admin);
    }
    let (name, id, action) = path.into_inner();
    let c = match find(&state, &name) {
        Some(c) if c.is_auth() => c,
        _ => return missing_collection(&req, &state, &admin, &name),
    };
    let Some(record) = load(&state, &c, &id).await? else {
        return super::message(
            &req,
            &state,
            &admin,
            StatusCode::NOT_FOUND,
            &format!("{name} has no record with id “{id}”."),
            &table_url(&name),
        );
    };
    let email = record
        .get("email")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let shared = state.clone();
    let ctx = superuser_ctx(&state);
    let target = id.clone();
    let done = match action.as_str() {
        "verify" => {
            let table = c.clone();
            writing(&state, Some(c.clone()), move |hooks| {
                let body = Map::from_iter([("verified".to_owned(), json!(true))]);
                let staging = Staging::new(&shared.files);
                shared.records_with(hooks).update(
                    &table,
                    &ctx,
                    &target,
                    &body,
                    staging,
                    &write::always,
                    |_, _| Ok(()),
                )
            })
            .await
            .map(|()| "Marked as verified.".to_owned())
        }
        "send-verification" => {
            let table = c.clone();
            let to = email.clone();
            blocking(move || {
                shared
                    .db
                    .data
                    .write(|tx| account::request_verification(tx, &table, &to))
            })
            .await
            .map(|()| format!("Verification mail queued for {email}."))
        }
        "send-reset" => {
            let table = c.clone();
            let to = email.clone();
            blocking(move || {
                shared
                    .db
                    .data
                    .write(|tx| account::request_password_reset(tx, &table, &to))
            })
            .await
            .map(|()| format!("Password-reset mail queued for {email}."))
        }
        "unlink" => {
            // One of this account's links, through the records service (its hooks and
            // realtime events run as for any delete).
            let link = form.get("link").to_owned();
            let asked = link.clone();
            let owner = (c.id.clone(), target.clone());
            let links = state.schema.snapshot().find("_externalAuths");
            let Some(links) = links else {
                return missing_collection(&req, &state, &admin, "_externalAuths");
            };
            writing(&state, Some(links.clone()), move |hooks| {
                let belongs = move |conn: &rusqlite::Connection| {
                    use rusqlite::OptionalExtension;
                    let found: Option<String> = conn
                        .prepare_cached(
                            "SELECT provider FROM _externalAuths
                             WHERE id = ?1 AND collectionRef = ?2 AND recordRef = ?3",
                        )?
                        .query_row((&link, &owner.0, &owner.1), |r| r.get(0))
                        .optional()?;
                    found.map(|_| ()).ok_or_else(Error::not_found)
                };
                shared
                    .records_with(hooks)
                    .delete(&links, &ctx, &asked, &belongs)
            })
            .await
            .map(|()| "Provider unlinked.".to_owned())
        }
        _ => {
            return super::message(
                &req,
                &state,
                &admin,
                StatusCode::NOT_FOUND,
                "There is no such action.",
                &record_url(&name, &id),
            );
        }
    };
    match done {
        Ok(text) => Ok(flash::redirect(&req, &record_url(&name, &id), &text)),
        Err(Error::BadRequest { message, .. }) => super::message(
            &req,
            &state,
            &admin,
            StatusCode::BAD_REQUEST,
            &message,
            &record_url(&name, &id),
        ),
        Err(e) => Err(e),
    }
}
