//! Shared test helpers: store backends (SQLite always, PostgreSQL when configured), the shipped
//! content, a real server on 127.0.0.1:0, and one copy each of the fakes and waits the tests
//! share (`wait`, `webhook`, `identity`, `outbox`).
#![allow(dead_code)]

pub mod case_system;
pub mod channels;
pub mod fake_discord;
pub mod fake_telegram;
pub mod identity;
pub mod outbox;
pub mod serve;
pub mod wait;
pub mod webhook;

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

/// The parts a run must not skip, from `FRONTDOOR_TEST_REQUIRE` (comma-separated: `postgres`,
/// `chromium`). CI sets both (`.ci/run`), so a missing database or browser fails the build
/// instead of passing with a SKIPPED line nobody reads.
pub fn required(part: &str) -> bool {
    std::env::var("FRONTDOOR_TEST_REQUIRE")
        .unwrap_or_default()
        .split(',')
        .any(|p| p.trim().eq_ignore_ascii_case(part))
}

/// Say loudly that part of a test did not run — or fail the test when `FRONTDOOR_TEST_REQUIRE`
/// names `part`. Written to the process's stderr directly: `eprintln!` would be captured by the
/// test harness and shown only if the test failed.
pub fn skipped(part: &str, what: &str) {
    use std::io::Write;
    if required(part) {
        panic!("FRONTDOOR_TEST_REQUIRE includes `{part}`, so this may not be skipped: {what}");
    }
    let _ = writeln!(std::io::stderr(), "\n!!! SKIPPED {what} !!!\n");
}

/// The PostgreSQL URL for tests, or `None` with a loud message (a failure when PostgreSQL is
/// required).
pub fn postgres_url(test: &str) -> Option<String> {
    match std::env::var("FRONTDOOR_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            skipped(
                "postgres",
                &format!(
                    "PostgreSQL part of `{test}`: FRONTDOOR_TEST_POSTGRES_URL is not set; set it to postgres://postgres@127.0.0.1:5432/test to run it (CI does)"
                ),
            );
            None
        }
    }
}

/// A PostgreSQL store in a fresh schema. An unreachable database is always a failure, with the
/// URL in the message: a URL that is set means the run is meant to use it.
pub async fn postgres_store(url: &str, schema: &str) -> PgStore {
    sweep_old_schemas(url).await;
    PgStore::connect_isolated(url, schema)
        .await
        .unwrap_or_else(|e| {
            panic!("FRONTDOOR_TEST_POSTGRES_URL={url} is set but PostgreSQL cannot be used: {e}")
        })
}

/// The Chromium for browser tests, by one rule (the one `.ci/run` uses): `FRONTDOOR_TEST_CHROMIUM`
/// when set, otherwise `chromium` on the `PATH`. `None` with a loud message (a failure when
/// Chromium is required).
pub fn chromium() -> Option<PathBuf> {
    let found = match std::env::var_os("FRONTDOOR_TEST_CHROMIUM") {
        Some(path) => Some(PathBuf::from(path)).filter(|p| p.is_file()),
        None => std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join("chromium"))
                .find(|p| p.is_file())
        }),
    };
    if found.is_none() {
        let looked = match std::env::var("FRONTDOOR_TEST_CHROMIUM") {
            Ok(path) => format!("FRONTDOOR_TEST_CHROMIUM={path} is not a file"),
            Err(_) => "no `chromium` on the PATH".to_string(),
        };
        skipped(
            "chromium",
            &format!(
                "browser test: {looked}; apt-get install -y chromium (CI installs it), or set FRONTDOOR_TEST_CHROMIUM"
            ),
        );
    }
    found
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

/// A fresh PostgreSQL schema name for one test (tests share the `test` database): `tt`, the
/// time it was made (seconds, hex), the test's name and a random part. The time lets a later
/// run drop it ([`sweep_old_schemas`]).
pub fn unique_schema(test: &str) -> String {
    let n: u64 = rand::random();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let name: String = test
        .chars()
        .take(24)
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("tt{now:x}_{name}_{n:x}")
}

