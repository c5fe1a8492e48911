//! Auth endpoints of auth collections (`_superusers`, `users` and any other): sign-in,
//! refresh, impersonation and the list of enabled methods.

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::{RequestAuth, auth_hooks};
use crate::auth::signin::{self, sign_in};
use crate::auth::superusers;
use crate::auth::token::KIND_AUTH;
use crate::auth::{otp, records};
use crate::error::{Error, FieldError, FieldErrors, Result};
use crate::http::{Sent, blocking, hashing};
use crate::records::changes::Event;
use crate::records::output::Viewer;
use crate::schema::Collection;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/collections/{collection}/auth-methods",
        web::get().to(auth_methods),
    )
    .route(
        "/collections/{collection}/auth-with-password",
        web::post().to(auth_with_password),
    )
    .route(
        "/collections/{collection}/auth-refresh",
        web::post().to(auth_refresh),
    )
    .route(
        "/collections/{collection}/impersonate/{id}",
        web::post().to(impersonate),
    )
    .route(
        "/collections/{collection}/request-otp",
        web::post().to(request_otp),
    )
    .route(
        "/collections/{collection}/auth-with-otp",
        web::post().to(auth_with_otp),
    );
}

pub(super) fn auth_collection(
    state: &AppState,
    name: &str,
    message: &str,
) -> Result<Arc<Collection>> {
    state
        .schema
        .snapshot()
        .find(name)
        .filter(|c| c.is_auth())
        .ok_or_else(|| Error::NotFound(message.into()))
}

/// Counts one sign-in (or mail-sending) attempt against the limits, per client IP and per
/// `who` (an email, an OTP id) in this collection; 429 once either is spent. Counted before
/// any (deliberately slow) password check, wrong or right. Mail-sending requests share
/// the limits: they are as good for probing.
pub(super) fn count_attempt(
    req: &HttpRequest,
    state: &AppState,
    c: &Collection,
    who: &str,
) -> Result<()> {
    state.limiter.auth_attempt(
        crate::http::sign_in_ip(req),
        Some(&format!("{}:{who}", c.id)),
    )
}

/// `{record, token}` as every sign-in answers: the record as its owner sees it.
pub(super) fn auth_response(
    conn: &rusqlite::Connection,
    c: &Collection,
    id: &str,
    token: String,
) -> Result<Value> {
    let viewer = Viewer {
        superuser: false,
        record_id: Some(id),
    };
    let record = crate::records::view_as(conn, c, id, viewer)?;
    Ok(json!({ "record": record, "token": token }))
}

/// The options of one auth method, in PocketBase's key order.
#[derive(Serialize)]
struct Enabled {
    enabled: bool,
    duration: i64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AuthMethods {
    password: Value,
    oauth2: Value,
    mfa: Enabled,
    otp: Enabled,
    auth_providers: Vec<Value>,
    username_password: bool,
    email_password: bool,
}

async fn auth_methods(state: web::Data<AppState>, path: web::Path<String>) -> Result<HttpResponse> {
    let c = auth_collection(&state, &path, "Missing or invalid auth collection context.")?;
    let option = |key: &str| c.options.get(key).cloned().unwrap_or(Value::Null);
    let flag = |v: &Value| v.get("enabled").and_then(Value::as_bool).unwrap_or(false);
    let password = option("passwordAuth");
    let identity: Vec<String> = password
        .get("identityFields")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let password_on = flag(&password);
    let enabled = |key: &str| {
        let opt = option(key);
        let on = flag(&opt);
        // PocketBase reports a duration only for an enabled method.
        let duration = if on {
            opt.get("duration").and_then(Value::as_i64).unwrap_or(0)
        } else {
            0
        };
        Enabled {
            enabled: on,
            duration,
        }
    };
    let oauth2_on = flag(&option("oauth2"));
    let providers = if oauth2_on {
        configured_providers(&c)
            .iter()
            .map(crate::auth::oauth2::Provider::auth_start)
            .collect()
    } else {
        Vec::new()
    };
    // The pre-0.23 list repeats them without logos.
    let legacy = providers
        .iter()
        .map(|p| {
            let mut p = json!(p);
            p["logo"] = json!("");
            p
        })
        .collect();
    let body = AuthMethods {
        password: json!({"identityFields": identity, "enabled": password_on}),
        oauth2: json!({"providers": providers, "enabled": oauth2_on}),
        mfa: enabled("mfa"),
        otp: enabled("otp"),
        auth_providers: legacy,
        username_password: password_on && identity.iter().any(|f| f == "username"),
        email_password: password_on && identity.iter().any(|f| f == "email"),
    };
    Ok(HttpResponse::Ok().json(body))
}

/// The OAuth2 providers `c` has set up, with their defaults filled in.
pub(super) fn configured_providers(c: &Collection) -> Vec<crate::auth::oauth2::Provider> {
    c.options
        .get("oauth2")
        .and_then(|o| o.get("providers"))
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|p| serde_json::from_value(p.clone()).ok())
                .filter_map(|config| crate::auth::oauth2::Provider::new(&config))
                .collect()
        })
        .unwrap_or_default()
}

