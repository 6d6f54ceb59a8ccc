//! The hot path's write jobs — a turn, a new person or conversation, a request number — written
//! once against [`Exec`] and run by each backend's group commit (`sqlite/group_commit.rs`: one
//! after another in one transaction; `postgres/group_commit.rs`: side by side in one pipelined
//! transaction). A turn's own rows are written step by step on SQLite and in one statement on
//! PostgreSQL (`turn.rs`).
//! Each returns its value and whether to keep what it wrote. A job that keeps nothing must
//! leave nothing (PostgreSQL runs it without a savepoint), and a job may run more than once
//! (PostgreSQL re-runs a failed batch's jobs one by one): its effects come only from its
//! statements.

mod turn;

pub use turn::commit_turn;

use super::exec::{Exec, args};
use super::{
    ConversationRow, EscalationAction, IdentityClaim, Millis, NewPing, Person, Record,
    RequestUpdate, StoreError, StoreResult, Turn,
};

pub const PERSON_BY_IDENTITY: &str =
    "SELECT p.id, p.client_code, p.display_name, p.created_at, p.last_seen_at
     FROM identities i JOIN people p ON p.id = i.person_id
     WHERE i.channel = $1 AND i.external_id = $2";

/// A survey answer, on the conversation's latest survey (found by `surveys_conversation`).
pub(crate) const SURVEY_ANSWER: &str =
    "UPDATE surveys SET answered_at = $1, score = COALESCE($2, score),
        comment = COALESCE($3, comment)
     WHERE id = (SELECT MAX(id) FROM surveys WHERE conversation_id = $4)";

/// Find or create the person behind a channel identity (see `Store::resolve_person`).
pub async fn resolve_person<E: Exec + ?Sized>(
    tx: &mut E,
    claim: &IdentityClaim,
    now: Millis,
) -> StoreResult<(Person, bool)> {
    let existing = tx
        .fetch_person(
            PERSON_BY_IDENTITY,
            args![&claim.channel, &claim.external_id],
        )
        .await?;
    let person = match existing {
        Some(mut p) => {
            if p.client_code.is_none() && claim.client_code.is_some() {
                p.client_code = claim.client_code.clone();
            }
            if claim.display_name.is_some() {
                p.display_name = claim.display_name.clone();
            }
            tx.queue(
                "UPDATE people SET last_seen_at = $1, client_code = $2, display_name = $3 WHERE id = $4",
                args![now, &p.client_code, &p.display_name, p.id],
            )
            .await?;
            p
        }
        None => {
            let id = insert_person(tx, claim, now).await?;
            Person {
                id,
                client_code: claim.client_code.clone(),
                display_name: claim.display_name.clone(),
                created_at: now,
                last_seen_at: now,
            }
        }
    };
    Ok((person, true))
}

/// A new person with their first identity; their id.
pub(super) async fn insert_person<E: Exec + ?Sized>(
    tx: &mut E,
    claim: &IdentityClaim,
    now: Millis,
) -> StoreResult<i64> {
    let id = tx
        .insert_id(
            "INSERT INTO people (client_code, display_name, created_at, last_seen_at)
             VALUES ($1, $2, $3, $3) RETURNING id",
            args![&claim.client_code, &claim.display_name, now],
        )
        .await?
        .ok_or_else(|| StoreError::Invalid("INSERT … RETURNING gave no row".into()))?;
    tx.queue(
        "INSERT INTO identities (channel, external_id, person_id, created_at)
         VALUES ($1, $2, $3, $4)",
        args![&claim.channel, &claim.external_id, id, now],
    )
    .await?;
    Ok(id)
}

pub const CONVERSATION_BY_SESSION: &str =
    "SELECT id, channel, session_key, person_id, client_code, state, version, created_at, updated_at
     FROM conversations WHERE channel = $1 AND session_key = $2";

