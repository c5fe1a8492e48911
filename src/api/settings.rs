//! `/api/settings`: the application settings, superusers only, and their tests (a mail
//! through the configured SMTP, the S3 connection).

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
        .route("/settings/test/email", web::post().to(test_email))
        .route("/settings/test/s3", web::post().to(test_s3))
        .route(
            "/settings/apple/generate-client-secret",
            web::post().to(apple_client_secret),
        );
}

/// Sends one of an auth collection's mails to the given address (see `mail::test_send`);
/// 204 once sent (or, without SMTP, kept in the outbox).
async fn test_email(
    state: web::Data<AppState>,
    auth: RequestAuth,
    body: Sent,
) -> Result<HttpResponse> {
    use crate::mail::test_send;
    auth.require_superuser()?;
    let form: test_send::TestEmail = body.bind_or(UNREADABLE)?;
    let c = test_send::validate(&state.schema.snapshot(), &form)?;
    let shared = state.clone();
    let (mail, smtp) = blocking(move || {
        shared.db.data.read(|conn| {
            let mail = test_send::compose(conn, &c, &form)?;
            let smtp = crate::mail::smtp::from_settings(&settings::load(conn)?)
                .or_else(|| shared.config.smtp.clone());
            Ok((mail, smtp))
        })
    })
    .await?;
    crate::http::outbound(move || test_send::deliver(&state.db.data, smtp.as_ref(), &mail)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The S3 connection test: `{filesystem: "storage" | "backups"}`, with the bucket of the
/// `s3` or `backups.s3` settings, as PocketBase tests it (see `Bucket::check`).
async fn test_s3(
    state: web::Data<AppState>,
    auth: RequestAuth,
    body: Sent,
) -> Result<HttpResponse> {
    #[derive(serde::Deserialize)]
    struct TestS3 {
        #[serde(default)]
        filesystem: String,
    }
    auth.require_superuser()?;
    let form: TestS3 = body.bind_or(UNREADABLE)?;
    let problem = match form.filesystem.as_str() {
        "" => crate::error::FieldError::required(),
        which @ ("storage" | "backups") => {
            let which = which.to_owned();
            let raw = blocking(move || {
                let settings = state.db.data.read(settings::load)?;
                let s3 = match which.as_str() {
                    "backups" => settings.get("backups").and_then(|b| b.get("s3")),
                    _ => settings.get("s3"),
                };
                let Some(config) = crate::files::bucket::Config::enabled(s3) else {
                    return Ok(Some("S3 storage filesystem is not enabled".to_owned()));
                };
                Ok(match crate::files::bucket::Bucket::new(config) {
                    Err(e) => Some(format!("failed to initialize the S3 filesystem: {e}")),
                    Ok(bucket) => bucket.check().err(),
                })
            })
            .await?;
            return match raw {
                None => Ok(HttpResponse::NoContent().finish()),
                Some(raw) => Err(crate::error::Error::bad_request(format!(
                    "Failed to test the S3 filesystem. Raw error: \n{raw}."
                ))),
            };
        }
        _ => crate::error::FieldError::new("validation_in_invalid", "Must be a valid value."),
    };
    let mut data = crate::error::FieldErrors::new();
    data.insert("filesystem".into(), problem.into());
    Err(crate::error::Error::invalid(
        "Failed to test the S3 filesystem.",
        data,
    ))
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
    state.follow_settings(&body, true);
    Ok(HttpResponse::Ok().json(settings::public(body)))
}
