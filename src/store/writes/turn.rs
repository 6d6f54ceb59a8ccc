//! A turn's write job: its sender and conversation when it opens them, the inbound message, the
//! conversation's new state, the replies and the records — or nothing, when it is refused.
//!
//! The rows every turn writes (the inbound, the state, the sender seen, the replies) go out in
//! one of two ways, with one outcome ([`Wrote`]) and one set of rules after it:
//! - step by step ([`write_rows`], SQLite): a statement per row, stopping at the first refusal;
//! - in one statement ([`write_rows_at_once`], PostgreSQL): data-modifying `WITH`, each part
//!   conditional on the one before, so a turn on a known conversation is one statement —
//!   one message each way and one backend wake-up instead of four or five, which is most of
//!   what a turn costs PostgreSQL (see the README's "Performance and reliability"). The turns
//!   of a group commit's batch, those that open their session too, share one statement
//!   ([`TURNS`]): starting and ending a statement was a fifth of PostgreSQL's CPU, whatever
//!   its rows.

use super::super::exec::{Arg, Exec, args};
use super::super::{IdentityClaim, StoreError, StoreResult, Turn, TurnOutcome};
use super::{PERSON_BY_IDENTITY, insert_person, write_record};

/// The person a turn writes for (see `TurnOpening::identity`).
enum Sender {
    /// As the turn was computed (no identity to resolve).
    Known(Option<i64>),
    /// Found by their identity: seen now, once the turn is sure to be kept.
    Found(i64),
    /// Created by this turn: removed again if the turn keeps nothing.
    Created(i64),
}

impl Sender {
    fn id(&self) -> Option<i64> {
        match *self {
            Sender::Known(id) => id,
            Sender::Found(id) | Sender::Created(id) => Some(id),
        }
    }

    /// The person to mark as seen when the turn is kept.
    fn seen(&self) -> Option<i64> {
        match *self {
            Sender::Found(id) => Some(id),
            Sender::Known(_) | Sender::Created(_) => None,
        }
    }
}

/// How far a turn's own rows got.
struct Wrote {
    /// The conversation it opens was inserted (always true for a turn that opens none).
    opened: bool,
    /// The inbound message's id: `None` when its channel message id was seen before.
    inbound: Option<i64>,
    /// The conversation moved on to the turn's state (an opening turn's is born with it);
    /// false when another turn committed first. Replies and the sender's "seen" are written
    /// only then.
    moved: bool,
}

/// Take back what a turn that keeps nothing wrote before it knew: the conversation it opened
/// and the person it created (PostgreSQL's group commit has no savepoint to roll back to).
async fn undo_opening<E: Exec + ?Sized>(
    tx: &mut E,
    turn: &Turn,
    opened: bool,
    sender: &Sender,
) -> StoreResult<()> {
    if opened {
        tx.queue(
            "DELETE FROM conversations WHERE id = $1",
            args![&turn.conversation_id],
        )
        .await?;
    }
    if let Sender::Created(id) = *sender {
        tx.queue("DELETE FROM identities WHERE person_id = $1", args![id])
            .await?;
        tx.queue("DELETE FROM people WHERE id = $1", args![id])
            .await?;
    }
    Ok(())
}

