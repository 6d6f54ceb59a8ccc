//! The words of an escalation that several layers share: how pressing it is, and what the
//! account manager did about it.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Normal,
    Urgent,
}

impl Priority {
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Normal => "normal",
            Priority::Urgent => "urgent",
        }
    }
}

/// A manager's action on an escalation, from any channel (the API, a chat command, a button).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EscalationAction {
    Acknowledge,
    Reply,
    Resolve,
    /// Send the bot's draft (shadow mode), as written or edited; it answers the escalation.
    Approve,
}

impl EscalationAction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Acknowledge => "acknowledge",
            Self::Reply => "reply",
            Self::Resolve => "resolve",
            Self::Approve => "approve",
        }
    }
}
