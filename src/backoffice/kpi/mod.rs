//! KPIs on both sides of the SPA for one client and period, computed from [`PeriodFacts`].
//!
//! Pure: the same facts, coverage and `now` give the same figures, on either backend. Each
//! formula is written next to its field. Rates are `None` when their denominator is zero
//! (no data is not 0%). The service requests' figures (the two-way SLA) are in [`requests`].

pub mod requests;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, TimeZone, Timelike, Utc};
use serde::Serialize;

use crate::domain::{CollectionOutcome, DraftVerdict, Outcome};
use crate::knowledge::{Coverage, Knowledge, Turnaround};
use crate::policy::calendar::in_coverage;
use crate::store::{EscalationRow, MessageRow, Millis, PeriodFacts};
pub use requests::RequestKpis;

/// Outcomes that resolve a contact at the bot: an answer given, a request opened.
const RESOLVED: [Outcome; 2] = [Outcome::Answered, Outcome::RequestOpened];
/// A contact is not resolved at first contact if the same person asks about the same intent
/// again within this window.
const REPEAT_WINDOW_MS: i64 = 72 * 3_600_000;

#[derive(Clone, Debug, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Kpis {
    // --- SSO side ---------------------------------------------------------------------------
    /// Inbound client messages (typed or pressed), manager relays excluded.
    pub volume: i64,
    /// Distinct conversations with at least one inbound client message.
    pub conversations: i64,
    /// Conversations the bot ran (not shadowed, not off) without an escalation / the
    /// conversations the bot ran (containment).
    pub self_service_rate: Option<f64>,
    /// Conversations the bot ran with an escalation / the conversations the bot ran.
    pub escalation_rate: Option<f64>,
    /// Conversations with a message held back for the account manager (roll-out in shadow or
    /// pilot mode): answered by a person, so apart from the self-service figures.
    pub shadowed_conversations: i64,
    /// Conversations with a message answered "not available here yet" (roll-out off).
    pub rollout_off_conversations: i64,
    /// The bot's drafts in shadow mode and what the managers did with them: the evidence for
    /// going live. Escalation figures above leave these escalations out.
    pub drafts: DraftCounts,
    /// Resolved contacts (answered or request opened) whose conversation was not escalated and
    /// whose person did not come back about the same intent within 72 h / resolved contacts.
    pub first_contact_resolution: Option<f64>,
    /// Messages that fell back ("I don't know") / volume.
    pub fallback_rate: Option<f64>,
    /// Bot response time from the logged latencies (ms): median and 95th percentile.
    pub response_ms_p50: Option<f64>,
    pub response_ms_p95: Option<f64>,
    /// Mean minutes from escalation to acknowledgement / first human response / resolution,
    /// over the escalations that reached that point.
    pub acknowledge_minutes_avg: Option<f64>,
    pub first_response_minutes_avg: Option<f64>,
    pub resolution_minutes_avg: Option<f64>,
    /// Escalations answered by their due time / escalations answered or already past due.
    /// The due time is in business hours (the clock stops outside coverage), as promised.
    pub escalation_sla_met: Option<f64>,
    /// Requests completed by their due time (business hours, the SPA's own terms, the due
    /// time moved out by the client's waits): [`RequestKpis::sla_met`] of `requests`, kept at
    /// the top for the API's readers.
    pub request_sla_met: Option<f64>,
    /// The same two in calendar time: the commitment counted on a clock that never stops
    /// (`created + nominal turnaround`, see [`SlaTerms::calendar_due`]; for a request, plus the
    /// calendar time waited for the client) — what the client experiences, and the fairer
    /// figure for a client whose staff work outside coverage.
    pub escalation_sla_met_calendar: Option<f64>,
    pub request_sla_met_calendar: Option<f64>,
    /// The requests opened in the period: on time, time with the SSO and with the client, the
    /// client's answers on time, reopened, the survey after completion (see [`RequestKpis`]).
    pub requests: RequestKpis,
    /// Mean survey score; count per score 1..=5; answered / sent.
    pub csat_avg: Option<f64>,
    #[schema(value_type = Vec<i64>)]
    pub csat_distribution: [i64; 5],
    pub survey_response_rate: Option<f64>,
    // --- Client side (what the client owes the SPA) -------------------------------------------
    /// Input collections submitted with every required input valid at its first answer /
    /// submitted collections.
    pub input_complete_first_time: Option<f64>,
    /// Mean re-prompts per submitted collection.
    pub reprompts_avg: Option<f64>,
    /// Mean minutes from the first prompt to submission.
    pub supply_minutes_avg: Option<f64>,
    /// Collections abandoned (cancelled or expired) with required inputs still missing.
    pub abandoned_missing_inputs: i64,
    // --- Demand ----------------------------------------------------------------------------
    /// Inbound messages per weekday (0 = Monday) × hour, in the client's time zone.
    #[schema(value_type = Vec<Vec<i64>>)]
    pub heatmap: Vec<[i64; 24]>,
    /// Inbound messages outside coverage hours / volume.
    pub off_hours_share: Option<f64>,
    /// Inbound messages in the first and in the last hour of coverage.
    pub first_coverage_hour: i64,
    pub last_coverage_hour: i64,
    // --- Breakdowns --------------------------------------------------------------------------
    /// Inbound messages per local calendar day (`YYYY-MM-DD`, days with none left out).
    pub daily_volume: BTreeMap<String, i64>,
    /// Per channel: inbound messages and conversations with an escalation.
    pub by_channel: BTreeMap<String, ChannelKpis>,
    /// Per service: [`RequestKpis`] of its requests and of the surveys after their completion.
    pub by_service: BTreeMap<String, RequestKpis>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ChannelKpis {
    pub volume: i64,
    pub conversations: i64,
    /// Conversations of this channel the bot ran without an escalation / those it ran.
    pub self_service_rate: Option<f64>,
    pub shadowed_conversations: i64,
    pub drafts: DraftCounts,
}

