//! The framework's ceiling: a bare axum server that echoes `POST /api/v1/chat` JSON bodies and
//! WebSocket text frames, with nothing else (no store, no engine, no middleware). Measured by the
//! same generator as Frontdoor, in the same run:
//!
//! ```sh
//! cargo run --release --example echo_server -- 127.0.0.1:8090 &
//! target/release/frontdoor loadtest --url http://127.0.0.1:8090 --sessions 64 --duration 10
//! ```
//!
//! It parses and re-serialises the JSON (as any JSON API must), so the ceiling includes that.

use axum::Json;
use axum::Router;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::Value;

async fn echo(Json(body): Json<Value>) -> Json<Value> {
    Json(body)
}

async fn ws(ws: WebSocketUpgrade) -> Response {
    ws.on_upgrade(|mut socket: WebSocket| async move {
        while let Some(Ok(msg)) = socket.recv().await {
            let reply = match msg {
                Message::Text(t) => match serde_json::from_str::<Value>(&t) {
                    Ok(v) => v.to_string(),
                    Err(_) => continue,
                },
                Message::Close(_) => break,
                _ => continue,
            };
            if socket.send(Message::Text(reply.into())).await.is_err() {
                break;
            }
        }
    })
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8090".into());
    let app = Router::new()
        .route("/api/v1/chat", post(echo))
        .route("/api/v1/ws", get(ws));
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("echo server listening: http://{}/", listener.local_addr()?);
    axum::serve(listener, app).await
}
