//! `GET /metrics` in the Prometheus text format: messages by outcome, bot latency histogram,
//! outbox backlog and escalations by status. Totals come from the store, so every replica
//! reports the same counters; the group commit's and the turns' are this replica's own. Guarded like the operations endpoints (admin token, or an admin/SSO lead's API token).

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use super::backoffice::auth::ApiUser;
use super::{ApiError, AppState};
use crate::backoffice::access::Permission;

pub fn router() -> Router<Arc<AppState>> {
    Router::new().route("/metrics", get(metrics))
}

fn label(v: &str) -> String {
    v.replace('\\', r"\\")
        .replace('"', r#"\""#)
        .replace('\n', r"\n")
}

async fn metrics(
    State(app): State<Arc<AppState>>,
    ApiUser(p): ApiUser,
) -> Result<impl IntoResponse, ApiError> {
    super::backoffice::auth::require(&p, Permission::Metrics)?;
    let t = app.chat.store.totals().await?;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HELP frontdoor_messages_total Messages logged, by direction and outcome."
    );
    let _ = writeln!(out, "# TYPE frontdoor_messages_total counter");
    for (direction, outcome, n) in &t.messages {
        let _ = writeln!(
            out,
            "frontdoor_messages_total{{direction=\"{}\",outcome=\"{}\"}} {n}",
            label(direction),
            label(outcome)
        );
    }
    let _ = writeln!(
        out,
        "# HELP frontdoor_response_seconds Time to answer an inbound message."
    );
    let _ = writeln!(out, "# TYPE frontdoor_response_seconds histogram");
    for (bound, n) in &t.latency_buckets_us {
        let _ = writeln!(
            out,
            "frontdoor_response_seconds_bucket{{le=\"{}\"}} {n}",
            *bound as f64 / 1e6
        );
    }
    let _ = writeln!(
        out,
        "frontdoor_response_seconds_bucket{{le=\"+Inf\"}} {}",
        t.latency_count
    );
    let _ = writeln!(
        out,
        "frontdoor_response_seconds_sum {}",
        t.latency_sum_us as f64 / 1e6
    );
    let _ = writeln!(out, "frontdoor_response_seconds_count {}", t.latency_count);
    let _ = writeln!(
        out,
        "# HELP frontdoor_outbox Outbox rows (pings, relays, alerts, webhooks), by status."
    );
    let _ = writeln!(out, "# TYPE frontdoor_outbox gauge");
    for (status, n) in &t.outbox {
        let _ = writeln!(out, "frontdoor_outbox{{status=\"{}\"}} {n}", label(status));
    }
    let _ = writeln!(
        out,
        "# HELP frontdoor_request_hooks Case-system webhooks (request.created/updated) in the outbox, by status; failed ones were never delivered."
    );
    let _ = writeln!(out, "# TYPE frontdoor_request_hooks gauge");
    for (status, n) in &t.request_hooks {
        let _ = writeln!(
            out,
            "frontdoor_request_hooks{{status=\"{}\"}} {n}",
            label(status)
        );
    }
    let _ = writeln!(out, "# HELP frontdoor_escalations Escalations, by status.");
    let _ = writeln!(out, "# TYPE frontdoor_escalations gauge");
    for (status, n) in &t.escalations {
        let _ = writeln!(
            out,
            "frontdoor_escalations{{status=\"{}\"}} {n}",
            label(status)
        );
    }
    // This replica's own counters (the ones above are the store's, the same on every replica).
    let w = app.chat.store.write_counts();
    for (name, help, n) in [
        (
            "frontdoor_store_write_batches_total",
            "Group-commit transactions of this replica.",
            w.batches,
        ),
        (
            "frontdoor_store_write_jobs_total",
            "Write jobs (turns, new people and conversations, request numbers) of this replica.",
            w.jobs,
        ),
        (
            "frontdoor_store_write_reruns_total",
            "Batches that failed whole and were run again job by job (PostgreSQL).",
            w.reruns,
        ),
        (
            "frontdoor_store_shared_statements_total",
            "Statements that carried the turns of a batch's jobs, one row each (PostgreSQL).",
            w.shared_statements,
        ),
        (
            "frontdoor_store_shared_calls_total",
            "Turns carried by those statements (divided by them: turns per statement).",
            w.shared_calls,
        ),
        (
            "frontdoor_turns_handed_over_total",
            "Turns that let their session's next message step before they were durable.",
            app.chat.turn_counts().handed_over.load(Ordering::Relaxed),
        ),
        (
            "frontdoor_turns_stepped_again_total",
            "Turns stepped again because their conversation had moved on when they committed.",
            app.chat.turn_counts().stepped_again.load(Ordering::Relaxed),
        ),
    ] {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} counter");
        let _ = writeln!(out, "{name} {n}");
    }
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    ))
}