#[derive(Deserialize)]
struct PasswordLogin {
    #[serde(default)]
    identity: String,
    #[serde(default)]
    password: String,
    /// The first factor's id, when this sign-in is the second (see `auth::mfa`).
    #[serde(default, rename = "mfaId")]
    mfa_id: String,
}

async fn auth_with_password(
    req: HttpRequest,
    state: web::Data<AppState>,
    collection: web::Path<String>,
    body: Sent,
) -> Result<HttpResponse> {
    let c = auth_collection(
        &state,
        &collection,
        "Missing or invalid collection context.",
    )?;
    let input: PasswordLogin = body.bind()?;
    count_attempt(&req, &state, &c, &input.identity)?;
    if let Some(hooked) = auth_hooks::wanted(&state, "onRecordAuthWithPasswordRequest", &c) {
        return password_hooked(&req, state.into_inner(), hooked, c, input).await;
    }
    let mfa_id = input.mfa_id.clone();
    let (shared, table) = (state.clone(), c.clone());
    // Its cost is the password check: it waits for a hashing thread, not a blocking one.
    let body = hashing(move || {
        let state = shared;
        let store = &state.db.data;
        let record = sign_in(
            store,
            state.schema.snapshot(),
            &c,
            &input.identity,
            &input.password,
        )?;
        let id = record.get("id").and_then(Value::as_str).unwrap_or_default();
        let token = records::issue_token(&c, &record, KIND_AUTH)?;
        store.read(|conn| auth_response(conn, &c, id, token))
    })
    .await?;
    let second = ("password", mfa_id.as_str());
    auth_hooks::answered(&req, &state, &RequestAuth::Guest, &table, body, second).await
}

/// A password sign-in inside its `onRecordAuthWithPasswordRequest` hooks: they see the
/// identity, the password and the record found; `e.next()` checks the password.
async fn password_hooked(
    req: &HttpRequest,
    state: std::sync::Arc<AppState>,
    hooked: (std::sync::Arc<crate::hooks::Loaded>, Vec<usize>),
    c: std::sync::Arc<Collection>,
    input: PasswordLogin,
) -> Result<HttpResponse> {
    let sign_in = auth_hooks::SignIn {
        extra: Map::from_iter([
            ("identity".to_owned(), json!(input.identity)),
            ("identityField".to_owned(), json!("")),
            ("password".to_owned(), json!(input.password)),
        ]),
        method: "password",
        body: json!({"identity": input.identity, "password": input.password}),
        mfa_id: input.mfa_id.clone(),
    };
    let table = c.clone();
    // The body is checked before the hooks, as PocketBase binds and validates it.
    let find: auth_hooks::Find = Box::new(move |state: &AppState| {
        state
            .db
            .data
            .read(|conn| signin::lookup(conn, &table, &input.identity, &input.password))
    });
    let table = c.clone();
    let admit: auth_hooks::Admit = Box::new(move |state: &AppState, _, record, extra| {
        let password = extra["password"].as_str().unwrap_or_default();
        let store = &state.db.data;
        let record = signin::admit(store, state.schema.snapshot(), &table, record, password)?;
        let token = records::issue_token(&table, &record, KIND_AUTH)?;
        Ok((record, token, Value::Null))
    });
    let guest = RequestAuth::Guest;
    auth_hooks::around_sign_in(
        req,
        &state,
        &guest,
        hooked,
        c,
        sign_in,
        (find, admit),
        auth_response,
    )
    .await
}

