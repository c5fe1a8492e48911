//! Attacks on files under owner rules, on local disk and in an S3 bucket: a guest and
//! another signed-in user can neither read an owner's protected files (with or without a
//! file token of their own, whole, as a download or as a thumbnail) nor tell them from
//! files that do not exist, nor replace,
//! append to, remove or delete them (directly, through a create naming the owner's id,
//! or through a batch with files), and nothing they send stays in storage.

use std::time::Duration;

use reqwest::multipart::Form;
use reqwest::{Client, Method};
use serde_json::{Value, json};

use crate::files::{answer, file, png, s, stored};
use crate::helpers::{SuperuserApp, TestApp};
use crate::s3_server::{S3Server, start_s3, weed_bin};

/// Where the files go.
enum Place<'a> {
    Disk,
    Bucket(&'a S3Server),
}

impl Place<'_> {
    /// Every stored file's key (disk: its path under `storage/`).
    async fn keys(&self, app: &TestApp) -> Vec<String> {
        match self {
            Place::Disk => stored(app)
                .into_iter()
                .map(|p| p.display().to_string())
                .collect(),
            Place::Bucket(s3) => s3.keys(&s3.bucket).await,
        }
    }

    /// The keys once they equal `want` (removals after a refused write may run in the
    /// background), or as they are after a few seconds.
    async fn settled(&self, app: &TestApp, want: &[String]) -> Vec<String> {
        let mut keys = self.keys(app).await;
        for _ in 0..50 {
            if keys == want {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            keys = self.keys(app).await;
        }
        keys
    }
}

/// A caller: its token, if signed in.
struct Caller<'a> {
    app: &'a TestApp,
    client: Client,
    token: Option<String>,
}

