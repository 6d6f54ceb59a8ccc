//! What happened, as words the dialogue, the store and the KPIs share: a turn's outcome, how
//! supplying a service's inputs ended, and the kind of a knowledge gap. They stay enums until
//! the store's edge, where `as_str` writes them and `parse` reads them back, so no KPI compares
//! strings (a misspelt one would silently count nothing).

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Answered,
    Clarify,
    /// Below the answer threshold: "did you mean" suggestions instead of "I don't know".
    Suggest,
    Fallback,
    Prompt,
    RequestOpened,
    Escalated,
    Survey,
    Smalltalk,
    Cancelled,
    /// A manager's action relayed into the conversation (not a client query).
    ManagerReply,
    ManagerAcknowledged,
    ManagerResolved,
    /// A service request's progress told to the client, or the client's answer to a question
    /// about it (not a query for the bot).
    RequestUpdate,
    /// Roll-out in shadow mode: the client got a holding reply and their account manager the
    /// bot's draft.
    Shadowed,
    /// Roll-out off: the client was told how to reach the SSO's people.
    RolloutOff,
    /// The account manager sent the bot's draft, as written or edited (not a client query).
    DraftSent,
}

words!(Outcome {
    Answered => "answered",
    Clarify => "clarify",
    Suggest => "suggest",
    Fallback => "fallback",
    Prompt => "prompt",
    RequestOpened => "request_opened",
    Escalated => "escalated",
    Survey => "survey",
    Smalltalk => "smalltalk",
    Cancelled => "cancelled",
    ManagerReply => "manager_reply",
    ManagerAcknowledged => "manager_acknowledged",
    ManagerResolved => "manager_resolved",
    RequestUpdate => "request_update",
    Shadowed => "shadowed",
    RolloutOff => "rollout_off",
    DraftSent => "draft_sent",
});

/// How collecting a service's SPA inputs ended (the client's side of the SPA).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CollectionOutcome {
    /// Every input given and confirmed: the request was opened.
    Submitted,
    /// The client gave up.
    Cancelled,
    /// The conversation went quiet past the form's time limit.
    Expired,
}

words!(CollectionOutcome {
    Submitted => "submitted",
    Cancelled => "cancelled",
    Expired => "expired",
});

/// Why a question is a knowledge gap (see the back office's gaps report).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GapKind {
    /// No article: "I don't know".
    Fallback,
    /// Answered, but below the confidence the content owner wants.
    LowConfidence,
    /// The client said the answer did not help.
    NotHelpful,
    /// A low survey score.
    LowScore,
    /// "Did you mean" was offered.
    Suggested,
    /// One of the suggestions was chosen: asked X, chose Y.
    SuggestionChosen,
}

words!(GapKind {
    Fallback => "fallback",
    LowConfidence => "low_confidence",
    NotHelpful => "not_helpful",
    LowScore => "low_score",
    Suggested => "suggested",
    SuggestionChosen => "suggestion_chosen",
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_word_reads_back_as_its_variant() {
        for o in Outcome::ALL {
            assert_eq!(Outcome::parse(o.as_str()), Some(*o));
        }
        for o in CollectionOutcome::ALL {
            assert_eq!(CollectionOutcome::parse(o.as_str()), Some(*o));
        }
        for k in GapKind::ALL {
            assert_eq!(GapKind::parse(k.as_str()), Some(*k));
        }
        assert_eq!(Outcome::parse("answerd"), None);
    }

    #[test]
    fn serde_writes_the_same_words() {
        for k in GapKind::ALL {
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
    }
}
