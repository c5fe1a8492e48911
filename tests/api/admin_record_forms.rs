//! The admin UI's record forms: every field type saved and read back through the API, errors
//! shown next to their fields, and uploads kept, added and removed with plain multipart forms.

use reqwest::Method;
use serde_json::{Value, json};

use crate::admin_pages::{api_record, post, posts};
use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, location, spawn_app};

#[tokio::test]
async fn record_forms_save_every_field_type_and_show_errors_next_to_fields() {
    let app = spawn_app().await;
    let (browser, csrf) = app.admin_browser().await;
    posts(&app).await;
    let token = app.token_for(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let ann = app
        .call(
            Method::POST,
            "/api/collections/users/records",
            Some(json!({"email": "ann@example.com", "password": "password123", "passwordConfirm": "password123", "name": "Ann"})),
            Some(&token),
        )
        .await
        .1;
    let ann_id = ann["id"].as_str().unwrap();

    // The form offers Ann in the relation picker, labelled by a name-like field.
    let form = browser
        .get(app.url("/_/collections/posts/records/new"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        form.contains(&format!(r#"<option value="{ann_id}">"#)),
        "relation picker"
    );
    assert!(
        form.contains(r#"type="datetime-local""#) && form.contains(r#"type="number" step="1""#)
    );

    // Unreadable input: the form comes back with what was typed and the errors in place.
    let res = post(
        &browser,
        app.url("/_/collections/posts/records/new"),
        &[
            ("csrf", &csrf),
            ("title", "kept text"),
            ("views", "many"),
            ("meta", "{broken"),
        ],
    )
    .await;
    assert_eq!(res.status(), 400);
    let html = res.text().await.unwrap();
    assert!(html.contains(r#"<p class="field-error" id="e-views">Must be a number.</p>"#));
    assert!(html.contains(r#"<p class="field-error" id="e-meta">Must be valid JSON.</p>"#));
    assert!(html.contains(r#"value="kept text""#));

    // The record service's own validation: required title, too-long title.
    let long = "x".repeat(101);
    for (title, message) in [("", "Cannot be blank."), (long.as_str(), "100")] {
        let res = post(
            &browser,
            app.url("/_/collections/posts/records/new"),
            &[("csrf", &csrf), ("title", title)],
        )
        .await;
        assert_eq!(res.status(), 400);
        let html = res.text().await.unwrap();
        let at = html
            .find(r#"id="e-title""#)
            .expect("error next to the title");
        assert!(
            html[at..at + 200].contains(message),
            "{}",
            &html[at..at + 200]
        );
    }

    // Every type saved.
    let res = post(
        &browser,
        app.url("/_/collections/posts/records/new"),
        &[
            ("csrf", &csrf),
            ("title", "Hello"),
            ("views", "42"),
            ("published", "true"),
            ("tags", "a"),
            ("tags", "c"),
            ("meta", r#"{"k": [1, 2]}"#),
            ("when", "2024-05-01T10:20"),
            ("author", ann_id),
        ],
    )
    .await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/_/collections/posts/records");
    let flash = browser
        .get(app.url("/_/collections/posts/records"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(flash.contains(r#"role="status""#) && flash.contains("created."));
    let listed: Value = app
        .get("/api/collections/posts/records?filter=title%3D%27Hello%27")
        .await
        .json()
        .await
        .unwrap();
    let saved = &listed["items"][0];
    assert_eq!(saved["views"], 42);
    assert_eq!(saved["published"], true);
    assert_eq!(saved["tags"], json!(["a", "c"]));
    assert_eq!(saved["meta"], json!({"k": [1, 2]}));
    assert_eq!(saved["when"], "2024-05-01 10:20:00.000Z");
    assert_eq!(saved["author"], ann_id);

    // Editing shows the stored values and an unticked checkbox saves false.
    let id = saved["id"].as_str().unwrap();
    let edit = browser
        .get(app.url(&format!("/_/collections/posts/records/{id}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(edit.contains(r#"value="2024-05-01T10:20:00.000""#));
    assert!(edit.contains(r#"<option value="c" selected>"#));
    let res = post(
        &browser,
        app.url(&format!("/_/collections/posts/records/{id}")),
        &[
            ("csrf", &csrf),
            ("title", "Hello again"),
            ("views", "43"),
            ("tags", "b"),
        ],
    )
    .await;
    assert_eq!(res.status(), 303);
    let record = api_record(&app, "posts", id).await;
    assert_eq!(record["title"], "Hello again");
    assert_eq!(record["published"], false);
    assert_eq!(record["tags"], json!(["b"]));
    assert_eq!(record["author"], "");

    // Delete.
    let res = post(
        &browser,
        app.url(&format!("/_/collections/posts/records/{id}/delete")),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(res.status(), 303);
    let gone = app
        .call(
            Method::GET,
            &format!("/api/collections/posts/records/{id}"),
            None,
            Some(&token),
        )
        .await;
    assert_eq!(gone.0, 404);
}

#[tokio::test]
async fn record_forms_upload_keep_and_remove_files() {
    use reqwest::multipart::{Form as Multipart, Part};
    let app = spawn_app().await;
    let (browser, csrf) = app.admin_browser().await;
    let token = app.token_for(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let (status, body) = app
        .call(
            Method::POST,
            "/api/collections",
            Some(json!({
                "name": "docs", "listRule": "", "viewRule": "",
                "fields": [
                    {"name": "title", "type": "text"},
                    {"name": "cover", "type": "file", "maxSelect": 1, "mimeTypes": ["image/png"]},
                    {"name": "papers", "type": "file", "maxSelect": 3}
                ]
            })),
            Some(&token),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let form = browser
        .get(app.url("/_/collections/docs/records/new"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(form.contains(r#"enctype="multipart/form-data""#));
    assert!(form.contains(r#"name="papers+" type="file" multiple"#));
    assert!(form.contains(r#"accept="image/png""#));

    // Create with a cover and two papers; the untouched inputs of a browser are empty parts.
    let png = crate::files::png(8, 8);
    let create = Multipart::new()
        .text("csrf", csrf.clone())
        .text("title", "first")
        .part("cover", Part::bytes(png.clone()).file_name("cover.png"))
        .part("papers+", Part::bytes(b"one".to_vec()).file_name("a.txt"))
        .part("papers+", Part::bytes(b"two".to_vec()).file_name("b.txt"));
    let res = browser
        .post(app.url("/_/collections/docs/records/new"))
        .multipart(create)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    let (_, list) = app
        .call(Method::GET, "/api/collections/docs/records", None, None)
        .await;
    let record = &list["items"][0];
    let id = record["id"].as_str().unwrap().to_owned();
    let cover = record["cover"].as_str().unwrap().to_owned();
    assert!(cover.starts_with("cover_") && cover.ends_with(".png"));
    assert_eq!(record["papers"].as_array().unwrap().len(), 2);

    // The table shows the cover's thumbnail; the form lists the files with remove boxes.
    let table = browser
        .get(app.url("/_/collections/docs/records"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(table.contains(&format!("/api/files/docs/{id}/{cover}?thumb=100x100")));
    let edit = browser
        .get(app.url(&format!("/_/collections/docs/records/{id}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(edit.contains(&format!(r#"name="cover-" value="{cover}""#)));

    // Saving with untouched file inputs keeps every file.
    let untouched = Multipart::new()
        .text("csrf", csrf.clone())
        .text("title", "renamed")
        .part("cover", Part::bytes(Vec::new()).file_name(""))
        .part("papers+", Part::bytes(Vec::new()).file_name(""));
    let res = browser
        .post(app.url(&format!("/_/collections/docs/records/{id}")))
        .multipart(untouched)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    let (_, kept) = app
        .call(
            Method::GET,
            &format!("/api/collections/docs/records/{id}"),
            None,
            None,
        )
        .await;
    assert_eq!(kept["title"], "renamed");
    assert_eq!(kept["cover"], cover.as_str());
    assert_eq!(kept["papers"].as_array().unwrap().len(), 2);

    // Ticking "Remove" removes; a wrong type is refused next to the field.
    let first_paper = kept["papers"][0].as_str().unwrap().to_owned();
    let remove = Multipart::new()
        .text("csrf", csrf.clone())
        .text("title", "renamed")
        .text("papers-", first_paper.clone())
        .part("cover", Part::bytes(Vec::new()).file_name(""))
        .part("papers+", Part::bytes(Vec::new()).file_name(""));
    let res = browser
        .post(app.url(&format!("/_/collections/docs/records/{id}")))
        .multipart(remove)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let (_, after) = app
        .call(
            Method::GET,
            &format!("/api/collections/docs/records/{id}"),
            None,
            None,
        )
        .await;
    assert_eq!(after["papers"].as_array().unwrap().len(), 1);
    assert_ne!(after["papers"][0], first_paper.as_str());
    let wrong = Multipart::new()
        .text("csrf", csrf.clone())
        .text("title", "renamed")
        .part(
            "cover",
            Part::bytes(b"not a png".to_vec()).file_name("x.txt"),
        )
        .part("papers+", Part::bytes(Vec::new()).file_name(""));
    let res = browser
        .post(app.url(&format!("/_/collections/docs/records/{id}")))
        .multipart(wrong)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains(r#"id="e-cover""#));
    // A forged token changes nothing, and leaves no file behind.
    let forged = Multipart::new()
        .text("csrf", "forged")
        .part("papers+", Part::bytes(b"x".to_vec()).file_name("c.txt"));
    let res = browser
        .post(app.url(&format!("/_/collections/docs/records/{id}")))
        .multipart(forged)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
}

/// A geoPoint field: added with the collection form, edited as a longitude and a latitude,
/// its range errors shown next to it, and unreadable numbers refused before any save.
#[tokio::test]
async fn a_point_is_edited_as_longitude_and_latitude() {
    let app = spawn_app().await;
    let (browser, csrf) = app.admin_browser().await;
    let new_collection = browser
        .get(app.url("/_/collections/new"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(new_collection.contains(r#"<option value="geoPoint">geoPoint</option>"#));
    let res = post(
        &browser,
        app.url("/_/collections/new"),
        &[
            ("csrf", &csrf),
            ("name", "spots"),
            ("type", "base"),
            ("field_count", "2"),
            ("f0.name", "title"),
            ("f0.type", "text"),
            ("f1.name", "place"),
            ("f1.type", "geoPoint"),
            ("f1.required", "true"),
        ],
    )
    .await;
    assert_eq!(res.status(), 303);
    let token = app.token_for(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let spots = app
        .call(Method::GET, "/api/collections/spots", None, Some(&token))
        .await
        .1;
    let place = spots["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "place")
        .unwrap()
        .clone();
    assert_eq!(
        (&place["type"], &place["required"]),
        (&json!("geoPoint"), &json!(true))
    );

    let form = browser
        .get(app.url("/_/collections/spots/records/new"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(form.contains(r#"name="place.lon" type="number" step="any" min="-180" max="180""#));
    assert!(form.contains(r#"name="place.lat" type="number" step="any" min="-90" max="90""#));

    for (lon, lat, status, message) in [
        (
            "200",
            "1",
            400,
            "Longitude must be between -180 and 180 degrees.",
        ),
        ("0", "", 400, "Cannot be blank."),
        ("east", "1", 400, "Longitude and latitude must be numbers."),
    ] {
        let res = post(
            &browser,
            app.url("/_/collections/spots/records/new"),
            &[
                ("csrf", &csrf),
                ("title", "bad"),
                ("place.lon", lon),
                ("place.lat", lat),
            ],
        )
        .await;
        assert_eq!(res.status(), status, "{lon} {lat}");
        let html = res.text().await.unwrap();
        let at = html
            .find(r#"id="e-place""#)
            .expect("the error next to the point");
        assert!(
            html[at..at + 120].contains(message),
            "{}",
            &html[at..at + 120]
        );
        assert!(html.contains(&format!(
            r#"name="place.lon" type="number" step="any" min="-180" max="180" value="{lon}""#
        )));
    }

    let res = post(
        &browser,
        app.url("/_/collections/spots/records/new"),
        &[
            ("csrf", &csrf),
            ("title", "pier"),
            ("place.lon", "-3.25"),
            ("place.lat", "12.5"),
        ],
    )
    .await;
    assert_eq!(res.status(), 303);
    let listed: Value = app
        .get(
            "/api/collections/spots/records?filter=geoDistance(place.lon,place.lat,-3.25,12.5)%3C1",
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        listed["totalItems"],
        Value::Null,
        "{listed}: spots is superusers only"
    );
    let found = app
        .call(
            Method::GET,
            "/api/collections/spots/records?filter=geoDistance(place.lon,place.lat,-3.25,12.5)%3C1",
            None,
            Some(&token),
        )
        .await
        .1;
    assert_eq!(
        found["items"][0]["place"],
        json!({"lon": -3.25, "lat": 12.5})
    );
    let id = found["items"][0]["id"].as_str().unwrap();
    let edit = browser
        .get(app.url(&format!("/_/collections/spots/records/{id}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        edit.contains(r#"min="-180" max="180" value="-3.25""#),
        "the stored longitude"
    );
    assert!(
        edit.contains(r#"min="-90" max="90" value="12.5""#),
        "the stored latitude"
    );
}