/// Write a turn: its sender and its conversation when it opens them (`TurnOpening`), the
/// inbound message (refused when its channel message id was seen before), the conversation's
/// new state (refused when another turn committed first), the replies and the records.
/// Nothing is kept unless the turn is `Committed`.
pub async fn commit_turn<E: Exec + ?Sized>(
    tx: &mut E,
    turn: &Turn,
) -> StoreResult<(TurnOutcome, bool)> {
    let sender = match (&turn.opening.identity, turn.person_id) {
        (None, id) => Sender::Known(id),
        // The service found them by this identity before stepping. What it read was committed,
        // and a committed person is never taken back (only a refused turn's own new person is),
        // so there is nothing to look up again.
        (Some(_), Some(id)) => Sender::Found(id),
        (Some(claim), None) if tx.modifying_ctes() => {
            match find_or_create_at_once(tx, claim, turn.now).await? {
                Some(sender) => sender,
                None => return Ok((TurnOutcome::Conflict, false)),
            }
        }
        (Some(claim), None) => match tx
            .fetch_person(
                PERSON_BY_IDENTITY,
                args![&claim.channel, &claim.external_id],
            )
            .await?
        {
            Some(p) => Sender::Found(p.id),
            None => Sender::Created(insert_person(tx, claim, turn.now).await?),
        },
    };
    let opening = turn.opening.session.is_some();
    let wrote = if tx.modifying_ctes() {
        write_rows_at_once(tx, turn, &sender).await?
    } else {
        write_rows(tx, turn, &sender).await?
    };
    if !wrote.opened {
        // Another turn opened the session first (another replica): step on its state.
        undo_opening(tx, turn, false, &sender).await?;
        return Ok((TurnOutcome::Conflict, false));
    }
    let Some(inbound_id) = wrote.inbound else {
        undo_opening(tx, turn, opening, &sender).await?;
        return Ok((TurnOutcome::Duplicate, false));
    };
    if !wrote.moved {
        // Another turn won the race. Keeping nothing means leaving nothing: the PostgreSQL
        // group commit runs jobs side by side without savepoints (`postgres/group_commit.rs`).
        tx.queue("DELETE FROM messages WHERE id = $1", args![inbound_id])
            .await?;
        undo_opening(tx, turn, false, &sender).await?;
        return Ok((TurnOutcome::Conflict, false));
    }
    let person_id = sender.id();
    for record in &turn.records {
        write_record(tx, turn, person_id, inbound_id, record).await?;
    }
    Ok((TurnOutcome::Committed { inbound_id }, true))
}

/// The inbound message's columns after `conversation_id, direction` ($1 … $13): SQLite's
/// statement per row.
macro_rules! inbound_args {
    ($turn:expr, $person_id:expr) => {
        args![
            &$turn.conversation_id,
            &$turn.channel,
            &$turn.inbound.channel_message_id,
            $person_id,
            &$turn.client_code,
            &$turn.inbound.text,
            &$turn.inbound.payload,
            &$turn.inbound.intent,
            $turn.inbound.confidence,
            &$turn.inbound.outcome,
            $turn.inbound.latency_us,
            $turn.off_hours,
            $turn.now
        ]
    };
}

/// The inbound message, with [`inbound_args`]: its id, or no row when its channel message id
/// was seen before. Both paths write it with this one text.
macro_rules! insert_inbound {
    () => {
        "INSERT INTO messages (conversation_id, direction, channel, channel_message_id, person_id,
            client_code, text, payload, intent, confidence, outcome, latency_us, off_hours, created_at)
         VALUES ($1, 'in', $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
         ON CONFLICT DO NOTHING
         RETURNING id"
    };
}

/// SQLite: one statement per row, stopping at the first refusal.
async fn write_rows<E: Exec + ?Sized>(
    tx: &mut E,
    turn: &Turn,
    sender: &Sender,
) -> StoreResult<Wrote> {
    let person_id = sender.id();
    let opening = turn.opening.session.as_ref();
    if let Some(session_key) = opening {
        // Born at version 1 with the turn's state: the turn is its first.
        let inserted = tx
            .execute(
                "INSERT INTO conversations
                    (id, channel, session_key, person_id, client_code, state, version, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $7)
                 ON CONFLICT (channel, session_key) DO NOTHING",
                args![
                    &turn.conversation_id,
                    &turn.channel,
                    session_key,
                    person_id,
                    &turn.client_code,
                    &turn.new_state,
                    turn.now
                ],
            )
            .await?;
        if inserted == 0 {
            return Ok(Wrote {
                opened: false,
                inbound: None,
                moved: false,
            });
        }
    }
    let inbound = tx
        .insert_id(insert_inbound!(), inbound_args!(turn, person_id))
        .await?;
    let Some(inbound_id) = inbound else {
        return Ok(Wrote {
            opened: true,
            inbound: None,
            moved: false,
        });
    };
    if opening.is_none() {
        let updated = tx
            .execute(
                "UPDATE conversations
                 SET state = $1, version = version + 1, updated_at = $2,
                     person_id = COALESCE(person_id, $3), client_code = COALESCE(client_code, $4)
                 WHERE id = $5 AND version = $6",
                args![
                    &turn.new_state,
                    turn.now,
                    person_id,
                    &turn.client_code,
                    &turn.conversation_id,
                    turn.expected_version
                ],
            )
            .await?;
        if updated == 0 {
            return Ok(Wrote {
                opened: true,
                inbound: Some(inbound_id),
                moved: false,
            });
        }
    }
    if let (Some(id), Some(claim)) = (sender.seen(), &turn.opening.identity) {
        // `resolve_person`'s rules: a client is recorded once and never silently changed.
        tx.queue(
            "UPDATE people SET last_seen_at = $1, client_code = COALESCE(client_code, $2),
                display_name = COALESCE($3, display_name)
             WHERE id = $4",
            args![turn.now, &claim.client_code, &claim.display_name, id],
        )
        .await?;
    }
    for out in &turn.outbound {
        tx.queue(
            "INSERT INTO messages (conversation_id, direction, channel, reply_to, person_id,
                client_code, text, payload, intent, confidence, outcome, latency_us, off_hours, created_at)
             VALUES ($1, 'out', $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
            args![
                &turn.conversation_id,
                &turn.channel,
                inbound_id,
                person_id,
                &turn.client_code,
                &out.text,
                &out.payload,
                &out.intent,
                out.confidence,
                &out.outcome,
                out.latency_us,
                turn.off_hours,
                turn.now
            ],
        )
        .await?;
    }
    Ok(Wrote {
        opened: true,
        inbound: Some(inbound_id),
        moved: true,
    })
}

