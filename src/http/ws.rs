//! `GET /api/v1/ws?session=…[&token=…]`: the web chat over a WebSocket. Frames carry the same JSON
//! as `POST /api/v1/chat` in both directions; later messages (relayed answers, surveys) are pushed
//! to every socket open on the conversation.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::mpsc;

use super::chat::{ChatRequest, check_rate, process};
use super::{ApiError, AppState, MAX_BODY_BYTES};

pub fn router() -> Router<Arc<AppState>> {
    Router::new().route("/api/v1/ws", get(upgrade))
}

#[derive(Deserialize)]
struct WsQuery {
    session: String,
    token: Option<String>,
}

async fn upgrade(
    State(app): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(q): Query<WsQuery>,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    app.web.check_origin(&headers)?;
    if q.session.is_empty() || q.session.len() > 128 {
        return Err(ApiError::Unprocessable(
            "session must be 1-128 characters".into(),
        ));
    }
    Ok(ws
        .max_message_size(MAX_BODY_BYTES)
        .on_upgrade(move |socket| serve_socket(app, socket, peer, q.session, q.token)))
}

fn error_frame(e: &ApiError) -> String {
    json!({"error": e.to_string(), "status": e.status().as_u16()}).to_string()
}

async fn serve_socket(
    app: Arc<AppState>,
    mut socket: WebSocket,
    peer: SocketAddr,
    session: String,
    token: Option<String>,
) {
    let (push_tx, mut push_rx) = mpsc::unbounded_channel::<String>();
    // Joined once the first reply names the conversation; (conversation, hub id).
    let mut joined: Option<(String, u64)> = None;
    // If the session already has a conversation, receive pushes for it straight away.
    if let Ok(Some(conv)) = app
        .chat
        .store
        .conversation_by_session("web", &session)
        .await
    {
        joined = Some((conv.id.clone(), app.web.hub.join(&conv.id, push_tx.clone())));
    }
    loop {
        tokio::select! {
            pushed = push_rx.recv() => {
                let Some(frame) = pushed else { break };
                if socket.send(Message::Text(frame.into())).await.is_err() {
                    break;
                }
            }
            incoming = socket.recv() => {
                let Some(Ok(msg)) = incoming else { break };
                let text = match msg {
                    Message::Text(t) => t.to_string(),
                    Message::Close(_) => break,
                    Message::Binary(_) => {
                        let e = ApiError::UnsupportedMediaType("send JSON text frames".into());
                        if socket.send(Message::Text(error_frame(&e).into())).await.is_err() { break }
                        continue;
                    }
                    _ => continue,
                };
                let reply = handle_frame(&app, peer, &session, token.as_deref(), &text).await;
                let frame = match reply {
                    Ok(resp) => {
                        if joined.as_ref().is_none_or(|(c, _)| c != &resp.conversation) {
                            if let Some((c, id)) = joined.take() {
                                app.web.hub.leave(&c, id);
                            }
                            joined = Some((resp.conversation.clone(), app.web.hub.join(&resp.conversation, push_tx.clone())));
                        }
                        serde_json::to_string(&resp).unwrap_or_default()
                    }
                    Err(e) => error_frame(&e),
                };
                if socket.send(Message::Text(frame.into())).await.is_err() {
                    break;
                }
            }
        }
    }
    if let Some((c, id)) = joined {
        app.web.hub.leave(&c, id);
    }
}

async fn handle_frame(
    app: &AppState,
    peer: SocketAddr,
    session: &str,
    token: Option<&str>,
    text: &str,
) -> Result<super::chat::ChatResponse, ApiError> {
    let mut req: ChatRequest = serde_json::from_str(text).map_err(|e| {
        if e.is_syntax() || e.is_eof() {
            ApiError::BadRequest(format!("invalid JSON: {e}"))
        } else {
            ApiError::Unprocessable(e.to_string())
        }
    })?;
    if req.session != session {
        return Err(ApiError::Unprocessable(
            "the frame's session differs from the socket's".into(),
        ));
    }
    if req.token.is_none() && req.user.is_none() {
        req.token = token.map(str::to_string);
    }
    check_rate(&app.web, peer, session)?;
    process(app, req).await
}
