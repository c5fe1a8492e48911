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
        .route("/settings", web::patch().to(update))
        .route(
            "/settings/apple/generate-client-secret",
            web::post().to(apple_client_secret),
        );
}

/// A client secret for Sign in with Apple (an ES256 JWT signed with the app's key), as
/// PocketBase's settings generate it; nothing is stored.
async fn apple_client_secret(
    auth: RequestAuth,
    Body(form): Body<crate::auth::oauth2::AppleClientSecretForm>,
) -> Result<HttpResponse> {
    auth.require_superuser()?;
    let secret = crate::auth::oauth2::generate_apple_client_secret(&form)?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "secret": secret })))
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
