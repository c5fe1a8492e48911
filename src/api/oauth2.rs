//! `POST /api/collections/{c}/auth-with-oauth2`: the code a provider gave the client is
//! exchanged for the provider's user, who signs in as the record linked to them (or the
//! caller's own, or the one with their verified email), or as a record created for them
//! under the collection's `createRule`; answered as PocketBase answers, with `meta`.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use std::sync::Arc;

use super::auth::{auth_collection, auth_response, configured_providers};
use super::oauth2_submit::{self, Creating, Submit, meta, new_avatar, signed};
use super::records::context;
use super::{RequestAuth, auth_hooks, oauth2_hooks};
use crate::auth::oauth2::Provider;
use crate::error::{Error, FieldError, FieldErrors, Result};
use crate::http::{Sent, blocking, outbound, writing};
use crate::schema::Collection;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/collections/{collection}/auth-with-oauth2",
        web::post().to(auth_with_oauth2),
    )
    .route("/oauth2-redirect", web::get().to(redirected))
    .route("/oauth2-redirect", web::post().to(redirected_post));
}

/// What the provider sends the browser back with.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Redirect {
    code: String,
    state: String,
    error: String,
    /// Apple's `{"name": {"firstName", "lastName"}, ...}`, with its first redirect only.
    user: String,
}

/// `GET /api/oauth2-redirect`: the end of the SDK's all-in-one `authWithOAuth2` flow. The
/// provider's code goes to the realtime client named by `state` (subscribed to `@oauth2`,
/// connected from the same address), as the `@oauth2` event; the browser is sent to the
/// admin UI's success or failure page, as PocketBase sends it.
async fn redirected(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let query: Redirect = serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    hand_over(&req, &state, query, 307)
}

/// `POST /api/oauth2-redirect`: the same for providers that post the code back
/// (`response_mode=form_post`, as Apple's); a body that cannot be read is a failure.
async fn redirected_post(req: HttpRequest, state: web::Data<AppState>, body: Sent) -> HttpResponse {
    let form: Redirect = body.bind().unwrap_or_default();
    hand_over(&req, &state, form, 303)
}

