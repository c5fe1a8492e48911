//! Auth endpoints of auth collections. For now the `_superusers` collection; the records
//! work generalises these to every auth collection.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::{Body, blocking};
use crate::auth::superusers::{self, COLLECTION_ID, COLLECTION_NAME};
use crate::auth::token::KIND_AUTH;
use crate::error::{Error, Result};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/collections/{collection}/auth-with-password",
        web::post().to(auth_with_password),
    );
}

#[derive(Deserialize)]
struct PasswordLogin {
    #[serde(default)]
    identity: String,
    #[serde(default)]
    password: String,
}

fn is_superusers(collection: &str) -> bool {
    collection == COLLECTION_NAME || collection == COLLECTION_ID
}

async fn auth_with_password(
    state: web::Data<AppState>,
    collection: web::Path<String>,
    Body(input): Body<PasswordLogin>,
) -> Result<HttpResponse> {
    if !is_superusers(&collection) {
        return Err(Error::NotFound(
            "Missing or invalid collection context.".into(),
        ));
    }
    let body = blocking(move || {
        let conn = &state.db.data;
        let user = conn.read(|c| superusers::authenticate(c, &input.identity, &input.password))?;
        let token = conn.read(|c| user.issue_token(c, KIND_AUTH))?;
        Ok(json!({ "record": user.to_json(), "token": token }))
    })
    .await?;
    Ok(HttpResponse::Ok().json(body))
}
