//! `GET /api/openapi.json`: the OpenAPI 3.1 document of the live schema, for superusers
//! (it names every collection and field).

use actix_web::{HttpResponse, web};

use super::RequestAuth;
use crate::error::Result;
use crate::http::blocking;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/openapi.json", web::get().to(document));
}

async fn document(state: web::Data<AppState>, auth: RequestAuth) -> Result<HttpResponse> {
    auth.require_superuser()?;
    let shared = state.clone();
    let meta = blocking(move || shared.db.data.read(crate::mail::AppMeta::load)).await?;
    let doc = crate::openapi::document(&state.schema.snapshot(), &meta.app_name);
    Ok(HttpResponse::Ok().json(doc))
}
