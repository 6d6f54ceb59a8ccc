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
