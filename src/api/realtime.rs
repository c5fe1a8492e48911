//! `/api/realtime`: PocketBase's SSE endpoint. `GET` opens the stream (first message
//! `PB_CONNECT` with the client id), `POST {clientId, subscriptions}` sets its topics under
//! the auth of that request. Closed after the idle timeout without a message, as
//! PocketBase does; the SDK reconnects and subscribes again.

use std::future::ready;

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::{StreamExt, stream};
use serde::Deserialize;

use super::RequestAuth;
use crate::error::{Error, ErrorTree, FieldError, FieldErrors, Result};
use crate::http::Sent;
use crate::realtime::Identity;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/realtime", web::get().to(connect))
        .route("/realtime", web::post().to(subscribe));
}

async fn connect(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse> {
    let ip = crate::http::client_ip(&req).map(|ip| ip.to_string());
    let conn = state.realtime.connect(&ip.unwrap_or_default())?;
    let idle = state.config.realtime.idle_timeout;
    let hello = format!(
        "id:{id}\nevent:PB_CONNECT\ndata:{{\"clientId\":\"{id}\"}}\n\n",
        id = conn.id
    );
    let first = stream::once(ready(Ok::<_, Error>(Bytes::from(hello))));
    // The registration rides along with the receiver: when the stream is dropped (client
    // gone, idle timeout, server stopping), the client leaves the broker.
    let rest = stream::unfold(
        (conn.messages, conn.registration),
        move |(mut rx, registration)| async move {
            match actix_web::rt::time::timeout(idle, rx.recv()).await {
                Ok(Some(message)) => Some((Ok(message), (rx, registration))),
                _ => None,
            }
        },
    );
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/event-stream"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        // Never compressed (`compress` knows the type): an encoder would hold events back.
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(first.chain(rest)))
}

#[derive(Deserialize)]
struct SubscribeForm {
    #[serde(rename = "clientId", default)]
    client_id: String,
    #[serde(default)]
    subscriptions: Vec<String>,
}

/// PocketBase's message for any invalid subscription request.
const INVALID: &str = "Something went wrong while processing your request.";

fn invalid(data: FieldErrors) -> Error {
    Error::invalid(INVALID, data)
}

fn validate(form: &SubscribeForm) -> Result<()> {
    let mut errors = FieldErrors::new();
    let len = form.client_id.chars().count();
    if len == 0 {
        errors.insert("clientId".into(), FieldError::required().into());
    } else if len > 255 {
        errors.insert("clientId".into(), too_long(255).into());
    }
    if form.subscriptions.len() > 1000 {
        errors.insert(
            "subscriptions".into(),
            FieldError::new(
                "validation_length_out_of_range",
                "The length must be between 0 and 1000.",
            )
            .with_params(serde_json::json!({"max": 1000, "min": 0}))
            .into(),
        );
    } else {
        let mut each = FieldErrors::new();
        for (i, s) in form.subscriptions.iter().enumerate() {
            if s.chars().count() > 2500 {
                each.insert(i.to_string(), too_long(2500).into());
            }
        }
        if !each.is_empty() {
            errors.insert("subscriptions".into(), ErrorTree::Branch(each));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(invalid(errors))
    }
}

fn too_long(max: usize) -> FieldError {
    FieldError::new(
        "validation_length_too_long",
        &format!("The length must be no more than {max}."),
    )
    .with_params(serde_json::json!({"max": max, "min": 0}))
}

async fn subscribe(
    state: web::Data<AppState>,
    auth: RequestAuth,
    body: Sent,
) -> Result<HttpResponse> {
    let form: SubscribeForm = body.bind_or(INVALID)?;
    validate(&form)?;
    let (caller, auth) = auth.caller(&state.schema.snapshot());
    state.realtime.subscribe(
        &form.client_id,
        Identity { caller, auth },
        &form.subscriptions,
    )?;
    Ok(HttpResponse::NoContent().finish())
}
