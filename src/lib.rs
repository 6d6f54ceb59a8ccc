//! Frontdoor: the self-service front door of a Shared Services Organisation.
//!
//! Data flows one way: channel adapter (`http`) → `dialogue` → `engine`/`knowledge` → `store`.
//!
//! - `config`: defaults → `frontdoor.toml` → environment → flags; secrets masked.
//! - `engine`: the pure intent engine (rules, then lexical similarity).
//! - `knowledge`: intents, articles, SPA service catalogue, clients, processes; `check`.
//! - `domain`: the shared vocabulary (a reply and its buttons, priority, a manager's action,
//!   stored time) that lets lower layers talk without importing upward.
//! - `policy`: the service centre's pure rules: business time, and where an escalation's
//!   pings go, to whom at each rung of the ladder, what they say, when the next one is due.
//! - `dialogue`: the pure state machine (`step`) and the service that commits each turn.
//! - `escalation`: above the dialogue: the outbox worker, ping delivery, managers' actions.
//! - `announce`: announcements to clients' staff: validation, the fan-out to chat users.
//! - `requests`: above the dialogue: moving a service request (back office, case-system API)
//!   and telling the client, through a turn and the outbox.
//! - `store`: the one seam between SQLite and PostgreSQL.
//! - `http`: the web chat API, WebSocket, widget, admin and health endpoints.
//! - `channels`: the Telegram and Discord adapters and each channel's outlet; identity tokens,
//!   rate limits, the push hub.
//! - `outlet`: the channel port (`Outlet`, the `Outlets` registry): what the bot says outside a
//!   turn (a manager's answer, the survey after it, pings) leaves through it, via the outbox.
//! - `app`: wiring: load knowledge, connect the store, seed clients, build the HTTP state.
//! - `cli`: the `frontdoor` command line, one module per command (`main.rs` only dispatches).
//! - `shutdown`: the one shutdown handle `serve` gives each background task.
//! - `loadtest`: the load generator behind `frontdoor loadtest`.
//! - `simulation`: simulated users: the demo data (`frontdoor demo-data`) and what the load test's
//!   users say.

pub mod announce;
pub mod app;
pub mod backoffice;
pub mod channels;
pub mod cli;
pub mod config;
pub mod dialogue;
pub mod domain;
pub mod engine;
pub mod escalation;
pub mod http;
pub mod knowledge;
pub mod loadtest;
pub mod outlet;
pub mod policy;
pub mod requests;
pub mod shutdown;
pub mod simulation;
pub mod store;