/// Turns, one per element of `$1` (see [`Exec::fetch_one_of_many`]: PostgreSQL's group commit
/// sends the turns of a batch's jobs as one statement, as long as no two are on one
/// conversation). A turn that opens its session (`$26`, the session's key) inserts its
/// conversation at version 1 with the turn's state, unless the session has one; the others
/// move their conversation on from the version they were computed on (`$14`). Per turn: the
/// inbound, unless its channel message id was seen before (an opening's only if it opened);
/// the conversation moved on (an opening's was born moved); only then the sender seen and the
/// replies (`$19` … `$25`, one element per reply, `$19` naming its turn's conversation), in
/// order. Answers each turn's inbound id and whether it opened (an opening) or moved (the
/// others), in the order of `$1`. An inbound's foreign key is checked at the statement's end,
/// when its opened conversation is there.
///
/// What a later part needs of a turn travels in the `RETURNING` of the part before (`moved`
/// carries the inbound's id and the sender), so each part joins one list to one other, or to a
/// table by its key: the writers plan nested loops (`postgres/group_commit.rs`), and a first
/// version that joined the replies to three lists at once was slower than a statement per turn.
/// An `UPDATE` does not see rows inserted by the same statement, so the turns that open go
/// round it (`born`).
const TURNS: &str = "WITH t AS (
        SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int8[], $5::text[],
                $6::text[], $7::text[], $8::text[], $9::float8[], $10::text[], $11::int8[],
                $12::bool[], $13::int8[], $14::int8[], $15::int8[], $16::text[], $17::text[],
                $18::text[], $26::text[])
            WITH ORDINALITY AS t (conversation_id, channel, channel_message_id, person_id,
                client_code, text, payload, intent, confidence, outcome, latency_us, off_hours,
                now, version, seen, seen_client_code, seen_display_name, state, session_key, n)
    ), opened AS (
        INSERT INTO conversations
            (id, channel, session_key, person_id, client_code, state, version, created_at, updated_at)
        SELECT conversation_id, channel, session_key, person_id, client_code, state, 1, now, now
        FROM t WHERE session_key IS NOT NULL ORDER BY n
        ON CONFLICT (channel, session_key) DO NOTHING
        RETURNING id
    ), inbound AS (
        INSERT INTO messages (conversation_id, direction, channel, channel_message_id, person_id,
            client_code, text, payload, intent, confidence, outcome, latency_us, off_hours, created_at)
        SELECT conversation_id, 'in', channel, channel_message_id, person_id, client_code, text,
            payload, intent, confidence, outcome, latency_us, off_hours, now
        FROM t
        WHERE session_key IS NULL OR conversation_id IN (SELECT id FROM opened)
        ORDER BY n
        ON CONFLICT DO NOTHING
        RETURNING id, conversation_id
    ), moved AS (
        UPDATE conversations c
        SET state = t.state, version = c.version + 1, updated_at = t.now,
            person_id = COALESCE(c.person_id, t.person_id),
            client_code = COALESCE(c.client_code, t.client_code)
        FROM t JOIN inbound ON inbound.conversation_id = t.conversation_id
        WHERE c.id = t.conversation_id AND c.version = t.version AND t.session_key IS NULL
        RETURNING c.id, inbound.id AS inbound_id, t.channel, t.person_id AS sender,
            t.client_code AS sender_client_code, t.off_hours, t.now, t.seen,
            t.seen_client_code, t.seen_display_name
    ), born AS (
        SELECT t.conversation_id AS id, inbound.id AS inbound_id, t.channel, t.person_id,
            t.client_code, t.off_hours, t.now, t.seen, t.seen_client_code, t.seen_display_name
        FROM t JOIN inbound ON inbound.conversation_id = t.conversation_id
        WHERE t.session_key IS NOT NULL
    ), kept AS (
        SELECT * FROM moved UNION ALL SELECT * FROM born
    ), seen AS (
        UPDATE people p SET last_seen_at = kept.now,
            client_code = COALESCE(p.client_code, kept.seen_client_code),
            display_name = COALESCE(kept.seen_display_name, p.display_name)
        FROM kept
        WHERE p.id = kept.seen
        RETURNING p.id
    ), replies AS (
        INSERT INTO messages (conversation_id, direction, channel, reply_to, person_id,
            client_code, text, payload, intent, confidence, outcome, latency_us, off_hours, created_at)
        SELECT kept.id, 'out', kept.channel, kept.inbound_id, kept.sender,
            kept.sender_client_code, r.text, r.payload, r.intent, r.confidence, r.outcome,
            r.latency_us, kept.off_hours, kept.now
        FROM unnest($19::text[], $20::text[], $21::text[], $22::text[], $23::float8[],
                $24::text[], $25::int8[])
                WITH ORDINALITY AS r (conversation_id, text, payload, intent, confidence, outcome,
                    latency_us, n)
            JOIN kept ON kept.id = r.conversation_id
        ORDER BY r.n
        RETURNING id
    )
    SELECT inbound.id, CASE WHEN t.session_key IS NULL
            THEN CASE WHEN moved.id IS NULL THEN 0::int8 ELSE 1::int8 END
            ELSE CASE WHEN opened.id IS NULL THEN 0::int8 ELSE 1::int8 END END
    FROM t LEFT JOIN inbound ON inbound.conversation_id = t.conversation_id
        LEFT JOIN moved ON moved.id = t.conversation_id
        LEFT JOIN opened ON opened.id = t.conversation_id
    ORDER BY t.n";