fn hand_over(req: &HttpRequest, state: &AppState, r: Redirect, status: u16) -> HttpResponse {
    let ip = crate::http::client_ip(req)
        .map(|ip| ip.to_string())
        .unwrap_or_default();
    let mut data = json!({ "state": r.state, "code": r.code });
    if !r.error.is_empty() {
        data["error"] = json!(r.error);
    }
    let sent = !r.state.is_empty()
        && state
            .realtime
            .oauth2_redirect(&r.state, &ip, &data.to_string());
    let handed = sent && r.error.is_empty() && !r.code.is_empty();
    if let Some(name) = (handed && !r.user.is_empty())
        .then(|| crate::auth::oauth2::apple_redirect_name(&r.user))
        .flatten()
    {
        state.apple_names.keep(&r.code, name);
    }
    let page = if handed {
        "../_/#/auth/oauth2-redirect-success"
    } else {
        "../_/#/auth/oauth2-redirect-failure"
    };
    let status = actix_web::http::StatusCode::from_u16(status)
        .unwrap_or(actix_web::http::StatusCode::TEMPORARY_REDIRECT);
    HttpResponse::build(status)
        .insert_header((actix_web::http::header::LOCATION, page))
        .finish()
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct OAuth2Login {
    provider: String,
    code: String,
    code_verifier: String,
    #[serde(rename = "redirectURL")]
    redirect_url: String,
    /// The pre-0.23 name, used when `redirectURL` is empty.
    #[serde(rename = "redirectUrl")]
    redirect_url_legacy: String,
    create_data: Option<Map<String, Value>>,
    /// The first factor's id, when this sign-in is the second (see `auth::mfa`).
    mfa_id: String,
}

fn enabled(c: &Collection) -> bool {
    c.options
        .get("oauth2")
        .and_then(|o| o.get("enabled"))
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

/// The provider the body names, checked as PocketBase's form checks it.
fn provider(c: &Collection, input: &OAuth2Login) -> Result<Provider> {
    let mut errors = FieldErrors::new();
    for (key, value) in [("code", &input.code), ("provider", &input.provider)] {
        if value.is_empty() {
            errors.insert(key.into(), FieldError::required().into());
        }
    }
    if !errors.is_empty() {
        return Err(Error::invalid(
            "An error occurred while loading the submitted data.",
            errors,
        ));
    }
    configured_providers(c)
        .into_iter()
        .find(|p| p.name == input.provider)
        .ok_or_else(|| {
            let name = &input.provider;
            let e = FieldError::new(
                "validation_invalid_provider",
                &format!("Provider with name {name} is missing or is not enabled."),
            )
            .with_params(json!({ "name": name }));
            let mut errors = FieldErrors::new();
            errors.insert("provider".into(), e.into());
            Error::invalid(
                "An error occurred while loading the submitted data.",
                errors,
            )
        })
}

async fn auth_with_oauth2(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: RequestAuth,
    path: web::Path<String>,
    body: Sent,
) -> Result<HttpResponse> {
    let c = auth_collection(&state, &path, "Missing or invalid collection context.")?;
    if !enabled(&c) {
        return Err(Error::Forbidden(
            "The collection is not configured to allow OAuth2 authentication.".into(),
        ));
    }
    let input: OAuth2Login = body.bind()?;
    let provider = provider(&c, &input)?;
    // Limited per address only: who signs in is not known before the exchange, and a
    // limit per provider would let 20 sign-ins lock out every other user of it.
    state
        .limiter
        .auth_attempt(crate::http::sign_in_ip(&req), None)?;
    let redirect = if input.redirect_url.is_empty() {
        input.redirect_url_legacy.clone()
    } else {
        input.redirect_url.clone()
    };
    let (code, verifier) = (input.code.clone(), input.code_verifier.clone());
    let name = provider.name.clone();
    let apple_code = (name == "apple").then(|| input.code.clone());
    let mut user =
        outbound(move || crate::auth::oauth2::exchange(&provider, &code, &verifier, &redirect))
            .await?;
    if let Some(code) = apple_code.filter(|_| user.name.is_empty()) {
        user.name = state.apple_names.take(&code).unwrap_or_default();
    }

    let signed_in = match &auth {
        RequestAuth::Record(a) if a.collection.id == c.id => Some(a.record.clone()),
        _ => None,
    };
    let input_mfa = input.mfa_id.clone();
    let body = json!({"provider": name, "code": input.code, "codeVerifier": input.code_verifier,
        "redirectURL": input.redirect_url, "createData": input.create_data});
    let create_data = input.create_data.unwrap_or_default();
    let mut ctx = context(&req, &state, &auth, create_data.clone());
    ctx.request.context = "oauth2";
    let s = Arc::new(Submit {
        c: c.clone(),
        provider: name,
        user,
        create_data,
        signed_in,
    });
    let avatar = new_avatar(&state, s.clone()).await?;
    let creating = Creating { ctx, avatar };
    if let Some(hooked) = auth_hooks::wanted(&state, "onRecordAuthWithOAuth2Request", &c) {
        let sign_in = (s, creating, body, input_mfa);
        return oauth2_hooks::sign_in(&req, state.into_inner(), &auth, hooked, sign_in).await;
    }

    let shared = state.clone();
    let submitted = s.clone();
    let (id, is_new) = writing(&state, Some(c.clone()), move |hooks| {
        let found = oauth2_submit::find(&shared, &submitted)?;
        oauth2_submit::submit(&shared, hooks, &submitted, found, &mut Some(creating))
    })
    .await?;

    let shared = state.clone();
    let answer = s.clone();
    let body = blocking(move || {
        let (_, token) = signed(&shared, &answer.c, &id)?;
        let mut body = shared
            .db
            .data
            .read(|conn| auth_response(conn, &answer.c, &id, token))?;
        body["meta"] = meta(&answer.user, is_new);
        Ok(body)
    })
    .await?;
    let second = ("oauth2", input_mfa.as_str());
    auth_hooks::answered(&req, &state, &auth, &c, body, second).await
}
