//! Verification, password reset and email change: PocketBase's request/confirm pairs. The
//! requests answer 204 whether or not the address has an account.

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::RequestAuth;
use super::auth::count_attempt;
use crate::auth::account;
use crate::error::{Error, Result};
use crate::http::{Body, blocking, writing};
use crate::records::write::RecordHooks;
use crate::schema::Collection;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/collections/{collection}/request-verification",
        web::post().to(request_verification),
    )
    .route(
        "/collections/{collection}/confirm-verification",
        web::post().to(confirm_verification),
    )
    .route(
        "/collections/{collection}/request-password-reset",
        web::post().to(request_password_reset),
    )
    .route(
        "/collections/{collection}/confirm-password-reset",
        web::post().to(confirm_password_reset),
    )
    .route(
        "/collections/{collection}/request-email-change",
        web::post().to(request_email_change),
    )
    .route(
        "/collections/{collection}/confirm-email-change",
        web::post().to(confirm_email_change),
    );
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Input {
    email: String,
    token: String,
    password: String,
    password_confirm: String,
    new_email: String,
}

/// Runs an account change that updates one record of `c` (`change` returns its id), and
/// reports it like any record update: webhooks in the same transaction, realtime after it.
fn update_account(
    state: &AppState,
    hooks: &dyn RecordHooks,
    c: &Collection,
    change: impl FnOnce(&rusqlite::Connection) -> Result<String>,
) -> Result<()> {
    let schema = state.schema.snapshot();
    state.records_with(hooks).run(|tx| {
        let id = change(tx.conn())?;
        tx.noted_update(&schema, c, &id)
    })
}

fn auth_collection(state: &AppState, name: &str) -> Result<Arc<Collection>> {
    super::auth::auth_collection(state, name, "Missing or invalid auth collection context.")
}

async fn request_verification(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    Body(input): Body<Input>,
) -> Result<HttpResponse> {
    let c = auth_collection(&state, &path)?;
    count_attempt(&req, &state, &c, &input.email)?;
    blocking(move || {
        state
            .db
            .data
            .write(|tx| account::request_verification(tx, &c, &input.email))
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn confirm_verification(
    state: web::Data<AppState>,
    path: web::Path<String>,
    Body(input): Body<Input>,
) -> Result<HttpResponse> {
    let c = auth_collection(&state, &path)?;
    let shared = state.clone();
    writing(&state, Some(c.clone()), move |hooks| {
        update_account(&shared, hooks, &c, |tx| {
            account::confirm_verification(tx, &c, &input.token)
        })
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn request_password_reset(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    Body(input): Body<Input>,
) -> Result<HttpResponse> {
    let c = auth_collection(&state, &path)?;
    count_attempt(&req, &state, &c, &input.email)?;
    blocking(move || {
        state
            .db
            .data
            .write(|tx| account::request_password_reset(tx, &c, &input.email))
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn confirm_password_reset(
    state: web::Data<AppState>,
    path: web::Path<String>,
    Body(input): Body<Input>,
) -> Result<HttpResponse> {
    let c = auth_collection(&state, &path)?;
    let shared = state.clone();
    writing(&state, Some(c.clone()), move |hooks| {
        // Hashed before the write, holding no connection.
        let hash = account::new_password(&input.token, &input.password, &input.password_confirm)?;
        update_account(&shared, hooks, &c, |tx| {
            account::confirm_password_reset(tx, &c, &input.token, &hash)
        })
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn request_email_change(
    state: web::Data<AppState>,
    auth: RequestAuth,
    path: web::Path<String>,
    Body(input): Body<Input>,
) -> Result<HttpResponse> {
    let c = auth_collection(&state, &path)?;
    let record = match auth {
        RequestAuth::Record(r) if r.collection.id == c.id => r.record,
        RequestAuth::Guest => {
            return Err(Error::Unauthorized(
                "The request requires valid record authorization token.".into(),
            ));
        }
        _ => {
            return Err(Error::Forbidden(
                "The authorized record is not allowed to perform this action.".into(),
            ));
        }
    };
    blocking(move || {
        state
            .db
            .data
            .write(|tx| account::request_email_change(tx, &c, &record, &input.new_email))
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn confirm_email_change(
    state: web::Data<AppState>,
    path: web::Path<String>,
    Body(input): Body<Input>,
) -> Result<HttpResponse> {
    let c = auth_collection(&state, &path)?;
    let shared = state.clone();
    writing(&state, Some(c.clone()), move |hooks| {
        // The password is checked between a read and the write, holding no connection.
        let (token, password) = (&input.token, &input.password);
        let hash = shared
            .db
            .data
            .read(|conn| account::email_change_hash(conn, &c, token, password))?;
        account::check_password(password, &hash)?;
        update_account(&shared, hooks, &c, |tx| {
            account::confirm_email_change(tx, &c, token, &hash)
        })
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