/// A fresh token for the caller, who must be a record of this collection.
async fn auth_refresh(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: RequestAuth,
    path: web::Path<String>,
) -> Result<HttpResponse> {
    state
        .limiter
        .auth_attempt(crate::http::sign_in_ip(&req), None)?;
    let c = auth_collection(&state, &path, "Missing or invalid auth collection context.")?;
    let (caller_collection, id) = match &auth {
        RequestAuth::Guest => {
            return Err(Error::Unauthorized(
                "The request requires valid record authorization token.".into(),
            ));
        }
        RequestAuth::Superuser(user) => (superusers::COLLECTION_NAME.to_owned(), user.id.clone()),
        RequestAuth::Record(record) => (record.collection.name.clone(), record.id().to_owned()),
    };
    if caller_collection != c.name {
        return Err(Error::Forbidden(format!(
            "The request requires auth record from {caller_collection} collection."
        )));
    }
    let presented = super::request_auth::bearer(&req).unwrap_or_default();
    if let Some(hooked) = auth_hooks::wanted(&state, "onRecordAuthRefreshRequest", &c) {
        return refresh_hooked(&req, state.into_inner(), &auth, hooked, c, (id, presented)).await;
    }
    let table = c.clone();
    let refresh = move |conn: &rusqlite::Connection| {
        let record = records::find_by_id(conn, &c, &id)?.ok_or_else(Error::not_found)?;
        let token = records::refreshed_token(&c, &record, &presented)?;
        auth_response(conn, &c, &id, token)
    };
    // Two reads of one record by id: short and bounded.
    let body = crate::http::short_read(&state, refresh).await?;
    auth_hooks::answered(&req, &state, &auth, &table, body, ("", "")).await
}

/// A refresh inside its `onRecordAuthRefreshRequest` hooks: they see the caller's record;
/// `e.next()` answers with a fresh token for the record they leave (or the `presented`
/// one when it may not be renewed).
async fn refresh_hooked(
    req: &HttpRequest,
    state: std::sync::Arc<AppState>,
    auth: &RequestAuth,
    hooked: (std::sync::Arc<crate::hooks::Loaded>, Vec<usize>),
    c: std::sync::Arc<Collection>,
    (id, presented): (String, String),
) -> Result<HttpResponse> {
    let sign_in = auth_hooks::SignIn {
        extra: Map::new(),
        method: "",
        body: json!({}),
        mfa_id: String::new(),
    };
    let find = find_by_id(c.clone(), id);
    let table = c.clone();
    let admit: auth_hooks::Admit = Box::new(move |_: &AppState, _, record, _| {
        let record = record.ok_or_else(Error::not_found)?;
        let token = records::refreshed_token(&table, &record, &presented)?;
        Ok((record, token, Value::Null))
    });
    auth_hooks::around_sign_in(
        req,
        &state,
        auth,
        hooked,
        c,
        sign_in,
        (find, admit),
        auth_response,
    )
    .await
}

#[derive(Deserialize, Default)]
struct ImpersonateBody {
    #[serde(default)]
    duration: i64,
}