/// Insert `c` (a new conversation: version 0, created now) unless the session has one, and
/// return the session's conversation: ours, or the one that won the race (read in the same
/// transaction).
pub async fn open_conversation<E: Exec + ?Sized>(
    tx: &mut E,
    c: &ConversationRow,
) -> StoreResult<(ConversationRow, bool)> {
    tx.queue(
        "INSERT INTO conversations
            (id, channel, session_key, person_id, client_code, state, version, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $7)
         ON CONFLICT (channel, session_key) DO NOTHING",
        args![
            &c.id,
            &c.channel,
            &c.session_key,
            c.person_id,
            &c.client_code,
            &c.state,
            c.created_at
        ],
    )
    .await?;
    let row = tx
        .fetch_conversation(CONVERSATION_BY_SESSION, args![&c.channel, &c.session_key])
        .await?
        .ok_or_else(|| StoreError::Invalid("conversation vanished after insert".into()))?;
    Ok((row, true))
}

pub async fn next_request_number<E: Exec + ?Sized>(tx: &mut E) -> StoreResult<(i64, bool)> {
    let n = tx
        .fetch_i64(
            "UPDATE counters SET value = value + 1 WHERE name = 'request_reference' RETURNING value",
            &[],
        )
        .await?
        .ok_or_else(|| StoreError::Invalid("the request_reference counter is missing".into()))?;
    Ok((n, true))
}