/// Test schemas more than six hours old are an earlier run's (a test's schema lives minutes):
/// dropped once per test binary, so the shared `test` database does not grow run after run.
/// Schemas named before the time was in the name (`t_…`) are dropped too.
async fn sweep_old_schemas(url: &str) {
    static SWEPT: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    SWEPT
        .get_or_init(|| async {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let Ok(pool) = sqlx::postgres::PgPoolOptions::new()
                .max_connections(1)
                .connect(url)
                .await
            else {
                return; // postgres_store says why, loudly
            };
            let names: Vec<String> = sqlx::query_scalar(
                "SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'tt%' OR nspname LIKE 't\\_%'",
            )
            .fetch_all(&pool)
            .await
            .unwrap_or_default();
            for name in names {
                let made = name
                    .strip_prefix("tt")
                    .and_then(|rest| rest.split('_').next())
                    .and_then(|hex| u64::from_str_radix(hex, 16).ok());
                let old = match made {
                    Some(secs) => now.saturating_sub(secs) > 6 * 3600,
                    None => name.starts_with("t_"),
                };
                if old {
                    let drop = format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE");
                    if let Err(e) = sqlx::query(sqlx::AssertSqlSafe(drop)).execute(&pool).await {
                        eprintln!("could not drop the old test schema {name}: {e}");
                    }
                }
            }
            pool.close().await;
        })
        .await;
}

/// Where a backend's data lives, for tests that go around the store with raw SQL.
pub enum BackendData {
    /// The SQLite file is `frontdoor.db` in this folder (kept for the store's lifetime).
    Sqlite(tempfile::TempDir),
    /// The store's tables are in this schema of the database at `url`.
    Postgres { url: String, schema: String },
}

/// A store per available backend: SQLite in a temp dir, PostgreSQL in a fresh schema.
pub async fn backends(test: &str) -> Vec<(&'static str, Arc<dyn Store>, BackendData)> {
    let mut out: Vec<(&'static str, Arc<dyn Store>, BackendData)> = Vec::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let sqlite = SqliteStore::open(&dir.path().join("frontdoor.db"))
        .await
        .expect("sqlite store");
    out.push(("sqlite", Arc::new(sqlite), BackendData::Sqlite(dir)));
    if let Some(url) = postgres_url(test) {
        let schema = unique_schema(test);
        let pg = postgres_store(&url, &schema).await;
        out.push((
            "postgres",
            Arc::new(pg),
            BackendData::Postgres { url, schema },
        ));
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
        Self::start_with_knowledge(store, content, web, identity_secret, load_content(content))
            .await
    }

    /// Serve `k` (loaded as the test needs it, e.g. with the product's engine settings).
    pub async fn start_with_knowledge(
        store: Arc<dyn Store>,
        content: &Path,
        web: frontdoor::config::WebSettings,
        identity_secret: Option<frontdoor::config::Secret>,
        k: Knowledge,
    ) -> TestServer {
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

/// ACME's primary manager's routes as shipped: Telegram and Discord, then (no `route_order`, so
/// chats first) a webhook at the `frontdoor inbox` address.
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

/// A raw HTTP/1.1 GET of `path` exactly as written: a client library would normalise `..` away
/// before sending. (status, the whole answer); blocking, with a 10 s read timeout.
pub fn raw_get(addr: &str, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .expect("read timeout");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    let status = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, out)
}

/// A child process (a real `frontdoor` binary) that is killed when dropped, so a test that
/// fails half-way leaves no server running behind it.
pub struct KillOnDrop(pub std::process::Child);

impl std::ops::Deref for KillOnDrop {
    type Target = std::process::Child;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for KillOnDrop {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        // Already gone when the test stopped it itself: both calls then fail harmlessly.
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
