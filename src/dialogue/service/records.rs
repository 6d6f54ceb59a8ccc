//! A turn's effects as the store's records: what the step decided, in the rows that keep it
//! (a request and its case-system hooks, a form's figures, an escalation and its first ping, a
//! survey, a gap, a recharge).

use super::{ChatService, REFERENCE_PLACEHOLDER, millis};
use crate::dialogue::{Effect, Event};
use crate::knowledge::Knowledge;
use crate::policy::ladder::{manager_at_level, next_ping_at, pings_for_level};
use crate::policy::request_hook::{self, HookEvent};
use crate::store::Record;

impl ChatService {
    /// Turn effects into store records (an escalation's first ping included).
    pub(super) fn records(
        &self,
        k: &Knowledge,
        event: &Event,
        step: &crate::dialogue::Step,
        reference: Option<&str>,
    ) -> Vec<Record> {
        let effects = &step.effects;
        let resolve = |r: &Option<String>| -> Option<String> {
            r.as_ref().map(|s| match reference {
                Some(real) => s.replace(REFERENCE_PLACEHOLDER, real),
                None => s.clone(),
            })
        };
        // The step already knows whether the message came outside coverage hours.
        let off_hours = step.off_hours;
        let mut out = Vec::new();
        for e in effects {
            out.push(match e {
                Effect::OpenRequest {
                    service,
                    inputs,
                    priority,
                    due_at,
                } => {
                    let reference = reference.unwrap_or_default().to_string();
                    let inputs = serde_json::to_string(inputs).unwrap_or_else(|_| "{}".into());
                    let hooks = if self.request_hooks.is_empty() {
                        Vec::new()
                    } else {
                        let row = crate::dialogue::turn_requests::new_request_row(
                            &reference,
                            service,
                            priority.as_str(),
                            &inputs,
                            event,
                            *due_at,
                            off_hours,
                        );
                        request_hook::rows(&self.request_hooks, k, HookEvent::Created, &row, &[])
                    };
                    Record::Request {
                        reference,
                        service_id: service.clone(),
                        priority: priority.as_str().into(),
                        inputs,
                        due_at: millis(*due_at),
                        off_hours,
                        hooks,
                    }
                }
                Effect::InputCollection {
                    service,
                    started_at,
                    outcome,
                    complete_first_attempt,
                    reprompts,
                    missing_inputs,
                    opened_request,
                } => Record::InputCollection {
                    service_id: service.clone(),
                    started_at: millis(*started_at),
                    outcome: outcome.as_str().to_string(),
                    complete_first_attempt: *complete_first_attempt,
                    reprompts: i64::from(*reprompts),
                    missing_inputs: i64::from(*missing_inputs),
                    request_reference: if *opened_request {
                        reference.map(str::to_string)
                    } else {
                        None
                    },
                },
                Effect::Escalate {
                    reason,
                    priority,
                    request_reference,
                    due_at,
                    draft,
                } => {
                    let request_reference = resolve(request_reference);
                    // The primary manager's first route now; the worker falls over to the next
                    // route if that one fails for good, and climbs the re-ping ladder.
                    let primary = event
                        .user
                        .client
                        .as_deref()
                        .and_then(|c| k.clients.get(c))
                        .and_then(|c| manager_at_level(c, 0))
                        .map(|(m, _)| m);
                    // Urgent: all of the manager's routes at once (the fast lane).
                    let urgent = *priority == crate::dialogue::Priority::Urgent;
                    let pings = primary
                        .map(|m| pings_for_level(m, 0, false, urgent))
                        .unwrap_or_default();
                    let next_ping_at = primary.map(|_| {
                        next_ping_at(
                            k,
                            event.user.client.as_deref(),
                            *priority == crate::dialogue::Priority::Urgent,
                            event.now,
                            &self.escalation,
                        )
                    });
                    Record::Escalation {
                        reason: reason.clone(),
                        priority: priority.as_str().into(),
                        request_reference,
                        due_at: millis(*due_at),
                        next_ping_at: next_ping_at.map(millis),
                        off_hours,
                        manager_email: primary.map(|m| m.email.clone()),
                        pings,
                        draft: draft.as_ref().and_then(|d| serde_json::to_string(d).ok()),
                    }
                }
                Effect::SendSurvey {
                    cause,
                    expires_at,
                    request,
                } => Record::Survey {
                    cause: cause.clone(),
                    expires_at: millis(*expires_at),
                    request_reference: request.clone(),
                },
                // Needs the request as stored: `client_answer`, in `handle_with`.
                Effect::ClientAnswer { .. } => continue,
                Effect::SurveyAnswer { score, comment } => Record::SurveyAnswer {
                    score: score.map(i64::from),
                    comment: comment.clone(),
                },
                Effect::KnowledgeGap {
                    kind,
                    text,
                    intent,
                    confidence,
                } => Record::Gap {
                    kind: kind.as_str().to_string(),
                    text: text.clone(),
                    intent: intent.clone(),
                    confidence: confidence.map(f64::from),
                },
                Effect::Recharge {
                    interaction,
                    reference: r,
                } => Record::Ledger {
                    interaction_type: interaction.clone(),
                    reference: resolve(r),
                },
            });
        }
        out
    }
}
