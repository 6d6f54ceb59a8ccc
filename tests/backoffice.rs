//! Back office: the monthly recharge statement equals the ledger, on generated data, on SQLite
//! and PostgreSQL.

mod common;

use chrono::{TimeZone, Utc};
use frontdoor::backoffice::statement::statement;
use frontdoor::store::{NewMessage, Record, Turn};
use rand::{Rng, SeedableRng};

/// The shipped rate card as the test expects it (pence): `sso.toml`, with ACME's override.
fn acme_price(kind: &str) -> i64 {
    match kind {
        "self_service_answer" => 40,
        "guided_request" => 550, // ACME's SPA price (the card says 6.00)
        "escalation" => 1500,
        "status_lookup" => 20,
        other => panic!("unexpected interaction {other}"),
    }
}

#[tokio::test]
async fn statement_totals_equal_the_ledger_on_generated_data() {
    let k = common::shipped();
    for (name, store, _dir) in common::backends("statement").await {
        frontdoor::app::seed_clients(store.as_ref(), &k)
            .await
            .unwrap();
        let kinds = [
            "self_service_answer",
            "guided_request",
            "escalation",
            "status_lookup",
        ];
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        // November 2026 in London is GMT: the month is [Nov 1 00:00Z, Dec 1 00:00Z).
        let start = Utc
            .with_ymd_and_hms(2026, 10, 25, 0, 0, 0)
            .unwrap()
            .timestamp_millis();
        let end = Utc
            .with_ymd_and_hms(2026, 12, 6, 0, 0, 0)
            .unwrap()
            .timestamp_millis();
        let (nov, dec) = (
            Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0)
                .unwrap()
                .timestamp_millis(),
            Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0)
                .unwrap()
                .timestamp_millis(),
        );
        let mut expected_total = 0i64;
        let mut expected_counts = std::collections::BTreeMap::<&str, i64>::new();
        for i in 0..120 {
            let client = if i % 4 == 3 { "GLOBEX" } else { "ACME" };
            let now = if i == 0 {
                nov
            } else if i == 1 {
                dec - 1
            } else if i == 2 {
                dec
            } else {
                rng.random_range(start..end)
            };
            let n_records = rng.random_range(1..=3);
            let records: Vec<Record> = (0..n_records)
                .map(|_| Record::Ledger {
                    interaction_type: kinds[rng.random_range(0..kinds.len())].to_string(),
                    reference: None,
                })
                .collect();
            if client == "ACME" && (nov..dec).contains(&now) {
                for r in &records {
                    if let Record::Ledger {
                        interaction_type, ..
                    } = r
                    {
                        let kind = kinds.iter().find(|k| *k == interaction_type).unwrap();
                        *expected_counts.entry(kind).or_default() += 1;
                        expected_total += acme_price(kind);
                    }
                }
            }
            let conversation = format!("conv-{i}");
            store
                .open_conversation("web", &format!("s-{i}"), None, &conversation, "{}", now)
                .await
                .unwrap();
            let turn = Turn {
                conversation_id: conversation,
                expected_version: 0,
                new_state: "{}".into(),
                channel: "web".into(),
                person_id: None,
                opening: Default::default(),
                client_code: Some(client.into()),
                off_hours: false,
                inbound: NewMessage {
                    text: format!("message {i}"),
                    ..NewMessage::default()
                },
                outbound: vec![],
                records,
                now,
            };
            store.commit_turn(&turn).await.unwrap();
        }
        let s = statement(store.as_ref(), &k, "ACME", "2026-11")
            .await
            .unwrap();
        let counts: std::collections::BTreeMap<&str, i64> = s
            .lines
            .iter()
            .map(|l| (l.interaction_type.as_str(), l.count))
            .collect();
        assert_eq!(counts, expected_counts, "[{name}]");
        assert_eq!(
            s.total_minor, expected_total,
            "[{name}] total equals the priced ledger"
        );
        assert_eq!(
            s.total_minor,
            s.lines.iter().map(|l| l.amount_minor).sum::<i64>(),
            "[{name}] total equals its lines"
        );
        for l in &s.lines {
            assert_eq!(l.amount_minor, l.count * acme_price(&l.interaction_type));
        }
        let total = format!("{}.{:02}", expected_total / 100, expected_total % 100);
        let csv = s.to_csv();
        assert!(
            csv.lines()
                .last()
                .unwrap()
                .contains(&format!("TOTAL,,,{total},GBP")),
            "{csv}"
        );
        assert_eq!(csv.lines().count(), s.lines.len() + 2);
        assert!(s.to_html().contains(&total));
        let json: serde_json::Value = serde_json::to_value(&s).unwrap();
        assert_eq!(json["total_minor"], expected_total);
        // Unknown clients and malformed months are clear errors.
        assert!(
            statement(store.as_ref(), &k, "NOPE", "2026-11")
                .await
                .is_err()
        );
        assert!(
            statement(store.as_ref(), &k, "ACME", "November")
                .await
                .is_err()
        );
    }
}

