//! Webhooks in the admin UI: the list with a form to add one, and one webhook's page (edit,
//! delete, its deliveries with status, attempts and last error, and "retry now"). Plain
//! forms, POST-redirect-GET, a CSRF token on each; validation is the API's (`webhooks::apply`).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{Admin, Chrome, csrf_failed, csrf_ok, flash};
use crate::error::{Error, ErrorTree, FieldErrors, Result};
use crate::http::{Body, blocking};
use crate::state::AppState;
use crate::webhooks::{self, Delivery, Webhook, store};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/webhooks", web::get().to(list))
        .route("/webhooks", web::post().to(create))
        .route("/webhooks/{id}", web::get().to(show))
        .route("/webhooks/{id}", web::post().to(update))
        .route("/webhooks/{id}/delete", web::post().to(delete))
        .route(
            "/webhooks/{id}/deliveries/{delivery}/retry",
            web::post().to(retry),
        );
}

const DELIVERIES_SHOWN: u64 = 100;

/// What the form shows: a webhook's values (or what was submitted) and per-field errors.
pub struct FormView {
    pub name: String,
    pub collection: String,
    pub url: String,
    pub create: bool,
    pub update: bool,
    pub delete: bool,
    pub active: bool,
    pub has_secret: bool,
    /// (field, message) pairs.
    pub errors: Vec<(String, String)>,
}

impl FormView {
    fn blank() -> Self {
        Self {
            name: String::new(),
            collection: String::new(),
            url: String::new(),
            create: true,
            update: true,
            delete: true,
            active: true,
            has_secret: false,
            errors: Vec::new(),
        }
    }

    fn of(hook: &Webhook) -> Self {
        let has = |e: &str| hook.events.iter().any(|x| x == e);
        Self {
            name: hook.name.clone(),
            collection: hook.collection.clone(),
            url: hook.url.clone(),
            create: has("create"),
            update: has("update"),
            delete: has("delete"),
            active: hook.active,
            has_secret: !hook.secret.is_empty(),
            errors: Vec::new(),
        }
    }

    pub fn error(&self, field: &str) -> String {
        self.errors
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, m)| m.clone())
            .unwrap_or_default()
    }
}

/// One webhook in the list.
pub struct Row {
    pub hook: Webhook,
    pub collection: String,
}

#[derive(Template)]
#[template(path = "webhooks.html")]
struct ListPage {
    chrome: Chrome,
    rows: Vec<Row>,
    collections: Vec<String>,
    form: FormView,
}

#[derive(Template)]
#[template(path = "webhook.html")]
struct WebhookPage {
    chrome: Chrome,
    hook: Webhook,
    collections: Vec<String>,
    form: FormView,
    deliveries: Vec<Delivery>,
    pending: i64,
}

/// The submitted form. Checkboxes arrive only when ticked.
#[derive(Deserialize)]
struct WebhookForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    collection: String,
    #[serde(default)]
    url: String,
    #[serde(default)]
    secret: String,
    #[serde(default)]
    event_create: Option<String>,
    #[serde(default)]
    event_update: Option<String>,
    #[serde(default)]
    event_delete: Option<String>,
    #[serde(default)]
    active: Option<String>,
}

impl WebhookForm {
    /// The API body it stands for; an empty secret keeps the current one.
    fn body(&self) -> Map<String, Value> {
        let events: Vec<&str> = [
            ("create", &self.event_create),
            ("update", &self.event_update),
            ("delete", &self.event_delete),
        ]
        .into_iter()
        .filter(|(_, v)| v.is_some())
        .map(|(e, _)| e)
        .collect();
        let mut body = Map::new();
        body.insert("name".into(), Value::from(self.name.clone()));
        body.insert("collection".into(), Value::from(self.collection.clone()));
        body.insert("url".into(), Value::from(self.url.clone()));
        body.insert("events".into(), Value::from(events));
        body.insert("active".into(), Value::Bool(self.active.is_some()));
        if !self.secret.is_empty() {
            body.insert("secret".into(), Value::from(self.secret.clone()));
        }
        body
    }

