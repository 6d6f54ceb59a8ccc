//! Who is talking, as the turn sees them before it steps. Read only: the turn resolves the
//! sender's identity itself, in its own transaction (`TurnOpening::identity`), so a message
//! that names its sender costs one commit, not two.

use super::ServiceError;
use crate::knowledge::Knowledge;
use crate::store::{IdentityClaim, Person, Store, TurnContext};

pub(super) struct Speaker {
    /// As stored before this message; `None` when the message brings them in.
    pub stored: Option<Person>,
    /// The identity the turn resolves: the channel's claim, or an anonymous visitor's session.
    /// `None` when the conversation's person is the sender.
    pub claim: Option<IdentityClaim>,
    /// Their client and name as the turn will store them (`resolve_person`'s rules).
    pub client_code: Option<String>,
    pub display_name: Option<String>,
}

impl Speaker {
    pub fn id(&self) -> Option<i64> {
        self.stored.as_ref().map(|p| p.id)
    }
}

/// The sender: the claimed identity (with the person it was found to be, if any), else the
/// conversation's person, else an anonymous person keyed by the session.
pub(super) async fn speaker(
    store: &dyn Store,
    channel: &str,
    session_key: &str,
    identity: Option<(&IdentityClaim, Option<Person>)>,
    k: &Knowledge,
    context: Option<&TurnContext>,
) -> Result<Speaker, ServiceError> {
    let (claim, stored) = match identity {
        Some((claim, stored)) => {
            if let Some(code) = &claim.client_code
                && !k.clients.contains_key(code)
            {
                return Err(ServiceError::Invalid(format!("unknown client {code:?}")));
            }
            (claim.clone(), stored)
        }
        None => {
            if let Some(p) = context.and_then(|c| c.person.clone()) {
                return Ok(Speaker {
                    client_code: p.client_code.clone(),
                    display_name: p.display_name.clone(),
                    stored: Some(p),
                    claim: None,
                });
            }
            let anonymous = IdentityClaim {
                channel: channel.to_string(),
                external_id: format!("session:{session_key}"),
                display_name: None,
                client_code: None,
            };
            if context.is_none() {
                // A session's first message: its anonymous person is made with its
                // conversation (the turn finds them if a crash left one behind), and has no
                // requests or surveys yet — nothing to read.
                return Ok(Speaker {
                    stored: None,
                    claim: Some(anonymous),
                    client_code: None,
                    display_name: None,
                });
            }
            let stored = store
                .person_by_identity(&anonymous.channel, &anonymous.external_id)
                .await?;
            (anonymous, stored)
        }
    };
    let client_code = stored
        .as_ref()
        .and_then(|p| p.client_code.clone())
        .or_else(|| claim.client_code.clone());
    let display_name = claim
        .display_name
        .clone()
        .or_else(|| stored.as_ref().and_then(|p| p.display_name.clone()));
    Ok(Speaker {
        stored,
        claim: Some(claim),
        client_code,
        display_name,
    })
}