/// Shadow-mode drafts: written, and approved unchanged, edited or replaced by the manager's
/// own answer (the rest are still pending).
#[derive(Clone, Debug, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct DraftCounts {
    pub written: i64,
    pub approved: i64,
    pub edited: i64,
    pub replaced: i64,
    pub pending: i64,
    /// Approved unchanged / drafts with a verdict.
    pub approved_rate: Option<f64>,
}

impl DraftCounts {
    fn count<'a>(escalations: impl Iterator<Item = &'a EscalationRow>) -> Self {
        let mut d = DraftCounts::default();
        for e in escalations.filter(|e| e.draft.is_some()) {
            d.written += 1;
            match e.draft_verdict.as_deref().and_then(DraftVerdict::parse) {
                Some(DraftVerdict::Approved) => d.approved += 1,
                Some(DraftVerdict::Edited) => d.edited += 1,
                Some(DraftVerdict::Replaced) => d.replaced += 1,
                None => d.pending += 1,
            }
        }
        d.approved_rate = ratio(
            d.approved as usize,
            (d.approved + d.edited + d.replaced) as usize,
        );
        d
    }
}

/// The commitments the SLA KPIs are judged against, for one client: its coverage (for the
/// demand figures), each service's turnaround, and the escalation response hours.
#[derive(Clone, Debug, PartialEq)]
pub struct SlaTerms {
    pub coverage: Coverage,
    pub turnaround: BTreeMap<String, Turnaround>,
    /// Escalation response commitment in hours: normal, urgent.
    pub escalation_hours: (u32, u32),
}

impl SlaTerms {
    pub fn for_client(k: &Knowledge, client: &str) -> Self {
        Self {
            coverage: k.coverage_for(Some(client), None).clone(),
            turnaround: k
                .services
                .iter()
                .map(|(id, s)| (id.clone(), s.turnaround))
                .collect(),
            escalation_hours: (
                k.organisation.escalation_response_hours,
                k.organisation.urgent_response_hours,
            ),
        }
    }

