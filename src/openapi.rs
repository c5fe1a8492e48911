//! OpenAPI 3.1 for the live schema (`GET /api/openapi.json`, `hearth openapi`): every
//! collection's record routes with request and response schemas built from its fields,
//! the auth routes of auth collections, and the error shape every route shares. Built from
//! the in-memory schema snapshot, so it follows every collection change at once.

use serde_json::{Map, Value, json};

use crate::schema::{Collection, Field, FieldKind, Snapshot};

const ERROR_REF: &str = "#/components/responses/Error";

/// Collections documented: every non-system one, plus `users`.
fn documented(c: &Collection) -> bool {
    !c.system || c.name == "users"
}

/// A JSON-schema-safe component name for a collection (`posts` -> `Posts`).
fn component(c: &Collection) -> String {
    let mut out = String::new();
    let mut upper = true;
    for ch in c.name.chars() {
        if ch == '_' {
            upper = true;
        } else if upper {
            out.extend(ch.to_uppercase());
            upper = false;
        } else {
            out.push(ch);
        }
    }
    if out.is_empty() {
        "Collection".into()
    } else {
        out
    }
}

fn many(item: Value, max: u64) -> Value {
    let mut schema = json!({"type": "array", "items": item});
    if max > 0 {
        schema["maxItems"] = json!(max);
    }
    schema
}

/// The JSON schema of a field's value as records show it.
fn value_schema(f: &Field) -> Value {
    match &f.kind {
        FieldKind::Text(_) | FieldKind::Editor(_) | FieldKind::Url(_) => json!({"type": "string"}),
        FieldKind::Email(_) => json!({"type": "string"}),
        FieldKind::Password(_) => json!({"type": "string"}),
        FieldKind::Date(_) | FieldKind::Autodate(_) => {
            json!({"type": "string", "description": "UTC, `YYYY-MM-DD HH:MM:SS.sssZ`, or \"\""})
        }
        FieldKind::Number(_) => json!({"type": "number"}),
        FieldKind::Bool(_) => json!({"type": "boolean"}),
        FieldKind::Json(_) => json!({}),
        FieldKind::GeoPoint(_) => json!({
            "type": "object", "required": ["lon", "lat"],
            "properties": {"lon": {"type": "number"}, "lat": {"type": "number"}},
            "description": "a point; {\"lon\": 0, \"lat\": 0} when unset",
        }),
        FieldKind::Select(s) => {
            let one = json!({"type": "string"});
            if f.is_multiple() {
                many(one, s.max_select)
            } else {
                one
            }
        }
        FieldKind::Relation(r) => {
            let one = json!({"type": "string", "description": "a record id"});
            if f.is_multiple() {
                many(one, r.max_select)
            } else {
                one
            }
        }
        FieldKind::File(o) => {
            let one = json!({"type": "string", "description": "a file name"});
            if f.is_multiple() {
                many(one, o.max_select)
            } else {
                one
            }
        }
    }
}

/// The schema of a value a client may send, with the field's limits as hints.
fn input_schema(f: &Field) -> Value {
    let mut schema = value_schema(f);
    match &f.kind {
        FieldKind::Text(t) => {
            if t.max > 0 {
                schema["maxLength"] = json!(t.max);
            }
            if t.min > 0 {
                schema["minLength"] = json!(t.min);
            }
        }
        FieldKind::Number(n) => {
            if let Some(min) = n.min {
                schema["minimum"] = crate::records::output::number(min);
            }
            if let Some(max) = n.max {
                schema["maximum"] = crate::records::output::number(max);
            }
        }
        FieldKind::Select(s) if !f.is_multiple() => {
            schema["enum"] = json!(s.values);
        }
        FieldKind::Email(_) => schema["format"] = json!("email"),
        FieldKind::GeoPoint(_) => {
            let range = |limit: i64| json!({"type": "number", "minimum": -limit, "maximum": limit});
            schema = json!({"anyOf": [
                {"type": "object", "properties": {"lon": range(180), "lat": range(90)}},
                {"type": "string", "description": "the same object as JSON text (forms send it so)"},
            ]});
        }
        _ => {}
    }
    schema
}

