//! Scripted test conversations ("test calls before the hand-over"): a transcript in, replies out.
//!
//! ```text
//! # Vendor set-up with the name given up front
//! @client ACME
//! @user Ann Lee
//! @now 2026-11-24T10:00:00Z
//!
//! > I need a new vendor set up: Brightwell Office Supplies Ltd
//! < I already have Vendor name: Brightwell Office Supplies Ltd
//! < UK VAT registration number
//! = outcome prompt
//! > [Cancel]
//! ```
//!
//! - `@client CODE`, `@user Name`, `@now RFC3339`, `@channel web`, `@returning`, `@surveyed`:
//!   who is talking and when (before the first turn, or between turns);
//! - `@advance 31m` (or `2h`, `3d`): move the clock, for timeouts;
//! - `> text` a user message; `> [Label]` press the button with that label from the last replies;
//! - `< text` the bot's replies of that turn contain this text (case-insensitive);
//! - `! text` they do not contain it;
//! - `[A] [B]` the replies offer buttons with these labels;
//! - `= outcome X`, `= intent X`, `= state X`, `= effects a, b` check the turn's result;
//!   `= reason text` and `= priority urgent` check its escalation (the reason contains the text).
//!
//! The runner drives the pure `step` and plays the service's part for what the next turns
//! see: opened requests appear in the user's requests (REQ-1001, 1002, ...), a survey marks the
//! user as surveyed.

use std::path::Path;

use chrono::{DateTime, Duration, Utc};

use super::{
    Effect, Event, Input, REFERENCE_PLACEHOLDER, RequestSummary, State, Step, UserContext, step,
};
use crate::config::DialogueSettings;
use crate::knowledge::Knowledge;

#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct TranscriptFailure {
    pub file: String,
    pub line: usize,
    pub message: String,
}

/// `@rollout live|off|shadow` or `@rollout pilot intents=a,b domains=IT share=yes`.
fn parse_gate(value: &str) -> Result<super::Gate, String> {
    let mut words = value.split_whitespace();
    Ok(match words.next().unwrap_or_default() {
        "live" => super::Gate::Live,
        "off" => super::Gate::Off,
        "shadow" => super::Gate::Shadow,
        "pilot" => {
            let (mut intents, mut domains, mut whole_conversation) = (vec![], vec![], false);
            for w in words {
                let list = |v: &str| v.split(',').map(str::to_string).collect::<Vec<_>>();
                match w.split_once('=') {
                    Some(("intents", v)) => intents = list(v),
                    Some(("domains", v)) => domains = list(v),
                    Some(("whole", v)) => whole_conversation = v == "yes",
                    _ => {
                        return Err(format!(
                            "@rollout pilot: unknown {w:?} (intents=, domains=, whole=yes)"
                        ));
                    }
                }
            }
            super::Gate::Pilot {
                intents,
                domains,
                whole_conversation,
            }
        }
        other => {
            return Err(format!(
                "@rollout: live, off, shadow or pilot, not {other:?}"
            ));
        }
    })
}

fn effect_name(e: &Effect) -> &'static str {
    match e {
        Effect::OpenRequest { .. } => "open_request",
        Effect::InputCollection { .. } => "input_collection",
        Effect::Escalate { .. } => "escalate",
        Effect::SendSurvey { .. } => "send_survey",
        Effect::SurveyAnswer { .. } => "survey_answer",
        Effect::KnowledgeGap { .. } => "knowledge_gap",
        Effect::Recharge { .. } => "recharge",
        Effect::ClientAnswer { .. } => "client_answer",
    }
}

fn state_name(s: &State) -> &'static str {
    match s {
        State::Idle { .. } => "idle",
        State::AwaitingAnswerFeedback { .. } => "awaiting_answer_feedback",
        State::Clarifying { .. } => "clarifying",
        State::CollectingInputs(_) => "collecting_inputs",
        State::Confirming(_) => "confirming",
        State::OfferingEscalation { .. } => "offering_escalation",
        State::Survey { .. } => "survey",
        State::SurveyComment { .. } => "survey_comment",
        State::AnsweringRequest { .. } => "answering_request",
    }
}

fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit())?);
    let n: i64 = num.parse().ok()?;
    match unit {
        "s" => Some(Duration::seconds(n)),
        "m" => Some(Duration::minutes(n)),
        "h" => Some(Duration::hours(n)),
        "d" => Some(Duration::days(n)),
        _ => None,
    }
}

