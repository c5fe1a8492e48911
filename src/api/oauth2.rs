//! `POST /api/collections/{c}/auth-with-oauth2`: the code a provider gave the client is
//! exchanged for the provider's user, who signs in as the record linked to them (or the
//! caller's own, or the one with their verified email), or as a record created for them
//! under the collection's `createRule`; answered as PocketBase answers, with `meta`.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::auth::{auth_collection, auth_response, configured_providers, count_attempt};
use super::records::context;
use super::{RequestAuth, auth_hooks};
use crate::auth::oauth2::{AuthUser, Provider};
use crate::auth::token::KIND_AUTH;
use crate::auth::{avatar, external, records, signin};
use crate::error::{Error, FieldError, FieldErrors, Result};
use crate::files::upload::Staging;
use crate::http::{Body, blocking, writing};
use crate::records::Secrets;
use crate::records::changes::Event;
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
/// (`response_mode=form_post`, as Apple's).
async fn redirected_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    let form: Redirect = serde_urlencoded::from_bytes(&body).unwrap_or_default();
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
    Body(input): Body<OAuth2Login>,
) -> Result<HttpResponse> {
    let c = auth_collection(&state, &path, "Missing or invalid collection context.")?;
    if !enabled(&c) {
        return Err(Error::Forbidden(
            "The collection is not configured to allow OAuth2 authentication.".into(),
        ));
    }
    let provider = provider(&c, &input)?;
    count_attempt(&req, &state, &c, &format!("oauth2:{}", provider.name))?;
    let redirect = if input.redirect_url.is_empty() {
        input.redirect_url_legacy.clone()
    } else {
        input.redirect_url.clone()
    };
    let (code, verifier) = (input.code.clone(), input.code_verifier.clone());
    let name = provider.name.clone();
    let apple_code = (name == "apple").then(|| input.code.clone());
    let mut user =
        blocking(move || crate::auth::oauth2::exchange(&provider, &code, &verifier, &redirect))
            .await?;
    if let Some(code) = apple_code.filter(|_| user.name.is_empty()) {
        user.name = state.apple_names.take(&code).unwrap_or_default();
    }

    let signed_in = match &auth {
        RequestAuth::Record(a) if a.collection.id == c.id => Some(a.record.clone()),
        _ => None,
    };
    let input_mfa = input.mfa_id.clone();
    let create_data = input.create_data.unwrap_or_default();
    let who = (name.as_str(), &user);
    let avatar = new_avatar(&state, &c, who, &create_data, signed_in.clone()).await?;
    let mut ctx = context(&req, &state, &auth, create_data.clone());
    ctx.request.context = "oauth2";
    let shared = state.clone();
    let table = c.clone();
    let signed = user.clone();
    let (id, is_new) = writing(&state, Some(c.clone()), move |hooks| {
        let state = shared;
        let found = state
            .db
            .data
            .read(|conn| external::find(conn, &c, &name, &signed, signed_in.as_ref()))?;
        let records = state.records_with(hooks);
        match found {
            Some((record, linked)) => {
                let id = text(&record, "id");
                let own = signed_in.as_ref().is_some_and(|r| text(r, "id") == id);
                let changes = external::changes(&record, &signed, own);
                let hash = match changes.reset_password {
                    true => Some(crate::password::hash(&crate::ids::secret(30))?),
                    false => None,
                };
                let schema = state.schema.snapshot();
                records.run(|tx| {
                    external::apply(tx.conn(), &c, &id, &changes, hash.as_deref())?;
                    if !changes.is_empty() {
                        tx.noted(&schema, &c, Event::Update, &id)?;
                    }
                    if !linked {
                        external::link(tx.conn(), &c, &id, &name, &signed.id)?;
                    }
                    Ok((id.clone(), false))
                })
            }
            None => {
                let given = (&ctx, &create_data, avatar);
                create(&state, hooks, &c, given, &name, &signed)
            }
        }
    })
    .await?;

    let (shared, c) = (state.clone(), table.clone());
    let meta = meta(&user, is_new);
    let body = blocking(move || {
        let state = shared;
        let store = &state.db.data;
        let record = store
            .read(|conn| records::find_by_id(conn, &c, &id))?
            .ok_or_else(Error::not_found)?;
        if !signin::auth_rule_admits(store, state.schema.snapshot(), &c, &record)? {
            return Err(Error::Forbidden(
                "The request doesn't satisfy the collection requirements to authenticate.".into(),
            ));
        }
        let token = records::issue_token(&c, &record, KIND_AUTH)?;
        let mut body = store.read(|conn| auth_response(conn, &c, &id, token))?;
        body["meta"] = meta;
        Ok(body)
    })
    .await?;
    let second = ("oauth2", input_mfa.as_str());
    auth_hooks::answered(&req, &state, &auth, &table, body, second).await
}

