//! The superuser's browser session and the CSRF nonce, both in cookies. The session cookie
//! holds a signed `adminSession` token (HttpOnly, SameSite=Strict, Secure behind TLS), so a
//! password change (tokenKey rotation) ends every session too. Form tokens are bound to the
//! session cookie the page was rendered with (none on the sign-in page), see `auth::csrf`.

use std::future::{Future, ready};
use std::pin::Pin;

use actix_web::cookie::{Cookie, SameSite, time::Duration};
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponseBuilder, web};

use crate::auth::csrf;
use crate::auth::superusers::{self, Superuser};
use crate::auth::token::KIND_ADMIN_SESSION;
use crate::error::{Error, Result};
use crate::http::blocking;
use crate::state::AppState;

pub use crate::auth::superusers::SESSION_COOKIE;
pub const CSRF_COOKIE: &str = "hearth_csrf";

fn cookie<'a>(req: &HttpRequest, name: &'a str, value: String) -> Cookie<'a> {
    Cookie::build(name, value)
        .path("/_/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(req.connection_info().scheme() == "https")
        .finish()
}

pub fn session_cookie(req: &HttpRequest, token: String) -> Cookie<'static> {
    let mut c = cookie(req, SESSION_COOKIE, token);
    c.set_max_age(Duration::days(1));
    c
}

pub fn expired_session_cookie(req: &HttpRequest) -> Cookie<'static> {
    let mut c = cookie(req, SESSION_COOKIE, String::new());
    c.make_removal();
    c
}

/// The browser's CSRF nonce (a new one, to be set with `remember`, if it has none yet) and
/// the session cookie its tokens are bound to.
pub struct CsrfNonce {
    pub nonce: String,
    fresh: bool,
    /// The session cookie as sent, "" without one. Bound as sent, valid or not: the sign-in
    /// page and its POST see the same (stale) cookie, and any other page needs a valid one.
    session: String,
}

impl CsrfNonce {
    pub fn of(req: &HttpRequest) -> Self {
        let session = req
            .cookie(SESSION_COOKIE)
            .map(|c| c.value().to_owned())
            .unwrap_or_default();
        match req.cookie(CSRF_COOKIE).map(|c| c.value().to_owned()) {
            Some(nonce) if nonce.len() >= 32 => Self {
                nonce,
                fresh: false,
                session,
            },
            _ => Self {
                nonce: csrf::new_nonce(),
                fresh: true,
                session,
            },
        }
    }

    pub fn token(&self, state: &AppState) -> String {
        csrf::token(&state.secret, &self.nonce, &self.session)
    }

    /// Sets the nonce cookie on `res` if the browser does not have it yet.
    pub fn remember(&self, req: &HttpRequest, res: &mut HttpResponseBuilder) {
        if self.fresh {
            res.cookie(cookie(req, CSRF_COOKIE, self.nonce.clone()));
        }
    }

    /// Checks a submitted form token; a fresh nonce (no cookie sent) never verifies, nor
    /// does a token rendered for another session cookie (or for none).
    pub fn verify(&self, state: &AppState, submitted: &str) -> bool {
        !self.fresh && csrf::verify(&state.secret, &self.nonce, &self.session, submitted)
    }
}

/// The signed-in superuser, if the session cookie is valid.
pub struct Session(pub Option<Superuser>);

/// A signed-in superuser; extracting it from a request without a valid session answers with
/// a redirect to the sign-in page instead of running the handler.
pub struct Admin(pub Superuser);

/// Why an `Admin` could not be extracted: no session (redirect) or a server fault.
#[derive(Debug)]
pub enum NoAdmin {
    SignIn,
    Failed(Error),
}

impl std::fmt::Display for NoAdmin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::SignIn => f.write_str("sign in first"),
            Self::Failed(e) => e.fmt(f),
        }
    }
}

impl actix_web::ResponseError for NoAdmin {
    fn status_code(&self) -> actix_web::http::StatusCode {
        match self {
            Self::SignIn => actix_web::http::StatusCode::SEE_OTHER,
            Self::Failed(e) => e.status_code(),
        }
    }

    fn error_response(&self) -> actix_web::HttpResponse {
        match self {
            Self::SignIn => super::see_other("/_/login"),
            Self::Failed(e) => e.error_response(),
        }
    }
}

impl FromRequest for Admin {
    type Error = NoAdmin;
    type Future = Pin<Box<dyn Future<Output = Result<Self, NoAdmin>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let session = Session::from_request(req, payload);
        let req = req.clone();
        Box::pin(async move {
            match session.await {
                Ok(Session(Some(user))) => {
                    // For the request log, as API calls with a superuser token are.
                    req.extensions_mut()
                        .insert(crate::middleware::AuthenticatedAs {
                            collection: "_superusers".into(),
                            id: user.id.clone(),
                        });
                    Ok(Admin(user))
                }
                Ok(Session(None)) => Err(NoAdmin::SignIn),
                Err(e) => Err(NoAdmin::Failed(e)),
            }
        })
    }
}

impl FromRequest for Session {
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let token = req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned());
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let (Some(token), Some(state)) = (token.filter(|t| !t.is_empty()), state) else {
            return Box::pin(ready(Ok(Session(None))));
        };
        Box::pin(async move {
            let user = blocking(move || {
                state.db.data.read(|c| {
                    superusers::from_token(c, &state.schema.snapshot(), &token, KIND_ADMIN_SESSION)
                })
            })
            .await?;
            Ok(Session(user))
        })
    }
}
