//! `kill -9` between a request's change and the case system hearing of it loses nothing: the
//! real `frontdoor serve` binary, configured with a `[[requests.webhook]]` whose receiver is
//! down (nothing listens on its port), takes a request opened in its web chat
//! (`request.created`); the request is then picked up (`request.updated`, written in-process on
//! the same SQLite file, as the back office would). Both rows are retried against the dead
//! receiver, then the server is killed with SIGKILL. The receiver comes up; restarted on the same
//! file, the server delivers each event exactly once, signed.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use common::KillOnDrop;
use common::case_system::{CaseSystem, reserve_port};
use common::wait::{PATIENCE, until, until_async, url_from_log};
use frontdoor::config::{Config, DialogueSettings, Flags};
use frontdoor::dialogue::service::{ChatService, share};
use frontdoor::domain::{RequestSource, RequestStatus};
use frontdoor::outlet::Outlets;
use frontdoor::policy::lifecycle::Change;
use frontdoor::store::{OutboxRow, SqliteStore, Store};
use serde_json::{Value, json};

const SECRET: &str = "crash-case-system-secret";

fn start(data: &Path, config: &Path) -> (KillOnDrop, String) {
    let mut child = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_frontdoor"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .arg("--data-dir")
            .arg(data)
            .arg("--content")
            .arg(common::repo_root())
            .arg("--config")
            .arg(config)
            .env_clear()
            .env("FRONTDOOR_LOG", "info,sqlx=warn,tower_http=warn")
            .env("NO_COLOR", "1")
            .env("FRONTDOOR_REQUEST_WEBHOOK_SECRET", SECRET)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start frontdoor serve"),
    );
    let stderr = child.stderr.take().expect("stderr");
    let url = url_from_log(stderr, "listening: ", |line| {
        if line.contains("ERROR") || line.contains("panicked") || line.contains("webhook") {
            eprintln!("server: {line}");
        }
    });
    (child, url)
}

fn config_file(dir: &Path, port: u16) -> PathBuf {
    let path = dir.join("frontdoor.toml");
    std::fs::write(
        &path,
        format!(
            r#"
reload_interval_secs = 0

# Quick retries, short leases (a killed worker's claim lapses fast), never give up.
[escalation]
backoff_base_ms = 50
backoff_max_secs = 1
lease_secs = 1
poll_interval_ms = 100
timeout_secs = 5

[requests]
webhook_max_attempts = 100000

[[requests.webhook]]
name = "cases"
url = "http://127.0.0.1:{port}/cases"
"#
        ),
    )
    .expect("write config");
    path
}

async fn hook_rows(store: &dyn Store, reference: &str) -> Vec<OutboxRow> {
    store
        .outbox_by_key_prefix(&format!("request-{reference}-hook-"))
        .await
        .unwrap()
}

/// Open a vendor set-up request in the server's web chat; its reference.
async fn open_request(url: &str) -> String {
    let http = reqwest::Client::new();
    let mut last = Value::Null;
    for (i, text) in common::VENDOR_THEN_HUMAN[..7].iter().enumerate() {
        let mut body = json!({"session": "crash-hooks", "text": text});
        if i == 0 {
            body["user"] = json!({"id": "ann", "name": "Ann Lee", "client": "ACME"});
        }
        let r = http
            .post(format!("{url}/api/v1/chat"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        last = r.json().await.unwrap();
    }
    let text = last["replies"].to_string();
    let at = text
        .find("REQ-")
        .unwrap_or_else(|| panic!("no reference in {last}"));
    text[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect()
}

/// Until the row of `event` has been tried (and failed) `n` times.
async fn tried(store: &dyn Store, reference: &str, event: &str, n: i64) {
    until_async(
        &format!("{event} tried {n} times"),
        PATIENCE,
        move || async move {
            hook_rows(store, reference)
                .await
                .into_iter()
                .find(|r| r.idempotency_key.contains(event) && r.attempts >= n)
                .map(|r| assert_eq!(r.status, "pending", "{r:#?}"))
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_between_the_change_and_the_delivery_loses_nothing() {
    let port = reserve_port();
    let data = tempfile::tempdir().unwrap();
    let config_path = config_file(data.path(), port);
    let (mut server, url) = start(data.path(), &config_path);
    let store = Arc::new(
        SqliteStore::open(&data.path().join("frontdoor.db"))
            .await
            .expect("the SQLite file"),
    );

    // request.created, retried against a receiver that is down.
    let reference = open_request(&url).await;
    tried(store.as_ref(), &reference, "request.created", 2).await;

    // request.updated, written on the same file as the back office would, while the server
    // runs: its worker finds the row and tries it too.
    let env: BTreeMap<String, String> =
        BTreeMap::from([("FRONTDOOR_REQUEST_WEBHOOK_SECRET".into(), SECRET.into())]);
    let config = Config::load_from(
        &Flags {
            config_file: Some(config_path.clone()),
            ..Flags::default()
        },
        &env,
    )
    .unwrap();
    let chat = ChatService::new(
        store.clone(),
        share(common::load_content(&common::repo_root())),
        DialogueSettings::default(),
    )
    .with_request_hooks(frontdoor::app::request_hooks(&config).unwrap());
    frontdoor::requests::change(
        &chat,
        // No outlets here: the client's notice is left to the server's outbox worker.
        &Outlets::default(),
        &reference,
        Change {
            to: Some(RequestStatus::InProgress),
            note: Some("Picked up".into()),
            actor: "dana@sso.example".into(),
            source: Some(RequestSource::Backoffice),
            ..Change::default()
        },
        &None,
        Utc::now(),
    )
    .await
    .unwrap();
    tried(store.as_ref(), &reference, "request.updated", 1).await;

    server.0.kill().expect("kill -9");
    server.0.wait().unwrap();
    let rows = hook_rows(store.as_ref(), &reference).await;
    assert_eq!(rows.len(), 2, "{rows:#?}");
    assert!(rows.iter().all(|r| r.status == "pending"), "{rows:#?}");

    // The receiver comes up; the restarted server tells it each event once.
    let case = CaseSystem::new(SECRET);
    case.serve(port).await;
    let (mut server, _) = start(data.path(), &config_path);
    until("both events at the case system", PATIENCE, || {
        (case.accepted().len() >= 2).then_some(())
    })
    .await;
    let (db, r): (&dyn Store, &str) = (store.as_ref(), &reference);
    until_async(
        "both rows recorded as delivered",
        PATIENCE,
        move || async move {
            let rows = hook_rows(db, r).await;
            rows.iter().all(|r| r.status == "delivered").then_some(())
        },
    )
    .await;
    // Several polls and a lapsed lease later, still nothing more.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let got = case.accepted();
    let mut events: Vec<&str> = got.iter().map(|d| d.event()).collect();
    events.sort();
    assert_eq!(events, ["request.created", "request.updated"], "{got:#?}");
    assert_ne!(got[0].key(), got[1].key());
    for d in &got {
        assert_eq!(d.json()["request"]["reference"], reference.as_str());
    }
    assert_eq!(
        case.bad_signatures
            .load(std::sync::atomic::Ordering::SeqCst),
        0
    );

    let status = Command::new("kill")
        .args(["-TERM", &server.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(server.0.wait().unwrap().success());
}