    /// The calendar-time due time of a commitment made at `at`: the nominal turnaround on a
    /// clock that never stops — N business hours → N hours, N business days → N × 24 h,
    /// N calendar days → N × 24 h. `None` for a service no longer in the catalogue.
    pub fn calendar_due(&self, service: &str, at: Millis) -> Option<Millis> {
        let hours = match self.turnaround.get(service)? {
            Turnaround::BusinessHours(h) => i64::from(*h),
            Turnaround::BusinessDays(d) | Turnaround::CalendarDays(d) => i64::from(*d) * 24,
        };
        Some(at + hours * 3_600_000)
    }

    /// An escalation's calendar-time due time: its response hours (by priority) after it.
    pub fn escalation_calendar_due(&self, priority: &str, at: Millis) -> Millis {
        let hours = if priority == "urgent" {
            self.escalation_hours.1
        } else {
            self.escalation_hours.0
        };
        at + i64::from(hours) * 3_600_000
    }
}

/// Met (`Some(true)`), missed (`Some(false)`) or not yet judged (`None`: still open and not
/// yet due) — a commitment done at `done` against `due`, seen at `now`. (Escalations; the
/// requests' lifecycle is judged in [`requests`].)
fn judged(done: Option<Millis>, due: Millis, now: Millis) -> Option<bool> {
    match done {
        Some(t) => Some(t <= due),
        None if due < now => Some(false),
        None => None,
    }
}

fn share(judgements: &[bool]) -> Option<f64> {
    ratio(
        judgements.iter().filter(|ok| **ok).count(),
        judgements.len(),
    )
}

fn ratio(num: usize, den: usize) -> Option<f64> {
    (den > 0).then(|| num as f64 / den as f64)
}

fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

fn minutes(from: Millis, to: Millis) -> f64 {
    (to - from) as f64 / 60_000.0
}

/// A stored message's outcome, read back at the store's edge (`None`: none, or a word this
/// build does not know).
fn outcome_of(m: &MessageRow) -> Option<Outcome> {
    m.outcome.as_deref().and_then(Outcome::parse)
}

