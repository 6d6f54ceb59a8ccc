//! What the bot says, in any channel: Markdown text with optional buttons. The dialogue writes
//! it; the outlets and channel adapters render it.

use serde::{Deserialize, Serialize};

/// A channel's name as stored with conversations and outbox rows (`web`, `telegram`,
/// `discord`, `webhook`).
pub type Channel = &'static str;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Button {
    pub label: String,
    pub payload: String,
}

impl Button {
    pub fn new(label: impl Into<String>, payload: impl Into<String>) -> Self {
        Self {
            label: label.into(),
            payload: payload.into(),
        }
    }
}

/// One message from the bot. `text` is Markdown; channels render it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    pub text: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<Button>,
}

impl Reply {
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            buttons: Vec::new(),
        }
    }
    pub fn with_buttons(text: impl Into<String>, buttons: Vec<Button>) -> Self {
        Self {
            text: text.into(),
            buttons,
        }
    }
}
