//! `/api/settings`: the application settings, superusers only.

use actix_web::{HttpResponse, web};
use serde_json::Value;

use super::RequestAuth;
use crate::error::Result;
use crate::http::{Sent, blocking};
use crate::settings;
use crate::state::AppState;

/// PocketBase's answer to a settings body that cannot be read.
const UNREADABLE: &str = "An error occurred while loading the submitted data.";

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
async fn apple_client_secret(auth: RequestAuth, body: Sent) -> Result<HttpResponse> {
    auth.require_superuser()?;
    let form: crate::auth::oauth2::AppleClientSecretForm = body.bind_or(UNREADABLE)?;
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

async fn update(state: web::Data<AppState>, auth: RequestAuth, body: Sent) -> Result<HttpResponse> {
    auth.require_superuser()?;
    let shared = state.clone();
    let body = blocking(move || {
        let store = &shared.db.data;
        // A form binds to the settings' shape, as PocketBase binds it to its struct.
        let current = || {
            store
                .read(settings::load)
                .map_or(Value::Null, Value::Object)
        };
        let patch = body.shaped(current, UNREADABLE)?;
        settings::update(store, patch)
    })
    .await?;
    if let Some(saved) = body.as_object() {
        state.follow_settings(saved, true);
    }
    Ok(HttpResponse::Ok().json(body))
}
