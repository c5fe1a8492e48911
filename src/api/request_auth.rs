//! Who is calling: resolved from the `Authorization` header (a bare token or `Bearer`).
//! A missing, expired or forged token makes the caller a guest, as in PocketBase; routes
//! that need more answer 401/403 themselves.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use rusqlite::Connection;

use crate::auth::records::{self, AuthRecord};
use crate::auth::superusers::{self, Superuser};
use crate::auth::token::{self, KIND_AUTH};
use crate::error::{Error, Result};
use crate::middleware::AuthenticatedAs;
use crate::records::{Caller, RuleAuth};
use crate::schema::Snapshot;
use crate::state::AppState;
use serde_json::Value;

#[derive(Clone)]
pub enum RequestAuth {
    Guest,
    Superuser(Superuser),
    /// A record of an auth collection other than `_superusers`.
    Record(AuthRecord),
}

impl RequestAuth {
    pub fn is_superuser(&self) -> bool {
        matches!(self, Self::Superuser(_))
    }

    /// Who this is, for the request log; None for guests.
    fn identity(&self) -> Option<AuthenticatedAs> {
        match self {
            Self::Guest => None,
            Self::Superuser(user) => Some(AuthenticatedAs {
                collection: "_superusers".into(),
                id: user.id.clone(),
            }),
            Self::Record(record) => Some(AuthenticatedAs {
                collection: record.collection.name.clone(),
                id: record.id().to_owned(),
            }),
        }
    }

    /// Who this is for the record service, and the auth record that rules see as
    /// `@request.auth` (all its fields).
    pub fn caller(&self, schema: &Snapshot) -> (Caller, Option<RuleAuth>) {
        match self {
            Self::Superuser(user) => {
                let mut record = user.to_json().as_object().cloned().unwrap_or_default();
                record.insert("email".into(), Value::String(user.email.clone()));
                let collection = schema.find(superusers::COLLECTION_ID);
                (Caller::Superuser, collection.map(|c| (c, record)))
            }
            Self::Record(auth) => (
                Caller::Record {
                    collection_id: auth.collection.id.clone(),
                    id: auth.id().to_owned(),
                },
                Some((auth.collection.clone(), auth.record.clone())),
            ),
            Self::Guest => (Caller::Guest, None),
        }
    }

    /// PocketBase's guard for superuser-only routes: 401 for guests, 403 for other records.
    pub fn require_superuser(&self) -> Result<()> {
        match self {
            Self::Superuser(_) => Ok(()),
            Self::Guest => Err(Error::Unauthorized(
                "The request requires valid record authorization token.".into(),
            )),
            Self::Record(_) => Err(Error::Forbidden(
                "The authorized record is not allowed to perform this action.".into(),
            )),
        }
    }
}

impl RequestAuth {
    /// Whoever a token of `kind` belongs to (a guest for a forged, expired or stale one).
    pub fn resolve(c: &Connection, schema: &Snapshot, raw: &str, kind: &str) -> Result<Self> {
        let Some(claims) = token::peek(raw) else {
            return Ok(Self::Guest);
        };
        if claims.collection_id == superusers::COLLECTION_ID {
            let user = superusers::from_token(c, schema, raw, kind)?;
            return Ok(user.map_or(Self::Guest, Self::Superuser));
        }
        let record = records::from_token(c, schema, raw, kind)?;
        Ok(record.map_or(Self::Guest, Self::Record))
    }
}

/// The token of the `Authorization` header, without a `Bearer ` prefix.
pub(crate) fn bearer(req: &HttpRequest) -> Option<String> {
    let value = req
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .trim();
    let token = value.strip_prefix("Bearer ").unwrap_or(value).trim();
    (!token.is_empty()).then(|| token.to_owned())
}

/// The caller once resolved for a request (by the rate limits, a `routerUse` middleware
/// or the route), so the token is looked up once.
#[derive(Clone)]
struct Resolved(RequestAuth);

impl FromRequest for RequestAuth {
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        if let Some(Resolved(auth)) = req.extensions().get::<Resolved>().cloned() {
            return Box::pin(std::future::ready(Ok(auth)));
        }
        let token = bearer(req);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let req = req.clone();
        Box::pin(async move {
            let (Some(raw), Some(state)) = (token, state) else {
                return Ok(Self::Guest);
            };
            if token::peek(&raw).is_none() {
                return Ok(Self::Guest);
            }
            // Finding the token's record is a read by id: short and bounded.
            let schema = state.schema.snapshot();
            let auth = crate::http::short_read(&state, move |c| {
                Self::resolve(c, &schema, &raw, KIND_AUTH)
            })
            .await?;
            if let Some(who) = auth.identity() {
                req.extensions_mut().insert(who);
            }
            req.extensions_mut().insert(Resolved(auth.clone()));
            Ok(auth)
        })
    }
}
