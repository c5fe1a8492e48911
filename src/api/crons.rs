//! `/api/crons`: the scheduled jobs, listed and run on demand, for superusers, as
//! PocketBase's.

use actix_web::{HttpResponse, web};
use serde_json::json;

use super::RequestAuth;
use crate::error::{Error, Result};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/crons", web::get().to(list))
        .route("/crons/{id}", web::post().to(run));
}

async fn list(state: web::Data<AppState>, auth: RequestAuth) -> Result<HttpResponse> {
    auth.require_superuser()?;
    let jobs: Vec<_> = state
        .crons
        .list()
        .into_iter()
        .map(|(id, expression)| json!({"id": id, "expression": expression}))
        .collect();
    Ok(HttpResponse::Ok().json(jobs))
}

/// Starts the job in the background and answers at once.
async fn run(
    state: web::Data<AppState>,
    auth: RequestAuth,
    id: web::Path<String>,
) -> Result<HttpResponse> {
    auth.require_superuser()?;
    if !state.crons.run_now(&id) {
        return Err(Error::NotFound("Missing or invalid cron job.".into()));
    }
    Ok(HttpResponse::NoContent().finish())
}
