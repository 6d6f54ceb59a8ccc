//! The shared vocabulary: the few words the layers say to each other — a message and its
//! buttons, a priority, a manager's action on an escalation, a turn's outcome and a gap's kind,
//! a moment as stored.
//!
//! It sits at the bottom and imports nothing from the crate, so any layer may use it without
//! pulling in another: the outlet speaks of [`Reply`] without knowing the dialogue, the store
//! records an [`EscalationAction`] without knowing escalation.

mod escalation;
mod message;
mod outcome;
pub mod time;

pub use escalation::{EscalationAction, Priority};
pub use message::{Button, Channel, Reply};
pub use outcome::{CollectionOutcome, GapKind, Outcome};
