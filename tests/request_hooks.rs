//! The case system's webhooks, end to end against a fake case system on 127.0.0.1 that checks
//! signatures: a request opened in the web chat (over HTTP) is told once as `request.created`, a
//! change through `requests::change` once as `request.updated`; the Jira Service Management
//! example renders the body Jira's create-request endpoint takes; a receiver down (connection
//! refused), then unavailable (503 + Retry-After), then up gets each event exactly once; one
//! that keeps failing ends `failed`, without falling over anywhere, and shows in `/metrics`.
//!
//! The configuration goes through `Config::load_from` and the server and worker are wired by
//! `frontdoor::app` as `frontdoor serve` wires them.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use chrono::{Duration, Utc};
use common::TestServer;
use common::case_system::{CaseSystem, reserve_port};
use frontdoor::config::{Config, DialogueSettings, Flags};
use frontdoor::dialogue::service::{ChatService, share};
use frontdoor::domain::{RequestSource, RequestStatus};
use frontdoor::escalation::worker::Worker;
use frontdoor::http::AppState;
use frontdoor::policy::lifecycle::Change;
use frontdoor::store::{OutboxRow, Store};
use serde_json::{Value, json};

const SECRET: &str = "case-system-signing-secret";
const JIRA_AUTH: &str = "Basic amlyYUBzc28uZXhhbXBsZTpub3QtYS1yZWFsLXRva2Vu";
/// What the client types as the vendor's name: quotes, non-ASCII, an emoji.
const VENDOR: &str = "Acme \"Wídgets\" Ltd 🚀";

struct Setup {
    server: TestServer,
    config: Config,
    _dir: tempfile::TempDir,
}

/// A server whose configuration file is `toml` (with `JIRA_AUTH` and the signing secret in its
/// environment), and its outbox worker.
async fn setup(store: Arc<dyn Store>, toml: &str) -> (Setup, Worker) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("frontdoor.toml");
    std::fs::write(&path, toml).unwrap();
    let env: BTreeMap<String, String> = [
        ("FRONTDOOR_REQUEST_WEBHOOK_SECRET", SECRET),
        ("JIRA_AUTH", JIRA_AUTH),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let config = Config::load_from(
        &Flags {
            config_file: Some(path),
            ..Flags::default()
        },
        &env,
    )
    .unwrap();
    let k = common::load_content(&common::repo_root());
    frontdoor::app::seed_clients(store.as_ref(), &k)
        .await
        .unwrap();
    let state = AppState {
        chat: ChatService::new(store.clone(), share(k), DialogueSettings::default())
            .with_request_hooks(frontdoor::app::request_hooks(&config).unwrap()),
        content_dir: common::repo_root(),
        engine: Default::default(),
        admin_token: Some(frontdoor::config::Secret::new(common::ADMIN_TOKEN)),
        web: Arc::new(frontdoor::http::WebState::new(Default::default(), None)),
        telegram: None,
        telegram_webhook_secret: None,
    };
    let server = TestServer::start_state(store, state).await;
    let worker = frontdoor::app::outbox_worker(&config, &server.state);
    (
        Setup {
            server,
            config,
            _dir: dir,
        },
        worker,
    )
}

fn jira_template() -> String {
    common::repo_root()
        .join("examples/case-systems/jira-service-management.json")
        .display()
        .to_string()
}