/// Every KPI on a small hand-built month with known answers (the comments give the arithmetic).
#[tokio::test]
async fn kpis_on_a_hand_built_dataset() {
    use frontdoor::backoffice::kpi::{SlaTerms, compute};
    use frontdoor::store::{EscalationAction, IdentityClaim, Store};
    let k = common::shipped();
    // ACME: Mon-Fri 07:00-19:00 London; vendor set-up 2 business days; escalations 4 h.
    let terms = SlaTerms::for_client(&k, "ACME");
    let t = |d: u32, h: u32, m: u32| {
        Utc.with_ymd_and_hms(2026, 11, d, h, m, 0)
            .unwrap()
            .timestamp_millis()
    };
    for (name, store, _dir) in common::backends("kpis").await {
        frontdoor::app::seed_clients(store.as_ref(), &k)
            .await
            .unwrap();
        let mut people = Vec::new();
        for i in 0..4 {
            let p = store
                .resolve_person(
                    &IdentityClaim {
                        channel: "web".into(),
                        external_id: format!("person-{i}"),
                        display_name: None,
                        client_code: Some("ACME".into()),
                    },
                    t(1, 0, 0),
                )
                .await
                .unwrap();
            people.push(p.id);
        }
        // (conversation, person, time, text, outcome, intent, latency µs, records)
        struct Msg(
            &'static str,
            usize,
            i64,
            &'static str,
            &'static str,
            Option<&'static str>,
            i64,
            Vec<Record>,
        );
        let mut versions = std::collections::HashMap::<&str, i64>::new();
        let commit = |store: std::sync::Arc<dyn Store>, m: Msg, version: i64, person: i64| async move {
            if version == 0 {
                store
                    .open_conversation("web", m.0, None, m.0, "{}", m.2)
                    .await
                    .unwrap();
            }
            let turn = Turn {
                conversation_id: m.0.into(),
                expected_version: version,
                new_state: "{}".into(),
                channel: "web".into(),
                person_id: Some(person),
                opening: Default::default(),
                client_code: Some("ACME".into()),
                off_hours: false,
                inbound: NewMessage {
                    text: m.3.into(),
                    intent: m.5.map(str::to_string),
                    outcome: Some(m.4.into()),
                    latency_us: Some(m.6),
                    ..NewMessage::default()
                },
                outbound: vec![],
                records: m.7,
                now: m.2,
            };
            assert!(matches!(
                store.commit_turn(&turn).await.unwrap(),
                frontdoor::store::TurnOutcome::Committed { .. }
            ));
        };
        let script = vec![
            // Mon 23 Nov. A: answered (repeated by the same person below, so not FCR).
            Msg(
                "A",
                0,
                t(23, 9, 0),
                "reset password",
                "answered",
                Some("it-password-reset"),
                1_000,
                vec![Record::Survey {
                    cause: "answer".into(),
                    expires_at: t(24, 9, 0),
                    request_reference: None,
                }],
            ),
            Msg(
                "A",
                0,
                t(23, 9, 1),
                "",
                "survey",
                None,
                100,
                vec![Record::SurveyAnswer {
                    score: Some(4),
                    comment: None,
                }],
            ),
            // B: a vendor set-up, 2 re-prompts, 5 minutes to supply; due Wed 10:05, never closed.
            Msg(
                "B",
                1,
                t(23, 10, 0),
                "vendor setup",
                "prompt",
                Some("vendor-setup"),
                2_000,
                vec![],
            ),
            Msg(
                "B",
                1,
                t(23, 10, 5),
                "submit",
                "request_opened",
                Some("vendor-setup"),
                3_000,
                vec![
                    Record::Request {
                        reference: "REQ-1".into(),
                        service_id: "vendor-setup".into(),
                        priority: "normal".into(),
                        inputs: "{}".into(),
                        due_at: t(25, 10, 5),
                        off_hours: false,
                        hooks: vec![],
                    },
                    Record::InputCollection {
                        service_id: "vendor-setup".into(),
                        started_at: t(23, 10, 0),
                        outcome: "submitted".into(),
                        complete_first_attempt: false,
                        reprompts: 2,
                        missing_inputs: 0,
                        request_reference: Some("REQ-1".into()),
                    },
                ],
            ),
            // C: escalated at 18:30 (last coverage hour), due 22:30.
            Msg(
                "C",
                2,
                t(23, 18, 30),
                "talk to a human",
                "escalated",
                Some("escalate"),
                4_000,
                vec![Record::Escalation {
                    reason: "user_request".into(),
                    priority: "normal".into(),
                    request_reference: None,
                    due_at: t(23, 22, 30),
                    next_ping_at: None,
                    off_hours: false,
                    manager_email: None,
                    pings: vec![],
                    draft: None,
                }],
            ),
            // Tue 24 Nov 07:30 (first coverage hour): person 0 asks about passwords again.
            Msg(
                "D",
                0,
                t(24, 7, 30),
                "password again",
                "answered",
                Some("it-password-reset"),
                5_000,
                vec![Record::Survey {
                    cause: "answer".into(),
                    expires_at: t(25, 7, 30),
                    request_reference: None,
                }],
            ),
            // Sat 28 Nov: off hours, a fallback, and a form abandoned with 2 inputs missing.
            Msg(
                "E",
                3,
                t(28, 12, 0),
                "blah",
                "fallback",
                None,
                500,
                vec![Record::InputCollection {
                    service_id: "vendor-setup".into(),
                    started_at: t(28, 12, 0),
                    outcome: "cancelled".into(),
                    complete_first_attempt: false,
                    reprompts: 0,
                    missing_inputs: 2,
                    request_reference: None,
                }],
            ),
        ];
        for m in script {
            let v = versions.entry(m.0).or_insert(0);
            let person = people[m.1];
            commit(store.clone(), m, *v, person).await;
            *v += 1;
        }
        // The manager acts on C: acknowledged after 10 min, answered after 30, resolved after 120.
        let esc = store.escalations_of_conversation("C").await.unwrap()[0].id;
        for (at, action, outcome) in [
            (
                t(23, 18, 40),
                EscalationAction::Acknowledge,
                "manager_acknowledged",
            ),
            (t(23, 19, 0), EscalationAction::Reply, "manager_reply"),
            (t(23, 20, 30), EscalationAction::Resolve, "manager_resolved"),
        ] {
            let v = versions.get_mut("C").unwrap();
            let turn = Turn {
                conversation_id: "C".into(),
                expected_version: *v,
                new_state: "{}".into(),
                channel: "web".into(),
                person_id: Some(people[2]),
                opening: Default::default(),
                client_code: Some("ACME".into()),
                off_hours: false,
                inbound: NewMessage {
                    text: "".into(),
                    outcome: Some(outcome.into()),
                    ..NewMessage::default()
                },
                outbound: vec![],
                records: vec![Record::EscalationAction {
                    escalation_id: esc,
                    action,
                    by: "Priya Shah".into(),
                    verdict: None,
                }],
                now: at,
            };
            store.commit_turn(&turn).await.unwrap();
            *v += 1;
        }

        let facts = store
            .period_facts("ACME", t(1, 0, 0), t(30, 23, 59))
            .await
            .unwrap();
        let kpi = compute(&facts, &terms, t(25, 12, 0));
        let near = |a: Option<f64>, b: f64| a.is_some_and(|a| (a - b).abs() < 1e-9);
        assert_eq!(
            kpi.volume, 7,
            "[{name}] A×2, B×2, C, D, E; manager relays excluded"
        );
        assert_eq!(kpi.conversations, 5, "[{name}]");
        assert!(near(kpi.escalation_rate, 0.2), "[{name}] C of 5: {kpi:?}");
        assert!(near(kpi.self_service_rate, 0.8), "[{name}]");
        assert!(
            near(kpi.first_contact_resolution, 2.0 / 3.0),
            "[{name}] B and D of A, B, D: {kpi:?}"
        );
        assert!(near(kpi.fallback_rate, 1.0 / 7.0), "[{name}]");
        // Latencies (ms) 0.1, 0.5, 1, 2, 3, 4, 5: nearest-rank p50 = 4th = 2, p95 = 7th = 5.
        assert!(
            near(kpi.response_ms_p50, 2.0),
            "[{name}] {:?}",
            kpi.response_ms_p50
        );
        assert!(near(kpi.response_ms_p95, 5.0), "[{name}]");
        assert!(near(kpi.acknowledge_minutes_avg, 10.0), "[{name}] {kpi:?}");
        assert!(near(kpi.first_response_minutes_avg, 30.0), "[{name}]");
        assert!(near(kpi.resolution_minutes_avg, 120.0), "[{name}]");
        assert!(
            near(kpi.escalation_sla_met, 1.0),
            "[{name}] answered 19:00, due 22:30"
        );
        assert!(
            near(kpi.request_sla_met, 0.0),
            "[{name}] REQ-1 due Wed 10:05, open at Wed 12:00"
        );
        // Calendar time: C is due 4 h after 18:30 on a clock that never stops (22:30, answered
        // 19:00); REQ-1 2 × 24 h after Mon 10:05 (Wed 10:05). The divergent case (a Friday
        // request) is the unit test in kpi.rs.
        assert!(near(kpi.escalation_sla_met_calendar, 1.0), "[{name}]");
        assert!(near(kpi.request_sla_met_calendar, 0.0), "[{name}]");
        assert!(near(kpi.csat_avg, 4.0), "[{name}]");
        assert_eq!(kpi.csat_distribution, [0, 0, 0, 1, 0], "[{name}]");
        assert!(
            near(kpi.survey_response_rate, 0.5),
            "[{name}] 1 of 2 surveys answered"
        );
        assert!(near(kpi.input_complete_first_time, 0.0), "[{name}]");
        assert!(near(kpi.reprompts_avg, 2.0), "[{name}]");
        assert!(near(kpi.supply_minutes_avg, 5.0), "[{name}]");
        assert_eq!(kpi.abandoned_missing_inputs, 1, "[{name}]");
        assert_eq!(
            kpi.heatmap[0][9], 2,
            "[{name}] Monday 09:00-10:00: A's two messages"
        );
        assert_eq!(kpi.heatmap[0][10], 2, "[{name}]");
        assert_eq!(kpi.heatmap[0][18], 1, "[{name}]");
        assert_eq!(kpi.heatmap[1][7], 1, "[{name}]");
        assert_eq!(kpi.heatmap[5][12], 1, "[{name}]");
        assert_eq!(kpi.heatmap.iter().flatten().sum::<i64>(), 7);
        assert!(
            near(kpi.off_hours_share, 1.0 / 7.0),
            "[{name}] Saturday's message"
        );
        assert_eq!(
            (kpi.first_coverage_hour, kpi.last_coverage_hour),
            (1, 1),
            "[{name}]"
        );
        // Breakdowns: every message is web; one vendor set-up request, late; per local day.
        let web = &kpi.by_channel["web"];
        assert_eq!((web.volume, web.conversations), (7, 5), "[{name}]");
        assert!(near(web.self_service_rate, 0.8), "[{name}]");
        let vendor = &kpi.by_service["vendor-setup"];
        assert_eq!(vendor.requests, 1, "[{name}]");
        assert!(near(vendor.sla_met, 0.0), "[{name}]");
        // Per local (London = UTC in November) day: Monday's five, Tuesday's one, Saturday's one.
        assert_eq!(
            kpi.daily_volume,
            [("2026-11-23", 5), ("2026-11-24", 1), ("2026-11-28", 1)]
                .map(|(d, n)| (d.to_string(), n))
                .into(),
            "[{name}]"
        );
    }
}

