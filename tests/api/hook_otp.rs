//! The one-time-password request hooks, side by side with PocketBase 0.40.6 (each server
//! mailing to an SMTP sink of its own): `onRecordRequestOTPRequest` sees the account (null
//! for an unknown email) and the code, which it may replace; `onRecordAuthWithOTPRequest`
//! runs once the code matched, with `e.record` and `e.otp`.

use serde_json::{Value, json};

use crate::compat::{assert_same, pocketbase_bin, start_pocketbase_with_hooks};
use crate::helpers::{SmtpSink, client, spawn_smtp_sink, superuser_token_at};
use crate::hook_auth::sign_up;
use crate::hook_mail::{mail_settings, mailing_app};

const OTP: &str = r#"
onRecordRequestOTPRequest((e) => {
  if (e.record && e.record.email() === "blocked@example.com") {
    throw new ForbiddenError("No codes for you.");
  }
  if (e.record === null && e.requestInfo().body.email === "ghost@example.com") {
    return e.json(200, { ghost: true, code: e.password.length });
  }
  e.password = "24681357";
  e.next();
}, "users");
onRecordAuthWithOTPRequest((e) => {
  if (e.record.email() === "late@example.com") throw new BadRequestError("Too late.");
  if (e.otp.get("sentTo") !== e.record.email() || e.otp.recordRef() !== e.record.id) {
    throw new BadRequestError("Not the code's record.");
  }
  e.next();
}, "users");
onRecordAuthRequest((e) => {
  e.meta = { method: e.authMethod };
  e.next();
}, "users");
"#;

/// An answer with the ids and tokens in it reduced to whether they are there.
fn shown(status: u16, body: &Value) -> Value {
    let body = match body.get("token") {
        Some(_) => json!({"meta": body["meta"], "email": body["record"]["email"]}),
        None => match body.get("otpId") {
            Some(id) => json!({"otpId": id.as_str().is_some_and(|id| !id.is_empty())}),
            None => body.clone(),
        },
    };
    json!([status, body])
}

async fn scenario(base: &str, smtp: Option<u16>, sink: &SmtpSink) -> Vec<(String, Value)> {
    let http = client();
    mail_settings(&http, base, smtp).await;
    let token = superuser_token_at(&http, base).await;
    let users = format!("{base}/api/collections/users");
    let res = http
        .patch(&users)
        .header("Authorization", &token)
        .json(&json!({"otp": {"enabled": true}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let accounts = ["ann@example.com", "blocked@example.com", "late@example.com"];
    sign_up(&http, &users, &accounts).await;
    let mut out = Vec::new();
    let mut ids = std::collections::HashMap::new();
    for email in accounts
        .iter()
        .chain(&["nobody@example.com", "ghost@example.com"])
    {
        let res = http
            .post(format!("{users}/request-otp"))
            .json(&json!({"email": email}))
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let body: Value = res.json().await.unwrap();
        if let Some(id) = body["otpId"].as_str() {
            ids.insert(*email, id.to_owned());
        }
        out.push((format!("request {email}"), shown(status, &body)));
    }
    // Each account's code was mailed (the hook's code, not the one drawn).
    let mails = sink.received_n(2).await;
    let with_code = mails.iter().filter(|m| m.contains("24681357")).count();
    out.push(("mails with the hook's code".into(), json!(with_code)));
    for (label, email, code) in [
        ("sign in", "ann@example.com", "24681357"),
        ("the spent code again", "ann@example.com", "24681357"),
        ("refused by the hook", "late@example.com", "24681357"),
        ("wrong code", "late@example.com", "11111111"),
        ("unknown email's id", "nobody@example.com", "24681357"),
    ] {
        let res = http
            .post(format!("{users}/auth-with-otp"))
            .json(&json!({"otpId": ids[email], "password": code}))
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let body: Value = res.json().await.unwrap();
        out.push((label.to_owned(), shown(status, &body)));
    }
    out
}

#[tokio::test]
async fn otp_request_hooks_answer_as_on_pocketbase() {
    let (app, sink, _dir) = mailing_app("otp.pb.js", OTP).await;
    let ours = scenario(&app.address, None, &sink).await;
    let find = |label: &str| crate::compat::outcome(&ours, label);
    assert_eq!(find("request blocked@example.com")[0], 403);
    assert_eq!(
        find("request ghost@example.com")[1],
        json!({"ghost": true, "code": 8})
    );
    assert_eq!(
        find("request nobody@example.com"),
        json!([200, {"otpId": true}])
    );
    assert_eq!(find("mails with the hook's code"), json!(2));
    assert_eq!(
        find("sign in"),
        json!([200, {"meta": {"method": "otp"}, "email": "ann@example.com"}])
    );
    assert_eq!(find("the spent code again")[0], 400);
    assert_eq!(find("refused by the hook")[1]["message"], "Too late.");
    assert_eq!(find("wrong code")[0], 400);

    let Some(bin) = pocketbase_bin() else {
        return;
    };
    let pb_sink = spawn_smtp_sink().await;
    let pb = start_pocketbase_with_hooks(&bin, &[("otp.pb.js", OTP)]).await;
    let theirs = scenario(&pb.address, Some(pb_sink.port), &pb_sink).await;
    assert_same(&ours, &theirs);
}
