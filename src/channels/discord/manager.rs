//! Account managers on Discord: their slash commands (`/ack`, `/reply`, `/resolve`), and the
//! one action any of their commands, buttons or replies leads to.

use chrono::Utc;
use serenity::all::{
    CommandInteraction, CommandOptionType, CreateCommand, CreateCommandOption, User,
};

use super::Handler;
use crate::dialogue::Reply;
use crate::dialogue::service::Outbound;
use crate::escalation::actions::{self, ChatCommand};
use crate::store::EscalationAction;

/// Account managers' commands; anyone else who tries them is told they cannot. Registered one
/// by one after the clients' set, so that a failure here never costs the clients theirs.
pub(super) fn manager_commands() -> Vec<CreateCommand> {
    vec![
        CreateCommand::new("ack")
            .description("Account managers: acknowledge an escalation")
            .add_option(escalation_option()),
        CreateCommand::new("reply")
            .description("Account managers: answer the client of an escalation")
            .add_option(escalation_option())
            .add_option(
                CreateCommandOption::new(CommandOptionType::String, "text", "Your answer")
                    .required(true),
            ),
        CreateCommand::new("resolve")
            .description("Account managers: resolve an escalation")
            .add_option(escalation_option()),
    ]
}

fn escalation_option() -> CreateCommandOption {
    CreateCommandOption::new(CommandOptionType::Integer, "id", "The escalation's number")
        .required(true)
}

/// A manager slash command's action, escalation id and text, from its options.
pub(super) fn manager_slash(c: &CommandInteraction) -> Option<ChatCommand> {
    let action = match c.data.name.as_str() {
        "ack" => EscalationAction::Acknowledge,
        "reply" => EscalationAction::Reply,
        "resolve" => EscalationAction::Resolve,
        _ => return None,
    };
    let option = |name: &str| c.data.options.iter().find(|o| o.name == name);
    let id = option("id").and_then(|o| {
        o.value
            .as_i64()
            .or_else(|| o.value.as_str().and_then(|s| s.trim().parse().ok()))
    });
    Some(match id {
        Some(escalation_id) => ChatCommand::Act {
            action,
            escalation_id,
            text: option("text").and_then(|o| o.value.as_str().map(str::to_string)),
        },
        None => ChatCommand::Usage,
    })
}

impl Handler {
    /// The one manager action ([`actions::act_from_chat`]) as this Discord user; what to tell
    /// them, as a one-reply outbound.
    pub(super) async fn manager_action(&self, user: &User, command: ChatCommand) -> Outbound {
        let said = match actions::act_from_chat(
            &self.chat,
            &self.settings.outlets,
            "discord",
            &user.id.get().to_string(),
            command,
            Utc::now(),
        )
        .await
        {
            Ok(said) => said,
            Err(e) => {
                tracing::error!(error = %e, "discord manager action failed");
                "That did not work this time; please try again in a minute.".into()
            }
        };
        Outbound {
            conversation_id: String::new(),
            replies: vec![Reply::text(said)],
            intent: None,
            confidence: 0.0,
            outcome: "manager_action".into(),
            duplicate: false,
        }
    }
}