fn record_schema(c: &Collection) -> Value {
    let mut props = Map::new();
    props.insert("collectionId".into(), json!({"type": "string"}));
    props.insert("collectionName".into(), json!({"type": "string"}));
    props.insert(
        "expand".into(),
        json!({"type": "object", "description": "related records asked for with `expand`"}),
    );
    for f in c.fields.iter().filter(|f| !f.hidden) {
        props.insert(f.name.clone(), value_schema(f));
    }
    json!({"type": "object", "properties": props})
}

fn body_schema(c: &Collection, creating: bool) -> Value {
    let mut props = Map::new();
    let mut required = Vec::new();
    for f in &c.fields {
        let server_set =
            matches!(f.kind, FieldKind::Autodate(_)) || (c.is_auth() && f.name == "tokenKey");
        if server_set || (f.hidden && !matches!(f.kind, FieldKind::Password(_))) {
            continue;
        }
        if f.name == "id" && !creating {
            continue;
        }
        props.insert(f.name.clone(), input_schema(f));
        if creating && f.required() && f.name != "id" {
            required.push(f.name.clone());
        }
    }
    if c.is_auth() {
        props.insert("passwordConfirm".into(), json!({"type": "string"}));
        if !creating {
            props.insert("oldPassword".into(), json!({"type": "string"}));
        }
    }
    let mut schema = json!({"type": "object", "properties": props});
    if !required.is_empty() {
        schema["required"] = json!(required);
    }
    schema
}

/// The multipart form of a create or update body: file fields take uploads (or the names
/// of files the record keeps), everything else as in JSON.
fn form_schema(c: &Collection, creating: bool) -> Value {
    let mut schema = body_schema(c, creating);
    for f in &c.fields {
        if let FieldKind::File(o) = &f.kind
            && let Some(props) = schema["properties"].as_object_mut()
        {
            let upload = json!({"type": "string", "format": "binary"});
            props.insert(
                f.name.clone(),
                if f.is_multiple() {
                    many(upload, o.max_select)
                } else {
                    upload
                },
            );
        }
    }
    schema
}

fn has_files(c: &Collection) -> bool {
    c.fields
        .iter()
        .any(|f| matches!(f.kind, FieldKind::File(_)))
}

