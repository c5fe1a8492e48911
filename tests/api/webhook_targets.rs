//! Where webhooks may point: without `--webhook-allow-private`, loopback, private, link-local
//! and metadata targets are refused when a webhook is saved (API and admin page), and a target
//! that resolves to one is refused again at delivery, before anything is sent.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{notes, spawn_app};
use crate::webhooks::{Receiver, delivery_when};

#[tokio::test]
async fn without_the_flag_private_targets_are_refused_when_saved() {
    let app = spawn_app().await;
    let token = app.superuser_token().await;
    notes(&app, &token).await;
    let create = |url: &str| {
        app.call(
            Method::POST,
            "/api/webhooks",
            Some(json!({"collection": "notes", "events": ["create"], "url": url})),
            Some(&token),
        )
    };

    for url in [
        "http://127.0.0.1:9000/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
        "http://localhost/",
        "http://localhost.:8080/",
        "http://0.0.0.0/",
        "http://10.0.0.1/",
        "http://172.16.5.4/",
        "http://192.168.1.1/",
        "http://100.64.0.1/",
        "http://[fe80::1]/",
        "http://[fd00:ec2::254]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:a9fe:a9fe]/",
        "http://2130706433/",
        "http://metadata.google.internal/computeMetadata/v1/",
    ] {
        let (status, body) = create(url).await;
        assert_eq!(status, 400, "{url}: {body}");
        assert_eq!(body["status"], 400);
        assert_eq!(
            body["data"]["url"]["code"], "validation_url_not_allowed",
            "{url}"
        );
        let message = body["data"]["url"]["message"].as_str().unwrap();
        assert!(message.contains("--webhook-allow-private"), "{message}");
    }
    let (status, body) = create("https://example.com/hooks/hearth").await;
    assert_eq!(status, 200, "a public target is fine: {body}");
    let id = body["id"].as_str().unwrap().to_owned();
    let (status, body) = app
        .call(
            Method::PATCH,
            &format!("/api/webhooks/{id}"),
            Some(json!({"url": "http://169.254.169.254/"})),
            Some(&token),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["data"]["url"]["code"], "validation_url_not_allowed");
    let (_, hook) = app
        .call(
            Method::GET,
            &format!("/api/webhooks/{id}"),
            None,
            Some(&token),
        )
        .await;
    assert_eq!(hook["url"], "https://example.com/hooks/hearth");

    // The admin form shows the same error next to the URL and saves nothing.
    let browser = app.browser();
    app.sign_in_browser(&browser, crate::helpers::ADMIN_PASSWORD)
        .await;
    let page = browser.get(app.url("/_/webhooks")).send().await.unwrap();
    let csrf = crate::helpers::csrf_token(&page.text().await.unwrap());
    let res = browser
        .post(app.url("/_/webhooks"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("collection", "notes"),
            ("event_create", "on"),
            ("url", "http://169.254.169.254/latest/meta-data/"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let html = res.text().await.unwrap();
    assert!(html.contains("169.254.169.254 is a link-local (cloud metadata) address"));
    let (_, list) = app
        .call(Method::GET, "/api/webhooks", None, Some(&token))
        .await;
    assert_eq!(list["totalItems"], 1);
}

#[tokio::test]
async fn without_the_flag_a_target_resolving_to_loopback_is_refused_at_delivery() {
    let app = spawn_app().await;
    let token = app.superuser_token().await;
    notes(&app, &token).await;
    // Listening, so a delivery that got through would be seen.
    let receiver = Receiver::start_on(0, 200).await;
    // Stored as a webhook saved under --webhook-allow-private (or a name whose DNS answer
    // changed since) would be: only the delivery-time check stands between it and the
    // receiver. `localhost` is a name the system resolver answers with 127.0.0.1.
    for url in [
        format!("http://localhost:{}/hook", receiver.port),
        receiver.url(),
    ] {
        app.db
            .data
            .write(|tx| {
                tx.execute(
                    "INSERT INTO _webhooks (collection, events, url)
                     VALUES ((SELECT id FROM _collections WHERE name = 'notes'), '[\"create\"]', ?1)",
                    [&url],
                )?;
                Ok(())
            })
            .unwrap();
    }
    let hooks: Vec<String> = app
        .db
        .data
        .read(|c| {
            let mut stmt = c.prepare("SELECT id FROM _webhooks ORDER BY url DESC")?;
            let ids = stmt
                .query_map([], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            Ok(ids)
        })
        .unwrap();

    let (status, _) = app
        .call(
            Method::POST,
            "/api/collections/notes/records",
            Some(json!({"text": "secret"})),
            None,
        )
        .await;
    assert_eq!(status, 200);

    for hook in &hooks {
        let delivery = delivery_when(&app, &token, hook, "a refusal", |d| {
            d["status"] != "pending"
        })
        .await;
        // Failed at once, not retried: a refusal cannot come out differently next time.
        assert_eq!(delivery["status"], "failed", "{delivery}");
        assert_eq!(delivery["attempts"], 1, "{delivery}");
        let error = delivery["error"].as_str().unwrap();
        assert!(
            // `localhost` may answer ::1 before 127.0.0.1; either is loopback.
            error.starts_with("refused: ") && error.contains(", a loopback address"),
            "{error}"
        );
    }
    // Both deliveries are final (failed, one attempt each): nothing more will be sent.
    assert!(
        receiver.received().is_empty(),
        "nothing reached the receiver"
    );
}
