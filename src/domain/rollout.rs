//! The words of a phased roll-out: how far the bot is switched on for a client on a channel,
//! and what the account manager did with a draft the bot wrote in shadow mode.

use serde::{Deserialize, Serialize};

/// How far the bot is switched on, per client × channel.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RolloutMode {
    /// The bot does not answer: it says how to reach the SSO's people and logs the contact.
    Off,
    /// Every question goes to the account manager with the bot's draft; the client hears only
    /// what the manager sends.
    Shadow,
    /// The bot answers the pilot's intents and domains (or a share of conversations) and
    /// shadows the rest.
    Pilot,
    /// The bot answers everything.
    #[default]
    Live,
}

words!(RolloutMode {
    Off => "off",
    Shadow => "shadow",
    Pilot => "pilot",
    Live => "live",
});

/// What became of a draft: the evidence for going live.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DraftVerdict {
    /// Sent to the client as the bot wrote it.
    Approved,
    /// Sent with the manager's changes.
    Edited,
    /// The manager answered in their own words instead.
    Replaced,
}

words!(DraftVerdict {
    Approved => "approved",
    Edited => "edited",
    Replaced => "replaced",
});