/// `/api/files`: file tokens and serving.
fn file_paths(paths: &mut Map<String, Value>) {
    paths.insert(
        "/api/files/token".into(),
        json!({"post": {
            "tags": ["files"], "summary": "A short-lived token for protected files",
            "operationId": "fileToken",
            "responses": errors(Map::from_iter([("200".to_owned(), json!({"description": "The token", "content": {"application/json": {"schema": {
                "type": "object", "required": ["token"], "properties": {"token": {"type": "string"}}
            }}}}))])),
        }}),
    );
    let path = |name: &str, description: &str| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}, "description": description});
    paths.insert(
        "/api/files/{collection}/{recordId}/{filename}".into(),
        json!({"get": {
            "tags": ["files"], "summary": "A record's file, or a thumbnail of it",
            "operationId": "file",
            "parameters": [
                path("collection", "collection name or id"),
                path("recordId", "record id"),
                path("filename", "a file name the record holds"),
                query("thumb", json!({"type": "string"}), "`WxH`, `WxHt`, `WxHb`, `WxHf`, `0xH` or `Wx0`: 100x100 or a size the field lists"),
                query("download", json!({"type": "string"}), "`1` or `true`: served as an attachment"),
                query("token", json!({"type": "string"}), "a file token, for protected files"),
            ],
            "responses": errors(Map::from_iter([("200".to_owned(), json!({"description": "The file (Range requests answer 206)", "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}}}))])),
            "security": [],
        }}),
    );
}

fn query(name: &str, schema: Value, description: &str) -> Value {
    json!({"name": name, "in": "query", "required": false, "schema": schema, "description": description})
}

fn id_param() -> Value {
    json!({"name": "id", "in": "path", "required": true, "schema": {"type": "string"}})
}

fn shape_params() -> Vec<Value> {
    vec![
        query(
            "expand",
            json!({"type": "string"}),
            "relations to expand: `author,comments_via_post`",
        ),
        query(
            "fields",
            json!({"type": "string"}),
            "fields to return: `id,title,expand.author.name`",
        ),
    ]
}

fn ok_json(schema_ref: &str) -> Value {
    json!({"description": "OK", "content": {"application/json": {"schema": {"$ref": schema_ref}}}})
}

fn errors(mut responses: Map<String, Value>) -> Value {
    responses.insert("default".into(), json!({"$ref": ERROR_REF}));
    Value::Object(responses)
}

fn record_paths(c: &Collection, paths: &mut Map<String, Value>, schemas: &mut Map<String, Value>) {
    let name = component(c);
    schemas.insert(format!("{name}Record"), record_schema(c));
    schemas.insert(
        format!("{name}List"),
        json!({
            "type": "object",
            "required": ["page", "perPage", "totalItems", "totalPages", "items"],
            "properties": {
                "page": {"type": "integer"},
                "perPage": {"type": "integer"},
                "totalItems": {"type": "integer"},
                "totalPages": {"type": "integer"},
                "items": {"type": "array", "items": {"$ref": format!("#/components/schemas/{name}Record")}}
            }
        }),
    );
    let record_ref = format!("#/components/schemas/{name}Record");
    let tag = c.name.clone();
    let mut list_params = vec![
        query(
            "page",
            json!({"type": "integer", "minimum": 1}),
            "page number, from 1",
        ),
        query(
            "perPage",
            json!({"type": "integer", "minimum": 1, "maximum": 1000}),
            "records per page (30)",
        ),
        query("sort", json!({"type": "string"}), "`-created,title`"),
        query(
            "filter",
            json!({"type": "string"}),
            "PocketBase filter: `title ~ 'x' && views > 10`",
        ),
        query(
            "skipTotal",
            json!({"type": "boolean"}),
            "skip counting (totals are -1)",
        ),
    ];
    if !crate::schema::fts::fields(c).is_empty() {
        list_params.push(query(
            "search",
            json!({"type": "string"}),
            "words to find in the searchable fields, best matches first",
        ));
    }
    list_params.extend(shape_params());
    let base = format!("/api/collections/{}/records", c.name);
    let mut item = Map::new();
    let mut collection = Map::new();
    collection.insert(
        "get".into(),
        json!({
            "tags": [tag], "summary": format!("List {} records", c.name),
            "operationId": format!("list{name}"),
            "parameters": list_params,
            "responses": errors(Map::from_iter([(
                "200".to_owned(),
                ok_json(&format!("#/components/schemas/{name}List")),
            )])),
        }),
    );
    item.insert(
        "get".into(),
        json!({
            "tags": [tag], "summary": format!("View a {} record", c.name),
            "operationId": format!("view{name}"),
            "parameters": shape_params(),
            "responses": errors(Map::from_iter([("200".to_owned(), ok_json(&record_ref))])),
        }),
    );
    if !c.is_view() {
        for (method, creating, op) in [("post", true, "create"), ("patch", false, "update")] {
            let mut body = json!({
                "required": creating,
                "content": {"application/json": {"schema": body_schema(c, creating)}}
            });
            if has_files(c) {
                body["content"]["multipart/form-data"] =
                    json!({"schema": form_schema(c, creating)});
            }
            let doc = json!({
                "tags": [tag],
                "summary": format!("{} a {} record", if creating { "Create" } else { "Update" }, c.name),
                "operationId": format!("{op}{name}"),
                "parameters": shape_params(),
                "requestBody": body,
                "responses": errors(Map::from_iter([("200".to_owned(), ok_json(&record_ref))])),
            });
            if creating {
                collection.insert(method.into(), doc);
            } else {
                item.insert(method.into(), doc);
            }
        }
        item.insert(
            "delete".into(),
            json!({
                "tags": [tag], "summary": format!("Delete a {} record", c.name),
                "operationId": format!("delete{name}"),
                "responses": errors(Map::from_iter([("204".to_owned(), json!({"description": "Deleted"}))])),
            }),
        );
    }
    for op in item.values_mut() {
        if let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) {
            params.insert(0, id_param());
        } else {
            op["parameters"] = json!([id_param()]);
        }
    }
    paths.insert(base.clone(), Value::Object(collection));
    paths.insert(format!("{base}/{{id}}"), Value::Object(item));
    if c.is_auth() {
        auth_paths(c, &name, paths);
    }
}

/// An operation whose flat body may come in any of the three encodings PocketBase binds.
fn post_json(tag: &str, summary: &str, op: &str, schema: Value, ok: Value) -> Value {
    json!({
        "tags": [tag], "summary": summary, "operationId": op,
        "requestBody": {"required": true, "content": {
            "application/json": {"schema": schema},
            "application/x-www-form-urlencoded": {"schema": schema},
            "multipart/form-data": {"schema": schema},
        }},
        "responses": errors(Map::from_iter([(ok["code"].as_str().unwrap_or("200").to_owned(), ok["response"].clone())])),
    })
}

fn auth_paths(c: &Collection, name: &str, paths: &mut Map<String, Value>) {
    let base = format!("/api/collections/{}", c.name);
    let tag = c.name.as_str();
    let auth_ok = json!({"code": "200", "response": {
        "description": "Signed in",
        "content": {"application/json": {"schema": {
            "type": "object", "required": ["token", "record"],
            "properties": {"token": {"type": "string"}, "record": {"$ref": format!("#/components/schemas/{name}Record")}}
        }}}
    }});
    let no_content = json!({"code": "204", "response": {"description": "Done"}});
    let strings = |keys: &[&str]| {
        let props: Map<String, Value> = keys
            .iter()
            .map(|k| ((*k).to_owned(), json!({"type": "string"})))
            .collect();
        json!({"type": "object", "required": keys, "properties": props})
    };
    paths.insert(
        format!("{base}/auth-with-password"),
        json!({"post": post_json(tag, "Sign in with identity and password", &format!("authWithPassword{name}"),
            strings(&["identity", "password"]), auth_ok.clone())}),
    );
    paths.insert(
        format!("{base}/auth-refresh"),
        json!({"post": {
            "tags": [tag], "summary": "A new token for the signed-in record",
            "operationId": format!("authRefresh{name}"),
            "responses": errors(Map::from_iter([("200".to_owned(), auth_ok["response"].clone())])),
        }}),
    );
    paths.insert(
        format!("{base}/auth-methods"),
        json!({"get": {
            "tags": [tag], "summary": "Sign-in methods", "operationId": format!("authMethods{name}"),
            "responses": errors(Map::from_iter([("200".to_owned(), json!({"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}}))])),
        }}),
    );
    for (route, summary, op, keys) in [
        (
            "request-verification",
            "Mail a verification link",
            "requestVerification",
            &["email"][..],
        ),
        (
            "confirm-verification",
            "Confirm an email address",
            "confirmVerification",
            &["token"][..],
        ),
        (
            "request-password-reset",
            "Mail a password-reset link",
            "requestPasswordReset",
            &["email"][..],
        ),
        (
            "confirm-password-reset",
            "Set a new password",
            "confirmPasswordReset",
            &["token", "password", "passwordConfirm"][..],
        ),
    ] {
        paths.insert(
            format!("{base}/{route}"),
            json!({"post": post_json(tag, summary, &format!("{op}{name}"), strings(keys), no_content.clone())}),
        );
    }
}

/// The whole document for the current schema.
pub fn document(schema: &Snapshot, app_name: &str) -> Value {
    let mut paths = Map::new();
    let mut schemas = Map::new();
    schemas.insert(
        "Error".into(),
        json!({
            "type": "object", "required": ["data", "message", "status"],
            "properties": {
                "data": {"type": "object", "description": "per-field errors: {field: {code, message}}"},
                "message": {"type": "string"},
                "status": {"type": "integer"}
            }
        }),
    );
    paths.insert(
        "/api/health".into(),
        json!({"get": {
            "tags": ["system"], "summary": "Health check", "operationId": "health",
            "responses": errors(Map::from_iter([("200".to_owned(), json!({"description": "Healthy", "content": {"application/json": {"schema": {
                "type": "object", "required": ["code", "message", "data"],
                "properties": {"code": {"type": "integer"}, "message": {"type": "string"}, "data": {"type": "object"}}
            }}}}))])),
            "security": [],
        }}),
    );
    for c in schema.all().iter().filter(|c| documented(c)) {
        record_paths(c, &mut paths, &mut schemas);
    }
    file_paths(&mut paths);
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": format!("{app_name} API"),
            "version": crate::VERSION,
            "description": "PocketBase-compatible API served by hearth. Generated from the live collections."
        },
        "servers": [{"url": "/"}],
        "security": [{}, {"token": []}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "responses": {
                "Error": {
                    "description": "An error, in PocketBase's shape",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
                }
            },
            "securitySchemes": {
                "token": {
                    "type": "apiKey", "in": "header", "name": "Authorization",
                    "description": "A record or superuser token from auth-with-password (with or without `Bearer `)"
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::field::{NumberField, RelationField, SelectField, TextField};
    use crate::schema::{CollectionType, collection::Rules};

    fn posts() -> Collection {
        let mut tags = Field::new(
            "tags",
            FieldKind::Select(SelectField {
                values: vec!["a".into(), "b".into()],
                max_select: 2,
                ..Default::default()
            }),
        );
        tags.presentable = true;
        Collection {
            id: "pbc_1".into(),
            name: "blog_posts".into(),
            kind: CollectionType::Base,
            system: false,
            fields: vec![
                Field::new("id", FieldKind::Text(TextField::default())),
                Field::new(
                    "title",
                    FieldKind::Text(TextField {
                        required: true,
                        max: 10,
                        ..Default::default()
                    }),
                ),
                Field::new("views", FieldKind::Number(NumberField::default())),
                tags,
                Field::new(
                    "author",
                    FieldKind::Relation(RelationField {
                        max_select: 1,
                        ..Default::default()
                    }),
                ),
            ],
            indexes: vec![],
            rules: Rules {
                list: None,
                view: None,
                create: None,
                update: None,
                delete: None,
            },
            options: Map::new(),
            created: String::new(),
            updated: String::new(),
        }
    }

    #[test]
    fn collections_become_paths_and_schemas() {
        let doc = document(&Snapshot::new(vec![posts()]), "Acme");
        assert_eq!(doc["openapi"], "3.1.0");
        let list = &doc["paths"]["/api/collections/blog_posts/records"];
        assert!(list["get"].is_object() && list["post"].is_object());
        let record = &doc["components"]["schemas"]["BlogPostsRecord"]["properties"];
        assert_eq!(record["views"]["type"], "number");
        assert_eq!(record["tags"]["type"], "array");
        assert_eq!(record["author"]["type"], "string");
        let create = &list["post"]["requestBody"]["content"]["application/json"]["schema"];
        assert_eq!(create["required"], json!(["title"]));
        assert_eq!(create["properties"]["title"]["maxLength"], 10);
    }
}
