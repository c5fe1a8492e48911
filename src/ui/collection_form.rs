//! Create and edit a collection: its fields with their type's options, the API rules with a
//! short help each, indexes, and a view's query; delete with a confirmation page. The form
//! becomes the same JSON `/api/collections` takes, so the schema module validates it once
//! for both, and its errors are shown next to the field rows they belong to.

use std::collections::BTreeMap;
use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde_json::Value;

use super::collection_body::{body_of, place_errors};
use super::field_rows::{FieldRow, TYPES, blank_row, stored_rows, submitted_rows};
use super::form::{Form, FormBody};
use super::records::{find, section_of};
use super::rule_rows::{RuleRow, rule_rows};
use super::sign_in_rows::{self, SignIn};
use super::view_preview::{ViewPreview, preview};
use super::{Admin, Chrome, flash, query_value};
use crate::error::{Error, Result};
use crate::http::blocking;
use crate::schema::{self, Collection, Field};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/collections/new", web::get().to(new))
        .route("/collections/new", web::post().to(create))
        .route("/collections/{name}/edit", web::get().to(edit))
        .route("/collections/{name}/edit", web::post().to(save))
        .route("/collections/{name}/delete", web::get().to(confirm_delete))
        .route("/collections/{name}/delete", web::post().to(delete));
}

