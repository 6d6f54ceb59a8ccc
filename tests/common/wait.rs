//! Waiting for something to happen: a condition, a WebSocket frame, a process announcing its
//! address. Every wait has a deadline, so a hang becomes a failure that says what it waited for
//! instead of holding CI for its full timeout; the deadlines are generous (a loaded CI machine
//! is slow), since how fast things happen is the benchmarks' business, not the tests'.

use std::future::Future;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::Value;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

/// How long a wait for something the system does by itself may take before the test fails.
/// Everything waited for here takes milliseconds on an idle machine; 20 s absorbs a CI machine
/// busy compiling.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// Poll `f` every 20 ms until it returns `Some`, for at most `within`; panics naming `what`.
pub async fn until<T>(what: &str, within: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {within:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// [`until`] for a condition that needs to await (a store query, an HTTP call).
pub async fn until_async<T, F: Future<Output = Option<T>>>(
    what: &str,
    within: Duration,
    mut f: impl FnMut() -> F,
) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {within:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A client WebSocket to a test server.
pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The next text frame, as JSON (other frames are skipped); fails after 10 s without one.
pub async fn next_json(ws: &mut Ws) -> Value {
    loop {
        let m = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a frame within 10 s")
            .expect("the socket is open")
            .expect("a frame");
        if let Message::Text(t) = m {
            return serde_json::from_str(&t).expect("a JSON frame");
        }
    }
}

/// Whether the server closes the socket (a close frame, an error or the end of the stream)
/// within 10 s; frames before the close are skipped.
pub async fn closes(ws: &mut Ws) -> bool {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match ws.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(_)) => continue,
            }
        }
    })
    .await
    .is_ok()
}

/// The base URL (`http://host:port`) a log line announces after `marker` (e.g. `"listening: "`).
pub fn announced_url(log: &str, marker: &str) -> Option<String> {
    let at = log.find(&format!("{marker}http://"))?;
    let rest = &log[at + marker.len() + "http://".len()..];
    let host: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '[' | ']' | '-'))
        .collect();
    (!host.is_empty()).then(|| format!("http://{host}"))
}

/// Read a child process's log on a thread: its base URL once a line announces it after
/// `marker` (within 120 s: the first start may wait for the binary's first page-in), and every
/// line is handed to `each` (to echo errors, or keep).
pub fn url_from_log(
    log: impl Read + Send + 'static,
    marker: &'static str,
    mut each: impl FnMut(&str) + Send + 'static,
) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        for line in BufReader::new(log).lines().map_while(Result::ok) {
            if let Some(url) = announced_url(&line, marker)
                && let Some(tx) = tx.take()
            {
                let _ = tx.send(url);
            }
            each(&line);
        }
    });
    rx.recv_timeout(Duration::from_secs(120))
        .unwrap_or_else(|_| panic!("the process did not log `{marker}http://…` within 120 s"))
}

/// [`url_from_log`] for a process whose output goes to a file.
pub async fn url_from_log_file(path: &Path, marker: &str) -> String {
    until(
        &format!("{} to announce `{marker}http://…`", path.display()),
        Duration::from_secs(120),
        || announced_url(&std::fs::read_to_string(path).unwrap_or_default(), marker),
    )
    .await
}
