//! Verification, password reset and email change: PocketBase's request/confirm pairs. The
//! requests answer 204 whether or not the address has an account.

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::RequestAuth;
use super::account_hooks::{Find, Work, flow_with_hooks};
use super::auth::count_attempt;
use crate::auth::{account, token};
use crate::error::{Error, Result};
use crate::http::Sent;
use crate::records::write::RecordHooks;
use crate::schema::Collection;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/collections/{collection}/request-verification",
        web::post().to(request_verification),
    )
    .route(
        "/collections/{collection}/confirm-verification",
        web::post().to(confirm_verification),
    )
    .route(
        "/collections/{collection}/request-password-reset",
        web::post().to(request_password_reset),
    )
    .route(
        "/collections/{collection}/confirm-password-reset",
        web::post().to(confirm_password_reset),
    )
    .route(
        "/collections/{collection}/request-email-change",
        web::post().to(request_email_change),
    )
    .route(
        "/collections/{collection}/confirm-email-change",
        web::post().to(confirm_email_change),
    );
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Input {
    email: String,
    token: String,
    password: String,
    password_confirm: String,
    new_email: String,
}

/// Runs an account change that updates one record of `c` (`change` returns its id), and
/// reports it like any record update: webhooks in the same transaction, realtime after it.
fn update_account(
    state: &AppState,
    hooks: &dyn RecordHooks,
    c: &Collection,
    change: impl FnOnce(&rusqlite::Connection) -> Result<String>,
) -> Result<()> {
    let schema = state.schema.snapshot();
    state.records_with(hooks).run(|tx| {
        let id = change(tx.conn())?;
        tx.noted_update(&schema, c, &id)
    })
}

fn auth_collection(state: &AppState, name: &str) -> Result<Arc<Collection>> {
    super::auth::auth_collection(state, name, "Missing or invalid auth collection context.")
}

async fn request_verification(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: Sent,
) -> Result<HttpResponse> {
    let input: Input = body.only(&["email"]).bind()?;
    let flow = RequestFlow {
        hook: "onRecordRequestVerificationRequest",
        target: account::verification_target,
        work: account::request_verification,
    };
    request_flow(&req, state, &path, input.email, flow).await
}

type Account = Map<String, Value>;

/// A request flow (verification, password reset) for the account with an email: `target`
/// finds it (None: nothing to do, 204), `work` mails it.
struct RequestFlow {
    hook: &'static str,
    target: fn(&rusqlite::Connection, &Collection, &str) -> Result<Option<Account>>,
    work: fn(&rusqlite::Connection, &Collection, &str) -> Result<()>,
}

async fn request_flow(
    req: &HttpRequest,
    state: web::Data<AppState>,
    collection: &str,
    email: String,
    flow: RequestFlow,
) -> Result<HttpResponse> {
    let c = auth_collection(&state, collection)?;
    count_attempt(req, &state, &c, &email)?;
    let RequestFlow { hook, target, work } = flow;
    let (table, address) = (c.clone(), email.clone());
    let find: Find = Box::new(move |state: &AppState| {
        let found = state.db.data.read(|conn| target(conn, &table, &address))?;
        Ok(found.map(|r| (r, Map::new())))
    });
    let (table, address) = (c.clone(), email.clone());
    let work: Work = Box::new(move |state: &AppState, _: &dyn RecordHooks| {
        state.db.data.write(|tx| work(tx, &table, &address))
    });
    let body = json!({ "email": email });
    flow_with_hooks(req, state, &RequestAuth::Guest, hook, c, body, (find, work)).await
}

async fn confirm_verification(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: Sent,
) -> Result<HttpResponse> {
    let c = auth_collection(&state, &path)?;
    let input: Input = body.only(&["token"]).bind()?;
    let (table, token) = (c.clone(), input.token.clone());
    let find: Find = Box::new(move |state: &AppState| {
        let kind = token::KIND_VERIFICATION;
        let found = state
            .db
            .data
            .read(|conn| account::token_target(conn, &table, &token, kind))?;
        Ok(Some((found, Map::new())))
    });
    let (table, token) = (c.clone(), input.token.clone());
    let work: Work = Box::new(move |state: &AppState, hooks: &dyn RecordHooks| {
        update_account(state, hooks, &table, |tx| {
            account::confirm_verification(tx, &table, &token)
        })
    });
    let body = json!({"token": input.token});
    let hook = "onRecordConfirmVerificationRequest";
    flow_with_hooks(
        &req,
        state,
        &RequestAuth::Guest,
        hook,
        c,
        body,
        (find, work),
    )
    .await
}

async fn request_password_reset(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: Sent,
) -> Result<HttpResponse> {
    let input: Input = body.only(&["email"]).bind()?;
    let flow = RequestFlow {
        hook: "onRecordRequestPasswordResetRequest",
        target: account::password_reset_target,
        work: account::request_password_reset,
    };
    request_flow(&req, state, &path, input.email, flow).await
}