/// PostgreSQL: the sender by their identity, or a new person with that identity, in one
/// statement (a session's first message usually brings a new anonymous person). `None` when
/// another replica's writer linked the identity to a person of its own meanwhile (the same
/// update delivered to two replicas at once): the person made here is taken back and the turn
/// is a `Conflict`, so the service steps again and finds that person.
async fn find_or_create_at_once<E: Exec + ?Sized>(
    tx: &mut E,
    claim: &IdentityClaim,
    now: i64,
) -> StoreResult<Option<Sender>> {
    let (known, made) = tx
        .fetch_i64_pair(
            "WITH found AS (
                SELECT person_id FROM identities WHERE channel = $1 AND external_id = $2
            ), made AS (
                INSERT INTO people (client_code, display_name, created_at, last_seen_at)
                SELECT $3, $4, $5, $5 WHERE NOT EXISTS (SELECT 1 FROM found)
                RETURNING id
            ), linked AS (
                INSERT INTO identities (channel, external_id, person_id, created_at)
                SELECT $1, $2, id, $5 FROM made
                ON CONFLICT (channel, external_id) DO NOTHING
                RETURNING person_id
            )
            SELECT COALESCE((SELECT person_id FROM found), (SELECT person_id FROM linked)),
                (SELECT id FROM made)",
            args![
                &claim.channel,
                &claim.external_id,
                &claim.client_code,
                &claim.display_name,
                now
            ],
        )
        .await?
        .ok_or_else(|| StoreError::Invalid("finding a sender gave no row".into()))?;
    match (known, made) {
        (Some(id), None) => Ok(Some(Sender::Found(id))),
        (Some(id), Some(m)) if id == m => Ok(Some(Sender::Created(id))),
        (None, Some(m)) => {
            tx.queue("DELETE FROM people WHERE id = $1", args![m])
                .await?;
            Ok(None)
        }
        _ => Err(StoreError::Invalid(
            "a sender neither found nor created".into(),
        )),
    }
}