pub(super) async fn write_record<E: Exec + ?Sized>(
    tx: &mut E,
    turn: &Turn,
    person_id: Option<i64>,
    inbound_id: i64,
    record: &Record,
) -> StoreResult<()> {
    match record {
        Record::Request {
            reference,
            service_id,
            priority,
            inputs,
            due_at,
            off_hours,
            hooks,
        } => {
            let id = tx
                .insert_id(
                    "INSERT INTO service_requests (reference, conversation_id, person_id, client_code,
                        service_id, status, priority, inputs, opened_at, due_at, off_hours, updated_at)
                     VALUES ($1, $2, $3, $4, $5, 'open', $6, $7, $8, $9, $10, $8)
                     RETURNING id",
                    args![
                        reference,
                        &turn.conversation_id,
                        person_id,
                        &turn.client_code,
                        service_id,
                        priority,
                        inputs,
                        turn.now,
                        *due_at,
                        *off_hours
                    ],
                )
                .await?
                .ok_or_else(|| StoreError::Invalid("INSERT … RETURNING gave no row".into()))?;
            tx.queue(
                "INSERT INTO request_events (request_id, kind, to_status, actor, source, created_at)
                 VALUES ($1, 'created', 'open', 'client', 'chat', $2)",
                args![id, turn.now],
            )
            .await?;
            for (key, ping) in hooks {
                insert_outbox(tx, key, ping, turn.now).await?;
            }
        }
        Record::InputCollection {
            service_id,
            started_at,
            outcome,
            complete_first_attempt,
            reprompts,
            missing_inputs,
            request_reference,
        } => {
            tx.queue(
                "INSERT INTO input_collections (conversation_id, client_code, service_id, started_at,
                    ended_at, outcome, complete_first_attempt, reprompts, missing_inputs, request_reference)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                args![
                    &turn.conversation_id,
                    &turn.client_code,
                    service_id,
                    *started_at,
                    turn.now,
                    outcome,
                    *complete_first_attempt,
                    *reprompts,
                    *missing_inputs,
                    request_reference
                ],
            )
            .await?;
        }
        Record::Escalation {
            reason,
            priority,
            request_reference,
            due_at,
            next_ping_at,
            off_hours,
            manager_email,
            pings,
            draft,
        } => {
            let escalation_id = tx
                .insert_id(
                    "INSERT INTO escalations (conversation_id, person_id, client_code, request_reference,
                        reason, priority, status, level, created_at, due_at, next_ping_at, off_hours, manager_id,
                        draft)
                     VALUES ($1, $2, $3, $4, $5, $6, 'open', 0, $7, $8, $9, $10,
                        (SELECT id FROM account_managers WHERE client_code = $3 AND email = $11), $12)
                     RETURNING id",
                    args![
                        &turn.conversation_id,
                        person_id,
                        &turn.client_code,
                        request_reference,
                        reason,
                        priority,
                        turn.now,
                        *due_at,
                        *next_ping_at,
                        *off_hours,
                        manager_email,
                        draft
                    ],
                )
                .await?
                .ok_or_else(|| StoreError::Invalid("INSERT … RETURNING gave no row".into()))?;
            for (n, ping) in pings.iter().enumerate() {
                let key = format!("escalation-{escalation_id}-ping-0-{n}");
                tx.queue(
                    "INSERT INTO outbox (idempotency_key, kind, escalation_id, route, payload, status,
                        attempts, next_attempt_at, created_at)
                     VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, $6)",
                    args![
                        &key,
                        &ping.kind,
                        escalation_id,
                        &ping.route,
                        &ping.payload,
                        turn.now
                    ],
                )
                .await?;
            }
        }
        Record::EscalationAction {
            escalation_id,
            action,
            by,
            verdict,
        } => {
            // Every action acknowledges (a reply or resolution is seen to), and stops the
            // re-ping ladder; the first time of each stays for the KPIs. A draft's verdict
            // (the first one stands) answers a shadow-mode escalation whole: it resolves it.
            if let Some(verdict) = verdict {
                tx.queue(
                    "UPDATE escalations SET status = 'resolved',
                        acknowledged_at = COALESCE(acknowledged_at, $2),
                        acknowledged_by = COALESCE(acknowledged_by, $3),
                        first_response_at = COALESCE(first_response_at, $2),
                        resolved_at = COALESCE(resolved_at, $2), next_ping_at = NULL,
                        draft_verdict = COALESCE(draft_verdict, $4)
                     WHERE id = $1",
                    args![*escalation_id, turn.now, by, verdict.as_str()],
                )
                .await?;
                return Ok(());
            }
            let sql = match action {
                EscalationAction::Acknowledge => {
                    "UPDATE escalations SET
                        status = CASE WHEN status = 'open' THEN 'acknowledged' ELSE status END,
                        acknowledged_at = COALESCE(acknowledged_at, $2),
                        acknowledged_by = COALESCE(acknowledged_by, $3), next_ping_at = NULL
                     WHERE id = $1"
                }
                EscalationAction::Reply => {
                    "UPDATE escalations SET
                        status = CASE WHEN status = 'open' THEN 'acknowledged' ELSE status END,
                        acknowledged_at = COALESCE(acknowledged_at, $2),
                        acknowledged_by = COALESCE(acknowledged_by, $3),
                        first_response_at = COALESCE(first_response_at, $2), next_ping_at = NULL
                     WHERE id = $1"
                }
                EscalationAction::Resolve | EscalationAction::Approve => {
                    "UPDATE escalations SET status = 'resolved',
                        acknowledged_at = COALESCE(acknowledged_at, $2),
                        acknowledged_by = COALESCE(acknowledged_by, $3),
                        first_response_at = COALESCE(first_response_at, $2),
                        resolved_at = COALESCE(resolved_at, $2), next_ping_at = NULL
                     WHERE id = $1"
                }
            };
            tx.queue(sql, args![*escalation_id, turn.now, by]).await?;
        }
        Record::Survey {
            cause,
            expires_at,
            request_reference,
        } => {
            tx.queue(
                "INSERT INTO surveys (conversation_id, person_id, client_code, cause, sent_at, expires_at,
                    request_reference)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
                args![
                    &turn.conversation_id,
                    person_id,
                    &turn.client_code,
                    cause,
                    turn.now,
                    *expires_at,
                    request_reference
                ],
            )
            .await?;
        }
        Record::RequestUpdate(update) => {
            update_request(tx, update, turn.now).await?;
        }
        Record::SurveyAnswer { score, comment } => {
            // The answer belongs to the conversation's latest survey; a comment that follows a
            // score keeps the score.
            tx.queue(
                SURVEY_ANSWER,
                args![turn.now, *score, comment, &turn.conversation_id],
            )
            .await?;
        }
        Record::Gap {
            kind,
            text,
            intent,
            confidence,
        } => {
            tx.queue(
                "INSERT INTO knowledge_gaps (conversation_id, message_id, client_code, kind, text,
                    intent, confidence, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                args![
                    &turn.conversation_id,
                    inbound_id,
                    &turn.client_code,
                    kind,
                    text,
                    intent,
                    *confidence,
                    turn.now
                ],
            )
            .await?;
        }
        Record::Outbox { key, ping } => {
            // The key makes a replayed turn's row a no-op rather than a second message.
            insert_outbox(tx, key, ping, turn.now).await?;
        }
        Record::Ledger {
            interaction_type,
            reference,
        } => {
            // Anonymous visitors have no client to recharge.
            if let Some(client) = &turn.client_code {
                tx.queue(
                    "INSERT INTO recharge_ledger (client_code, interaction_type, quantity,
                        conversation_id, reference, created_at)
                     VALUES ($1, $2, 1, $3, $4, $5)",
                    args![
                        client,
                        interaction_type,
                        &turn.conversation_id,
                        reference,
                        turn.now
                    ],
                )
                .await?;
            }
        }
    }
    Ok(())
}