    fn view(&self, errors: &FieldErrors, has_secret: bool) -> FormView {
        FormView {
            name: self.name.clone(),
            collection: self.collection.clone(),
            url: self.url.clone(),
            create: self.event_create.is_some(),
            update: self.event_update.is_some(),
            delete: self.event_delete.is_some(),
            active: self.active.is_some(),
            has_secret: has_secret || !self.secret.is_empty(),
            errors: errors
                .iter()
                .map(|(k, e)| {
                    let message = match e {
                        ErrorTree::Leaf(f) => f.message.clone(),
                        ErrorTree::Branch(_) => "Invalid value.".into(),
                    };
                    (k.clone(), message)
                })
                .collect(),
        }
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// Names of the collections a webhook may watch (not views), for the form's select.
fn collection_names(state: &AppState) -> Vec<String> {
    state
        .schema
        .snapshot()
        .all()
        .iter()
        .filter(|c| !c.is_view())
        .map(|c| c.name.clone())
        .collect()
}

fn collection_name(state: &AppState, id: &str) -> String {
    state
        .schema
        .snapshot()
        .find(id)
        .map_or_else(|| id.to_owned(), |c| c.name.clone())
}

async fn render_list(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    admin: &Admin,
    status: StatusCode,
    form: FormView,
) -> Result<HttpResponse> {
    let shared = state.clone();
    let hooks = blocking(move || shared.db.data.read(|c| store::list(c, 1000, 0))).await?;
    let rows = hooks
        .into_iter()
        .map(|hook| Row {
            collection: collection_name(state, &hook.collection),
            hook,
        })
        .collect();
    let (chrome, nonce) = Chrome::page(req, state, admin, "Webhooks", "webhooks");
    let page = ListPage {
        chrome,
        rows,
        collections: collection_names(state),
        form,
    };
    super::html(req, status, &nonce, &page)
}

async fn render_one(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    admin: &Admin,
    status: StatusCode,
    id: String,
    form: Option<FormView>,
) -> Result<HttpResponse> {
    let shared = state.clone();
    let (hook, deliveries, pending) = blocking(move || {
        shared.db.data.read(|c| {
            let hook = store::find(c, &id)?.ok_or_else(Error::not_found)?;
            let deliveries = store::deliveries(c, &id, DELIVERIES_SHOWN, 0)?;
            Ok((hook, deliveries, store::backlog(c)?))
        })
    })
    .await?;
    let mut form = form.unwrap_or_else(|| FormView::of(&hook));
    form.collection = collection_name(state, &form.collection);
    let title = if hook.name.is_empty() {
        format!("Webhook {}", hook.id)
    } else {
        hook.name.clone()
    };
    let (chrome, nonce) = Chrome::page(req, state, admin, &title, "webhooks");
    let page = WebhookPage {
        chrome,
        hook,
        collections: collection_names(state),
        form,
        deliveries,
        pending,
    };
    super::html(req, status, &nonce, &page)
}

async fn list(req: HttpRequest, state: web::Data<AppState>, admin: Admin) -> Result<HttpResponse> {
    render_list(&req, &state, &admin, StatusCode::OK, FormView::blank()).await
}

async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    admin: Admin,
    Body(form): Body<WebhookForm>,
) -> Result<HttpResponse> {
    if !csrf_ok(&req, &state, &form.csrf) {
        return csrf_failed(&req, &state, &admin);
    }
    let hook = match webhooks::apply(
        &state.schema.snapshot(),
        None,
        &form.body(),
        state.config.webhooks.allow_private,
    ) {
        Ok(hook) => hook,
        Err(Error::BadRequest { data, .. }) => {
            let view = form.view(&data, false);
            return render_list(&req, &state, &admin, StatusCode::BAD_REQUEST, view).await;
        }
        Err(e) => return Err(e),
    };
    let shared = state.clone();
    let saved = blocking(move || shared.db.data.write(|tx| store::save(tx, &hook))).await?;
    let to = format!("/_/webhooks/{}", saved.id);
    Ok(flash::redirect(&req, &to, "Webhook added."))
}

async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    admin: Admin,
    path: web::Path<String>,
) -> Result<HttpResponse> {
    render_one(
        &req,
        &state,
        &admin,
        StatusCode::OK,
        path.into_inner(),
        None,
    )
    .await
}

async fn update(
    req: HttpRequest,
    state: web::Data<AppState>,
    admin: Admin,
    path: web::Path<String>,
    Body(form): Body<WebhookForm>,
) -> Result<HttpResponse> {
    let id = path.into_inner();
    if !csrf_ok(&req, &state, &form.csrf) {
        return csrf_failed(&req, &state, &admin);
    }
    let shared = state.clone();
    let body = form.body();
    let hook_id = id.clone();
    let saved = blocking(move || {
        shared.db.data.write(|tx| {
            let existing = store::find(tx, &hook_id)?.ok_or_else(Error::not_found)?;
            let hook = webhooks::apply(
                &shared.schema.snapshot(),
                Some(&existing),
                &body,
                shared.config.webhooks.allow_private,
            )?;
            store::save(tx, &hook)
        })
    })
    .await;
    match saved {
        Ok(_) => {
            let to = format!("/_/webhooks/{id}");
            Ok(flash::redirect(&req, &to, "Webhook saved."))
        }
        Err(Error::BadRequest { data, .. }) => {
            let view = Some(form.view(&data, true));
            render_one(&req, &state, &admin, StatusCode::BAD_REQUEST, id, view).await
        }
        Err(e) => Err(e),
    }
}

async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    admin: Admin,
    path: web::Path<String>,
    Body(form): Body<CsrfForm>,
) -> Result<HttpResponse> {
    let id = path.into_inner();
    if !csrf_ok(&req, &state, &form.csrf) {
        return csrf_failed(&req, &state, &admin);
    }
    let shared = state.clone();
    blocking(move || shared.db.data.write(|tx| store::delete(tx, &id))).await?;
    Ok(flash::redirect(&req, "/_/webhooks", "Webhook deleted."))
}

async fn retry(
    req: HttpRequest,
    state: web::Data<AppState>,
    admin: Admin,
    path: web::Path<(String, String)>,
    Body(form): Body<CsrfForm>,
) -> Result<HttpResponse> {
    let (id, delivery) = path.into_inner();
    if !csrf_ok(&req, &state, &form.csrf) {
        return csrf_failed(&req, &state, &admin);
    }
    let shared = state.clone();
    let max = state.config.webhooks.max_attempts;
    let hook = id.clone();
    let found = blocking(move || {
        shared
            .db
            .data
            .write(|tx| store::retry_now(tx, &hook, &delivery, max))
    })
    .await?;
    if !found {
        return Err(Error::not_found());
    }
    let to = format!("/_/webhooks/{id}");
    Ok(flash::redirect(
        &req,
        &to,
        "Delivery queued: it is sent within a second.",
    ))
}
