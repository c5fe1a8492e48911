//! The one error type of the application and its mapping to PocketBase's JSON error body
//! `{"data":{},"message":"...","status":N}`. Internal faults are logged by the request-id
//! middleware (which sees the request id) and shown to clients only as a generic message.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One invalid input field, as PocketBase reports it under `data`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldError {
    pub code: String,
    pub message: String,
    /// The values the message was built from, where PocketBase reports them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub params: Option<serde_json::Value>,
    /// A failed batch sub-request's own error response.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<serde_json::Value>,
}

impl FieldError {
    pub fn new(code: &str, message: &str) -> Self {
        Self {
            code: code.to_owned(),
            message: message.to_owned(),
            params: None,
            response: None,
        }
    }

    pub fn with_params(mut self, params: serde_json::Value) -> Self {
        self.params = Some(params);
        self
    }

    pub fn required() -> Self {
        Self::new("validation_required", "Cannot be blank.")
    }
}

/// An error on one field, or on the parts of a nested value (`fields.2.name`), as PocketBase
/// nests them under `data`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ErrorTree {
    Leaf(FieldError),
    Branch(FieldErrors),
}

impl From<FieldError> for ErrorTree {
    fn from(e: FieldError) -> Self {
        Self::Leaf(e)
    }
}

impl From<FieldErrors> for ErrorTree {
    fn from(e: FieldErrors) -> Self {
        Self::Branch(e)
    }
}

/// Field name -> error; a BTreeMap so the JSON keys come out sorted, as PocketBase's do.
pub type FieldErrors = BTreeMap<String, ErrorTree>;

impl ErrorTree {
    /// One `path: message` line per error below this one (`fields.2.name: ...`); with an
    /// empty `prefix`, a leaf is just its message.
    pub fn flatten(&self, prefix: &str, out: &mut Vec<String>) {
        match self {
            Self::Leaf(e) if prefix.is_empty() => out.push(e.message.clone()),
            Self::Leaf(e) => out.push(format!("{prefix}: {}", e.message)),
            Self::Branch(children) => {
                for (key, child) in children {
                    let path = if prefix.is_empty() {
                        key.clone()
                    } else {
                        format!("{prefix}.{key}")
                    };
                    child.flatten(&path, out);
                }
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// 400 with per-field details (validation) or none (malformed input).
    #[error("{message}")]
    BadRequest { message: String, data: FieldErrors },
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// A conditional request (If-Match) whose precondition no longer holds.
    #[error("{0}")]
    PreconditionFailed(String),
    #[error("Request entity too large.")]
    PayloadTooLarge,
    #[error("{0}")]
    TooManyRequests(String),
    /// A `rateLimits` rule (the JSON given) refused the request: PocketBase's bare 429.
    #[error("Too Many Requests. (triggered rate limit rule: {0})")]
    RateLimited(String),
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("pool: {0}")]
    Pool(#[from] r2d2::Error),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    /// Too much work already waiting; the client should retry shortly.
    #[error("The server is busy, please try again.")]
    Overloaded,
    /// The request's SQL ran past `--query-timeout` and was stopped: the query asks too
    /// much (a filter joining a large collection with itself), so a retry would not help.
    #[error(
        "The query took longer than the {}s the server allows and was stopped; try a narrower filter.",
        .0.as_secs_f64()
    )]
    QueryTimeout(std::time::Duration),
    /// The request's SQL was stopped because its client went away; nobody reads the answer.
    #[error("The request was cancelled.")]
    Cancelled,
    #[error("{0}")]
    Internal(String),
    /// An `ApiError` a JS hook threw: answered with its own status, message and data.
    #[error("{message}")]
    Thrown {
        status: StatusCode,
        message: String,
        data: serde_json::Value,
    },
}

impl Error {
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::BadRequest {
            message: message.into(),
            data: FieldErrors::new(),
        }
    }

    /// PocketBase's answer when the body cannot be parsed at all.
    pub fn invalid_body() -> Self {
        Self::bad_request("An error occurred while loading the submitted data.")
    }

    /// A validation failure with PocketBase's message for the action (`Failed to create
    /// record.` and the like).
    pub fn invalid(message: &str, data: FieldErrors) -> Self {
        Self::BadRequest {
            message: message.into(),
            data,
        }
    }