/// Queue an outbox row under its key; a key seen before is a no-op (a replayed write).
async fn insert_outbox<E: Exec + ?Sized>(
    tx: &mut E,
    key: &str,
    ping: &NewPing,
    now: Millis,
) -> StoreResult<()> {
    tx.queue(
        "INSERT INTO outbox (idempotency_key, kind, escalation_id, route, payload, status,
            attempts, next_attempt_at, created_at)
         VALUES ($1, $2, NULL, $3, $4, 'pending', 0, $5, $5)
         ON CONFLICT (idempotency_key) DO NOTHING",
        args![key, &ping.kind, &ping.route, &ping.payload, now],
    )
    .await?;
    Ok(())
}

/// Write a request's change: the row (only if it is still as `before` saw it), its events, its
/// outbox rows. `StoreError::Stale` when another change won; the caller's transaction then
/// keeps nothing.
pub async fn update_request<E: Exec + ?Sized>(
    tx: &mut E,
    u: &RequestUpdate,
    now: Millis,
) -> StoreResult<()> {
    let a = &u.after;
    let changed = tx
        .execute(
            "UPDATE service_requests SET status = $1, due_at = $2, closed_at = $3, assignee = $4,
                external_id = $5, updated_at = $6, waiting_since = $7, client_due_at = $8,
                waited_ms = $9, waited_business_ms = $10, client_waits = $11, client_late = $12,
                reopened = $13, first_done_at = $14
             WHERE id = $15 AND status = $16 AND updated_at = $17",
            args![
                &a.status,
                a.due_at,
                a.closed_at,
                &a.assignee,
                &a.external_id,
                a.updated_at,
                a.waiting_since,
                a.client_due_at,
                a.waited_ms,
                a.waited_business_ms,
                a.client_waits,
                a.client_late,
                a.reopened,
                a.first_done_at,
                u.before.id,
                &u.before.status,
                u.before.updated_at
            ],
        )
        .await?;
    if changed == 0 {
        return Err(StoreError::Stale(format!(
            "{} changed since it was read; nothing was written",
            u.before.reference
        )));
    }
    for e in &u.events {
        tx.queue(
            "INSERT INTO request_events (request_id, kind, from_status, to_status, actor, source,
                note, idempotency_key, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            args![
                u.before.id,
                &e.kind,
                &e.from_status,
                &e.to_status,
                &e.actor,
                &e.source,
                &e.note,
                &e.idempotency_key,
                now
            ],
        )
        .await?;
    }
    for (key, ping) in &u.outbox {
        insert_outbox(tx, key, ping, now).await?;
    }
    Ok(())
}

/// [`update_request`] as a job of its own.
pub async fn update_request_job<E: Exec + ?Sized>(
    tx: &mut E,
    u: &RequestUpdate,
) -> StoreResult<((), bool)> {
    update_request(tx, u, u.after.updated_at).await?;
    Ok(((), true))
}
