//! CORS on `/api/` as PocketBase answers it: preflights 204 with the allowed origin, methods
//! and requested headers; answers carry the allowed origin and vary on it; an origin outside
//! `--origins` gets no CORS headers; the admin UI gets none. The default (`*`) is compared
//! header by header with PocketBase 0.40.6.

use reqwest::{Method, Response};

use crate::compat::{pocketbase_bin, start_pocketbase};
use crate::helpers::spawn_app_with;

const PAGE: &str = "http://127.0.0.1:5173";

async fn ask(base: &str, method: Method, path: &str, origin: &str, preflight: bool) -> Response {
    let mut req = crate::helpers::client()
        .request(method, format!("{base}{path}"))
        .header("Origin", origin);
    if preflight {
        req = req.header("Access-Control-Request-Method", "POST").header(
            "Access-Control-Request-Headers",
            "authorization,content-type",
        );
    }
    req.send().await.unwrap()
}

fn header(res: &Response, name: &str) -> Option<String> {
    let values: Vec<&str> = res
        .headers()
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    (!values.is_empty()).then(|| values.join(", "))
}

/// What a browser looks at in a CORS answer.
async fn cors_view(
    base: &str,
    method: Method,
    path: &str,
    origin: &str,
    preflight: bool,
) -> Vec<Option<String>> {
    let res = ask(base, method, path, origin, preflight).await;
    let mut seen = vec![Some(res.status().as_u16().to_string())];
    for name in [
        "access-control-allow-origin",
        "access-control-allow-methods",
        "access-control-allow-headers",
    ] {
        seen.push(header(&res, name));
    }
    seen.push(header(&res, "vary").map(|v| v.contains("Origin").to_string()));
    seen
}

#[tokio::test]
async fn any_origin_is_answered_as_pocketbase_answers_it() {
    let app = spawn_app_with(|_| {}).await;
    let cases = [
        (Method::OPTIONS, "/api/collections/users/records", true),
        (
            Method::OPTIONS,
            "/api/collections/users/auth-with-password",
            true,
        ),
        (Method::OPTIONS, "/api/nope", true),
        (Method::GET, "/api/health", false),
        (Method::GET, "/api/collections/users/records", false),
        (Method::GET, "/api/nope", false),
    ];
    let preflight = cors_view(&app.address, Method::OPTIONS, cases[0].1, PAGE, true).await;
    assert_eq!(preflight[0].as_deref(), Some("204"));
    assert_eq!(preflight[1].as_deref(), Some("*"));
    assert!(preflight[2].as_deref().is_some_and(|m| m.contains("PATCH")));
    assert_eq!(preflight[3].as_deref(), Some("authorization,content-type"));
    let res = ask(&app.address, Method::GET, "/api/health", PAGE, false).await;
    assert_eq!(
        header(&res, "access-control-allow-origin").as_deref(),
        Some("*")
    );
    let exposed = header(&res, "access-control-expose-headers").unwrap_or_default();
    assert!(
        exposed.contains("ETag") && exposed.contains("X-Request-Id"),
        "{exposed}"
    );

    let Some(bin) = pocketbase_bin() else {
        return;
    };
    let pb = start_pocketbase(&bin).await;
    for (method, path, is_preflight) in cases {
        let ours = cors_view(&app.address, method.clone(), path, PAGE, is_preflight).await;
        let theirs = cors_view(&pb.address, method.clone(), path, PAGE, is_preflight).await;
        assert_eq!(ours, theirs, "{method} {path}");
    }
}

#[tokio::test]
async fn only_the_listed_origins_get_cors_headers() {
    let app = spawn_app_with(|c| {
        c.origins = vec![PAGE.into(), "https://*.example.com".into()];
    })
    .await;
    for origin in [PAGE, "https://app.example.com"] {
        let res = ask(&app.address, Method::OPTIONS, "/api/health", origin, true).await;
        assert_eq!(res.status(), 204);
        assert_eq!(
            header(&res, "access-control-allow-origin").as_deref(),
            Some(origin)
        );
        let res = ask(&app.address, Method::GET, "/api/health", origin, false).await;
        assert_eq!(
            header(&res, "access-control-allow-origin").as_deref(),
            Some(origin)
        );
        assert!(header(&res, "vary").is_some_and(|v| v.contains("Origin")));
    }
    for origin in [
        "http://127.0.0.1:5174",
        "https://example.com.evil.test",
        "null",
    ] {
        let res = ask(&app.address, Method::OPTIONS, "/api/health", origin, true).await;
        assert_eq!(res.status(), 204, "{origin}");
        assert_eq!(
            header(&res, "access-control-allow-origin"),
            None,
            "{origin}"
        );
        assert_eq!(
            header(&res, "access-control-allow-methods"),
            None,
            "{origin}"
        );
        // The request itself is served, without CORS headers: the browser refuses it.
        let res = ask(&app.address, Method::GET, "/api/health", origin, false).await;
        assert_eq!(res.status(), 200);
        assert_eq!(
            header(&res, "access-control-allow-origin"),
            None,
            "{origin}"
        );
    }
}

#[tokio::test]
async fn the_admin_ui_gets_no_cors_and_streams_do() {
    let app = spawn_app_with(|_| {}).await;
    let res = ask(&app.address, Method::GET, "/_/login", PAGE, false).await;
    assert_eq!(header(&res, "access-control-allow-origin"), None);
    let res = ask(&app.address, Method::OPTIONS, "/_/login", PAGE, true).await;
    assert_eq!(header(&res, "access-control-allow-origin"), None);
    // The realtime stream's headers come before its first event.
    let res = ask(&app.address, Method::GET, "/api/realtime", PAGE, false).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        header(&res, "access-control-allow-origin").as_deref(),
        Some("*")
    );
}