/// A superuser signs in as any record, with a token that cannot be refreshed.
async fn impersonate(
    state: web::Data<AppState>,
    auth: RequestAuth,
    path: web::Path<(String, String)>,
    body: Sent,
) -> Result<HttpResponse> {
    auth.require_superuser()?;
    let (name, id) = path.into_inner();
    let c = auth_collection(&state, &name, "The requested resource wasn't found.")?;
    let input: ImpersonateBody =
        body.bind_or("An error occurred while loading the submitted data.")?;
    if input.duration < 0 {
        let mut errors = FieldErrors::new();
        errors.insert(
            "duration".into(),
            FieldError::new(
                "validation_min_greater_equal_than_required",
                "Must be no less than 0.",
            )
            .with_params(json!({"threshold": 0}))
            .into(),
        );
        return Err(Error::validation(errors));
    }
    let body = blocking(move || {
        state.db.data.read(|conn| {
            let record = records::find_by_id(conn, &c, &id)?.ok_or_else(Error::not_found)?;
            let token = records::impersonation_token(&c, &record, input.duration)?;
            auth_response(conn, &c, &id, token)
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(body))
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct OtpInput {
    email: String,
    otp_id: String,
    password: String,
    /// The first factor's id, when this sign-in is the second (see `auth::mfa`).
    mfa_id: String,
}

async fn request_otp(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: Sent,
) -> Result<HttpResponse> {
    let c = auth_collection(&state, &path, "Missing or invalid auth collection context.")?;
    otp::ensure_enabled(&c)?;
    let input: OtpInput = body.only(&["email"]).bind()?;
    count_attempt(&req, &state, &c, &input.email)?;
    if let Some(hooked) = auth_hooks::wanted(&state, "onRecordRequestOTPRequest", &c) {
        otp::check_email(&input.email)?;
        let state = state.into_inner();
        return auth_hooks::around_request_otp(&req, &state, hooked, c, input.email).await;
    }
    let otp_id = blocking(move || otp::request(&state.db.data, &c, &input.email)).await?;
    Ok(HttpResponse::Ok().json(json!({ "otpId": otp_id })))
}

async fn auth_with_otp(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: Sent,
) -> Result<HttpResponse> {
    let c = auth_collection(&state, &path, "Missing or invalid auth collection context.")?;
    otp::ensure_enabled(&c)?;
    let input: OtpInput = body.only(&["otpId", "password", "mfaId"]).bind()?;
    count_attempt(&req, &state, &c, &format!("otp:{}", input.otp_id))?;
    if let Some(hooked) = auth_hooks::wanted(&state, "onRecordAuthWithOTPRequest", &c) {
        return otp_with_hooks(&req, state.into_inner(), hooked, c, input).await;
    }
    let mfa_id = input.mfa_id.clone();
    let (shared, table) = (state.clone(), c.clone());
    let body = blocking(move || {
        let state = shared;
        let store = &state.db.data;
        let checked = otp::check(store, &c, &input.otp_id, &input.password)?;
        let schema = state.schema.snapshot();
        let record = state.records().run(|tx| {
            let (record, verified) = otp::consume(tx.conn(), &c, &checked)?;
            if verified {
                let id = record.get("id").and_then(Value::as_str).unwrap_or_default();
                tx.noted(&schema, &c, Event::Update, id)?;
            }
            Ok(record)
        })?;
        let id = record.get("id").and_then(Value::as_str).unwrap_or_default();
        let token = records::issue_token(&c, &record, KIND_AUTH)?;
        store.read(|conn| auth_response(conn, &c, id, token))
    })
    .await?;
    let second = ("otp", mfa_id.as_str());
    auth_hooks::answered(&req, &state, &RequestAuth::Guest, &table, body, second).await
}

/// `auth-with-otp` inside its `onRecordAuthWithOTPRequest` hooks: the code is checked
/// first (a wrong one answers 400 without them, as on PocketBase); they see `e.record`
/// and `e.otp`, and `e.next()` spends the code and signs in.
async fn otp_with_hooks(
    req: &HttpRequest,
    state: Arc<AppState>,
    hooked: (Arc<crate::hooks::Loaded>, Vec<usize>),
    c: Arc<Collection>,
    input: OtpInput,
) -> Result<HttpResponse> {
    let body = json!({ "otpId": input.otp_id, "password": input.password });
    let mfa_id = input.mfa_id.clone();
    let (shared, table) = (state.clone(), c.clone());
    let checked =
        blocking(move || otp::check(&shared.db.data, &table, &input.otp_id, &input.password))
            .await?;
    let sign_in = auth_hooks::SignIn {
        extra: Map::from_iter([("otp".to_owned(), checked.describe(&c))]),
        method: "otp",
        body,
        mfa_id,
    };
    let find = find_by_id(c.clone(), checked.record_id().to_owned());
    let table = c.clone();
    let admit: auth_hooks::Admit = Box::new(move |state: &AppState, _, given, _| {
        let schema = state.schema.snapshot();
        let spent = state.records().run(|tx| {
            let (record, verified) = otp::consume(tx.conn(), &table, &checked)?;
            if verified {
                tx.noted(&schema, &table, Event::Update, checked.record_id())?;
            }
            Ok(record)
        })?;
        // The record a hook chose, else the code's own (the answer reads it again, as
        // verified now).
        let record = match given {
            Some(given) if given.get("id") != spent.get("id") => given,
            _ => spent,
        };
        let token = records::issue_token(&table, &record, KIND_AUTH)?;
        Ok((record, token, Value::Null))
    });
    auth_hooks::around_sign_in(
        req,
        &state,
        &RequestAuth::Guest,
        hooked,
        c,
        sign_in,
        (find, admit),
        auth_response,
    )
    .await
}

/// A sign-in hook's `find` of record `id` of `c`.
fn find_by_id(c: Arc<Collection>, id: String) -> auth_hooks::Find {
    Box::new(move |state: &AppState| {
        state
            .db
            .data
            .read(|conn| records::find_by_id(conn, &c, &id))
    })
}
