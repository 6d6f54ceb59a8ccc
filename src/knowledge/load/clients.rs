//! Client files (SPA, account managers and their routes) and process files.

use super::*;

impl Loader {
    pub fn load_client(&mut self, file: &Path) {
        let Some(text) = self.read(file) else { return };
        let Some(raw) = self.parse_toml::<RawClient>(file, &text, 0) else {
            return;
        };
        let Some(timezone) = self.timezone(file, &raw.timezone) else {
            return;
        };
        let (Some(start), Some(end)) = (
            self.date(file, "start", &raw.spa.start),
            self.date(file, "end", &raw.spa.end),
        ) else {
            return;
        };
        if end <= start {
            self.err_at(file, "end", "the SPA must end after it starts");
        }
        let coverage = match &raw.spa.coverage {
            Some(c) => self.coverage(file, c, timezone),
            None => None,
        };
        let services = match raw.spa.services {
            None => None,
            Some(RawServiceList::Word(w)) if w == "all" => None,
            Some(RawServiceList::Word(w)) => {
                self.err_at(
                    file,
                    "services",
                    format!("services is \"all\" or a list of service ids, not {w:?}"),
                );
                None
            }
            Some(RawServiceList::List(l)) => Some(l),
        };
        let rates = self.rates(file, raw.rates);
        let mut managers = Vec::new();
        for m in raw.manager {
            if m.role != "primary" && m.role != "backup" {
                self.err_at(
                    file,
                    &m.role,
                    format!("manager {}: role is \"primary\" or \"backup\"", m.name),
                );
            }
            for r in &m.route_order {
                if !["telegram", "discord", "webhook", "email"].contains(&r.as_str()) {
                    self.err_at(
                        file,
                        r,
                        format!(
                            "manager {}: route_order names telegram, discord, webhook or email, not {r:?}",
                            m.name
                        ),
                    );
                }
            }
            managers.push(Manager {
                route_order: m.route_order,
                name: m.name,
                role: m.role,
                email: m.email,
                telegram_chat: m.telegram_chat,
                discord_user: m.discord_user,
                discord_channel: m.discord_channel,
                webhook: m.webhook,
            });
        }
        if !managers.iter().any(|m| m.role == "primary") {
            self.err_at(
                file,
                "code",
                format!("client {} has no primary account manager", raw.code),
            );
        }
        let rollout = self.rollout(file, raw.rollout);
        self.raw.clients.push(Client {
            code: raw.code,
            name: raw.name,
            timezone,
            spa: Spa {
                start,
                end,
                renewal_notice_days: raw.spa.renewal_notice_days,
                coverage,
                services,
            },
            rates,
            managers,
            rollout,
        });
    }

    /// `[rollout]`: each mode a known word; the pilot's share a percentage. The pilot's intents
    /// are checked against the intents once everything is loaded (`check_rollouts`).
    fn rollout(&mut self, file: &Path, raw: RawRollout) -> ClientRollout {
        let mut modes = BTreeMap::new();
        for (channel, word) in [
            ("web", raw.web),
            ("telegram", raw.telegram),
            ("discord", raw.discord),
        ] {
            let Some(word) = word else { continue };
            match crate::domain::RolloutMode::parse(&word) {
                Some(mode) => {
                    modes.insert(channel.to_string(), mode);
                }
                None => self.err_at(
                    file,
                    &format!("{channel} ="),
                    format!(
                        "rollout.{channel} is \"off\", \"shadow\", \"pilot\" or \"live\", not {word:?}"
                    ),
                ),
            }
        }
        if raw.pilot_share > 100 {
            self.err_at(
                file,
                "pilot_share",
                format!(
                    "rollout.pilot_share is a percentage (0-100), not {}",
                    raw.pilot_share
                ),
            );
        }
        ClientRollout {
            modes,
            pilot: PilotScope {
                intents: raw.pilot_intents,
                domains: raw.pilot_domains,
                share: raw.pilot_share.min(100),
            },
        }
    }

    pub fn load_process(&mut self, file: &Path) {
        let Some(text) = self.read(file) else { return };
        let Some(raw) = self.parse_toml::<RawProcess>(file, &text, 0) else {
            return;
        };
        let mut steps = Vec::new();
        for s in raw.step {
            if s.side != "client" && s.side != "sso" {
                self.err_at(
                    file,
                    &s.name,
                    format!("step {:?}: side is \"client\" or \"sso\"", s.name),
                );
            }
            steps.push(ProcessStep {
                name: s.name,
                side: s.side,
                description: s.description,
                handoff: s.handoff,
            });
        }
        self.raw.processes.push(Process {
            id: raw.id,
            name: raw.name,
            aliases: raw.aliases,
            owner: raw.owner,
            team: raw.team,
            description: raw.description,
            typical_duration: raw.typical_duration,
            services: raw.services,
            articles: raw.articles,
            steps,
        });
    }
}
