//! Auth endpoints of auth collections (`_superusers`, `users` and any other).

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Body, blocking};
use crate::auth::records;
use crate::auth::token::KIND_AUTH;
use crate::error::{Error, Result};
use crate::records::output::Viewer;
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

async fn auth_with_password(
    state: web::Data<AppState>,
    collection: web::Path<String>,
    Body(input): Body<PasswordLogin>,
) -> Result<HttpResponse> {
    let c = state
        .schema
        .snapshot()
        .find(&collection)
        .filter(|c| c.is_auth())
        .ok_or_else(|| Error::NotFound("Missing or invalid collection context.".into()))?;
    let body = blocking(move || {
        state.db.data.read(|conn| {
            let record = records::authenticate(conn, &c, &input.identity, &input.password)?;
            let token = records::issue_token(&c, &record, KIND_AUTH)?;
            let id = record
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let viewer = Viewer {
                superuser: false,
                record_id: Some(&id),
            };
            let public = crate::records::view_as(conn, &c, &id, viewer)?;
            Ok(json!({ "record": public, "token": token }))
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(body))
}
