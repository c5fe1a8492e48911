//! The backups page: the archives with size and date (in the data dir or the `backups.s3`
//! bucket), a form to create one, downloads, and restore and delete behind confirmation
//! pages. The work is `crate::backups`'s, as for the API.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::form::{Form, FormBody};
use super::{Admin, Chrome, flash};
use crate::backups::{self, BackupInfo, Place};
use crate::error::{Error, ErrorTree, Result};
use crate::http::blocking;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/backups", web::get().to(show))
        .route("/backups", web::post().to(create))
        .route("/backups/{key}/download", web::get().to(download))
        .route("/backups/{key}/delete", web::get().to(confirm_delete))
        .route("/backups/{key}/delete", web::post().to(delete))
        .route("/backups/{key}/restore", web::get().to(confirm_restore))
        .route("/backups/{key}/restore", web::post().to(restore));
}

/// One table row: the archive with its size written for people.
struct Row {
    key: String,
    size: String,
    modified: String,
}

impl From<BackupInfo> for Row {
    fn from(b: BackupInfo) -> Self {
        Self {
            key: b.key,
            size: human_size(b.size),
            modified: b.modified,
        }
    }
}

fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KB", "MB", "GB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[derive(Template)]
#[template(path = "backups.html")]
struct BackupsPage {
    chrome: Chrome,
    items: Vec<Row>,
    schedule: String,
    keep: u64,
    /// Where archives are kept now (`Place::describe`).
    place: String,
    in_bucket: bool,
    name: String,
    error: Option<String>,
}

async fn render(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    admin: &Admin,
    status: StatusCode,
    name: String,
    error: Option<String>,
) -> Result<HttpResponse> {
    let shared = state.clone();
    let (items, settings, place, in_bucket) = blocking(move || {
        let settings = shared.db.data.read(crate::settings::load)?;
        let place = Place::from_settings(shared.db.dir(), &settings)?;
        let items = place.list()?;
        let in_bucket = matches!(place, Place::Bucket(_));
        Ok((items, settings, place.describe(), in_bucket))
    })
    .await?;
    let policy = settings.get("backups");
    let (chrome, nonce) = Chrome::page(req, state, admin, "Backups", "backups");
    let page = BackupsPage {
        chrome,
        items: items.into_iter().rev().map(Row::from).collect(),
        schedule: policy
            .and_then(|b| b.get("cron"))
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned(),
        keep: policy
            .and_then(|b| b.get("cronMaxKeep"))
            .and_then(|v| v.as_u64())
            .unwrap_or(0),
        place,
        in_bucket,
        name,
        error,
    };
    super::html(req, status, &nonce, &page)
}

async fn show(req: HttpRequest, state: web::Data<AppState>, admin: Admin) -> Result<HttpResponse> {
    render(&req, &state, &admin, StatusCode::OK, String::new(), None).await
}

/// The one-line text of a refused backup or restore.
fn reason(e: &Error) -> Option<String> {
    match e {
        Error::BadRequest { message, data } => Some(match data.get("name") {
            Some(ErrorTree::Leaf(field)) => format!("Name: {}", field.message),
            _ => message.clone(),
        }),
        _ => None,
    }
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
    let name = form.get("name").trim().to_owned();
    let shared = state.clone();
    let wanted = name.clone();
    let made = blocking(move || backups::create(&shared.db, Some(&wanted), &|_| {})).await;
    match made {
        Ok(key) => Ok(flash::redirect(
            &req,
            "/_/backups",
            &format!("Backup {key} created."),
        )),
        Err(e) => match reason(&e) {
            Some(text) => {
                render(
                    &req,
                    &state,
                    &admin,
                    StatusCode::BAD_REQUEST,
                    name,
                    Some(text),
                )
                .await
            }
            None => Err(e),
        },
    }
}

/// The archive as a download; the admin session is the permission.
async fn download(
    req: HttpRequest,
    state: web::Data<AppState>,
    admin: Admin,
    key: web::Path<String>,
) -> Result<HttpResponse> {
    use crate::api::backups::{Archive, archive};
    match archive(&req, &state, key.into_inner()).await? {
        Archive::Sent(mut res) => {
            res.headers_mut().insert(
                header::CACHE_CONTROL,
                header::HeaderValue::from_static("no-store"),
            );
            Ok(res)
        }
        Archive::Missing { .. } => missing(&req, &state, &admin),
    }
}