/// A client (one person each, so no survey is held back by fatigue) who has just submitted a
/// request: a conversation on the web channel, and the request with its SPA due time.
async fn submitted(
    store: &std::sync::Arc<dyn frontdoor::store::Store>,
    k: &frontdoor::knowledge::Knowledge,
    n: u32,
    service: &str,
    opened: chrono::DateTime<Utc>,
) -> (String, chrono::DateTime<Utc>) {
    use frontdoor::store::IdentityClaim;
    let person = store
        .resolve_person(
            &IdentityClaim {
                channel: "web".into(),
                external_id: format!("person-{n}"),
                display_name: None,
                client_code: Some("ACME".into()),
            },
            opened.timestamp_millis(),
        )
        .await
        .unwrap();
    let conversation = format!("c-{n}");
    store
        .open_conversation(
            "web",
            &format!("s-{n}"),
            Some(&person),
            &conversation,
            "{}",
            opened.timestamp_millis(),
        )
        .await
        .unwrap();
    let coverage = k.coverage_for(Some("ACME"), None);
    let due = frontdoor::policy::calendar::due_at(coverage, k.services[service].turnaround, opened);
    let reference = format!("REQ-{n}");
    let turn = Turn {
        conversation_id: conversation,
        expected_version: 0,
        new_state: "{}".into(),
        channel: "web".into(),
        person_id: Some(person.id),
        opening: Default::default(),
        client_code: Some("ACME".into()),
        off_hours: false,
        inbound: NewMessage {
            text: "Submit".into(),
            outcome: Some("request_opened".into()),
            intent: Some(service.into()),
            ..NewMessage::default()
        },
        outbound: vec![],
        records: vec![Record::Request {
            reference: reference.clone(),
            service_id: service.into(),
            priority: "normal".into(),
            inputs: "{}".into(),
            due_at: due.timestamp_millis(),
            off_hours: false,
            hooks: vec![],
        }],
        now: opened.timestamp_millis(),
    };
    store.commit_turn(&turn).await.unwrap();
    (reference, due)
}