/// Open a vendor set-up request in the web chat as an ACME user; its reference.
async fn open_request(url: &str, session: &str) -> String {
    let http = reqwest::Client::new();
    let script = [
        "I need a new vendor set up in the system",
        VENDOR,
        "GB123456789",
        "Vendor will email",
        "ap@acmewidgets.example",
        "Goods",
        "Submit",
    ];
    let mut last = Value::Null;
    for (i, text) in script.iter().enumerate() {
        let mut body = json!({"session": session, "text": text});
        if i == 0 {
            body["user"] =
                json!({"id": format!("{session}-user"), "name": "Ann Lee", "client": "ACME"});
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

/// Pick the request up from the back office, with a note that needs escaping.
async fn pick_up(s: &Setup, reference: &str) {
    frontdoor::requests::change(
        &s.server.state.chat,
        &s.server.state.web.outlets,
        reference,
        Change {
            to: Some(RequestStatus::InProgress),
            note: Some("Picked up — \"tomorrow\"\nsecond line".into()),
            actor: "dana@sso.example".into(),
            source: Some(RequestSource::Backoffice),
            ..Change::default()
        },
        &None,
        Utc::now(),
    )
    .await
    .unwrap();
}

async fn hook_rows(store: &dyn Store, reference: &str) -> Vec<OutboxRow> {
    store
        .outbox_by_key_prefix(&format!("request-{reference}-hook-"))
        .await
        .unwrap()
}

/// Every accepted delivery's key arrived once.
fn each_once(c: &CaseSystem) {
    let mut keys: BTreeMap<String, usize> = BTreeMap::new();
    for d in c.accepted() {
        *keys.entry(d.key().to_string()).or_default() += 1;
    }
    assert!(keys.values().all(|n| *n == 1), "{keys:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_opened_and_changed_is_told_once_each_signed_and_jira_gets_its_body() {
    let k = common::shipped();
    for (name, store, _data) in common::backends("request_hooks_told").await {
        let case = CaseSystem::new(SECRET);
        let url = case.serve(0).await;
        let (s, worker) = setup(
            store.clone(),
            &format!(
                r#"public_url = "https://frontdoor.sso.example"

[[requests.webhook]]
name = "cases"
url = "{url}/cases"

[[requests.webhook]]
name = "jira"
url = "{url}/rest/servicedeskapi/request"
events = ["request.created"]
template = "{}"
headers_from_env = {{ Authorization = "JIRA_AUTH" }}
"#,
                jira_template()
            ),
        )
        .await;

        let reference = open_request(&s.server.url, "told-1").await;
        worker.tick(Utc::now()).await.unwrap();
        let created = case.accepted_at("/cases");
        assert_eq!(created.len(), 1, "[{name}] {created:#?}");
        let d = &created[0];
        assert_eq!(d.event(), "request.created", "[{name}]");
        assert_eq!(
            d.key(),
            hook_rows(store.as_ref(), &reference).await[0].idempotency_key,
            "[{name}]"
        );
        assert!(d.header("content-type").starts_with("application/json"));
        assert_eq!(
            d.header("authorization"),
            "",
            "[{name}] Jira's token is Jira's"
        );
        let v = d.json();
        assert_eq!(v["event"], "request.created", "[{name}] {v}");
        assert_eq!(v["idempotency_key"], d.key(), "[{name}] {v}");
        let r = &v["request"];
        assert_eq!(r["reference"], reference.as_str(), "[{name}] {v}");
        assert_eq!(r["client"], "ACME");
        assert_eq!(r["client_name"], k.clients["ACME"].name.as_str());
        assert_eq!(r["service"], "vendor-setup");
        assert_eq!(r["service_name"], k.services["vendor-setup"].name.as_str());
        assert_eq!(r["status"], "open");
        assert_eq!(r["inputs"]["vendor_name"], VENDOR, "[{name}] {v}");
        assert_eq!(
            r["link"],
            format!("https://frontdoor.sso.example/admin/requests/{reference}")
        );

        // Jira Service Management's create-request body, with Jira's token.
        let jira = case.accepted_at("/rest/servicedeskapi/request");
        assert_eq!(jira.len(), 1, "[{name}] {jira:#?}");
        assert_eq!(jira[0].header("authorization"), JIRA_AUTH);
        assert_eq!(jira[0].event(), "request.created");
        let body = jira[0].json();
        assert_eq!(body["serviceDeskId"], "1", "[{name}] {body}");
        assert_eq!(body["requestTypeId"], "10", "[{name}] {body}");
        let fields = body["requestFieldValues"].as_object().unwrap();
        assert_eq!(fields.len(), 2, "[{name}] {body}");
        assert_eq!(
            fields["summary"],
            format!(
                "{reference} · {} for {}",
                k.services["vendor-setup"].name, k.clients["ACME"].name
            )
        );
        let description = fields["description"].as_str().unwrap();
        for line in [
            format!("Vendor name: {VENDOR}"),
            "Vat number: GB123456789".into(),
            "Category: Goods".into(),
            format!("In Frontdoor: https://frontdoor.sso.example/admin/requests/{reference}"),
        ] {
            assert!(
                description.contains(&line),
                "[{name}] {line:?} in {description}"
            );
        }

        // A change: one request.updated to the receiver that asked for it, none to Jira.
        pick_up(&s, &reference).await;
        worker.tick(Utc::now()).await.unwrap();
        let updated: Vec<_> = case
            .accepted_at("/cases")
            .into_iter()
            .filter(|d| d.event() == "request.updated")
            .collect();
        assert_eq!(updated.len(), 1, "[{name}] {updated:#?}");
        let v = updated[0].json();
        assert_eq!(v["request"]["status"], "in_progress", "[{name}] {v}");
        assert_eq!(
            v["changes"],
            json!([{"kind": "status", "from": "open", "to": "in_progress", "actor": "dana@sso.example",
                    "source": "backoffice", "note": "Picked up — \"tomorrow\"\nsecond line"}]),
            "[{name}] {v}"
        );
        assert_eq!(case.accepted_at("/rest/servicedeskapi/request").len(), 1);

        // Nothing more goes out, however often the worker looks.
        for n in 1..4 {
            worker.tick(Utc::now() + Duration::hours(n)).await.unwrap();
        }
        assert_eq!(case.accepted().len(), 3, "[{name}]");
        each_once(&case);
        assert_eq!(
            case.bad_signatures
                .load(std::sync::atomic::Ordering::SeqCst),
            0
        );
        let rows = hook_rows(store.as_ref(), &reference).await;
        assert_eq!(rows.len(), 3, "[{name}] {rows:#?}");
        assert!(
            rows.iter()
                .all(|r| r.status == "delivered" && r.attempts == 1),
            "[{name}] {rows:#?}"
        );
        // The bytes sent are the bytes stored when the change was written.
        for d in case.accepted() {
            let row = rows.iter().find(|r| r.idempotency_key == d.key()).unwrap();
            assert_eq!(d.body, row.payload.as_bytes(), "[{name}]");
        }
        s.server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_system_down_then_up_gets_each_event_exactly_once() {
    for (name, store, _data) in common::backends("request_hooks_down").await {
        let port = reserve_port();
        let (s, worker) = setup(
            store.clone(),
            &format!("[[requests.webhook]]\nurl = \"http://127.0.0.1:{port}/cases\"\n"),
        )
        .await;
        let reference = open_request(&s.server.url, "down-1").await;
        pick_up(&s, &reference).await;

        // Nothing listens: connection refused, both kept for a retry.
        let t0 = Utc::now();
        worker.tick(t0).await.unwrap();
        let rows = hook_rows(store.as_ref(), &reference).await;
        assert_eq!(rows.len(), 2, "[{name}] {rows:#?}");
        for r in &rows {
            assert_eq!(
                (r.status.as_str(), r.attempts),
                ("pending", 1),
                "[{name}] {r:#?}"
            );
            assert!(
                r.last_error
                    .as_deref()
                    .unwrap_or_default()
                    .contains("network"),
                "[{name}] {r:#?}"
            );
        }

        // Up, but unavailable: 503 with Retry-After, which sets the next attempt.
        let case = CaseSystem::new(SECRET);
        case.refuse(503, Some(7));
        let url = case.serve(port).await;
        assert_eq!(url, format!("http://127.0.0.1:{port}"));
        let t1 = t0 + Duration::hours(1);
        worker.tick(t1).await.unwrap();
        for r in hook_rows(store.as_ref(), &reference).await {
            assert_eq!(
                (r.status.as_str(), r.attempts),
                ("pending", 2),
                "[{name}] {r:#?}"
            );
            assert_eq!(
                r.next_attempt_at,
                (t1 + Duration::seconds(7)).timestamp_millis(),
                "[{name}]"
            );
        }
        assert_eq!(case.attempts.load(std::sync::atomic::Ordering::SeqCst), 2);

        // Up: each event once, in the order they happened, and never again.
        case.accept();
        worker.tick(t1 + Duration::seconds(8)).await.unwrap();
        for n in 1..4 {
            worker.tick(t1 + Duration::hours(n)).await.unwrap();
        }
        let got = case.accepted();
        let events: Vec<&str> = got.iter().map(|d| d.event()).collect();
        assert_eq!(events.len(), 2, "[{name}] {got:#?}");
        assert!(
            events.contains(&"request.created") && events.contains(&"request.updated"),
            "[{name}]"
        );
        each_once(&case);
        assert_eq!(
            case.bad_signatures
                .load(std::sync::atomic::Ordering::SeqCst),
            0
        );
        for r in hook_rows(store.as_ref(), &reference).await {
            assert_eq!(
                (r.status.as_str(), r.attempts),
                ("delivered", 3),
                "[{name}] {r:#?}"
            );
        }
        s.server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_system_that_keeps_failing_ends_failed_in_view() {
    for (name, store, _data) in common::backends("request_hooks_failed").await {
        let refusing = CaseSystem::new(SECRET);
        refusing.refuse(400, None);
        let refusing_url = refusing.serve(0).await;
        let down = CaseSystem::new(SECRET);
        down.refuse(503, None);
        let down_url = down.serve(0).await;
        let (s, worker) = setup(
            store.clone(),
            &format!(
                "[requests]\nwebhook_max_attempts = 3\n\n[[requests.webhook]]\nname = \"refusing\"\nurl = \"{refusing_url}/x\"\nevents = [\"request.created\"]\n\n[[requests.webhook]]\nname = \"down\"\nurl = \"{down_url}/x\"\nevents = [\"request.created\"]\n"
            ),
        )
        .await;
        assert_eq!(s.config.requests.webhook_max_attempts, 3);
        let reference = open_request(&s.server.url, "failing-1").await;
        let t0 = Utc::now();
        for n in 0..6 {
            worker.tick(t0 + Duration::hours(n)).await.unwrap();
        }
        let rows = hook_rows(store.as_ref(), &reference).await;
        assert_eq!(
            rows.len(),
            2,
            "[{name}] nothing fell over to another route: {rows:#?}"
        );
        let row = |hook: &str| {
            rows.iter()
                .find(|r| r.idempotency_key.contains(&format!("-hook-{hook}-")))
                .unwrap()
                .clone()
        };
        // A 400 will not change by sending the same bytes again: failed at once.
        let r = row("refusing");
        assert_eq!(
            (r.status.as_str(), r.attempts),
            ("failed", 1),
            "[{name}] {r:#?}"
        );
        assert!(
            r.last_error.as_deref().unwrap().contains("400"),
            "[{name}] {r:#?}"
        );
        // A 503 is retried until the attempts run out.
        let r = row("down");
        assert_eq!(
            (r.status.as_str(), r.attempts),
            ("failed", 3),
            "[{name}] {r:#?}"
        );
        assert!(
            r.last_error
                .as_deref()
                .unwrap()
                .contains("gave up after 3 attempts"),
            "[{name}] {r:#?}"
        );
        assert_eq!(
            refusing.attempts.load(std::sync::atomic::Ordering::SeqCst),
            1
        );
        assert_eq!(down.attempts.load(std::sync::atomic::Ordering::SeqCst), 3);

        // In view: /metrics counts them.
        let metrics = reqwest::Client::new()
            .get(format!("{}/metrics", s.server.url))
            .bearer_auth(common::ADMIN_TOKEN)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            metrics.contains("frontdoor_request_hooks{status=\"failed\"} 2"),
            "[{name}] {metrics}"
        );
        s.server.stop().await;
    }
}

#[test]
fn the_readme_shows_the_shipped_jira_template() {
    let readme = std::fs::read_to_string(common::repo_root().join("README.md")).unwrap();
    let template = std::fs::read_to_string(Path::new(&jira_template())).unwrap();
    assert!(
        readme.contains(template.trim()),
        "README's Jira example differs from examples/case-systems/jira-service-management.json"
    );
}
