//! Multi-factor sign-in side by side with PocketBase 0.40.6 (each server mailing to an SMTP
//! sink of its own): a password that succeeds answers 401 `{mfaId}`; the same method again
//! is refused; an OTP read from the mail completes it once; the MFA rule picks whom it asks;
//! and all of it again with sign-in hooks loaded.

use serde_json::{Value, json};

use crate::compat::{assert_same, pocketbase_bin, start_pocketbase, start_pocketbase_with_hooks};
use crate::helpers::{SmtpSink, client, spawn_smtp_sink, superuser_token_at};
use crate::hook_auth::sign_up;
use crate::hook_mail::{mail_settings, mailing_app};

/// An answer with ids and tokens reduced to whether they are there.
fn shown(status: u16, body: &Value) -> Value {
    let body = match (body.get("token"), body.get("mfaId")) {
        (Some(_), _) => {
            json!({"token": true, "email": body["record"]["email"], "meta": body.get("meta").is_some()})
        }
        (_, Some(id)) => {
            json!({"mfaId": id.as_str().map(str::len), "keys": body.as_object().map(|o| o.len())})
        }
        _ => body.clone(),
    };
    json!([status, body])
}

fn code(mail: &str) -> String {
    let at = mail.find("<strong>").map_or(0, |i| i + "<strong>".len());
    mail[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect()
}

async fn scenario(base: &str, smtp: Option<u16>, sink: &SmtpSink) -> Vec<(String, Value)> {
    let http = client();
    mail_settings(&http, base, smtp).await;
    let admin = superuser_token_at(&http, base).await;
    let users = format!("{base}/api/collections/users");
    let mut out = Vec::new();
    let patch = async |body: Value| {
        let res = http
            .patch(&users)
            .header("Authorization", &admin)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    };
    patch(json!({"otp": {"enabled": true}, "mfa": {"enabled": true, "duration": 600}})).await;
    sign_up(&http, &users, &["mia@example.com", "max@mfa.example.com"]).await;
    let password = async |email: &str, mfa: Option<&str>| {
        let mut body = json!({"identity": email, "password": "secret-pass-1"});
        if let Some(id) = mfa {
            body["mfaId"] = json!(id);
        }
        let res = http
            .post(format!("{users}/auth-with-password"))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        (status, res.json::<Value>().await.unwrap())
    };

    let (status, first) = password("mia@example.com", None).await;
    out.push(("password, first factor".to_owned(), shown(status, &first)));
    let mfa = first["mfaId"].as_str().unwrap_or_default().to_owned();
    let (status, body) = password("mia@example.com", Some(&mfa)).await;
    out.push(("password again".to_owned(), shown(status, &body)));
    let (status, body) = password("mia@example.com", Some("nosuchmfaid1234")).await;
    out.push(("an unknown mfaId".to_owned(), shown(status, &body)));

    let otp: Value = http
        .post(format!("{users}/request-otp"))
        .json(&json!({"email": "mia@example.com"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mails = sink.received_n(1).await;
    let code = code(mails.last().map(String::as_str).unwrap_or_default());
    out.push(("the mailed code".to_owned(), json!(code.len())));
    let otp_sign_in = async |mfa: &str| {
        let res = http
            .post(format!("{users}/auth-with-otp"))
            .json(&json!({"otpId": otp["otpId"], "password": code, "mfaId": mfa}))
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        shown(status, &res.json::<Value>().await.unwrap())
    };
    out.push(("OTP, second factor".to_owned(), otp_sign_in(&mfa).await));
    let (status, body) = password("mia@example.com", Some(&mfa)).await;
    out.push(("the spent mfaId".to_owned(), shown(status, &body)));

    patch(json!({"mfa": {"rule": "email ~ '@mfa.example.com'"}})).await;
    let (status, body) = password("mia@example.com", None).await;
    out.push(("the rule leaves mia out".to_owned(), shown(status, &body)));
    let (status, body) = password("max@mfa.example.com", None).await;
    out.push(("the rule picks max".to_owned(), shown(status, &body)));
    out
}

#[tokio::test]
async fn mfa_with_a_password_then_an_otp_answers_as_on_pocketbase() {
    let (app, sink, _dir) = mailing_app("none.pb.js", "").await;
    let ours = scenario(&app.address, None, &sink).await;
    let find = |label: &str| crate::compat::outcome(&ours, label);
    assert_eq!(
        find("password, first factor"),
        json!([401, {"mfaId": 15, "keys": 1}])
    );
    assert_eq!(find("OTP, second factor")[0], 200, "{ours:?}");
    assert_eq!(find("the spent mfaId")[0], 400);
    assert_eq!(find("the rule leaves mia out")[0], 200);
    assert_eq!(find("the rule picks max")[0], 401);

    let Some(bin) = pocketbase_bin() else {
        return;
    };
    let pb_sink = spawn_smtp_sink().await;
    let pb = start_pocketbase(&bin).await;
    let theirs = scenario(&pb.address, Some(pb_sink.port), &pb_sink).await;
    assert_same(&ours, &theirs);
}

/// Sign-in hooks that only pass the sign-in on: MFA asks for the second factor all the same.
const PASSING_HOOKS: &str = r#"
onRecordAuthWithPasswordRequest((e) => { e.next() }, "users")
onRecordAuthWithOTPRequest((e) => { e.next() }, "users")
"#;

#[tokio::test]
async fn mfa_holds_when_sign_in_hooks_run_as_on_pocketbase() {
    let (app, sink, _dir) = mailing_app("signin.pb.js", PASSING_HOOKS).await;
    let ours = scenario(&app.address, None, &sink).await;
    let find = |label: &str| crate::compat::outcome(&ours, label);
    assert_eq!(
        find("password, first factor"),
        json!([401, {"mfaId": 15, "keys": 1}])
    );
    assert_eq!(find("OTP, second factor")[0], 200, "{ours:?}");
    assert_eq!(find("the rule picks max")[0], 401);

    let Some(bin) = pocketbase_bin() else {
        return;
    };
    let pb_sink = spawn_smtp_sink().await;
    let pb = start_pocketbase_with_hooks(&bin, &[("signin.pb.js", PASSING_HOOKS)]).await;
    let theirs = scenario(&pb.address, Some(pb_sink.port), &pb_sink).await;
    assert_same(&ours, &theirs);
}