pub fn compute(facts: &PeriodFacts, terms: &SlaTerms, now: Millis) -> Kpis {
    let coverage = &terms.coverage;
    let inbound: Vec<_> = facts
        .inbound
        .iter()
        .filter(|m| {
            !matches!(
                outcome_of(m),
                Some(
                    Outcome::ManagerReply
                        | Outcome::ManagerAcknowledged
                        | Outcome::ManagerResolved
                        | Outcome::RequestUpdate
                        | Outcome::DraftSent
                )
            )
        })
        .collect();
    let volume = inbound.len();
    let conversations: BTreeSet<&str> =
        inbound.iter().map(|m| m.conversation_id.as_str()).collect();
    // Roll-out: conversations a person answered (shadow) or the bot turned away (off) are
    // counted apart; the self-service figures are of the conversations the bot ran.
    let apart_of = |o: Outcome| -> BTreeSet<&str> {
        inbound
            .iter()
            .filter(|m| outcome_of(m) == Some(o))
            .map(|m| m.conversation_id.as_str())
            .collect()
    };
    let shadowed = apart_of(Outcome::Shadowed);
    let turned_away = apart_of(Outcome::RolloutOff);
    let ran: BTreeSet<&str> = conversations
        .iter()
        .filter(|c| !shadowed.contains(*c) && !turned_away.contains(*c))
        .copied()
        .collect();
    let drafts = DraftCounts::count(facts.escalations.iter());
    let live_escalations: Vec<EscalationRow> = facts
        .escalations
        .iter()
        .filter(|e| e.draft.is_none())
        .cloned()
        .collect();
    let escalated: BTreeSet<&str> = live_escalations
        .iter()
        .map(|e| e.conversation_id.as_str())
        .collect();
    let escalated_conversations = ran.iter().filter(|c| escalated.contains(*c)).count();

    // First-contact resolution.
    let resolved: Vec<_> = inbound
        .iter()
        .filter(|m| outcome_of(m).is_some_and(|o| RESOLVED.contains(&o)))
        .collect();
    let first_contact = resolved
        .iter()
        .filter(|m| {
            !escalated.contains(m.conversation_id.as_str())
                && !inbound.iter().any(|later| {
                    later.id != m.id
                        && later.person_id.is_some()
                        && later.person_id == m.person_id
                        && later.intent.is_some()
                        && later.intent == m.intent
                        && later.created_at > m.created_at
                        && later.created_at - m.created_at <= REPEAT_WINDOW_MS
                })
        })
        .count();

    let fallbacks = inbound
        .iter()
        .filter(|m| outcome_of(m) == Some(Outcome::Fallback))
        .count();
    let mut latencies: Vec<f64> = inbound
        .iter()
        .filter_map(|m| m.latency_us)
        .map(|us| us as f64 / 1000.0)
        .collect();
    latencies.sort_by(f64::total_cmp);

    let e = &live_escalations;
    let ack: Vec<f64> = e
        .iter()
        .filter_map(|x| x.acknowledged_at.map(|t| minutes(x.created_at, t)))
        .collect();
    let first_response: Vec<f64> = e
        .iter()
        .filter_map(|x| x.first_response_at.map(|t| minutes(x.created_at, t)))
        .collect();
    let resolution: Vec<f64> = e
        .iter()
        .filter_map(|x| x.resolved_at.map(|t| minutes(x.created_at, t)))
        .collect();
    let esc_judged: Vec<bool> = e
        .iter()
        .filter_map(|x| judged(x.first_response_at, x.due_at, now))
        .collect();
    let esc_judged_calendar: Vec<bool> = e
        .iter()
        .filter_map(|x| {
            let due = terms.escalation_calendar_due(&x.priority, x.created_at);
            judged(x.first_response_at, due, now)
        })
        .collect();
    let request_surveys: Vec<_> = facts
        .surveys
        .iter()
        .filter(|s| s.request_reference.is_some())
        .collect();
    let request_kpis = requests::request_kpis(
        &facts.requests.iter().collect::<Vec<_>>(),
        &request_surveys,
        terms,
        now,
    );
    let by_service = requests::by_service(&facts.requests, &facts.surveys, terms, now);

    let scores: Vec<i64> = facts
        .surveys
        .iter()
        .filter_map(|s| s.score)
        .filter(|s| (1..=5).contains(s))
        .collect();
    let mut distribution = [0i64; 5];
    for s in &scores {
        distribution[(*s - 1) as usize] += 1;
    }
    let answered_surveys = facts
        .surveys
        .iter()
        .filter(|s| s.answered_at.is_some())
        .count();

    let submitted: Vec<_> = facts
        .collections
        .iter()
        .filter(|c| CollectionOutcome::parse(&c.outcome) == Some(CollectionOutcome::Submitted))
        .collect();

    let mut by_channel: BTreeMap<String, ChannelKpis> = BTreeMap::new();
    let mut channel_conversations: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for m in &inbound {
        by_channel.entry(m.channel.clone()).or_default().volume += 1;
        channel_conversations
            .entry(m.channel.as_str())
            .or_default()
            .insert(m.conversation_id.as_str());
    }
    let channel_of: BTreeMap<&str, &str> = inbound
        .iter()
        .map(|m| (m.conversation_id.as_str(), m.channel.as_str()))
        .collect();
    for (channel, convs) in channel_conversations {
        if let Some(k) = by_channel.get_mut(channel) {
            k.conversations = convs.len() as i64;
            let ran_here: Vec<_> = convs.iter().filter(|c| ran.contains(*c)).collect();
            let contained = ran_here.iter().filter(|c| !escalated.contains(**c)).count();
            k.self_service_rate = ratio(contained, ran_here.len());
            k.shadowed_conversations =
                convs.iter().filter(|c| shadowed.contains(*c)).count() as i64;
            k.drafts = DraftCounts::count(
                facts
                    .escalations
                    .iter()
                    .filter(|e| channel_of.get(e.conversation_id.as_str()) == Some(&channel)),
            );
        }
    }

    let tz = coverage.timezone;
    let mut daily_volume: BTreeMap<String, i64> = BTreeMap::new();
    let mut heatmap = vec![[0i64; 24]; 7];
    let (mut first_hour, mut last_hour, mut off_hours) = (0i64, 0i64, 0usize);
    for m in &inbound {
        let Some(t) = Utc.timestamp_millis_opt(m.created_at).single() else {
            continue;
        };
        let local = t.with_timezone(&tz);
        *daily_volume
            .entry(local.format("%Y-%m-%d").to_string())
            .or_default() += 1;
        heatmap[local.weekday().num_days_from_monday() as usize][local.hour() as usize] += 1;
        if !in_coverage(coverage, t) {
            off_hours += 1;
            continue;
        }
        let time = local.time();
        if time < coverage.start + chrono::Duration::hours(1) {
            first_hour += 1;
        }
        if time >= coverage.end - chrono::Duration::hours(1) {
            last_hour += 1;
        }
    }

    Kpis {
        volume: volume as i64,
        conversations: conversations.len() as i64,
        self_service_rate: ratio(ran.len() - escalated_conversations, ran.len()),
        escalation_rate: ratio(escalated_conversations, ran.len()),
        shadowed_conversations: shadowed.len() as i64,
        rollout_off_conversations: turned_away.len() as i64,
        drafts,
        first_contact_resolution: ratio(first_contact, resolved.len()),
        fallback_rate: ratio(fallbacks, volume),
        response_ms_p50: percentile(&latencies, 50.0),
        response_ms_p95: percentile(&latencies, 95.0),
        acknowledge_minutes_avg: mean(&ack),
        first_response_minutes_avg: mean(&first_response),
        resolution_minutes_avg: mean(&resolution),
        escalation_sla_met: share(&esc_judged),
        request_sla_met: request_kpis.sla_met,
        escalation_sla_met_calendar: share(&esc_judged_calendar),
        request_sla_met_calendar: request_kpis.sla_met_calendar,
        requests: request_kpis,
        csat_avg: mean(&scores.iter().map(|s| *s as f64).collect::<Vec<_>>()),
        csat_distribution: distribution,
        survey_response_rate: ratio(answered_surveys, facts.surveys.len()),
        input_complete_first_time: ratio(
            submitted
                .iter()
                .filter(|c| c.complete_first_attempt)
                .count(),
            submitted.len(),
        ),
        reprompts_avg: mean(
            &submitted
                .iter()
                .map(|c| c.reprompts as f64)
                .collect::<Vec<_>>(),
        ),
        supply_minutes_avg: mean(
            &submitted
                .iter()
                .map(|c| minutes(c.started_at, c.ended_at))
                .collect::<Vec<_>>(),
        ),
        abandoned_missing_inputs: facts
            .collections
            .iter()
            .filter(|c| {
                matches!(
                    CollectionOutcome::parse(&c.outcome),
                    Some(CollectionOutcome::Cancelled | CollectionOutcome::Expired)
                ) && c.missing_inputs > 0
            })
            .count() as i64,
        heatmap,
        off_hours_share: ratio(off_hours, volume),
        first_coverage_hour: first_hour,
        last_coverage_hour: last_hour,
        daily_volume,
        by_channel,
        by_service,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knowledge::WeekdaySet;
    use crate::policy::calendar::due_at;
    use crate::store::{EscalationRow, RequestRow};
    use chrono::{DateTime, NaiveTime};

    fn at(day: u32, hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, day, hour, 0, 0).unwrap()
    }

    fn terms() -> SlaTerms {
        SlaTerms {
            // Mon–Fri 08:00–18:00 UTC, so local and UTC hours agree in the comments below.
            coverage: Coverage {
                days: WeekdaySet(0x1f),
                start: NaiveTime::from_hms_opt(8, 0, 0).unwrap(),
                end: NaiveTime::from_hms_opt(18, 0, 0).unwrap(),
                timezone: chrono_tz::UTC,
                holidays: Default::default(),
            },
            turnaround: [(
                "payroll-correction".to_string(),
                Turnaround::BusinessDays(1),
            )]
            .into(),
            escalation_hours: (4, 1),
        }
    }

    fn request(opened: DateTime<Utc>, closed: Option<DateTime<Utc>>, t: &SlaTerms) -> RequestRow {
        RequestRow {
            id: 1,
            reference: "REQ-1".into(),
            conversation_id: "c".into(),
            person_id: None,
            client_code: Some("ACME".into()),
            service_id: "payroll-correction".into(),
            status: if closed.is_some() { "done" } else { "open" }.into(),
            priority: "normal".into(),
            inputs: "{}".into(),
            opened_at: opened.timestamp_millis(),
            due_at: due_at(&t.coverage, Turnaround::BusinessDays(1), opened).timestamp_millis(),
            closed_at: closed.map(|c| c.timestamp_millis()),
            first_done_at: closed.map(|c| c.timestamp_millis()),
            updated_at: opened.timestamp_millis(),
            ..RequestRow::default()
        }
    }

    #[test]
    fn sla_met_in_business_hours_and_in_calendar_time() {
        let t = terms();
        // Fri 27 Nov 17:00, 1 business day: due Mon 30 Nov 17:00 in business hours, Sat 28 Nov
        // 17:00 in calendar time. Closed Mon 10:00: met in business hours, late on the calendar.
        let friday = request(at(27, 17), Some(at(30, 10)), &t);
        assert_eq!(friday.due_at, at(30, 17).timestamp_millis());
        // Tue 24 Nov 09:00, closed 15:00 the same day: met both ways.
        let tuesday = request(at(24, 9), Some(at(24, 15)), &t);
        // Wed 25 Nov 09:00, still open at the `now` below (Mon 30 Nov 12:00): due Thu 09:00 both
        // ways (a full covered day), so missed both ways.
        let open = request(at(25, 9), None, &t);
        // An escalation (normal: 4 h) at Fri 27 Nov 17:00, first answer Mon 09:00: due Mon
        // 11:00 in business hours (1 h on Friday, 3 on Monday), Fri 21:00 on the calendar.
        let esc = EscalationRow {
            id: 1,
            conversation_id: "c".into(),
            person_id: None,
            client_code: Some("ACME".into()),
            request_reference: None,
            reason: "user_request".into(),
            priority: "normal".into(),
            status: "resolved".into(),
            level: 0,
            manager_id: None,
            created_at: at(27, 17).timestamp_millis(),
            due_at: due_at(&t.coverage, Turnaround::BusinessHours(4), at(27, 17))
                .timestamp_millis(),
            next_ping_at: None,
            acknowledged_at: None,
            acknowledged_by: None,
            first_response_at: Some(at(30, 9).timestamp_millis()),
            resolved_at: None,
            off_hours: false,
            draft: None,
            draft_verdict: None,
        };
        assert_eq!(esc.due_at, at(30, 11).timestamp_millis());
        let facts = PeriodFacts {
            requests: vec![friday, tuesday, open],
            escalations: vec![esc],
            ..PeriodFacts::default()
        };
        let k = compute(&facts, &t, at(30, 12).timestamp_millis());
        assert_eq!(k.request_sla_met, Some(2.0 / 3.0), "Friday and Tuesday met");
        assert_eq!(k.request_sla_met_calendar, Some(1.0 / 3.0), "only Tuesday");
        assert_eq!(k.escalation_sla_met, Some(1.0));
        assert_eq!(k.escalation_sla_met_calendar, Some(0.0));
        let s = &k.by_service["payroll-correction"];
        assert_eq!(
            (s.requests, s.sla_met, s.sla_met_calendar),
            (3, Some(2.0 / 3.0), Some(1.0 / 3.0))
        );
        // A request of a service that has left the catalogue is judged in business hours only.
        let mut gone = facts.requests[1].clone();
        gone.service_id = "retired".into();
        let k = compute(
            &PeriodFacts {
                requests: vec![gone],
                ..PeriodFacts::default()
            },
            &t,
            at(30, 12).timestamp_millis(),
        );
        assert_eq!(
            (k.request_sla_met, k.request_sla_met_calendar),
            (Some(1.0), None)
        );
    }
}