impl Caller<'_> {
    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let req = self.client.request(method, self.app.url(path));
        match &self.token {
            Some(token) => req.header("Authorization", token),
            None => req,
        }
    }

    async fn form(&self, method: Method, path: &str, form: Form) -> (u16, Value) {
        answer(
            self.request(method, path)
                .multipart(form)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    async fn json(&self, method: Method, path: &str, body: Value) -> (u16, Value) {
        answer(self.request(method, path).json(&body).send().await.unwrap()).await
    }

    async fn get(&self, path: &str) -> (u16, Vec<u8>) {
        let res = self.request(Method::GET, path).send().await.unwrap();
        (res.status().as_u16(), res.bytes().await.unwrap().to_vec())
    }

    /// A file token of its own (none for a guest, who cannot get one).
    async fn file_token(&self) -> String {
        if self.token.is_none() {
            return String::new();
        }
        let (status, body) = self.json(Method::POST, "/api/files/token", json!({})).await;
        assert_eq!(status, 200, "{body}");
        s(&body["token"])
    }
}

async fn setup(place: &Place<'_>) -> SuperuserApp {
    let app = SuperuserApp::spawn().await;
    if let Place::Bucket(s3) = place {
        let (status, body) = app
            .su(
                Method::PATCH,
                "/api/settings",
                Some(json!({"s3": s3.settings(&s3.bucket)})),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, _) = app
        .su(
            Method::PATCH,
            "/api/settings",
            Some(json!({"batch": {"enabled": true, "maxRequests": 10}})),
        )
        .await;
    assert_eq!(status, 200);
    let mine = "owner = @request.auth.id";
    app.collection(json!({
        "name": "private",
        "listRule": mine, "viewRule": mine, "deleteRule": mine,
        "createRule": "@request.auth.id != '' && @request.body.owner = @request.auth.id",
        "updateRule": format!("{mine} && (@request.body.owner:isset = false || \
            @request.body.owner = @request.auth.id)"),
        "fields": [
            {"name": "owner", "type": "relation", "collectionId": "_pb_users_auth_",
             "maxSelect": 1},
            {"name": "pic", "type": "file", "maxSelect": 1, "thumbs": ["10x10"]},
            {"name": "doc", "type": "file", "maxSelect": 1, "protected": true},
            {"name": "scan", "type": "file", "maxSelect": 1, "protected": true,
             "thumbs": ["10x10"]},
            {"name": "attachments", "type": "file", "maxSelect": 5},
        ],
    }))
    .await;
    app
}

async fn attacks(place: Place<'_>) {
    let app = setup(&place).await;
    let signed_in = |token: String| Caller {
        app: &app,
        client: crate::helpers::client(),
        token: Some(token),
    };
    let (alice_id, alice_token) = app
        .sign_up_and_in("alice@example.com", "alice-pass-1")
        .await;
    let (_, bob_token) = app.sign_up_and_in("bob@example.com", "bob-pass-12").await;
    let alice = signed_in(alice_token);
    let bob = signed_in(bob_token);
    let guest = Caller {
        app: &app,
        client: crate::helpers::client(),
        token: None,
    };

    let picture = png(40, 40);
    let form = Form::new()
        .text("owner", alice_id.clone())
        .part("pic", file(picture.clone(), "pic.png"))
        .part("doc", file(b"alice's secret".to_vec(), "doc.txt"))
        .part("scan", file(png(30, 30), "scan.png"))
        .part("attachments", file(b"one".to_vec(), "a.txt"))
        .part("attachments", file(b"two".to_vec(), "b.txt"));
    let (status, rec) = alice
        .form(Method::POST, "/api/collections/private/records", form)
        .await;
    assert_eq!(status, 200, "{rec}");
    let id = s(&rec["id"]);
    let record = format!("/api/collections/private/records/{id}");
    let url = |name: &Value| format!("/api/files/private/{id}/{}", s(name));
    let kept = place.keys(&app).await;
    assert_eq!(kept.len(), 5, "{kept:?}");

    // Files not marked protected are anyone's who knows their unguessable name, as in
    // PocketBase (its download route checks the view rule for protected files only).
    assert_eq!(guest.get(&url(&rec["pic"])).await, (200, picture.clone()));

    // What a file that does not exist answers: an owner's protected file must answer the
    // same, whoever asks.
    let (missing_status, missing) = guest
        .get(&format!("/api/files/private/{id}/nothing_here.png"))
        .await;
    assert_eq!(missing_status, 404);
    for (who, caller) in [("guest", &guest), ("bob", &bob)] {
        let token = caller.file_token().await;
        for path in [
            url(&rec["doc"]),
            format!("{}?token={token}", url(&rec["doc"])),
            format!("{}?token={token}&download=1", url(&rec["doc"])),
            format!("{}?token={token}&thumb=10x10", url(&rec["scan"])),
            format!("/api/files/private/nosuchrecord12/{}", s(&rec["doc"])),
        ] {
            let (status, body) = caller.get(&path).await;
            assert_eq!(
                (status, &body),
                (missing_status, &missing),
                "{who} GET {path}"
            );
        }
    }
    // No thumbnail was made for them.
    assert_eq!(
        place.keys(&app).await,
        kept,
        "a refused thumb stored nothing"
    );

    let refused = |caller: &'static str, what: &'static str, status: u16, body: &Value| {
        assert!(
            matches!(status, 400 | 403 | 404),
            "{caller}: {what} answered {status} {body}"
        );
    };
    for (who, caller) in [("guest", &guest), ("bob", &bob)] {
        let tries: Vec<(&str, Form)> = vec![
            (
                "replace",
                Form::new().part("pic", file(png(8, 8), "mine.png")),
            ),
            (
                "append",
                Form::new().part("attachments+", file(b"x".to_vec(), "x.txt")),
            ),
            (
                "remove",
                Form::new().text("attachments-", s(&rec["attachments"][0])),
            ),
            (
                "take over",
                Form::new()
                    .text("owner", "")
                    .part("doc", file(b"x".to_vec(), "x.txt")),
            ),
        ];
        for (what, form) in tries {
            let (status, body) = caller.form(Method::PATCH, &record, form).await;
            refused(who, what, status, &body);
        }
        // A create naming alice's record's id, with a file.
        let form = Form::new()
            .text("id", id.clone())
            .text("owner", alice_id.clone())
            .part("pic", file(png(8, 8), "clash.png"));
        let (status, body) = caller
            .form(Method::POST, "/api/collections/private/records", form)
            .await;
        refused(who, "create over", status, &body);
        // A batch with files: an update of alice's record, then a delete of it.
        let update = json!({"method": "PATCH", "url": record, "body": {}});
        let form = Form::new()
            .part("requests.0.pic", file(png(8, 8), "batched.png"))
            .text("@jsonPayload", json!({"requests": [update]}).to_string());
        let (status, body) = caller.form(Method::POST, "/api/batch", form).await;
        refused(who, "batch update", status, &body);
        let delete = json!({"method": "DELETE", "url": record});
        let (status, body) = caller
            .json(Method::POST, "/api/batch", json!({"requests": [delete]}))
            .await;
        refused(who, "batch delete", status, &body);
        let (status, body) = caller.json(Method::DELETE, &record, json!({})).await;
        refused(who, "delete", status, &body);
        assert_eq!(
            place.settled(&app, &kept).await,
            kept,
            "after {who}'s tries, storage holds alice's files only"
        );
    }

    // Alice's record and files are as she left them.
    let (status, now) = alice.json(Method::GET, &record, Value::Null).await;
    assert_eq!(status, 200);
    for field in ["owner", "pic", "doc", "scan", "attachments"] {
        assert_eq!(now[field], rec[field], "{field}");
    }
    assert_eq!(alice.get(&url(&rec["pic"])).await, (200, picture));
    let token = alice.file_token().await;
    let (status, doc) = alice
        .get(&format!("{}?token={token}", url(&rec["doc"])))
        .await;
    assert_eq!((status, doc), (200, b"alice's secret".to_vec()));
}

#[tokio::test]
async fn files_on_disk_resist_guests_and_other_users() {
    attacks(Place::Disk).await;
}

#[tokio::test]
async fn files_in_a_bucket_resist_guests_and_other_users() {
    let Some(weed) = weed_bin() else { return };
    let s3 = start_s3(&weed).await;
    attacks(Place::Bucket(&s3)).await;
}