/// Where the data dir keeps its archives now.
async fn place(state: &web::Data<AppState>) -> Result<Place> {
    let shared = state.clone();
    blocking(move || Place::of(&shared.db)).await
}

fn missing(req: &HttpRequest, state: &AppState, admin: &Admin) -> Result<HttpResponse> {
    super::message(
        req,
        state,
        admin,
        StatusCode::NOT_FOUND,
        "There is no backup by that name.",
        "/_/backups",
    )
}

async fn confirm(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    admin: &Admin,
    key: &str,
    restore: bool,
) -> Result<HttpResponse> {
    let place = place(state).await?;
    let lookup = key.to_owned();
    let (exists, place) = blocking(move || Ok((place.exists(&lookup)?, place))).await?;
    if !exists {
        return missing(req, state, admin);
    }
    let (heading, text, button, action) = if restore {
        (
            format!("Restore {key}?"),
            "Every collection, record, superuser, setting, log and uploaded file is replaced by the backup's. What is there now is kept in backups/.before_restore_<time>/ in the data dir. You may have to sign in again.".to_owned(),
            "Restore backup",
            "restore",
        )
    } else {
        (
            format!("Delete {key}?"),
            format!("The archive is removed from {} for good.", place.describe()),
            "Delete backup",
            "delete",
        )
    };
    let ask = super::Confirm {
        heading,
        text,
        action: format!("/_/backups/{key}/{action}"),
        button: button.into(),
        cancel: "/_/backups".into(),
    };
    super::confirm(req, state, admin, "backups", ask)
}

async fn confirm_delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    admin: Admin,
    key: web::Path<String>,
) -> Result<HttpResponse> {
    confirm(&req, &state, &admin, &key, false).await
}

async fn confirm_restore(
    req: HttpRequest,
    state: web::Data<AppState>,
    admin: Admin,
    key: web::Path<String>,
) -> Result<HttpResponse> {
    confirm(&req, &state, &admin, &key, true).await
}

async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    admin: Admin,
    key: web::Path<String>,
    body: FormBody,
) -> Result<HttpResponse> {
    let form = Form::from(body);
    if !super::csrf_ok(&req, &state, form.csrf()) {
        return super::csrf_failed(&req, &state, &admin);
    }
    let key = key.into_inner();
    let shared = state.clone();
    let target = key.clone();
    match blocking(move || backups::delete(&Place::of(&shared.db)?, &target)).await {
        Ok(()) => Ok(flash::redirect(
            &req,
            "/_/backups",
            &format!("Backup {key} deleted."),
        )),
        Err(e) => match reason(&e) {
            Some(text) => super::message(
                &req,
                &state,
                &admin,
                StatusCode::BAD_REQUEST,
                &text,
                "/_/backups",
            ),
            None => Err(e),
        },
    }
}

async fn restore(
    req: HttpRequest,
    state: web::Data<AppState>,
    admin: Admin,
    key: web::Path<String>,
    body: FormBody,
) -> Result<HttpResponse> {
    let form = Form::from(body);
    if !super::csrf_ok(&req, &state, form.csrf()) {
        return super::csrf_failed(&req, &state, &admin);
    }
    let key = key.into_inner();
    let shared = state.clone();
    let target = key.clone();
    let done = blocking(move || {
        backups::restore(
            &shared.db,
            &target,
            &|step| log::info!("restore {target}: {step}"),
            &|| shared.follow_restore(),
        )
    })
    .await;
    match done {
        // The restored data may not hold this admin any more: the page after decides.
        Ok(()) => Ok(flash::redirect(
            &req,
            "/_/backups",
            &format!("Restored {key}."),
        )),
        Err(e) => match reason(&e) {
            Some(text) => super::message(
                &req,
                &state,
                &admin,
                StatusCode::BAD_REQUEST,
                &format!("Nothing was changed. {text}"),
                "/_/backups",
            ),
            None => Err(e),
        },
    }
}
