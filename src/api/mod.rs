//! The PocketBase-compatible JSON API under `/api/`. One module per resource, each with a
//! `configure` that `app.rs` calls; handlers parse input, call a service, shape the output.

mod account;
pub mod auth;
mod body;
mod collections;
mod health;
pub mod list;
mod records;
mod request_auth;
mod settings;

use actix_web::{HttpRequest, HttpResponse, http::Method, web};

pub use body::Body;
pub use request_auth::RequestAuth;

use crate::error::{Error, Result};

pub fn configure(cfg: &mut web::ServiceConfig) {
    health::configure(cfg);
    auth::configure(cfg);
    account::configure(cfg);
    collections::configure(cfg);
    records::configure(cfg);
    settings::configure(cfg);
}

/// Runs blocking work (SQLite, password hashing) on the blocking pool, off the async workers.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    web::block(f).await?
}

/// PocketBase's 404 for routes that do not exist (GETs fall through to its static file
/// handler there, hence the different message).
pub async fn not_found(req: HttpRequest) -> HttpResponse {
    not_found_response(req.method())
}

pub fn not_found_response(method: &Method) -> HttpResponse {
    let message = if method == Method::GET || method == Method::HEAD {
        "File not found."
    } else {
        "The requested resource wasn't found."
    };
    actix_web::ResponseError::error_response(&Error::NotFound(message.into()))
}
