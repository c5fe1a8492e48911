//! Sign-in and sign-out. The sign-in form posts email and password with a CSRF token; on
//! success the browser gets the session cookie and is redirected to the dashboard.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::session::{CsrfNonce, Session, expired_session_cookie, session_cookie};
use super::{Chrome, see_other};
use crate::auth::signin::sign_in;
use crate::auth::token::KIND_ADMIN_SESSION;
use crate::auth::{records, superusers};
use crate::error::{Error, Result};
use crate::http::{Body, blocking};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/login", web::get().to(show))
        .route("/login", web::post().to(submit))
        .route("/logout", web::post().to(logout));
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    chrome: Chrome,
    email: String,
    error: Option<String>,
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

const CSRF_FAILED: &str = "This form expired or did not come from this site. Please sign in again.";

fn render(
    req: &HttpRequest,
    state: &AppState,
    status: StatusCode,
    email: String,
    error: Option<&str>,
) -> Result<HttpResponse> {
    let nonce = CsrfNonce::of(req);
    let page = LoginPage {
        chrome: Chrome::new("Sign in", None, nonce.token(state)),
        email,
        error: error.map(str::to_owned),
    };
    super::html(req, status, &nonce, &page)
}

async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
) -> Result<HttpResponse> {
    if session.0.is_some() {
        return Ok(see_other("/_/"));
    }
    render(&req, &state, StatusCode::OK, String::new(), None)
}

async fn submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    Body(form): Body<LoginForm>,
) -> Result<HttpResponse> {
    if !CsrfNonce::of(&req).verify(&state, &form.csrf) {
        return render(
            &req,
            &state,
            StatusCode::FORBIDDEN,
            form.email,
            Some(CSRF_FAILED),
        );
    }
    if state
        .limiter
        .auth_attempt(
            crate::http::sign_in_ip(&req),
            Some(&format!("_superusers:{}", form.email)),
        )
        .is_err()
    {
        return render(
            &req,
            &state,
            StatusCode::TOO_MANY_REQUESTS,
            form.email,
            Some("Too many sign-in attempts. Please wait a few minutes and try again."),
        );
    }
    let email = form.email.clone();
    let shared = state.clone();
    let signed_in = blocking(move || {
        let admins = shared
            .schema
            .snapshot()
            .find(superusers::COLLECTION_ID)
            .ok_or_else(|| Error::internal("the _superusers collection is missing"))?;
        // As the API's sign-in: the password, then the collection's authRule.
        let schema = shared.schema.snapshot();
        let record = sign_in(
            &shared.db.data,
            schema,
            &admins,
            &form.email,
            &form.password,
        )?;
        records::issue_token(&admins, &record, KIND_ADMIN_SESSION)
    })
    .await;
    match signed_in {
        Ok(token) => {
            let mut res = see_other("/_/");
            res.add_cookie(&session_cookie(&req, token))
                .map_err(Error::internal)?;
            Ok(res)
        }
        Err(Error::BadRequest { .. }) => render(
            &req,
            &state,
            StatusCode::BAD_REQUEST,
            email,
            Some("Invalid email or password."),
        ),
        Err(e) => Err(e),
    }
}

async fn logout(
    req: HttpRequest,
    state: web::Data<AppState>,
    Body(form): Body<CsrfForm>,
) -> Result<HttpResponse> {
    if !CsrfNonce::of(&req).verify(&state, &form.csrf) {
        return render(
            &req,
            &state,
            StatusCode::FORBIDDEN,
            String::new(),
            Some(CSRF_FAILED),
        );
    }
    let mut res = see_other("/_/login");
    res.add_cookie(&expired_session_cookie(&req))
        .map_err(Error::internal)?;
    Ok(res)
}