/// The avatar of a user who will get a new record, downloaded into the file field
/// `mappedFields.avatarURL` names (see `auth::avatar`), unless `createData` sets that
/// field. Only when no record is theirs yet: checked again when the record is written.
async fn new_avatar(
    state: &web::Data<AppState>,
    c: &std::sync::Arc<Collection>,
    (provider, user): (&str, &AuthUser),
    create_data: &Map<String, Value>,
    signed_in: Option<Map<String, Value>>,
) -> Result<Option<Staging>> {
    let Some(field) = avatar::file_field(c) else {
        return Ok(None);
    };
    if user.avatar_url.is_empty() || create_data.contains_key(&field.0) {
        return Ok(None);
    }
    let (shared, c, provider, user) = (state.clone(), c.clone(), provider.to_owned(), user.clone());
    blocking(move || {
        let state = shared;
        let found = state
            .db
            .data
            .read(|conn| external::find(conn, &c, &provider, &user, signed_in.as_ref()))?;
        if found.is_some() {
            return Ok(None);
        }
        let allow_private = state.config.oauth2_avatar_allow_private;
        let (name, limit) = (field.0.as_str(), field.1);
        match avatar::download(&state.files, &user.avatar_url, (name, limit), allow_private) {
            Ok(staging) => Ok(Some(staging)),
            Err(why) => {
                log::warn!(
                    "OAuth2 avatar of a new {} record not downloaded: {why}",
                    c.name
                );
                Ok(None)
            }
        }
    })
    .await
}

/// A record created for the identity: `createData` with what the provider told, under the
/// collection's `createRule` (the request's context is `oauth2`), a random password unless
/// one is given; verified when its email is the provider's; linked.
fn create(
    state: &AppState,
    hooks: &dyn crate::records::write::RecordHooks,
    c: &std::sync::Arc<Collection>,
    (ctx, create_data, avatar): (&crate::records::Ctx, &Map<String, Value>, Option<Staging>),
    provider: &str,
    user: &AuthUser,
) -> Result<(String, bool)> {
    if c.name == crate::auth::superusers::COLLECTION_NAME {
        return Err(Error::bad_request(
            "Superusers are not allowed to sign-up with OAuth2.",
        ));
    }
    let mut body = external::payload(c, create_data, user);
    // The downloaded avatar, named in the body by its stored name as an upload is.
    if let Some(file) = avatar.as_ref().and_then(|s| s.files().first()) {
        body.insert(file.field.clone(), json!(file.name));
    }
    if !body.contains_key("password") {
        let password = crate::ids::secret(30);
        body.insert("password".into(), json!(password));
        body.insert("passwordConfirm".into(), json!(password));
    }
    let secrets = Secrets::prepare(&state.db.data, c, ctx, None, &body)?;
    state.records_with(hooks).run(|tx| {
        let record = tx.create(c, ctx, &body, &secrets, avatar)?;
        let id = text(&record, "id");
        external::verify_new(tx.conn(), c, &id, user)?;
        external::link(tx.conn(), c, &id, provider, &user.id)?;
        Ok((id, true))
    })
}

fn text(record: &Map<String, Value>, key: &str) -> String {
    record
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// PocketBase's `meta`: the provider's user (tokens included: the client asked for them)
/// and whether the record is new.
fn meta(user: &AuthUser, is_new: bool) -> Value {
    let mut meta = json!(user);
    meta["isNew"] = json!(is_new);
    meta
}
