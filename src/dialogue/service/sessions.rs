//! The per-session locks of the dialogue service, and what a session's last turn leaves the
//! next while it is still being written.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::{OwnedMutexGuard, watch};

use super::speaker::Speaker;
use crate::store::{ConversationRow, Person, Record, Turn, TurnContext};

/// A turn handed over before it was durable: the context it moves the session to, and its fate
/// (`None` while its batch is in flight, then whether it was kept).
pub(super) struct Pipelined {
    pub context: TurnContext,
    pub done: watch::Receiver<Option<bool>>,
}

impl Pipelined {
    /// Still being written: neither kept nor refused, and its task still there to say which.
    fn in_flight(&self) -> bool {
        self.done.borrow().is_none() && self.done.has_changed().is_ok()
    }

    /// Resolves once the turn is kept or refused (or its task is gone). A handed-over turn
    /// says so only after the turn it stepped on has, so this covers every turn before it.
    pub fn settled(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut done = self.done.clone();
        async move {
            let _ = done.wait_for(Option::is_some).await;
        }
    }
}

/// The parts of a turn's context besides its conversation, as read before it stepped.
pub(super) struct Before {
    pub person: Option<Person>,
    pub request_count: i64,
    pub last_survey_at: Option<i64>,
}

/// What the session's next turn would read once `turn` is written, when that can be known
/// without the store: the turn moves the conversation on, logs its messages, marks its sender
/// seen, and writes only facts for the back office ([`Record::leaves_context_alone`]). `None`
/// for a turn that resolves a new sender or changes what the next turn reads (a request, a
/// survey sent, an escalation): the session waits for it to be written, as before.
pub(super) fn successor_context(
    turn: &Turn,
    conversation: &ConversationRow,
    before: &Before,
    speaker: &Speaker,
) -> Option<TurnContext> {
    if !turn.records.iter().all(Record::leaves_context_alone) {
        return None;
    }
    let person = match (&speaker.claim, &speaker.stored, &before.person) {
        // The conversation's own person, not named by the message: untouched.
        (None, _, person) => person.clone(),
        // Named by the message and already the conversation's: seen now, by
        // `resolve_person`'s rules (a client is recorded once; a new name replaces the old).
        (Some(claim), Some(stored), Some(person)) if stored.id == person.id => Some(Person {
            last_seen_at: turn.now,
            client_code: person
                .client_code
                .clone()
                .or_else(|| claim.client_code.clone()),
            display_name: claim
                .display_name
                .clone()
                .or_else(|| person.display_name.clone()),
            ..person.clone()
        }),
        _ => return None,
    };
    Some(TurnContext {
        conversation: ConversationRow {
            state: turn.new_state.clone(),
            version: conversation.version + 1,
            updated_at: turn.now,
            person_id: conversation.person_id.or(turn.person_id),
            client_code: conversation
                .client_code
                .clone()
                .or_else(|| turn.client_code.clone()),
            ..conversation.clone()
        },
        person,
        request_count: before.request_count,
        last_survey_at: before.last_survey_at,
    })
}

type Slot = tokio::sync::Mutex<Option<Pipelined>>;

/// One async lock per live session, so turns of one conversation step one after the other in
/// this process (a user double-clicking, a channel redelivering, a client sending four
/// messages at once). Across replicas the state's version check catches the rest. Entries are
/// dropped when their last holder leaves, so the map only holds sessions with a turn in flight.
#[derive(Clone, Default)]
pub(super) struct SessionLocks(Arc<std::sync::Mutex<HashMap<String, Arc<Slot>>>>);

pub(super) struct SessionGuard {
    key: String,
    locks: SessionLocks,
    lock: Option<OwnedMutexGuard<Option<Pipelined>>>,
}

/// Keeps a session's entry, and so what a handed-over turn left in it, until that turn's fate
/// is known.
pub(super) struct Lingering {
    key: String,
    locks: SessionLocks,
    slot: Option<Arc<Slot>>,
}

impl SessionLocks {
    /// Sessions with a turn in flight or waiting.
    pub(super) fn in_flight(&self) -> usize {
        self.0.lock().map(|m| m.len()).unwrap_or(0)
    }

    pub(super) async fn lock(&self, key: String) -> SessionGuard {
        let slot = {
            let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
            map.entry(key.clone()).or_default().clone()
        };
        let guard = slot.lock_owned().await;
        SessionGuard {
            key,
            locks: self.clone(),
            lock: Some(guard),
        }
    }

    /// Forget the session unless someone holds, waits for or lingers on it.
    fn release(&self, key: &str) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        // Only the map's own reference left: nobody holds, waits for or lingers on it.
        if map.get(key).is_some_and(|m| Arc::strong_count(m) == 1) {
            map.remove(key);
        }
    }
}

impl SessionGuard {
    /// The turn the session's last holder handed over, if it is still being written: the next
    /// turn steps on the state it moves to instead of the store's. One already kept or refused
    /// is dropped, and the store read as usual.
    pub(super) fn take_pipelined(&mut self) -> Option<Pipelined> {
        self.lock
            .as_mut()
            .and_then(|slot| slot.take())
            .filter(Pipelined::in_flight)
    }

    /// Let the session's next turn step now, on `next`, while this one is written.
    pub(super) fn hand_over(mut self, next: Pipelined) -> Lingering {
        let mut lock = self.lock.take();
        if let Some(slot) = lock.as_mut() {
            **slot = Some(next);
        }
        let slot = lock.as_ref().map(|g| Arc::clone(OwnedMutexGuard::mutex(g)));
        // The entry stays while `Lingering` holds it; `self`'s drop finds it in use.
        drop(lock);
        Lingering {
            key: self.key.clone(),
            locks: self.locks.clone(),
            slot,
        }
    }
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        self.lock.take();
        self.locks.release(&self.key);
    }
}

impl Drop for Lingering {
    fn drop(&mut self) {
        self.slot.take();
        self.locks.release(&self.key);
    }
}
