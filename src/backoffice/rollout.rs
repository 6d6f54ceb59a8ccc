//! The phased roll-out as the back office sees it: each channel's mode for a client and where
//! it is set (the client file, or the back office at run time), what a change asks for, and
//! the audit trail of changes.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::domain::RolloutMode;
use crate::knowledge::Knowledge;
use crate::store::{AuditRow, RolloutRow};

/// The channels a mode is set for.
pub const CHANNELS: [&str; 3] = ["web", "telegram", "discord"];

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum RolloutError {
    #[error("unknown client {0}")]
    UnknownClient(String),
    #[error("unknown channel {0:?}: web, telegram or discord")]
    UnknownChannel(String),
    #[error("unknown mode {mode:?} for {channel}: off, shadow, pilot or live")]
    UnknownMode { channel: String, mode: String },
    #[error(
        "{0} cannot be set to pilot: the client file names no pilot (rollout.pilot_intents, pilot_domains or pilot_share)"
    )]
    NoPilot(String),
}

/// One channel's mode for a client.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ChannelMode {
    pub channel: String,
    pub mode: RolloutMode,
    /// `client_file` or `back_office`.
    pub set_in: &'static str,
    pub updated_at: Option<i64>,
    pub updated_by: Option<String>,
}

/// A client's roll-out: every channel's mode, the pilot's scope, the latest changes.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Rollout {
    pub client: String,
    pub channels: Vec<ChannelMode>,
    pub pilot_intents: Vec<String>,
    pub pilot_domains: Vec<String>,
    pub pilot_share: u8,
    pub changes: Vec<AuditRow>,
}

pub fn rollout(
    k: &Knowledge,
    client: &str,
    set: &[RolloutRow],
    changes: Vec<AuditRow>,
) -> Result<Rollout, RolloutError> {
    let c = k
        .clients
        .get(client)
        .ok_or_else(|| RolloutError::UnknownClient(client.to_string()))?;
    let channels = CHANNELS
        .iter()
        .map(|ch| {
            let row = set
                .iter()
                .find(|r| r.client_code == client && r.channel == *ch);
            match row.and_then(|r| RolloutMode::parse(&r.mode).map(|m| (r, m))) {
                Some((r, mode)) => ChannelMode {
                    channel: ch.to_string(),
                    mode,
                    set_in: "back_office",
                    updated_at: Some(r.updated_at),
                    updated_by: Some(r.updated_by.clone()),
                },
                None => ChannelMode {
                    channel: ch.to_string(),
                    mode: c.rollout.mode(ch),
                    set_in: "client_file",
                    updated_at: None,
                    updated_by: None,
                },
            }
        })
        .collect();
    Ok(Rollout {
        client: client.to_string(),
        channels,
        pilot_intents: c.rollout.pilot.intents.clone(),
        pilot_domains: c.rollout.pilot.domains.clone(),
        pilot_share: c.rollout.pilot.share,
        changes,
    })
}

/// A change as asked (`{"web": "shadow", "telegram": "pilot"}`), checked whole: one bad
/// channel or mode refuses all of it; nothing asked changes nothing. Pilot needs a pilot scope in the client file (else
/// "pilot" would shadow everything and look like a broken shadow mode).
pub fn changes(
    k: &Knowledge,
    client: &str,
    asked: &BTreeMap<String, String>,
) -> Result<Vec<(String, RolloutMode)>, RolloutError> {
    let c = k
        .clients
        .get(client)
        .ok_or_else(|| RolloutError::UnknownClient(client.to_string()))?;
    let mut out = Vec::new();
    for (channel, word) in asked {
        if !CHANNELS.contains(&channel.as_str()) {
            return Err(RolloutError::UnknownChannel(channel.clone()));
        }
        let mode = RolloutMode::parse(word.trim()).ok_or_else(|| RolloutError::UnknownMode {
            channel: channel.clone(),
            mode: word.clone(),
        })?;
        let p = &c.rollout.pilot;
        if mode == RolloutMode::Pilot
            && p.intents.is_empty()
            && p.domains.is_empty()
            && p.share == 0
        {
            return Err(RolloutError::NoPilot(channel.clone()));
        }
        out.push((channel.clone(), mode));
    }
    Ok(out)
}
