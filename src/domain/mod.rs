//! The shared vocabulary: the few words the layers say to each other — a message and its
//! buttons, a priority, a manager's action on an escalation, a moment as stored.
//!
//! It sits at the bottom and imports nothing from the crate, so any layer may use it without
//! pulling in another: the outlet speaks of [`Reply`] without knowing the dialogue, the store
//! records an [`EscalationAction`] without knowing escalation.

mod escalation;
mod message;
pub mod time;

pub use escalation::{EscalationAction, Priority};
pub use message::{Button, Channel, Reply};
