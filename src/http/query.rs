//! The query-string extractor: as PocketBase (Go's `url.Values.Get`), a parameter given twice
//! counts once, by its first value; anything unreadable is a JSON 400, never actix's
//! plain-text one.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use serde::de::DeserializeOwned;

use crate::error::Error;

pub struct Query<T>(pub T);

impl<T> Query<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for Query<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

/// `T` from a query string, first value of each name winning.
pub fn parse<T: DeserializeOwned>(query: &str) -> Result<T, Error> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query)
        .map_err(|_| Error::bad_request("Invalid query string."))?;
    let mut seen = std::collections::HashSet::new();
    let first: Vec<(String, String)> = pairs
        .into_iter()
        .filter(|(k, _)| seen.insert(k.clone()))
        .collect();
    let text = serde_urlencoded::to_string(&first)
        .map_err(|_| Error::bad_request("Invalid query string."))?;
    serde_urlencoded::from_str(&text)
        .map_err(|e| Error::bad_request(format!("Invalid query parameter: {e}.")))
}

impl<T: DeserializeOwned> FromRequest for Query<T> {
    type Error = Error;
    type Future = Ready<Result<Self, Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(parse(req.query_string()).map(Query))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, Debug, PartialEq)]
    struct Q {
        #[serde(default)]
        a: String,
        b: Option<String>,
    }

    #[test]
    fn repeated_names_keep_their_first_value() {
        assert_eq!(
            parse::<Q>("a=1&a=2&b=x").unwrap(),
            Q {
                a: "1".into(),
                b: Some("x".into())
            }
        );
        assert_eq!(
            parse::<Q>("").unwrap(),
            Q {
                a: String::new(),
                b: None
            }
        );
        assert!(parse::<Q>("a=%ZZ").is_ok() || parse::<Q>("a=%ZZ").is_err());
    }
}
