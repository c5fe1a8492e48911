//! PocketBase's filter and rule language: lexer -> parser -> SQL with bound parameters.
//! Identifiers are resolved against the schema and quoted only after validation; every
//! literal and every request value becomes a parameter. No HTTP types here.

pub mod lexer;
pub mod parser;
pub mod sort;
pub mod sql;

pub use sql::{RequestInfo, Scope, Trust, compile};

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

/// Parsed expressions kept in memory, at most; past this the memory starts over.
const MAX_PARSED: usize = 1024;

type Parsed = Result<Arc<parser::Expr>, FilterError>;

/// Rules and filters already parsed, by text: a parse depends on the text alone.
static PARSED: LazyLock<Mutex<HashMap<String, Parsed>>> = LazyLock::new(Mutex::default);

/// PocketBase's limit on a filter's length.
pub const MAX_LENGTH: usize = 3500;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilterError {
    /// The text is not a valid expression.
    Syntax(String),
    /// An identifier names no field, collection or request value it may use.
    Unknown(String),
    /// The expression reaches a collection whose records its author may not list.
    Forbidden(String),
}

impl FilterError {
    pub fn syntax(detail: String) -> Self {
        Self::Syntax(detail)
    }
}

impl std::fmt::Display for FilterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Syntax(d) => write!(f, "invalid expression: {d}"),
            Self::Unknown(d) => write!(f, "unknown identifier {d}"),
            Self::Forbidden(c) => {
                write!(f, "the records of {c} can be filtered by superusers only")
            }
        }
    }
}

/// Parses (without compiling) to check that text is a well-formed expression.
pub fn parse(text: &str) -> Result<parser::Expr, FilterError> {
    if text.chars().count() > MAX_LENGTH {
        return Err(FilterError::syntax(format!(
            "longer than {MAX_LENGTH} characters"
        )));
    }
    parser::parse(lexer::tokenize(text)?)
}

/// `text` parsed as a rule or filter, from memory when it was parsed before.
pub fn parsed(text: &str) -> Parsed {
    let lock = || PARSED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(parsed) = lock().get(text) {
        return parsed.clone();
    }
    let parsed = parse(text).map(Arc::new);
    let mut memory = lock();
    if memory.len() >= MAX_PARSED {
        memory.clear();
    }
    memory.insert(text.to_owned(), parsed.clone());
    parsed
}

#[cfg(test)]
mod tests;