/// Run one transcript. `file` names it in failures.
pub fn run(
    file: &str,
    text: &str,
    k: &Knowledge,
    settings: &DialogueSettings,
) -> Result<usize, TranscriptFailure> {
    let fail = |line: usize, message: String| TranscriptFailure {
        file: file.to_string(),
        line,
        message,
    };
    let mut user = UserContext::default();
    let mut now: DateTime<Utc> = DateTime::parse_from_rfc3339("2026-11-24T10:00:00Z")
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| fail(0, e.to_string()))?;
    let mut channel = "web".to_string();
    let mut gate = super::Gate::Live;
    let mut state = State::default();
    let mut last: Option<Step> = None;
    let mut next_reference = 1001;
    let mut turns = 0;
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(rest) = line.strip_prefix('@') {
            let (key, value) = rest.split_once(' ').unwrap_or((rest, ""));
            let value = value.trim();
            match key {
                "client" => user.client = Some(value.to_string()),
                "user" => user.name = Some(value.to_string()),
                "channel" => channel = value.to_string(),
                "returning" => user.returning = true,
                "surveyed" => user.surveyed_recently = true,
                "now" => {
                    now = DateTime::parse_from_rfc3339(value)
                        .map(|t| t.with_timezone(&Utc))
                        .map_err(|e| fail(line_no, format!("@now: {e}")))?;
                }
                "rollout" => {
                    gate = parse_gate(value).map_err(|e| fail(line_no, e))?;
                }
                "advance" => {
                    now += parse_duration(value).ok_or_else(|| {
                        fail(
                            line_no,
                            format!("@advance: bad duration {value:?} (e.g. 31m, 2h, 3d)"),
                        )
                    })?;
                }
                other => return Err(fail(line_no, format!("unknown directive @{other}"))),
            }
            continue;
        }
        if let Some(msg) = line.strip_prefix('>') {
            let msg = msg.trim();
            let input = if msg.starts_with('[') && msg.ends_with(']') {
                let label = &msg[1..msg.len() - 1];
                let buttons: Vec<_> = last
                    .iter()
                    .flat_map(|s| s.replies.iter())
                    .flat_map(|r| r.buttons.iter())
                    .collect();
                let found = buttons
                    .iter()
                    .find(|b| b.label.eq_ignore_ascii_case(label))
                    .or_else(|| {
                        buttons
                            .iter()
                            .find(|b| b.label.to_lowercase().starts_with(&label.to_lowercase()))
                    })
                    .ok_or_else(|| {
                        let labels: Vec<&str> = buttons.iter().map(|b| b.label.as_str()).collect();
                        fail(
                            line_no,
                            format!(
                                "no button {label:?} in the last replies (buttons: {labels:?})"
                            ),
                        )
                    })?;
                Input::Button(found.payload.clone())
            } else {
                Input::Text(msg.to_string())
            };
            let event = Event {
                input,
                channel: channel.clone(),
                user: user.clone(),
                now,
                gate: gate.clone(),
            };
            let mut result = step(state.clone(), &event, k, settings);
            // Play the service's part for the following turns.
            let reference = format!("REQ-{next_reference}");
            for e in &result.effects {
                match e {
                    Effect::OpenRequest {
                        service, due_at, ..
                    } => {
                        user.requests.insert(
                            0,
                            RequestSummary {
                                reference: reference.clone(),
                                service: k
                                    .services
                                    .get(service)
                                    .map(|s| s.name.clone())
                                    .unwrap_or_else(|| service.clone()),
                                status: "open".into(),
                                due_at: *due_at,
                            },
                        );
                        next_reference += 1;
                    }
                    Effect::SendSurvey { .. } => user.surveyed_recently = true,
                    _ => {}
                }
            }
            for r in &mut result.replies {
                r.text = r.text.replace(REFERENCE_PLACEHOLDER, &reference);
            }
            state = result.state.clone();
            last = Some(result);
            user.returning = true;
            turns += 1;
            continue;
        }
        let Some(step) = &last else {
            return Err(fail(
                line_no,
                "an expectation before the first user line".into(),
            ));
        };
        let all_text = step
            .replies
            .iter()
            .map(|r| r.text.as_str())
            .collect::<Vec<_>>()
            .join("\n---\n");
        let shown = || {
            format!(
                "bot said:\n{all_text}\nbuttons: {:?}",
                step.replies
                    .iter()
                    .flat_map(|r| r.buttons.iter().map(|b| b.label.clone()))
                    .collect::<Vec<_>>()
            )
        };
        if let Some(expected) = line.strip_prefix('<') {
            let expected = expected.trim();
            if !all_text.to_lowercase().contains(&expected.to_lowercase()) {
                return Err(fail(
                    line_no,
                    format!("expected the reply to contain {expected:?}; {}", shown()),
                ));
            }
        } else if let Some(unexpected) = line.strip_prefix('!') {
            let unexpected = unexpected.trim();
            if all_text.to_lowercase().contains(&unexpected.to_lowercase()) {
                return Err(fail(
                    line_no,
                    format!(
                        "expected the reply NOT to contain {unexpected:?}; {}",
                        shown()
                    ),
                ));
            }
        } else if line.starts_with('[') {
            let labels: Vec<String> = step
                .replies
                .iter()
                .flat_map(|r| r.buttons.iter().map(|b| b.label.to_lowercase()))
                .collect();
            for want in line
                .split(']')
                .map(|s| s.trim().trim_start_matches('[').trim())
                .filter(|s| !s.is_empty())
            {
                if !labels.iter().any(|l| l.starts_with(&want.to_lowercase())) {
                    return Err(fail(
                        line_no,
                        format!("expected a button {want:?}; {}", shown()),
                    ));
                }
            }
        } else if let Some(check) = line.strip_prefix('=') {
            let (key, value) = check.trim().split_once(' ').unwrap_or((check.trim(), ""));
            let value = value.trim();
            let ok = match key {
                "outcome" => step.outcome.as_str() == value,
                "intent" => {
                    step.intent.as_deref() == Some(value)
                        || (value == "none" && step.intent.is_none())
                }
                "state" => state_name(&step.state) == value,
                "effects" => {
                    let names: Vec<&str> = step.effects.iter().map(effect_name).collect();
                    value
                        .split(',')
                        .map(str::trim)
                        .filter(|v| !v.is_empty())
                        .all(|v| names.contains(&v))
                }
                "no-effects" => {
                    let names: Vec<&str> = step.effects.iter().map(effect_name).collect();
                    value.split(',').map(str::trim).all(|v| !names.contains(&v))
                }
                "off_hours" => step.off_hours.to_string() == value,
                // The turn's escalation: its reason contains this text (what the manager's
                // ping says), or its priority is this one.
                "reason" => step.effects.iter().any(|e| {
                    matches!(e, Effect::Escalate { reason, .. }
                        if reason.to_lowercase().contains(&value.to_lowercase()))
                }),
                "priority" => step.effects.iter().any(|e| {
                    matches!(e, Effect::Escalate { priority, .. } if priority.as_str() == value)
                }),
                // The turn's escalation carries the bot's draft (shadow mode), whose replies
                // contain this text.
                "draft" => step.effects.iter().any(|e| {
                    matches!(e, Effect::Escalate { draft: Some(d), .. }
                        if d.replies.iter().any(|r| r.text.to_lowercase().contains(&value.to_lowercase())))
                }),
                other => return Err(fail(line_no, format!("unknown check = {other}"))),
            };
            if !ok {
                let names: Vec<&str> = step.effects.iter().map(effect_name).collect();
                return Err(fail(
                    line_no,
                    format!(
                        "expected {key} {value}; got outcome {}, intent {:?}, state {}, effects {names:?}; {}",
                        step.outcome.as_str(),
                        step.intent,
                        state_name(&step.state),
                        shown()
                    ),
                ));
            }
        } else {
            return Err(fail(line_no, format!("cannot read this line: {line:?}")));
        }
    }
    Ok(turns)
}

/// Run every `*.txt` transcript in a folder; returns (passed, failures).
pub fn run_dir(
    dir: &Path,
    k: &Knowledge,
    settings: &DialogueSettings,
) -> std::io::Result<(usize, Vec<TranscriptFailure>)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    files.sort();
    let mut passed = 0;
    let mut failures = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f)?;
        match run(&f.display().to_string(), &text, k, settings) {
            Ok(_) => passed += 1,
            Err(e) => failures.push(e),
        }
    }
    Ok((passed, failures))
}
