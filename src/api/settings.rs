//! `/api/settings`: the application settings, superusers only.

use actix_web::{HttpResponse, web};
use serde_json::Value;

use super::RequestAuth;
use crate::error::Result;
use crate::http::{Body, blocking};
use crate::settings;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/settings", web::get().to(show))
        .route("/settings", web::patch().to(update));
}

async fn show(state: web::Data<AppState>, auth: RequestAuth) -> Result<HttpResponse> {
    auth.require_superuser()?;
    let body = blocking(move || {
        state
            .db
            .data
            .read(|c| settings::load(c).map(settings::public))
    })
    .await?;
    Ok(HttpResponse::Ok().json(body))
}

async fn update(
    state: web::Data<AppState>,
    auth: RequestAuth,
    Body(patch): Body<Value>,
) -> Result<HttpResponse> {
    auth.require_superuser()?;
    let shared = state.clone();
    let body = blocking(move || settings::update(&shared.db.data, patch)).await?;
    if let Some(saved) = body.as_object() {
        state.logs.configure(saved);
    }
    Ok(HttpResponse::Ok().json(body))
}
