//! Nothing lost on `kill -9`: the real `frontdoor serve` binary on a SQLite file takes concurrent
//! conversations (FAQ answers, service requests, escalations to the account manager) and is
//! killed with SIGKILL in the middle of them. Restarted on the same file, every message that got
//! a 200 is in the store with its replies, every request and escalation it reported is there,
//! and every escalation ping — held back by the manager's webhook until the kill — is delivered
//! after the restart.

mod common;

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::serve::Served;
use frontdoor::store::{Conversations, Escalations, Insight, Outbox, SqliteStore};
use serde_json::{Value, json};

fn start(data: &Path, content: &Path, config: &Path) -> Served {
    let args = [
        OsStr::new("--data-dir"),
        data.as_os_str(),
        OsStr::new("--content"),
        content.as_os_str(),
        OsStr::new("--config"),
        config.as_os_str(),
    ];
    common::serve::serve("server", &args, &[])
}

/// A message that got a 200.
#[derive(Clone, Debug)]
struct Answered {
    message_id: String,
    conversation: String,
    outcome: String,
    replies: usize,
    text: String,
}

/// One simulated user: conversations in a loop until the server goes away. Every message has a
/// `message_id`, so the store can be asked about it afterwards.
async fn user(
    url: String,
    id: usize,
    answered: Arc<Mutex<Vec<Answered>>>,
    count: Arc<AtomicUsize>,
    progress: Arc<tokio::sync::Notify>,
    killed: Arc<AtomicBool>,
) {
    let http = reqwest::Client::new();
    for n in 0.. {
        let session = format!("crash-{id}-{n}");
        let script: Vec<Value> = match (id + n) % 3 {
            0 => vec![
                json!({"text": "how do I reset my password"}),
                json!({"payload": "yes"}),
            ],
            1 => vec![
                json!({"text": "please start a new vendor set-up request: Acme Widgets Ltd, VAT GB123456789, accounts contact ap@acmewidgets.example"}),
                json!({"text": "1"}),
                json!({"text": "Goods"}),
                json!({"text": "yes"}),
            ],
            _ => vec![json!({"text": "I want to talk to a real person please"})],
        };
        for (i, mut body) in script.into_iter().enumerate() {
            let message_id = format!("m-{id}-{n}-{i}");
            body["session"] = json!(session);
            body["message_id"] = json!(message_id);
            if i == 0 {
                body["user"] =
                    json!({"id": format!("user-{id}-{n}"), "name": "Ann Lee", "client": "ACME"});
            }
            let sent = http
                .post(format!("{url}/api/v1/chat"))
                .json(&body)
                .send()
                .await;
            let Ok(r) = sent else {
                assert!(
                    killed.load(Ordering::SeqCst),
                    "request failed before the kill"
                );
                return;
            };
            let status = r.status().as_u16();
            let Ok(v) = r.json::<Value>().await else {
                assert!(killed.load(Ordering::SeqCst), "body cut before the kill");
                return;
            };
            assert_eq!(
                status, 200,
                "before the kill every message is answered: {v}"
            );
            let replies = v["replies"].as_array().expect("replies");
            answered.lock().unwrap().push(Answered {
                message_id,
                conversation: v["conversation"].as_str().unwrap().to_string(),
                outcome: v["outcome"].as_str().unwrap().to_string(),
                replies: replies.len(),
                text: replies
                    .iter()
                    .map(|r| r["text"].as_str().unwrap_or_default())
                    .collect::<Vec<_>>()
                    .join("\n"),
            });
            count.fetch_add(1, Ordering::SeqCst);
            progress.notify_waiters();
        }
    }
}

