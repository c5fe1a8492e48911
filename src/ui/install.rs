//! The first-run installer page: the one-time link `hearth serve` prints while there is no
//! superuser (`auth::installer`) opens a form that creates the first superuser and signs the
//! browser in. The link works once, for 30 minutes, and never once a superuser exists.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::session::{CsrfNonce, session_cookie};
use super::{Chrome, see_other};
use crate::auth::records;
use crate::auth::superusers::{self, Superuser};
use crate::auth::token::KIND_ADMIN_SESSION;
use crate::error::{Error, ErrorTree, FieldErrors, Result};
use crate::http::{Body, blocking};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/install/{token}", web::get().to(show))
        .route("/install/{token}", web::post().to(submit));
}

#[derive(Template)]
#[template(path = "install.html")]
struct InstallPage {
    chrome: Chrome,
    token: String,
    email: String,
    error: Option<String>,
}

#[derive(Deserialize)]
struct InstallForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default, rename = "passwordConfirm")]
    password_confirm: String,
}

const SPENT: &str = "This installer link has expired or was used. Sign in, or run \
                     `hearth superuser upsert EMAIL PASSWORD` on the server.";

fn render(
    req: &HttpRequest,
    state: &AppState,
    status: StatusCode,
    token: String,
    email: String,
    error: Option<&str>,
) -> Result<HttpResponse> {
    let nonce = CsrfNonce::of(req);
    let page = InstallPage {
        chrome: Chrome::new("Create the first superuser", None, nonce.token(state)),
        token,
        email,
        error: error.map(str::to_owned),
    };
    super::html(req, status, &nonce, &page)
}

/// Whether the link still works: its token is the open one and no superuser exists yet.
async fn usable(state: &web::Data<AppState>, token: &str) -> Result<bool> {
    if !state.installer.admits(token) {
        return Ok(false);
    }
    let shared = state.clone();
    let count = blocking(move || shared.db.data.read(Superuser::count)).await?;
    if count > 0 {
        state.installer.close();
    }
    Ok(count == 0)
}

async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    token: web::Path<String>,
) -> Result<HttpResponse> {
    let token = token.into_inner();
    if !usable(&state, &token).await? {
        return render(
            &req,
            &state,
            StatusCode::GONE,
            String::new(),
            String::new(),
            Some(SPENT),
        );
    }
    render(&req, &state, StatusCode::OK, token, String::new(), None)
}

async fn submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    token: web::Path<String>,
    Body(form): Body<InstallForm>,
) -> Result<HttpResponse> {
    let token = token.into_inner();
    if !CsrfNonce::of(&req).verify(&state, &form.csrf) {
        let expired = "This form expired or did not come from this site. Please try again.";
        return render(
            &req,
            &state,
            StatusCode::FORBIDDEN,
            token,
            form.email,
            Some(expired),
        );
    }
    if !usable(&state, &token).await? {
        return render(
            &req,
            &state,
            StatusCode::GONE,
            String::new(),
            String::new(),
            Some(SPENT),
        );
    }
    if form.password != form.password_confirm {
        let differ = "The passwords do not match.";
        return render(
            &req,
            &state,
            StatusCode::BAD_REQUEST,
            token,
            form.email,
            Some(differ),
        );
    }
    let shared = state.clone();
    let (email, password) = (form.email.clone(), form.password);
    let created = blocking(move || {
        let user = superusers::create_first(&shared.db.data, &email, &password)?;
        let admins = shared
            .schema
            .snapshot()
            .find(superusers::COLLECTION_ID)
            .ok_or_else(|| Error::internal("the _superusers collection is missing"))?;
        let record = shared
            .db
            .data
            .read(|c| records::find_by_id(c, &admins, &user.id))?
            .ok_or_else(|| Error::internal("the new superuser is missing"))?;
        records::issue_token(&admins, &record, KIND_ADMIN_SESSION)
    })
    .await;
    match created {
        Ok(session) => {
            state.installer.close();
            log::info!("the installer created the first superuser");
            let mut res = see_other("/_/");
            res.add_cookie(&session_cookie(&req, session))
                .map_err(Error::internal)?;
            Ok(res)
        }
        Err(Error::Forbidden(_)) => {
            state.installer.close();
            render(
                &req,
                &state,
                StatusCode::GONE,
                String::new(),
                String::new(),
                Some(SPENT),
            )
        }
        Err(Error::BadRequest { data, .. }) => {
            let reason = invalid_reason(&data);
            render(
                &req,
                &state,
                StatusCode::BAD_REQUEST,
                token,
                form.email,
                Some(&reason),
            )
        }
        Err(e) => Err(e),
    }
}

/// The first field error of a refused superuser, in words.
fn invalid_reason(data: &FieldErrors) -> String {
    match data.iter().next() {
        Some((field, ErrorTree::Leaf(e))) => format!("{field}: {}", e.message),
        _ => "Invalid email or password.".to_owned(),
    }
}