/// The SSO's side of a request's life, from the back office, through the one entry every
/// surface uses.
async fn sso(
    chat: &frontdoor::dialogue::service::ChatService,
    reference: &str,
    to: frontdoor::domain::RequestStatus,
    note: &str,
    at: chrono::DateTime<Utc>,
) {
    let change = frontdoor::policy::lifecycle::Change {
        to: Some(to),
        note: Some(note.into()),
        actor: "dana@northwind.example".into(),
        source: Some(frontdoor::domain::RequestSource::Backoffice),
        ..Default::default()
    };
    frontdoor::requests::change(
        chat,
        &frontdoor::outlet::Outlets::default(),
        reference,
        change,
        &None,
        at,
    )
    .await
    .unwrap_or_else(|e| panic!("{reference} → {}: {e}", to.as_str()));
}

/// The client's side, in their conversation: an answer, or a button (a survey score).
async fn client(
    chat: &frontdoor::dialogue::service::ChatService,
    n: u32,
    input: frontdoor::dialogue::Input,
    at: chrono::DateTime<Utc>,
) -> String {
    let out = chat
        .handle(frontdoor::dialogue::service::Inbound {
            channel: "web".into(),
            session_key: format!("s-{n}"),
            identity: None,
            input,
            channel_message_id: None,
            now: at,
        })
        .await
        .unwrap();
    out.replies
        .iter()
        .map(|r| r.text.as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The request lifecycle's KPIs, on a hand-built fortnight of ACME requests with known answers
/// (ACME: Mon–Fri 07:00–19:00 London = UTC in November, 12 business hours a day; the client
/// answers within 16 business hours), and the recharge of a completion — on both backends.
#[tokio::test]
async fn request_kpis_and_the_completion_charge_on_a_hand_built_fortnight() {
    use frontdoor::backoffice::kpi::{SlaTerms, compute};
    use frontdoor::dialogue::Input;
    use frontdoor::domain::RequestStatus::*;
    let k = common::shipped();
    let at = |d: u32, h: u32| Utc.with_ymd_and_hms(2026, 11, d, h, 0, 0).unwrap();
    let button = |p: &str| Input::Button(p.into());
    let text = |t: &str| Input::Text(t.into());
    for (name, store, _dir) in common::backends("request_kpis").await {
        frontdoor::app::seed_clients(store.as_ref(), &k)
            .await
            .unwrap();
        let chat = frontdoor::dialogue::service::ChatService::new(
            store.clone(),
            std::sync::Arc::new(std::sync::RwLock::new(k.clone())),
            frontdoor::config::DialogueSettings::default(),
        );

        // REQ-1, a vendor set-up (2 business days): opened Mon 9 Nov 10:00, due Wed 10:00.
        let (r1, due) = submitted(&store, &k, 1, "vendor-setup", at(9, 10)).await;
        assert_eq!(due, at(11, 10), "[{name}]");
        sso(&chat, &r1, InProgress, "", at(9, 11)).await;
        // Asked Mon 15:00: the client's 16 hours are 4 on Monday and 12 on Tuesday (due Tue
        // 19:00). They answer Tue 10:00 — on time — after 7 business hours (19 calendar).
        sso(
            &chat,
            &r1,
            WaitingForClient,
            "Which bank account?",
            at(9, 15),
        )
        .await;
        let said = client(&chat, 1, text("Barclays, 20-00-00 12345678"), at(10, 10)).await;
        assert!(said.contains("added that to **REQ-1**"), "[{name}] {said}");
        // The SSO's due time moved to Wed 17:00; done Wed 16:00: on time. On the calendar
        // it was due Mon 10:00 + 48 h + 19 h = Thu 05:00: on time too.
        sso(&chat, &r1, Done, "Vendor V-1001 created", at(11, 16)).await;
        let said = client(&chat, 1, button("survey:5"), at(11, 17)).await;
        assert!(!said.is_empty(), "[{name}] the survey took the score");

        // REQ-2, a purchase order (1 business day): Mon 12:00, due Tue 12:00. Asked Mon 14:00
        // (due Tue 18:00); answered Wed 09:00, late, after 5 + 12 + 2 = 19 business hours (43
        // calendar), so due Wed 19:00 for the SSO and Mon 12:00 + 24 h + 43 h = Thu 07:00 on
        // the calendar. Done Thu 10:00: late both ways; the client scores it 2.
        let (r2, _) = submitted(&store, &k, 2, "purchase-order", at(9, 12)).await;
        sso(&chat, &r2, InProgress, "", at(9, 13)).await;
        sso(
            &chat,
            &r2,
            WaitingForClient,
            "Which cost centre?",
            at(9, 14),
        )
        .await;
        client(&chat, 2, text("CC-4410"), at(11, 9)).await;
        sso(&chat, &r2, Done, "PO 7781 issued", at(12, 10)).await;
        client(&chat, 2, button("survey:2"), at(12, 11)).await;

        // REQ-3, a new starter (5 business days): Tue 10 09:00, due Tue 17 09:00. Done Thu 12
        // 09:00 (on time both ways: calendar due Sun 15 09:00), reopened Fri, done again Mon:
        // the first completion is judged, and charged once.
        let (r3, _) = submitted(&store, &k, 3, "new-starter", at(10, 9)).await;
        sso(&chat, &r3, Done, "Laptop and login ready", at(12, 9)).await;
        sso(&chat, &r3, Reopened, "No VPN access", at(13, 10)).await;
        sso(&chat, &r3, InProgress, "", at(13, 11)).await;
        sso(&chat, &r3, Done, "VPN added", at(16, 10)).await;

        // REQ-4, cancelled: not judged.
        let (r4, _) = submitted(&store, &k, 4, "vendor-setup", at(11, 10)).await;
        sso(&chat, &r4, Cancelled, "Duplicate of REQ-1", at(11, 12)).await;

        // REQ-5, a purchase order on Friday 17:00: due Mon 17:00 in business hours (2 h on
        // Friday, 10 on Monday) but Sat 17:00 on the calendar. Done Mon 09:00 after 2 + 2
        // business hours: met in business hours, missed on the calendar.
        let (r5, due) = submitted(&store, &k, 5, "purchase-order", at(13, 17)).await;
        assert_eq!(due, at(16, 17), "[{name}]");
        sso(&chat, &r5, Done, "PO 7790 issued", at(16, 9)).await;

        // REQ-6, waiting for the client since Mon 16 11:00 (their due time Tue 15:00): at the
        // `now` below neither side is judged yet.
        let (r6, _) = submitted(&store, &k, 6, "vendor-setup", at(16, 10)).await;
        sso(
            &chat,
            &r6,
            WaitingForClient,
            "The VAT number, please",
            at(16, 11),
        )
        .await;

        // REQ-7, a purchase order Mon 16 08:00, due Tue 08:00, untouched: overdue at `now`.
        submitted(&store, &k, 7, "purchase-order", at(16, 8)).await;

        let now = at(17, 12).timestamp_millis();
        let facts = store
            .period_facts(
                "ACME",
                at(1, 0).timestamp_millis(),
                at(30, 23).timestamp_millis(),
            )
            .await
            .unwrap();
        let kpi = compute(&facts, &SlaTerms::for_client(&k, "ACME"), now);
        let r = &kpi.requests;
        let near = |a: Option<f64>, b: f64| a.is_some_and(|a| (a - b).abs() < 1e-9);
        assert_eq!(
            (r.requests, r.completed, r.cancelled),
            (7, 4, 1),
            "[{name}] {r:?}"
        );
        // Judged: REQ-1 ✓, REQ-2 ✗, REQ-3 ✓, REQ-5 ✓ (✗ on the calendar), REQ-7 ✗.
        assert!(near(kpi.request_sla_met, 3.0 / 5.0), "[{name}] {r:?}");
        assert!(
            near(kpi.request_sla_met_calendar, 2.0 / 5.0),
            "[{name}] {r:?}"
        );
        assert_eq!(kpi.request_sla_met, r.sla_met);
        // Over REQ-1, REQ-2 and REQ-5 (REQ-3 was reopened): with the SSO (30 − 7) + (34 − 19)
        // + 4 = 42 business hours, waiting for the client 7 + 19 + 0 = 26.
        assert!(near(r.sso_hours_avg, 42.0 / 3.0), "[{name}] {r:?}");
        assert!(near(r.client_wait_hours_avg, 26.0 / 3.0), "[{name}] {r:?}");
        // The client's side: REQ-1 answered on time, REQ-2 late, REQ-6 not yet due.
        assert!(near(r.client_answered_on_time, 0.5), "[{name}] {r:?}");
        assert_eq!(r.client_questions, 3, "[{name}]");
        assert!(near(r.reopen_rate, 0.25), "[{name}] REQ-3 of 4 completed");
        assert!(near(r.csat_avg, 3.5), "[{name}] 5 and 2");
        assert_eq!(r.csat_answers, 2, "[{name}]");
        let vendor = &kpi.by_service["vendor-setup"];
        assert_eq!((vendor.requests, vendor.completed), (3, 1), "[{name}]");
        assert!(
            near(vendor.sla_met, 1.0) && near(vendor.csat_avg, 5.0),
            "[{name}] {vendor:?}"
        );
        assert!(near(vendor.client_answered_on_time, 1.0), "[{name}]");
        let po = &kpi.by_service["purchase-order"];
        assert_eq!((po.requests, po.completed), (3, 2), "[{name}]");
        assert!(near(po.sla_met, 1.0 / 3.0), "[{name}] {po:?}");
        assert!(near(po.sla_met_calendar, 0.0), "[{name}] {po:?}");
        assert!(
            near(po.sso_hours_avg, 9.5) && near(po.client_wait_hours_avg, 9.5),
            "[{name}]"
        );
        assert!(near(po.csat_avg, 2.0), "[{name}]");
        let starter = &kpi.by_service["new-starter"];
        assert!(near(starter.reopen_rate, 1.0), "[{name}]");
        assert_eq!(
            starter.sso_hours_avg, None,
            "[{name}] reopened: not in the split"
        );

        // The monthly report shows them.
        let report =
            frontdoor::backoffice::report::monthly(store.as_ref(), &k, "ACME", "2026-11", now)
                .await
                .unwrap();
        let html = report.to_html();
        for shown in [
            "60.0% / 40.0%",
            "14.0 h / 8.7 h",
            "25.0%",
            "Requests by service",
        ] {
            assert!(html.contains(shown), "[{name}] {shown} in the report");
        }

        // The rate card prices the completion of vendor set-ups (4.00) and new starters
        // (12.00), not of purchase orders: one row each for REQ-1 and REQ-3 — REQ-3 once,
        // though it was done twice — and none on opening.
        let (from, to) =
            frontdoor::backoffice::statement::month_range(&k.clients["ACME"], "2026-11").unwrap();
        let ledger = store.ledger("ACME", from, to).await.unwrap();
        let rows: Vec<(&str, Option<&str>)> = ledger
            .iter()
            .map(|l| (l.interaction_type.as_str(), l.reference.as_deref()))
            .collect();
        assert_eq!(
            rows,
            [
                ("completed_request.vendor-setup", Some("REQ-1")),
                ("completed_request.new-starter", Some("REQ-3")),
            ],
            "[{name}]"
        );
        let s = statement(store.as_ref(), &k, "ACME", "2026-11")
            .await
            .unwrap();
        assert_eq!(s.total_minor, 400 + 1200, "[{name}] {s:?}");
    }
}
