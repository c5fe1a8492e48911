//! `POST /api/sql`: the SQL console for superusers, as PocketBase 0.40's (see `console`).

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::RequestAuth;
use crate::error::Result;
use crate::http::{Sent, blocking};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/sql", web::post().to(run));
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SqlForm {
    query: String,
}

async fn run(state: web::Data<AppState>, auth: RequestAuth, body: Sent) -> Result<HttpResponse> {
    auth.require_superuser()?;
    let form: SqlForm = body.bind()?;
    let outcome = blocking(move || crate::console::run(&state.db.data, &form.query)).await?;
    Ok(HttpResponse::Ok().json(outcome))
}
