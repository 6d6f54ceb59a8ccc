//! The settings of each part: logging, engine thresholds, dialogue, escalation pings, web chat.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// Engine thresholds; `None` keeps the engine's defaults (chosen on validation data).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EngineSettings {
    pub oos_threshold: Option<f32>,
    pub clarify_margin: Option<f32>,
    /// "Did you mean" below the answer threshold down to this confidence (0 = never).
    pub suggest_threshold: Option<f32>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DialogueSettings {
    /// At most one pulse survey per person per this many days.
    pub survey_period_days: u32,
    /// An unanswered survey expires after this many hours.
    pub survey_expiry_hours: u32,
    /// A half-finished conversation (a form, a question) resets after this many minutes idle.
    pub idle_timeout_minutes: u32,
}

impl Default for DialogueSettings {
    fn default() -> Self {
        Self {
            survey_period_days: 7,
            survey_expiry_hours: 24,
            idle_timeout_minutes: 30,
        }
    }
}

/// Escalation pings: delivery retries and the re-ping ladder (primary → reminder → backup).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct EscalationSettings {
    /// An unacknowledged escalation re-pings after this many minutes of coverage time.
    pub reping_minutes: u32,
    /// The same for urgent escalations, counted in wall-clock time (the fast lane).
    pub urgent_reping_minutes: u32,
    /// Delivery attempts of one ping before it is marked failed and the next route is tried.
    pub max_attempts: u32,
    /// First retry delay; doubles per attempt (with ±25% jitter) up to `backoff_max_secs`.
    pub backoff_base_ms: u64,
    pub backoff_max_secs: u64,
    /// How often the worker looks for due pings when nothing wakes it (other replicas' pings).
    pub poll_interval_ms: u64,
    /// How long a claimed ping stays locked to one worker (a crashed worker's claim then lapses).
    pub lease_secs: u64,
    /// Timeout of one delivery attempt.
    pub timeout_secs: u64,
}

impl Default for EscalationSettings {
    fn default() -> Self {
        Self {
            reping_minutes: 15,
            urgent_reping_minutes: 5,
            max_attempts: 8,
            backoff_base_ms: 2_000,
            backoff_max_secs: 600,
            poll_interval_ms: 1_000,
            lease_secs: 60,
            timeout_secs: 10,
        }
    }
}

/// Web chat limits and the origins allowed to embed the widget.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct WebSettings {
    /// Origins allowed to call the chat API and open the socket (e.g. "https://intranet.example").
    /// Empty: any origin.
    pub allowed_origins: Vec<String>,
    pub per_ip_burst: u32,
    pub per_ip_per_minute: u32,
    pub per_session_burst: u32,
    pub per_session_per_minute: u32,
}

impl Default for WebSettings {
    fn default() -> Self {
        Self {
            allowed_origins: Vec::new(),
            per_ip_burst: 60,
            per_ip_per_minute: 600,
            per_session_burst: 10,
            per_session_per_minute: 60,
        }
    }
}