#[derive(Template)]
#[template(path = "collection_form.html")]
struct CollectionPage {
    chrome: Chrome,
    /// None while creating.
    editing: Option<String>,
    name: String,
    kind: String,
    rows: Vec<FieldRow>,
    types: [&'static str; 13],
    rules: Vec<RuleRow>,
    /// OAuth2 and MFA, for an auth collection being edited.
    sign_in: Option<SignIn>,
    indexes: String,
    view_query: String,
    /// The fields and first records of the view query, after "Preview fields".
    preview: Option<ViewPreview>,
    errors: BTreeMap<String, String>,
    error: Option<String>,
}

#[allow(clippy::too_many_arguments)]
fn render(
    req: &HttpRequest,
    state: &AppState,
    admin: &Admin,
    existing: Option<&Collection>,
    form: Option<&Form>,
    (rows, rules, sign_in): (Vec<FieldRow>, Vec<RuleRow>, Option<SignIn>),
    errors: BTreeMap<String, String>,
    error: Option<String>,
    preview: Option<ViewPreview>,
) -> Result<HttpResponse> {
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let kind = match (existing, form) {
        (Some(c), _) => c.kind.as_str().to_owned(),
        (None, Some(f)) if !f.get("type").is_empty() => f.get("type").to_owned(),
        _ => "base".into(),
    };
    let title = match existing {
        Some(c) => format!("Edit {}", c.name),
        None => "New collection".into(),
    };
    let section = existing.map_or("collections", section_of);
    let (chrome, nonce) = Chrome::page(req, state, admin, &title, section);
    let page = CollectionPage {
        chrome,
        editing: existing.map(|c| c.name.clone()),
        name: match form {
            Some(f) => f.get("name").to_owned(),
            None => existing.map(|c| c.name.clone()).unwrap_or_default(),
        },
        kind,
        rows,
        types: TYPES,
        rules,
        sign_in,
        indexes: match form {
            Some(f) => f.get("indexes").to_owned(),
            None => existing.map(|c| c.indexes.join("\n")).unwrap_or_default(),
        },
        view_query: match form {
            Some(f) => f.get("viewQuery").to_owned(),
            None => existing
                .and_then(|c| c.options.get("viewQuery"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
        },
        preview,
        errors,
        error,
    };
    super::html(req, status, &nonce, &page)
}

fn missing(req: &HttpRequest, state: &AppState, admin: &Admin, name: &str) -> Result<HttpResponse> {
    super::message(
        req,
        state,
        admin,
        StatusCode::NOT_FOUND,
        &format!("There is no collection named “{name}”."),
        "/_/collections",
    )
}

/// The fields a new base collection starts with, as PocketBase's dashboard offers them.
fn starting_fields() -> Vec<Field> {
    let autodate = |name: &str, on_update: bool| {
        Field::new(
            name,
            schema::FieldKind::Autodate(schema::field::AutodateField {
                on_create: true,
                on_update,
            }),
        )
    };
    vec![autodate("created", false), autodate("updated", true)]
}

async fn new(req: HttpRequest, state: web::Data<AppState>, admin: Admin) -> Result<HttpResponse> {
    let snapshot = state.schema.snapshot();
    let all = snapshot.all();
    let mut rows = stored_rows(&starting_fields(), all, false);
    rows.push(blank_row(rows.len(), all));
    let rules = rule_rows(None, "base", None);
    render(
        &req,
        &state,
        &admin,
        None,
        None,
        (rows, rules, None),
        BTreeMap::new(),
        None,
        None,
    )
}

async fn edit(
    req: HttpRequest,
    state: web::Data<AppState>,
    admin: Admin,
    path: web::Path<String>,
) -> Result<HttpResponse> {
    let Some(c) = find(&state, &path) else {
        return missing(&req, &state, &admin, &path);
    };
    let snapshot = state.schema.snapshot();
    let mut rows = stored_rows(&c.fields, snapshot.all(), true);
    if !c.is_view() {
        rows.push(blank_row(rows.len(), snapshot.all()));
    }
    let rules = rule_rows(Some(&c), c.kind.as_str(), None);
    let sign_in = c.is_auth().then(|| sign_in_rows::stored(&c));
    render(
        &req,
        &state,
        &admin,
        Some(&c),
        None,
        (rows, rules, sign_in),
        BTreeMap::new(),
        None,
        None,
    )
}

async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    admin: Admin,
    body: FormBody,
) -> Result<HttpResponse> {
    let form = Form::from(body);
    if !super::csrf_ok(&req, &state, form.csrf()) {
        return super::csrf_failed(&req, &state, &admin);
    }
    submit(req, state, admin, None, form).await
}

async fn save(
    req: HttpRequest,
    state: web::Data<AppState>,
    admin: Admin,
    path: web::Path<String>,
    body: FormBody,
) -> Result<HttpResponse> {
    let form = Form::from(body);
    if !super::csrf_ok(&req, &state, form.csrf()) {
        return super::csrf_failed(&req, &state, &admin);
    }
    let Some(c) = find(&state, &path) else {
        return missing(&req, &state, &admin, &path);
    };
    submit(req, state, admin, Some(c), form).await
}

async fn submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    admin: Admin,
    existing: Option<Arc<Collection>>,
    form: Form,
) -> Result<HttpResponse> {
    let snapshot = state.schema.snapshot();
    let all = snapshot.all();
    let kind = existing.as_ref().map_or_else(
        || form.get("type").to_owned(),
        |c| c.kind.as_str().to_owned(),
    );
    let sign_in = |more: usize| {
        form.has("oauth2.rows")
            .then(|| sign_in_rows::submitted(&form, existing.as_deref(), more))
    };
    // "Add another field" (or provider) shows the form again with one more blank row;
    // nothing is saved.
    let op = form.get("op");
    if op == "add" || op == "add_provider" {
        let rows = submitted_rows(&form, existing.as_deref(), all, usize::from(op == "add"));
        let rules = rule_rows(existing.as_deref(), &kind, Some(&form));
        let providers = sign_in(usize::from(op == "add_provider"));
        return render(
            &req,
            &state,
            &admin,
            existing.as_deref(),
            Some(&form),
            (rows, rules, providers),
            BTreeMap::new(),
            None,
            None,
        )
        .map(|mut res| {
            *res.status_mut() = StatusCode::OK;
            res
        });
    }
    // "Preview fields" of a view: its query's dry run shown on the form; nothing is saved.
    if op == "preview" {
        let rows = submitted_rows(&form, existing.as_deref(), all, 0);
        let rules = rule_rows(existing.as_deref(), &kind, Some(&form));
        let shown = preview(state.clone(), form.get("viewQuery").to_owned()).await?;
        return render(
            &req,
            &state,
            &admin,
            existing.as_deref(),
            Some(&form),
            (rows, rules, sign_in(0)),
            BTreeMap::new(),
            None,
            Some(shown),
        );
    }
    let (mut body, sent_rows) = match body_of(&form, existing.as_deref()) {
        Ok(parsed) => parsed,
        Err(problems) => {
            let mut rows = submitted_rows(&form, existing.as_deref(), all, 0);
            for row in &mut rows {
                if let Some(p) = problems.get(&row.index) {
                    row.errors.extend(p.iter().cloned());
                }
            }
            let rules = rule_rows(existing.as_deref(), &kind, Some(&form));
            return render(
                &req,
                &state,
                &admin,
                existing.as_deref(),
                Some(&form),
                (rows, rules, sign_in(0)),
                BTreeMap::new(),
                Some("Some options could not be read. Check the fields marked below.".into()),
                None,
            );
        }
    };
    let sent_providers = match body.as_object_mut() {
        Some(map) => sign_in_rows::read_into(&form, map),
        None => Vec::new(),
    };
    let shared = state.clone();
    let target = existing.as_ref().map(|c| c.id.clone());
    let saved = blocking(move || match target {
        Some(id) => shared.collections().update(&id, body),
        None => shared.collections().create(body),
    })
    .await;
    match saved {
        Ok(c) => {
            let verb = if existing.is_some() {
                "saved"
            } else {
                "created"
            };
            let to = if existing.is_some() {
                format!("/_/collections/{}/edit", query_value(&c.name))
            } else {
                format!("/_/collections/{}/records", query_value(&c.name))
            };
            Ok(flash::redirect(
                &req,
                &to,
                &format!("Collection {} {verb}.", c.name),
            ))
        }
        Err(Error::BadRequest { message, data }) => {
            let mut rows = submitted_rows(&form, existing.as_deref(), all, 0);
            let mut rules = rule_rows(existing.as_deref(), &kind, Some(&form));
            let errors = place_errors(&data, &mut rows, &mut rules, &sent_rows);
            let mut providers = sign_in(0);
            if let Some(s) = providers.as_mut() {
                sign_in_rows::place_errors(&data, s, &sent_providers);
            }
            render(
                &req,
                &state,
                &admin,
                existing.as_deref(),
                Some(&form),
                (rows, rules, providers),
                errors,
                Some(message),
                None,
            )
        }
        Err(Error::NotFound(_)) => missing(&req, &state, &admin, form.get("name")),
        Err(e) => Err(e),
    }
}

async fn confirm_delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    admin: Admin,
    path: web::Path<String>,
) -> Result<HttpResponse> {
    let Some(c) = find(&state, &path) else {
        return missing(&req, &state, &admin, &path);
    };
    let ask = super::Confirm {
        heading: format!("Delete collection {}?", c.name),
        text: "The collection, its table and every record in it are removed for good. Collections whose relations or views depend on it must be changed first.".into(),
        action: format!("/_/collections/{}/delete", query_value(&c.name)),
        button: "Delete collection".into(),
        cancel: format!("/_/collections/{}/edit", query_value(&c.name)),
    };
    super::confirm(&req, &state, &admin, section_of(&c), ask)
}

async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    admin: Admin,
    path: web::Path<String>,
    body: FormBody,
) -> Result<HttpResponse> {
    let form = Form::from(body);
    if !super::csrf_ok(&req, &state, form.csrf()) {
        return super::csrf_failed(&req, &state, &admin);
    }
    let name = path.into_inner();
    let shared = state.clone();
    let target = name.clone();
    let deleted = blocking(move || shared.collections().delete(&target));
    match deleted.await {
        Ok(()) => Ok(flash::redirect(
            &req,
            "/_/collections",
            &format!("Collection {name} deleted."),
        )),
        Err(Error::NotFound(_)) => missing(&req, &state, &admin, &name),
        Err(Error::BadRequest { message, data }) => {
            let mut lines = vec![message];
            for (k, tree) in &data {
                tree.flatten(k, &mut lines);
            }
            super::message(
                &req,
                &state,
                &admin,
                StatusCode::BAD_REQUEST,
                &lines.join(" "),
                &format!("/_/collections/{}/edit", query_value(&name)),
            )
        }
        Err(e) => Err(e),
    }
}
