//! The roll-out mode a client's message meets: the back office's run-time setting (cached per
//! replica), else the client file's; and the gate the dialogue step is given for it.

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};

use super::{ChatService, ServiceError, current, millis};
use crate::dialogue::Gate;
use crate::domain::RolloutMode;
use crate::knowledge::Knowledge;

/// How long a replica trusts its copy of the back office's roll-out modes: a change made
/// through another replica reaches this one within this time; one made through this service
/// (`set_rollout`) at once. One small query per interval instead of one per message.
const ROLLOUT_REFRESH: std::time::Duration = std::time::Duration::from_secs(3);

type RolloutModes = std::collections::HashMap<(String, String), RolloutMode>;

/// The modes as last read, and when.
type Snapshot = Option<(Instant, Arc<RolloutModes>)>;

#[derive(Clone, Default)]
pub(super) struct RolloutCache(Arc<std::sync::Mutex<Snapshot>>);

impl RolloutCache {
    fn fresh(&self) -> Option<Arc<RolloutModes>> {
        let guard = self.0.lock().unwrap_or_else(|p| p.into_inner());
        guard
            .as_ref()
            .filter(|(at, _)| at.elapsed() < ROLLOUT_REFRESH)
            .map(|(_, modes)| modes.clone())
    }
    fn put(&self, modes: Arc<RolloutModes>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some((Instant::now(), modes));
    }
    fn forget(&self) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

/// A stable percentile of a conversation (FNV-1a), so a pilot's live share keeps the same
/// conversations on every replica and after a restart.
fn percentile_of(conversation_id: &str) -> u8 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in conversation_id.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (h % 100) as u8
}

impl ChatService {
    /// The roll-out mode of a client's channel: the back office's run-time setting, else the
    /// client file's, else live.
    pub async fn rollout_mode(
        &self,
        k: &Knowledge,
        client: &str,
        channel: &str,
    ) -> Result<RolloutMode, ServiceError> {
        let modes = match self.rollouts.fresh() {
            Some(m) => m,
            None => {
                let rows = self.store.rollout_modes().await?;
                let modes: RolloutModes = rows
                    .into_iter()
                    .filter_map(|r| {
                        RolloutMode::parse(&r.mode).map(|m| ((r.client_code, r.channel), m))
                    })
                    .collect();
                let modes = Arc::new(modes);
                self.rollouts.put(modes.clone());
                modes
            }
        };
        Ok(modes
            .get(&(client.to_string(), channel.to_string()))
            .copied()
            .or_else(|| k.clients.get(client).map(|c| c.rollout.mode(channel)))
            .unwrap_or_default())
    }

    /// Set a client's channels' roll-out modes at run time, audited as `actor`; this replica
    /// uses them from its next message (others within `ROLLOUT_REFRESH`). Returns the audit
    /// events (one per channel whose mode changed).
    pub async fn set_rollout(
        &self,
        client: &str,
        modes: &[(String, RolloutMode)],
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<crate::store::AuditRow>, ServiceError> {
        let k = current(&self.knowledge);
        let mut changes = Vec::new();
        for (channel, to) in modes {
            let from = self.rollout_mode(&k, client, channel).await?;
            changes.push((
                channel.clone(),
                from.as_str().to_string(),
                to.as_str().to_string(),
            ));
        }
        let audit = self
            .store
            .set_rollout(client, &changes, actor, millis(now))
            .await?;
        self.rollouts.forget();
        Ok(audit)
    }

    /// The gate a client's message passes: their client's mode on this channel, with the
    /// pilot's scope and whether this conversation is in its live share.
    pub(super) async fn gate(
        &self,
        k: &Knowledge,
        client: Option<&str>,
        channel: &str,
        conversation_id: &str,
    ) -> Result<Gate, ServiceError> {
        let Some(client) = client.and_then(|c| k.clients.get(c)) else {
            return Ok(Gate::Live);
        };
        Ok(match self.rollout_mode(k, &client.code, channel).await? {
            RolloutMode::Live => Gate::Live,
            RolloutMode::Off => Gate::Off,
            RolloutMode::Shadow => Gate::Shadow,
            RolloutMode::Pilot => {
                let pilot = &client.rollout.pilot;
                Gate::Pilot {
                    intents: pilot.intents.clone(),
                    domains: pilot.domains.clone(),
                    whole_conversation: percentile_of(conversation_id) < pilot.share,
                }
            }
        })
    }
}