/// PostgreSQL: the turn's rows in one statement, as one row of [`TURNS`] (shared with the
/// other turns of its batch).
async fn write_rows_at_once<E: Exec + ?Sized>(
    tx: &mut E,
    turn: &Turn,
    sender: &Sender,
) -> StoreResult<Wrote> {
    let claim = turn.opening.identity.as_ref();
    let conversation = [Some(turn.conversation_id.as_str())];
    let channel = [Some(turn.channel.as_str())];
    let channel_message_id = [turn.inbound.channel_message_id.as_deref()];
    let person = [sender.id()];
    let client_code = [turn.client_code.as_deref()];
    let text = [Some(turn.inbound.text.as_str())];
    let payload = [turn.inbound.payload.as_deref()];
    let intent = [turn.inbound.intent.as_deref()];
    let confidence = [turn.inbound.confidence];
    let outcome = [turn.inbound.outcome.as_deref()];
    let latency = [turn.inbound.latency_us];
    let off_hours = [turn.off_hours];
    let now = [Some(turn.now)];
    let version = [Some(turn.expected_version)];
    let seen = [sender.seen()];
    let seen_client_code = [claim.and_then(|c| c.client_code.as_deref())];
    let seen_display_name = [claim.and_then(|c| c.display_name.as_deref())];
    let state = [Some(turn.new_state.as_str())];
    let session_key = [turn.opening.session.as_deref()];
    let out = &turn.outbound;
    let reply_conversations = vec![Some(turn.conversation_id.as_str()); out.len()];
    let texts: Vec<Option<&str>> = out.iter().map(|m| Some(m.text.as_str())).collect();
    let payloads: Vec<Option<&str>> = out.iter().map(|m| m.payload.as_deref()).collect();
    let intents: Vec<Option<&str>> = out.iter().map(|m| m.intent.as_deref()).collect();
    let confidences: Vec<Option<f64>> = out.iter().map(|m| m.confidence).collect();
    let outcomes: Vec<Option<&str>> = out.iter().map(|m| m.outcome.as_deref()).collect();
    let latencies: Vec<Option<i64>> = out.iter().map(|m| m.latency_us).collect();
    let a = [
        Arg::Texts(&conversation),
        Arg::Texts(&channel),
        Arg::Texts(&channel_message_id),
        Arg::Ints(&person),
        Arg::Texts(&client_code),
        Arg::Texts(&text),
        Arg::Texts(&payload),
        Arg::Texts(&intent),
        Arg::Reals(&confidence),
        Arg::Texts(&outcome),
        Arg::Ints(&latency),
        Arg::Bools(&off_hours),
        Arg::Ints(&now),
        Arg::Ints(&version),
        Arg::Ints(&seen),
        Arg::Texts(&seen_client_code),
        Arg::Texts(&seen_display_name),
        Arg::Texts(&state),
        Arg::Texts(&reply_conversations),
        Arg::Texts(&texts),
        Arg::Texts(&payloads),
        Arg::Texts(&intents),
        Arg::Reals(&confidences),
        Arg::Texts(&outcomes),
        Arg::Ints(&latencies),
        Arg::Texts(&session_key),
    ];
    let (inbound, flag) = tx
        .fetch_one_of_many(TURNS, &turn.conversation_id, &a)
        .await?
        .ok_or_else(|| StoreError::Invalid("a turn's statement gave no row".into()))?;
    let flag = flag.unwrap_or(0) > 0;
    Ok(if turn.opening.session.is_some() {
        // It opened its conversation, whose inbound is written only then, and which was born
        // with the turn's state (moved) once the inbound is.
        Wrote {
            opened: flag,
            inbound,
            moved: inbound.is_some(),
        }
    } else {
        Wrote {
            opened: true,
            inbound,
            moved: flag,
        }
    })
}
