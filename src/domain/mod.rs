//! The shared vocabulary: the few words the layers say to each other — a message and its
//! buttons, a priority, a manager's action on an escalation, a turn's outcome and a gap's kind,
//! a moment as stored.
//!
//! It sits at the bottom and imports nothing from the crate, so any layer may use it without
//! pulling in another: the outlet speaks of [`Reply`] without knowing the dialogue, the store
//! records an [`EscalationAction`] without knowing escalation.

/// Every name of an enum, for `parse`.
macro_rules! words {
    ($ty:ident { $($variant:ident => $word:literal),+ $(,)? }) => {
        impl $ty {
            pub const ALL: &[$ty] = &[$($ty::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($ty::$variant => $word),+
                }
            }

            /// The variant stored as `word`; `None` for a word this build does not know.
            pub fn parse(word: &str) -> Option<$ty> {
                match word {
                    $($word => Some($ty::$variant),)+
                    _ => None,
                }
            }
        }
    };
}

mod escalation;
mod message;
mod outcome;
mod request;
mod rollout;
pub mod time;

pub use escalation::{EscalationAction, Priority};
pub use message::{Button, Channel, Reply};
pub use outcome::{CollectionOutcome, GapKind, Outcome};
pub use request::{RequestEventKind, RequestSource, RequestStatus};
pub use rollout::{DraftVerdict, RolloutMode};
