//! `GET /api/openapi.json` and `hearth openapi`: an OpenAPI 3.1 document of the live schema,
//! checked with the Python `openapi-spec-validator` (a missing validator fails the test
//! unless `HEARTH_SKIP=openapi`). `.ci/run` also fuzzes the server from it with schemathesis.

use std::process::Command;

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Tool, spawn_app};

/// Runs openapi-spec-validator on `doc`; false when it is missing and `HEARTH_SKIP` names it.
fn validate(doc: &Value) -> bool {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("openapi.json");
    std::fs::write(&path, doc.to_string()).unwrap();
    let script = format!(
        "import json, openapi_spec_validator as v; v.validate(json.load(open({:?})))",
        path.display().to_string()
    );
    let out = Command::new("python3").args(["-c", &script]).output();
    match out {
        Ok(o) if o.status.success() => true,
        Ok(o) if String::from_utf8_lossy(&o.stderr).contains("ModuleNotFoundError") => {
            Tool::OpenApi.missing("python3 cannot import openapi_spec_validator");
            false
        }
        Ok(o) => panic!(
            "invalid OpenAPI document: {}",
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => {
            Tool::OpenApi.missing(&format!("python3 does not run: {e}"));
            false
        }
    }
}

#[tokio::test]
async fn the_document_follows_the_live_schema_and_validates() {
    let app = spawn_app().await;
    let token = app.superuser_token().await;
    let (status, _) = app.call(Method::GET, "/api/openapi.json", None, None).await;
    assert_eq!(
        status, 401,
        "it names every collection and field: superusers only"
    );

    let (status, before) = app
        .call(Method::GET, "/api/openapi.json", None, Some(&token))
        .await;
    assert_eq!(status, 200);
    assert_eq!(before["openapi"], "3.1.0");
    assert!(before["paths"]["/api/collections/users/auth-with-password"]["post"].is_object());
    assert!(before["paths"]["/api/collections/notes/records"].is_null());

    let (status, _) = app
        .call(
            Method::POST,
            "/api/collections",
            Some(json!({
                "name": "notes", "listRule": "",
                "fields": [
                    {"name": "text", "type": "text", "required": true, "max": 20},
                    {"name": "stars", "type": "number", "min": 0, "max": 5},
                    {"name": "labels", "type": "select", "values": ["a", "b"], "maxSelect": 2},
                    {"name": "secret", "type": "text", "hidden": true},
                    {"name": "place", "type": "geoPoint"}
                ]
            })),
            Some(&token),
        )
        .await;
    assert_eq!(status, 200);
    let (_, after) = app
        .call(Method::GET, "/api/openapi.json", None, Some(&token))
        .await;
    let list = &after["paths"]["/api/collections/notes/records"];
    assert!(list["get"].is_object() && list["post"].is_object());
    let item = &after["paths"]["/api/collections/notes/records/{id}"];
    assert!(item["get"].is_object() && item["patch"].is_object() && item["delete"].is_object());
    let record = &after["components"]["schemas"]["NotesRecord"]["properties"];
    assert_eq!(record["stars"]["type"], "number");
    assert_eq!(record["labels"]["type"], "array");
    assert!(
        record["secret"].is_null(),
        "hidden fields are not documented"
    );
    let create = &list["post"]["requestBody"]["content"]["application/json"]["schema"];
    assert_eq!(create["required"], json!(["text"]));
    assert_eq!(create["properties"]["text"]["maxLength"], 20);
    assert_eq!(create["properties"]["stars"]["maximum"], 5);
    assert_eq!(record["place"]["required"], json!(["lon", "lat"]));
    let place = &create["properties"]["place"]["anyOf"][0]["properties"];
    assert_eq!(
        (&place["lon"]["maximum"], &place["lat"]["minimum"]),
        (&json!(180), &json!(-90))
    );
    validate(&after);

    // The CLI writes the same document.
    let out = app.hearth(&["openapi"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed, after);
}