async fn confirm_password_reset(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: Sent,
) -> Result<HttpResponse> {
    let c = auth_collection(&state, &path)?;
    let input: Input = body
        .only(&["token", "password", "passwordConfirm"])
        .bind_or("An error occurred while loading the submitted data.")?;
    let (table, given) = (c.clone(), (input.token.clone(), input.password.clone()));
    let confirm = input.password_confirm.clone();
    let find: Find = Box::new(move |state: &AppState| {
        account::check_new_password(&given.0, &given.1, &confirm)?;
        let kind = token::KIND_PASSWORD_RESET;
        let found = state
            .db
            .data
            .read(|conn| account::token_target(conn, &table, &given.0, kind))?;
        Ok(Some((found, Map::new())))
    });
    let table = c.clone();
    let (token, password) = (input.token.clone(), input.password.clone());
    let work: Work = Box::new(move |state: &AppState, hooks: &dyn RecordHooks| {
        // Hashed before the write, holding no connection.
        let hash = crate::password::hash(&password)?;
        update_account(state, hooks, &table, |tx| {
            account::confirm_password_reset(tx, &table, &token, &hash)
        })
    });
    let body = json!({"token": input.token, "password": input.password,
        "passwordConfirm": input.password_confirm});
    let hook = "onRecordConfirmPasswordResetRequest";
    flow_with_hooks(
        &req,
        state,
        &RequestAuth::Guest,
        hook,
        c,
        body,
        (find, work),
    )
    .await
}

async fn request_email_change(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: RequestAuth,
    path: web::Path<String>,
    body: Sent,
) -> Result<HttpResponse> {
    let c = auth_collection(&state, &path)?;
    let input: Input = body.only(&["newEmail"]).bind()?;
    let record = match &auth {
        RequestAuth::Record(r) if r.collection.id == c.id => r.record.clone(),
        RequestAuth::Guest => {
            return Err(Error::Unauthorized(
                "The request requires valid record authorization token.".into(),
            ));
        }
        _ => {
            return Err(Error::Forbidden(
                "The authorized record is not allowed to perform this action.".into(),
            ));
        }
    };
    let (table, new_email, signed_in) = (c.clone(), input.new_email.clone(), record.clone());
    let find: Find = Box::new(move |state: &AppState| {
        state
            .db
            .data
            .read(|conn| account::check_new_email(conn, &table, &new_email))?;
        let extra = Map::from_iter([("newEmail".to_owned(), json!(new_email))]);
        Ok(Some((signed_in, extra)))
    });
    let (table, new_email) = (c.clone(), input.new_email.clone());
    let work: Work = Box::new(move |state: &AppState, _: &dyn RecordHooks| {
        let store = &state.db.data;
        store.write(|tx| account::request_email_change(tx, &table, &record, &new_email))
    });
    let body = json!({"newEmail": input.new_email});
    let hook = "onRecordRequestEmailChangeRequest";
    flow_with_hooks(&req, state, &auth, hook, c, body, (find, work)).await
}

async fn confirm_email_change(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: Sent,
) -> Result<HttpResponse> {
    let c = auth_collection(&state, &path)?;
    let input: Input = body.only(&["token", "password"]).bind()?;
    let (table, token, password) = (c.clone(), input.token.clone(), input.password.clone());
    let find: Find = Box::new(move |state: &AppState| {
        // The token and the password are checked first, as PocketBase validates its form;
        // the password between two reads, holding no connection.
        let store = &state.db.data;
        let hash =
            store.read(|conn| account::email_change_hash(conn, &table, &token, &password))?;
        account::check_password(&password, &hash)?;
        let (record, new_email) =
            store.read(|conn| account::email_change_target(conn, &table, &token))?;
        let extra = Map::from_iter([("newEmail".to_owned(), json!(new_email))]);
        Ok(Some((record, extra)))
    });
    let (table, token, password) = (c.clone(), input.token.clone(), input.password.clone());
    let work: Work = Box::new(move |state: &AppState, hooks: &dyn RecordHooks| {
        // The hash the password was checked against; a change since refuses the token.
        let store = &state.db.data;
        let hash =
            store.read(|conn| account::email_change_hash(conn, &table, &token, &password))?;
        update_account(state, hooks, &table, |tx| {
            account::confirm_email_change(tx, &table, &token, &hash)
        })
    });
    let body = json!({"token": input.token, "password": input.password});
    let hook = "onRecordConfirmEmailChangeRequest";
    flow_with_hooks(
        &req,
        state,
        &RequestAuth::Guest,
        hook,
        c,
        body,
        (find, work),
    )
    .await
}
