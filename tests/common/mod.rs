//! Shared test helpers: store backends (SQLite always, PostgreSQL when configured), the shipped
//! content, and a real server on 127.0.0.1:0.
#![allow(dead_code)]

pub mod channels;
pub mod fake_discord;
pub mod fake_telegram;

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use frontdoor::config::DialogueSettings;
use frontdoor::dialogue::service::{ChatService, share};
use frontdoor::http::AppState;
use frontdoor::knowledge::Knowledge;
use frontdoor::store::{PgStore, SqliteStore, Store};
use tokio::sync::oneshot;

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Say loudly that part of a test did not run. Written to the process's stderr directly:
/// `eprintln!` would be captured by the test harness and shown only if the test failed.
pub fn skipped(what: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "\n!!! SKIPPED {what} !!!\n");
}

/// The PostgreSQL URL for tests, or `None` with a loud message.
pub fn postgres_url(test: &str) -> Option<String> {
    match std::env::var("FRONTDOOR_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            skipped(&format!(
                "PostgreSQL part of `{test}`: set FRONTDOOR_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test to run it (CI does)"
            ));
            None
        }
    }
}

/// A client's conversation that runs the vendor set-up form to its request, then asks for a
/// person: after an opening message (a greeting, or a Telegram `/start CODE`).
pub const VENDOR_THEN_HUMAN: [&str; 8] = [
    "I need a new vendor set up in the system",
    "Acme Widgets Ltd",
    "GB123456789",
    "Vendor will email",
    "ap@acmewidgets.example",
    "Goods",
    "Submit",
    "I want to talk to a real person please",
];

/// A fresh PostgreSQL schema name for one test (tests share the `test` database).
pub fn unique_schema(test: &str) -> String {
    let n: u64 = rand::random();
    format!(
        "t_{}_{n:x}",
        test.replace(|c: char| !c.is_ascii_alphanumeric(), "_")
    )
}

/// A store per available backend: SQLite in a temp dir, PostgreSQL in a fresh schema.
pub async fn backends(
    test: &str,
) -> Vec<(&'static str, Arc<dyn Store>, Option<tempfile::TempDir>)> {
    let mut out: Vec<(&'static str, Arc<dyn Store>, Option<tempfile::TempDir>)> = Vec::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let sqlite = SqliteStore::open(&dir.path().join("frontdoor.db"))
        .await
        .expect("sqlite store");
    out.push(("sqlite", Arc::new(sqlite), Some(dir)));
    if let Some(url) = postgres_url(test) {
        let pg = PgStore::connect_isolated(&url, &unique_schema(test))
            .await
            .expect("postgres store (is PostgreSQL running?)");
        out.push(("postgres", Arc::new(pg), None));
    }
    out
}

/// The shipped content, loaded once per test binary.
pub fn shipped() -> Arc<Knowledge> {
    static K: OnceLock<Arc<Knowledge>> = OnceLock::new();
    K.get_or_init(|| {
        Arc::new(
            Knowledge::load(&repo_root(), frontdoor::engine::EngineConfig::default())
                .unwrap_or_else(|e| panic!("shipped content must load:\n{e}")),
        )
    })
    .clone()
}

pub fn load_content(dir: &Path) -> Knowledge {
    Knowledge::load(dir, frontdoor::engine::EngineConfig::default())
        .unwrap_or_else(|e| panic!("content must load:\n{e}"))
}

/// The operator's admin token of every test server (`FRONTDOOR_ADMIN_TOKEN`).
pub const ADMIN_TOKEN: &str = "test-operator-token-0123456789";

/// A running server on 127.0.0.1:0.
pub struct TestServer {
    pub url: String,
    pub store: Arc<dyn Store>,
    pub state: AppState,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl TestServer {
    pub async fn start(store: Arc<dyn Store>) -> TestServer {
        Self::start_with_content(store, &repo_root()).await
    }

    pub async fn start_with_content(store: Arc<dyn Store>, content: &Path) -> TestServer {
        Self::start_with(
            store,
            content,
            frontdoor::config::WebSettings::default(),
            None,
        )
        .await
    }

    pub async fn start_with(
        store: Arc<dyn Store>,
        content: &Path,
        web: frontdoor::config::WebSettings,
        identity_secret: Option<frontdoor::config::Secret>,
    ) -> TestServer {
        // FRONTDOOR_TEST_LOG=debug (any filter) shows the server's logs in a failing test's
        // output: an internal error's detail is only ever logged, never sent to the caller.
        if let Ok(filter) = std::env::var("FRONTDOOR_TEST_LOG") {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
                .with_test_writer()
                .try_init();
        }
        let k = load_content(content);
        frontdoor::app::seed_clients(store.as_ref(), &k)
            .await
            .expect("seed clients");
        let state = AppState {
            chat: ChatService::new(store.clone(), share(k), DialogueSettings::default()),
            content_dir: content.to_path_buf(),
            engine: Default::default(),
            admin_token: Some(frontdoor::config::Secret::new(ADMIN_TOKEN.to_string())),
            web: Arc::new(frontdoor::http::WebState::new(web, identity_secret)),
            telegram: None,
            telegram_webhook_secret: None,
        };
        Self::start_state(store, state).await
    }

    /// Serve a state the test has put together (e.g. with a Telegram adapter).
    pub async fn start_state(store: Arc<dyn Store>, state: AppState) -> TestServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let (tx, rx) = oneshot::channel();
        let handle = tokio::spawn(frontdoor::http::run(listener, state.clone(), async {
            let _ = rx.await;
        }));
        TestServer {
            url,
            store,
            state,
            shutdown: Some(tx),
            handle: Some(handle),
        }
    }

    /// Push a message to the conversation's open sockets (as a relayed answer would).
    pub fn push(&self, conversation: &str, message: &str) -> usize {
        self.state.web.hub.push(conversation, message)
    }

    /// Graceful stop: in-flight requests finish.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            h.await.expect("server task").expect("server");
        }
    }
}

