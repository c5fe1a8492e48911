//! Mail from JS hooks: `new MailerMessage(...)` sent with `$app.newMailClient().send()`,
//! `$app.settings()` and `$app.logger()`, on hearth and PocketBase 0.40.6, each delivering to
//! an SMTP sink of its own: the same answer, and a mail with the same recipient, subject and
//! body at each sink.

use serde_json::{Value, json};

use crate::compat::{pocketbase_bin, start_pocketbase_with_hooks};
use crate::helpers::{
    SmtpSink, TestApp, client, hooks_folder, spawn_app_with, spawn_smtp_sink, superuser_token_at,
};

const MAIL: &str = r#"
routerAdd("POST", "/api/notify", (e) => {
  const meta = $app.settings().meta;
  const message = new MailerMessage({
    from: { address: meta.senderAddress, name: meta.senderName },
    to: [{ address: "ann@example.com" }],
    subject: "Hello from hooks",
    html: "<p>Made by a hook</p>",
  });
  $app.newMailClient().send(message);
  $app.logger().info("mail sent", "to", "ann@example.com");
  return e.json(200, { appName: meta.appName, sender: meta.senderAddress });
});
"#;

/// hearth with `hooks` as its one hooks file, a superuser, and its mail to a fresh SMTP
/// sink (also returned, with the hooks folder to keep).
pub(crate) async fn mailing_app(file: &str, hooks: &str) -> (TestApp, SmtpSink, tempfile::TempDir) {
    let sink = spawn_smtp_sink().await;
    let port = sink.port;
    let dir = hooks_folder(&[(file, hooks)]);
    let folder = dir.path().to_path_buf();
    let app = spawn_app_with(move |c| {
        c.hooks.dir = folder;
        c.hooks.watch = false;
        c.smtp = Some(hearth::mail::smtp::SmtpConfig {
            host: "127.0.0.1".into(),
            port,
            username: String::new(),
            password: String::new(),
            security: hearth::mail::smtp::Security::None,
            from: "Acme <noreply@acme.test>".into(),
        });
    })
    .await;
    app.create_superuser(crate::helpers::ADMIN_EMAIL, crate::helpers::ADMIN_PASSWORD)
        .await;
    (app, sink, dir)
}

/// Names the app "Hooked" with a sender, and (PocketBase) points its SMTP at `smtp`.
pub(crate) async fn mail_settings(http: &reqwest::Client, base: &str, smtp: Option<u16>) {
    let token = superuser_token_at(http, base).await;
    let mut settings = json!({"meta": {"appName": "Hooked", "senderAddress": "noreply@acme.test", "senderName": "Acme"}});
    if let Some(port) = smtp {
        settings["smtp"] = json!({"enabled": true, "host": "127.0.0.1", "port": port});
    }
    let res = http
        .patch(format!("{base}/api/settings"))
        .header("Authorization", &token)
        .json(&settings)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
}

async fn notify(base: &str, smtp: Option<u16>, sink: &SmtpSink) -> (Value, String) {
    let http = client();
    mail_settings(&http, base, smtp).await;
    let answer: Value = http
        .post(format!("{base}/api/notify"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mail = sink.received().await.join("\n");
    (answer, mail)
}

fn check(mail: &str) {
    assert!(mail.contains("Subject: Hello from hooks"), "{mail}");
    assert!(mail.contains("ann@example.com"), "{mail}");
    assert!(mail.contains("Made by a hook"), "{mail}");
}

#[tokio::test]
async fn hooks_send_mail_as_on_pocketbase() {
    let (app, sink, _dir) = mailing_app("mail.pb.js", MAIL).await;
    let (ours, mail) = notify(&app.address, None, &sink).await;
    assert_eq!(
        ours,
        json!({"appName": "Hooked", "sender": "noreply@acme.test"})
    );
    check(&mail);

    let Some(bin) = pocketbase_bin() else {
        return;
    };
    let pb_sink = spawn_smtp_sink().await;
    let pb = start_pocketbase_with_hooks(&bin, &[("mail.pb.js", MAIL)]).await;
    let (theirs, mail) = notify(&pb.address, Some(pb_sink.port), &pb_sink).await;
    assert_eq!(ours, theirs);
    check(&mail);
}

const MAILS: &str = r#"
routerAdd("POST", "/api/mails/{kind}", (e) => {
  const user = $app.findAuthRecordByEmail("users", "ann@example.com");
  const kind = e.request.pathValue("kind");
  if (kind === "verification") $mails.sendRecordVerification($app, user);
  if (kind === "reset") $mails.sendRecordPasswordReset($app, user);
  if (kind === "change") $mails.sendRecordChangeEmail($app, user, "ann2@example.com");
  if (kind === "otp") $mails.sendRecordOTP($app, user, "otpid1234567890", "246813");
  if (kind === "alert") $mails.sendRecordAuthAlert($app, user, "Firefox on Mars");
  return e.json(200, { sent: kind });
});
"#;

/// The subjects of the five `$mails` mails, whether the email change went to the new
/// address, and whether the code and the alert's text are in theirs.
async fn mails(base: &str, smtp: Option<u16>, sink: &SmtpSink) -> Vec<String> {
    let http = client();
    mail_settings(&http, base, smtp).await;
    let body = json!({"email": "ann@example.com", "password": "secret-pass-1", "passwordConfirm": "secret-pass-1"});
    let res = http
        .post(format!("{base}/api/collections/users/records"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    for kind in ["verification", "reset", "change", "otp", "alert"] {
        let res = http
            .post(format!("{base}/api/mails/{kind}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{kind}: {}", res.text().await.unwrap());
    }
    let mut out: Vec<String> = sink
        .received_n(5)
        .await
        .iter()
        .map(|mail| {
            let subject = mail
                .lines()
                .find_map(|l| l.strip_prefix("Subject: "))
                .unwrap_or_default();
            let to_new = mail
                .lines()
                .any(|l| l.starts_with("To:") && l.contains("ann2@example.com"));
            let code = mail.contains("246813");
            let info = mail.contains("Firefox on Mars");
            format!("{subject} (to the new address: {to_new}, code: {code}, info: {info})")
        })
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn mails_helpers_send_the_flow_mails_as_on_pocketbase() {
    let (app, sink, _dir) = mailing_app("mails.pb.js", MAILS).await;
    let ours = mails(&app.address, None, &sink).await;
    assert_eq!(ours.len(), 5, "{ours:?}");
    assert!(
        ours.iter()
            .any(|s| s.starts_with("OTP for Hooked") && s.contains("code: true")),
        "{ours:?}"
    );
    assert!(
        ours.iter()
            .any(|s| s.starts_with("Login from a new location") && s.contains("info: true")),
        "{ours:?}"
    );
    assert!(
        ours.iter().any(|s| s.contains("Verify your Hooked email")),
        "{ours:?}"
    );

    let Some(bin) = pocketbase_bin() else {
        return;
    };
    let pb_sink = spawn_smtp_sink().await;
    let pb = start_pocketbase_with_hooks(&bin, &[("mails.pb.js", MAILS)]).await;
    let theirs = mails(&pb.address, Some(pb_sink.port), &pb_sink).await;
    assert_eq!(ours, theirs);
}