fn config_file(dir: &Path) -> PathBuf {
    let path = dir.join("frontdoor.toml");
    std::fs::write(
        &path,
        r#"
reload_interval_secs = 0

# The test floods from one address: no rate limits.
[web]
per_ip_burst = 1000000
per_ip_per_minute = 100000000
per_session_burst = 1000000
per_session_per_minute = 100000000

# Quick retries, short leases (a killed worker's claim lapses fast), never give up.
[escalation]
max_attempts = 100000
backoff_base_ms = 50
backoff_max_secs = 1
lease_secs = 1
timeout_secs = 5
poll_interval_ms = 100
"#,
    )
    .expect("write config");
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_load_loses_nothing_that_was_answered() {
    // The manager's webhook is down until the restart: every ping waits in the outbox.
    let (receiver, receiver_url) = common::webhook::Webhook::start_refusing().await;

    let content = common::content_copy();
    common::set_acme_primary_routes(
        content.path(),
        &format!("webhook = \"{receiver_url}/hooks/priya\""),
    );
    let data = tempfile::tempdir().unwrap();
    let config = config_file(data.path());

    // Load, then SIGKILL once enough has been answered, with requests still in flight.
    let mut server = start(data.path(), content.path(), &config);
    let answered = Arc::new(Mutex::new(Vec::new()));
    let count = Arc::new(AtomicUsize::new(0));
    let killed = Arc::new(AtomicBool::new(false));
    let progress = Arc::new(tokio::sync::Notify::new());
    let users: Vec<_> = (0..12)
        .map(|id| {
            tokio::spawn(user(
                server.url.clone(),
                id,
                answered.clone(),
                count.clone(),
                progress.clone(),
                killed.clone(),
            ))
        })
        .collect();
    loop {
        let next = progress.notified();
        let n = count.load(Ordering::SeqCst);
        let (opened, escalated) = {
            let a = answered.lock().unwrap();
            let count = |o: &str| a.iter().filter(|m| m.outcome == o).count();
            (count("request_opened"), count("escalated"))
        };
        if n >= 300 && opened >= 5 && escalated >= 5 {
            break;
        }
        next.await;
    }
    killed.store(true, Ordering::SeqCst);
    server.kill_9();
    for u in users {
        u.await.expect("user task");
    }
    let answered = answered.lock().unwrap().clone();

    // Restart on the same file; the webhook now accepts.
    receiver.accept();
    let mut server = start(data.path(), content.path(), &config);
    let store = SqliteStore::open(&data.path().join("frontdoor.db"))
        .await
        .expect("open the same file");

    // Every answered message is logged, with its replies and outcome.
    let reference = regex::Regex::new(r"REQ-\d+").unwrap();
    let mut requests = 0;
    let mut escalations = BTreeSet::new();
    for m in &answered {
        let (inbound, replies) = store
            .processed_message("web", &m.message_id)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("answered message {} is not in the store", m.message_id));
        assert_eq!(inbound.conversation_id, m.conversation);
        assert_eq!(inbound.outcome.as_deref(), Some(m.outcome.as_str()));
        assert_eq!(replies.len(), m.replies, "{}", m.message_id);
        if m.outcome == "request_opened" {
            let r = reference
                .find(&m.text)
                .expect("reference in the reply")
                .as_str();
            let row = store.request_by_reference(r).await.unwrap();
            assert!(row.is_some(), "request {r} answered but not stored");
            requests += 1;
        }
        if m.outcome == "escalated" {
            let e = store
                .escalations_of_conversation(&m.conversation)
                .await
                .unwrap();
            assert_eq!(e.len(), 1, "escalation of {} not stored", m.conversation);
            escalations.insert(e[0].id);
        }
    }
    assert!(requests >= 5 && escalations.len() >= 5);

    // Every escalation in the store — answered or not — gets its ping after the restart.
    let stored: Vec<i64> = store
        .period_facts("ACME", 0, i64::MAX)
        .await
        .unwrap()
        .escalations
        .iter()
        .map(|e| e.id)
        .collect();
    let expected: BTreeSet<String> = stored
        .iter()
        .map(|id| format!("escalation-{id}-ping-0-0"))
        .collect();
    assert!(expected.len() >= escalations.len());
    // Two minutes: the restarted worker retries with backoff pings that failed before the kill.
    common::wait::until(
        "every ping after the restart",
        Duration::from_secs(120),
        || {
            let keys = receiver.keys();
            expected.iter().all(|k| keys.contains_key(k)).then_some(())
        },
    )
    .await;
    // A graceful stop lets the worker record the last delivery; then every ping is delivered.
    server.stop();
    for &id in &stored {
        let outbox = store.outbox_of_escalation(id).await.unwrap();
        assert!(!outbox.is_empty(), "escalation {id} has no ping");
        for row in outbox {
            assert_eq!(row.status, "delivered", "{row:?}");
        }
    }
    eprintln!(
        "kill -9 after {} answered messages ({requests} requests opened, {} escalations): all found, {} pings delivered after the restart",
        answered.len(),
        escalations.len(),
        expected.len()
    );
}
