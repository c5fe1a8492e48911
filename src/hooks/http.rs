//! `$http.send({url, method, body, data, headers, timeout})`, as PocketBase answers it:
//! `{statusCode, headers: {Name: [values]}, cookies, raw, body: [bytes], json}`. A blocking
//! request on the executor's thread (never an async worker), within the hook's budget.

use std::time::Duration;

use serde_json::{Map, Value, json};

use super::runtime::Js;
use crate::error::{Error, Result};

/// The longest answer read (the whole body is handed to JS).
const MAX_BODY: u64 = 32 * 1024 * 1024;

pub fn send(args: &Value) -> Result<Value> {
    let url = args["url"].as_str().unwrap_or("");
    let method = args["method"]
        .as_str()
        .unwrap_or("GET")
        .to_ascii_uppercase();
    let seconds = args["timeout"]
        .as_f64()
        .filter(|t| *t > 0.0)
        .unwrap_or(120.0);
    let mut timeout = Duration::from_secs_f64(seconds.min(3600.0));
    if let Some(left) = Js::remaining() {
        timeout = timeout.min(left.max(Duration::from_millis(1)));
    }
    let body: Vec<u8> = match &args["data"] {
        Value::Object(data) if !data.is_empty() => serde_json::to_vec(data).unwrap_or_default(),
        _ => match &args["body"] {
            Value::Null => Vec::new(),
            Value::String(text) => text.clone().into_bytes(),
            other => other.to_string().into_bytes(),
        },
    };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .build()
        .into();
    let mut req = ureq::http::Request::builder()
        .method(method.as_str())
        .uri(url);
    for (name, value) in args["headers"].as_object().into_iter().flatten() {
        let value = value
            .as_str()
            .map_or_else(|| value.to_string(), str::to_owned);
        req = req.header(name.as_str(), value);
    }
    let req = req
        .body(body)
        .map_err(|e| Error::bad_request(format!("Invalid $http.send request: {e}")))?;
    let mut res = agent
        .run(req)
        .map_err(|e| Error::bad_request(format!("$http.send to {url} failed: {e}")))?;
    let status = res.status().as_u16();
    let mut headers: Map<String, Value> = Map::new();
    let mut cookies: Map<String, Value> = Map::new();
    for (name, value) in res.headers() {
        let value = value.to_str().unwrap_or("").to_owned();
        let name = canonical(name.as_str());
        if name == "Set-Cookie"
            && let Some((cookie, rest)) = value.split_once('=')
        {
            // Go's http.Cookie, its fields lower-camel-cased as PocketBase's JS sees them.
            let mut parts = rest.split(';');
            let cookie_value = parts.next().unwrap_or("");
            let attribute = |key: &str| {
                rest.split(';')
                    .skip(1)
                    .filter_map(|p| p.split_once('='))
                    .find(|(k, _)| k.trim().eq_ignore_ascii_case(key))
                    .map(|(_, v)| v.trim().to_owned())
                    .unwrap_or_default()
            };
            let flag = |key: &str| {
                rest.split(';')
                    .skip(1)
                    .any(|p| p.trim().eq_ignore_ascii_case(key))
            };
            cookies.insert(
                cookie.trim().to_owned(),
                json!({"name": cookie.trim(), "value": cookie_value, "path": attribute("path"),
                    "domain": attribute("domain"), "raw": value,
                    "httpOnly": flag("httponly"), "secure": flag("secure")}),
            );
        }
        match headers.get_mut(&name) {
            Some(Value::Array(list)) => list.push(json!(value)),
            _ => {
                headers.insert(name, json!([value]));
            }
        }
    }
    let bytes = res
        .body_mut()
        .with_config()
        .limit(MAX_BODY)
        .read_to_vec()
        .map_err(|e| Error::bad_request(format!("$http.send to {url}: reading the answer: {e}")))?;
    let parsed = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice::<Value>(&bytes)
            .ok()
            .filter(|v| v.is_object() || v.is_array())
            .unwrap_or(Value::Null)
    };
    Ok(json!({
        "statusCode": status,
        "headers": headers,
        "cookies": cookies,
        "raw": String::from_utf8_lossy(&bytes),
        "body": bytes,
        "json": parsed,
    }))
}

/// `content-type` as Go's `CanonicalHeaderKey` writes it: `Content-Type`.
fn canonical(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => {
                    first.to_ascii_uppercase().to_string() + &chars.as_str().to_ascii_lowercase()
                }
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

#[cfg(test)]
mod tests {
    #[test]
    fn header_names_are_canonical() {
        assert_eq!(super::canonical("content-type"), "Content-Type");
        assert_eq!(super::canonical("x-request-id"), "X-Request-Id");
        assert_eq!(super::canonical("etag"), "Etag");
    }
}
