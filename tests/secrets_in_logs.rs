//! Secrets never reach the logs. The real binary runs at `debug` level with every secret set
//! and goes through what handles them: a user created from the CLI (password on stdin), sign-in
//! with the right and a wrong password, an API token created and used, the operator token, a
//! chat signed with an identity token, an escalation ping signed with the webhook secret, a
//! request whose case-system webhook is signed and carries a token from the environment, and
//! the Telegram and Discord adapters failing against unreachable APIs (the Bot API's URLs carry
//! the bot token). Then everything the processes printed is searched for each secret.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::wait::{PATIENCE, until};
use common::webhook::Webhook;
use serde_json::{Value, json};

const TELEGRAM_TOKEN: &str = "7012345678:AAF-telegram-secret-Zq9xW3vB";
const DISCORD_TOKEN: &str = "MTAxMjM0NTY3ODkw.discord-secret.Gx7Yp2";
const WEBHOOK_SECRET: &str = "webhook-secret-5fd0a1c9e2";
const IDENTITY_SECRET: &str = "identity-secret-8b3e77d104";
const ADMIN_TOKEN: &str = "operator-secret-c41f09ab72";
const PASSWORD: &str = "correct-horse-secret-91";
const WRONG_PASSWORD: &str = "wrong-horse-secret-42";
const REQUEST_WEBHOOK_SECRET: &str = "request-webhook-secret-77c2e9";
const CASE_TOKEN: &str = "Bearer case-system-secret-token-3d81f0";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_appears_in_the_logs_of_a_full_run() {
    let (receiver, receiver_url) = Webhook::start().await;

    let content = common::content_copy();
    common::set_acme_primary_routes(
        content.path(),
        &format!("webhook = \"{receiver_url}/hooks/priya\""),
    );
    let data = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_frontdoor");
    let env = |c: &mut Command| {
        c.env_clear()
            .env("FRONTDOOR_LOG", "debug")
            .env("NO_COLOR", "1")
            .env("TELEGRAM_BOT_TOKEN", TELEGRAM_TOKEN)
            .env("FRONTDOOR_TELEGRAM_API_URL", "http://127.0.0.1:9")
            .env("DISCORD_BOT_TOKEN", DISCORD_TOKEN)
            .env("FRONTDOOR_DISCORD_API_URL", "http://127.0.0.1:9")
            .env("FRONTDOOR_WEBHOOK_SECRET", WEBHOOK_SECRET)
            .env("FRONTDOOR_IDENTITY_SECRET", IDENTITY_SECRET)
            .env("FRONTDOOR_ADMIN_TOKEN", ADMIN_TOKEN)
            .env("FRONTDOOR_REQUEST_WEBHOOK_SECRET", REQUEST_WEBHOOK_SECRET)
            .env("CASE_TOKEN", CASE_TOKEN)
            .arg("--data-dir")
            .arg(data.path())
            .arg("--content")
            .arg(content.path());
    };

    // A user from the CLI, the password on stdin.
    let mut create = Command::new(bin);
    env(&mut create);
    let mut child = create
        .args([
            "admin",
            "create-user",
            "--username",
            "ada",
            "--role",
            "admin",
            "--password-stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{PASSWORD}").unwrap();
    let created = child.wait_with_output().unwrap();
    assert!(created.status.success(), "{created:?}");
    let mut logs = String::from_utf8_lossy(&created.stdout).to_string();
    logs.push_str(&String::from_utf8_lossy(&created.stderr));

    // The server, everything it prints kept in a file.
    let out_path = data.path().join("serve.log");
    let out = std::fs::File::create(&out_path).unwrap();
    let mut serve = Command::new(bin);
    env(&mut serve);
    let config = data.path().join("frontdoor.toml");
    std::fs::write(
        &config,
        format!(
            "reload_interval_secs = 0\n[escalation]\nbackoff_base_ms = 50\npoll_interval_ms = 100\n\n\
             [[requests.webhook]]\nurl = \"{receiver_url}/cases\"\n\
             headers_from_env = {{ Authorization = \"CASE_TOKEN\" }}\n"
        ),
    )
    .unwrap();
    let mut server = common::KillOnDrop(
        serve
            .arg("--config")
            .arg(&config)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap(),
    );
    let url = common::wait::url_from_log_file(&out_path, "listening: ").await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    // Sign in: wrong password, then the right one.
    for (password, ok) in [(WRONG_PASSWORD, false), (PASSWORD, true)] {
        let r = http
            .post(format!("{url}/admin/login"))
            .form(&[
                ("username", "ada"),
                ("password", password),
                ("next", "/admin"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303);
        assert_eq!(r.headers().contains_key("set-cookie"), ok);
    }
    let r = http
        .post(format!("{url}/admin/login"))
        .form(&[
            ("username", "ada"),
            ("password", PASSWORD),
            ("next", "/admin"),
        ])
        .send()
        .await
        .unwrap();
    let cookie = r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let session = cookie.trim_start_matches("fd_session=").to_string();
    let r = http
        .post(format!("{url}/api/v1/admin/tokens"))
        .header("cookie", &cookie)
        .json(&json!({"name": "log test"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let api_token = r.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    for (path, bearer, status) in [
        ("/api/v1/admin/me", api_token.as_str(), 200),
        ("/metrics", ADMIN_TOKEN, 200),
        ("/api/v1/admin/me", "fdt_forged-token-value-0451", 401),
    ] {
        let r = http
            .get(format!("{url}{path}"))
            .bearer_auth(bearer)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), status, "{path} with {bearer:.8}…");
    }
    let me: Value = http
        .get(format!("{url}/api/v1/admin/me"))
        .bearer_auth(&api_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        me["username"], "ada",
        "the API token acts as its user: {me}"
    );

    // A signed chat that escalates: the ping goes out signed with the webhook secret.
    let identity = common::identity::user_token(
        IDENTITY_SECRET,
        "ann.lee@acme.example",
        Some("Ann Lee"),
        Some("ACME"),
    );
    for text in [
        "how do I reset my password",
        "I want to talk to a real person please",
    ] {
        let r = http
            .post(format!("{url}/api/v1/chat"))
            .json(&json!({"session": "log-test", "text": text, "token": identity}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let ping = receiver.wait_for(1, PATIENCE).await;
    let signature = ping[0].header("x-frontdoor-signature").to_string();
    // A request: its case-system webhook goes out signed, with the token from the environment.
    for (i, text) in common::VENDOR_THEN_HUMAN[..7].iter().enumerate() {
        let mut body = json!({"session": "log-test-request", "text": text});
        if i == 0 {
            body["token"] = json!(identity);
        }
        let r = http
            .post(format!("{url}/api/v1/chat"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let hook = until("the request webhook", PATIENCE, || {
        receiver.hits("/cases").into_iter().next()
    })
    .await;
    assert_eq!(hook.header("authorization"), CASE_TOKEN);
    assert!(frontdoor::escalation::deliver::verify(
        REQUEST_WEBHOOK_SECRET.as_bytes(),
        hook.header("x-frontdoor-signature"),
        &hook.body
    ));
    // The bot adapters fail against their unreachable APIs: wait until the log shows Telegram's
    // second attempt (2 s after the first) and Discord's failed gateway look-up (serenity's
    // warning), so the errors that could carry a token are in it.
    until(
        "both bot adapters to have failed in the log",
        PATIENCE,
        || {
            let log = std::fs::read_to_string(&out_path).unwrap_or_default();
            (log.matches("telegram: getMe failed; retrying").count() >= 2
                && log.contains("get gateway URL failed"))
            .then_some(())
        },
    )
    .await;
    server.kill().unwrap();
    server.wait().unwrap();
    logs.push_str(&std::fs::read_to_string(&out_path).unwrap());

    // The run was logged in detail, bot failures included...
    assert!(logs.lines().count() > 20, "{logs}");
    // The Telegram adapter kept retrying its unreachable API (it used to give up at once).
    assert!(
        logs.matches("telegram: getMe failed; retrying").count() >= 2,
        "{logs}"
    );
    // ...and no secret is in it, whole or as its secret half.
    let telegram_secret_half = TELEGRAM_TOKEN.split(':').nth(1).unwrap();
    for (what, secret) in [
        ("Telegram bot token", TELEGRAM_TOKEN),
        ("Telegram bot token (secret half)", telegram_secret_half),
        ("Discord bot token", DISCORD_TOKEN),
        ("webhook secret", WEBHOOK_SECRET),
        ("request webhook secret", REQUEST_WEBHOOK_SECRET),
        (
            "case system token",
            CASE_TOKEN.trim_start_matches("Bearer "),
        ),
        ("identity secret", IDENTITY_SECRET),
        ("operator token", ADMIN_TOKEN),
        ("password", PASSWORD),
        ("wrong password", WRONG_PASSWORD),
        ("API token", api_token.as_str()),
        ("session cookie", session.as_str()),
        ("identity token", identity.as_str()),
        ("forged token", "fdt_forged-token-value-0451"),
    ] {
        assert!(!secret.is_empty());
        if let Some(line) = logs.lines().find(|l| l.contains(secret)) {
            panic!("the {what} is in the logs: {line}");
        }
    }
    assert!(
        frontdoor::escalation::deliver::verify(
            WEBHOOK_SECRET.as_bytes(),
            &signature,
            &ping[0].body
        ),
        "the ping was signed with the webhook secret: {signature:?}"
    );
    eprintln!("{} log lines searched", logs.lines().count());
}