/// A copy of the shipped content (intents + knowledge base) in a temp dir, to edit per test.
pub fn content_copy() -> tempfile::TempDir {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).expect("mkdir");
        for entry in std::fs::read_dir(from).expect("read_dir") {
            let entry = entry.expect("entry");
            let target = to.join(entry.file_name());
            if entry.file_type().expect("file type").is_dir() {
                copy(&entry.path(), &target);
            } else {
                std::fs::copy(entry.path(), &target).expect("copy");
            }
        }
    }
    let dir = tempfile::tempdir().expect("tempdir");
    for sub in ["intents", "knowledge-base"] {
        copy(&repo_root().join(sub), &dir.path().join(sub));
    }
    dir
}

/// Replace `from` by `to` in a content file (panics if `from` is absent: the test is stale).
pub fn edit_content(dir: &Path, file: &str, from: &str, to: &str) {
    let path = dir.join(file);
    let text = std::fs::read_to_string(&path).expect("read content file");
    assert!(text.contains(from), "{file} no longer contains {from:?}");
    std::fs::write(&path, text.replace(from, to)).expect("write content file");
}

/// ACME's primary manager's routes as shipped: a webhook at the `frontdoor inbox` address, then
/// Telegram and Discord.
pub const ACME_PRIMARY_ROUTES: &str = "telegram_chat = 100200300\ndiscord_user = \"412345678901234567\"\nwebhook = \"http://127.0.0.1:9009/hooks/acme\"";

/// In a content copy, replace ACME's primary manager's shipped routes with `routes` (TOML lines).
pub fn set_acme_primary_routes(dir: &Path, routes: &str) {
    edit_content(
        dir,
        "knowledge-base/clients/acme.toml",
        ACME_PRIMARY_ROUTES,
        routes,
    );
}

/// Serve `app` (a fake receiver or API) on 127.0.0.1:0 in the background; its base URL.
pub async fn serve_fake(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let url = format!("http://{}", listener.local_addr().expect("local address"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}