    pub fn validation(data: FieldErrors) -> Self {
        Self::BadRequest {
            message: "An error occurred while validating the submitted data.".into(),
            data,
        }
    }

    pub fn not_found() -> Self {
        Self::NotFound("The requested resource wasn't found.".into())
    }

    pub fn internal(detail: impl std::fmt::Display) -> Self {
        Self::Internal(detail.to_string())
    }

    /// The JSON body this error answers with (`{data, message, status}`).
    pub fn body(&self) -> serde_json::Value {
        let empty = FieldErrors::new();
        let data = match self {
            Self::BadRequest { data, .. } => data,
            _ => &empty,
        };
        if let Self::Thrown { data, .. } = self {
            return serde_json::json!({
                "data": data,
                "message": self.public_message(),
                "status": ResponseError::status_code(self).as_u16(),
            });
        }
        serde_json::json!({
            "data": data,
            "message": self.public_message(),
            "status": ResponseError::status_code(self).as_u16(),
        })
    }

    /// True when the disk (or the file-size limit) ran out: the write was not saved, and
    /// will succeed again once there is room.
    pub fn is_disk_full(&self) -> bool {
        match self {
            Self::Sqlite(e) => e.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull),
            Self::Io(e) => e.kind() == std::io::ErrorKind::StorageFull,
            _ => false,
        }
    }

    /// The message a client may see; internal details stay in the log.
    fn public_message(&self) -> String {
        if self.is_disk_full() {
            return "The server's disk is full; the change was not saved. Please try again later."
                .into();
        }
        match self {
            // A pool timeout: the single writer (or every reader) stayed busy; worth a retry.
            Self::Pool(_) => "The server is busy, please try again.".into(),
            Self::Sqlite(_) | Self::Io(_) | Self::Internal(_) => {
                "Something went wrong while processing your request.".into()
            }
            Self::RateLimited(_) => "Too Many Requests.".into(),
            other => other.to_string(),
        }
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    data: &'a FieldErrors,
    message: String,
    status: u16,
}

/// Builds PocketBase's error body for any status; shared by handlers and default services.
pub fn error_response(status: StatusCode, message: String, data: &FieldErrors) -> HttpResponse {
    HttpResponse::build(status).json(ErrorBody {
        data,
        message,
        status: status.as_u16(),
    })
}

impl ResponseError for Error {
    fn status_code(&self) -> StatusCode {
        match self {
            // As PocketBase answers a query its --queryTimeout cancelled.
            Self::BadRequest { .. } | Self::QueryTimeout(_) | Self::Cancelled => {
                StatusCode::BAD_REQUEST
            }
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::TooManyRequests(_) | Self::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Thrown { status, .. } => *status,
            Self::Pool(_) | Self::Overloaded => StatusCode::SERVICE_UNAVAILABLE,
            _ if self.is_disk_full() => StatusCode::INSUFFICIENT_STORAGE,
            Self::Sqlite(_) | Self::Io(_) | Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let Self::Thrown { .. } = self {
            return HttpResponse::build(self.status_code()).json(self.body());
        }
        let empty = FieldErrors::new();
        let data = match self {
            Self::BadRequest { data, .. } => data,
            _ => &empty,
        };
        let mut res = error_response(self.status_code(), self.public_message(), data);
        // When to come back: a busy writer clears in a moment, a spent sign-in limit later.
        // A rule's refusal answers as PocketBase's does, without.
        let retry_after = match self.status_code() {
            StatusCode::SERVICE_UNAVAILABLE => Some("1"),
            StatusCode::INSUFFICIENT_STORAGE => Some("60"),
            StatusCode::TOO_MANY_REQUESTS if !matches!(self, Self::RateLimited(_)) => Some("60"),
            _ => None,
        };
        if let Some(secs) = retry_after {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static(secs));
        }
        res
    }
}

impl From<actix_web::error::BlockingError> for Error {
    fn from(e: actix_web::error::BlockingError) -> Self {
        Self::internal(format!("blocking task failed: {e}"))
    }
}

impl From<askama::Error> for Error {
    fn from(e: askama::Error) -> Self {
        Self::internal(format!("template: {e}"))
    }
}
