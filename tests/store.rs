//! Store conformance: the same story against SQLite and (when configured) PostgreSQL, so the two
//! dialects cannot drift.

mod common;

use frontdoor::store::{
    ClientRecord, DeliveryCounts, DeliveryStatus, IdentityClaim, ManagerRecord, NewAnnouncement,
    NewDelivery, NewMessage, NewPing, NewRequestEvent, OutboxFinish, Pacing, Record, RequestFilter,
    RequestUpdate, Store, StoreError, Turn, TurnOpening, TurnOutcome,
};

fn claim(id: &str, client: Option<&str>) -> IdentityClaim {
    IdentityClaim {
        channel: "web".into(),
        external_id: id.into(),
        display_name: Some("Ann Lee".into()),
        client_code: client.map(str::to_string),
    }
}

fn msg(text: &str, channel_id: Option<&str>) -> NewMessage {
    NewMessage {
        text: text.into(),
        channel_message_id: channel_id.map(str::to_string),
        intent: Some("it-password-reset".into()),
        confidence: Some(0.87),
        outcome: Some("answered".into()),
        latency_us: Some(420),
        ..NewMessage::default()
    }
}

/// A client with no account managers, as the tests that only need it to exist seed it.
async fn client_without_managers(
    store: &dyn Store,
    code: &str,
    name: &str,
    timezone: &str,
    at: i64,
) {
    let client = ClientRecord {
        code: code.into(),
        name: name.into(),
        timezone: timezone.into(),
        spa: "{}".into(),
    };
    store.upsert_client(&client, &[], at).await.unwrap();
}

async fn story(name: &str, store: &dyn Store) {
    store.ping().await.unwrap();
    store
        .upsert_client(
            &ClientRecord {
                code: "ACME".into(),
                name: "Acme".into(),
                timezone: "Europe/London".into(),
                spa: "{}".into(),
            },
            &[ManagerRecord {
                name: "Priya".into(),
                email: "priya@x.example".into(),
                role: "primary".into(),
                routes: "{}".into(),
            }],
            1,
        )
        .await
        .unwrap();
    // Upsert twice: idempotent.
    store
        .upsert_client(
            &ClientRecord {
                code: "ACME".into(),
                name: "Acme Manufacturing".into(),
                timezone: "Europe/London".into(),
                spa: "{}".into(),
            },
            &[],
            2,
        )
        .await
        .unwrap();
    assert_eq!(
        store.client("ACME").await.unwrap().unwrap().name,
        "Acme Manufacturing",
        "{name}"
    );
    assert!(store.client("NOPE").await.unwrap().is_none());

    // People and identities: the same identity maps to the same person.
    let p1 = store
        .resolve_person(&claim("u1", Some("ACME")), 10)
        .await
        .unwrap();
    let p1again = store.resolve_person(&claim("u1", None), 20).await.unwrap();
    assert_eq!(p1.id, p1again.id, "{name}");
    assert_eq!(
        p1again.client_code.as_deref(),
        Some("ACME"),
        "{name}: client kept"
    );
    assert_eq!(
        p1again.last_seen_at, 10,
        "{name}: previous last-seen returned"
    );
    assert_eq!(store.person(p1.id).await.unwrap().unwrap().last_seen_at, 20);
    let p2 = store.resolve_person(&claim("u2", None), 30).await.unwrap();
    assert_ne!(p1.id, p2.id);

    // Conversations: one per channel session.
    let c = store
        .open_conversation(
            "web",
            "s1",
            Some(&p1),
            "conv-1",
            "{\"state\":\"idle\",\"fallbacks\":0}",
            40,
        )
        .await
        .unwrap();
    assert_eq!(c.id, "conv-1");
    assert_eq!(c.version, 0);
    let same = store
        .open_conversation("web", "s1", Some(&p1), "conv-other", "{}", 41)
        .await
        .unwrap();
    assert_eq!(same.id, "conv-1", "{name}: existing session reused");
    assert_eq!(
        store
            .conversation_by_session("web", "s1")
            .await
            .unwrap()
            .unwrap()
            .id,
        "conv-1"
    );

    // A turn with every kind of record.
    let n = store.next_request_number().await.unwrap();
    assert_eq!(n, 1001, "{name}");
    assert_eq!(store.next_request_number().await.unwrap(), 1002);
    let turn = Turn {
        conversation_id: "conv-1".into(),
        expected_version: 0,
        new_state: "{\"state\":\"idle\",\"fallbacks\":0}".into(),
        channel: "web".into(),
        person_id: Some(p1.id),
        opening: Default::default(),
        client_code: Some("ACME".into()),
        off_hours: true,
        inbound: msg("how do I reset my password", Some("m-1")),
        outbound: vec![
            msg("Here is how", None),
            msg("Did this answer your question?", None),
        ],
        records: vec![
            Record::Request {
                reference: "REQ-1001".into(),
                service_id: "vendor-setup".into(),
                priority: "urgent".into(),
                inputs: "{\"vendor_name\":\"Acme Ltd\"}".into(),
                due_at: 1000,
                off_hours: true,
                hooks: vec![(
                    "request-REQ-1001-hook-0-request.created-100".into(),
                    NewPing {
                        kind: "request_hook".into(),
                        route: "{}".into(),
                        payload: "{}".into(),
                    },
                )],
            },
            Record::InputCollection {
                service_id: "vendor-setup".into(),
                started_at: 30,
                outcome: "submitted".into(),
                complete_first_attempt: false,
                reprompts: 2,
                missing_inputs: 0,
                request_reference: Some("REQ-1001".into()),
            },
            Record::Escalation {
                reason: "urgent_request".into(),
                priority: "urgent".into(),
                request_reference: Some("REQ-1001".into()),
                due_at: 2000,
                next_ping_at: Some(300),
                off_hours: true,
                manager_email: Some("priya.shah@northwind.example".into()),
                pings: vec![
                    NewPing {
                        kind: "webhook".into(),
                        route: "{}".into(),
                        payload: "{\"a\":1}".into(),
                    },
                    NewPing {
                        kind: "telegram".into(),
                        route: "{}".into(),
                        payload: "{\"a\":1}".into(),
                    },
                ],
                draft: None,
            },
            Record::Survey {
                cause: "self_service".into(),
                expires_at: 5000,
                request_reference: None,
            },
            Record::SurveyAnswer {
                score: Some(4),
                comment: None,
            },
            Record::Gap {
                kind: "fallback".into(),
                text: "weather?".into(),
                intent: None,
                confidence: Some(0.1),
            },
            Record::Ledger {
                interaction_type: "guided_request".into(),
                reference: Some("REQ-1001".into()),
            },
        ],
        now: 50,
    };
    let TurnOutcome::Committed { inbound_id } = store.commit_turn(&turn).await.unwrap() else {
        panic!("{name}: first commit must succeed");
    };
    // The same channel message again: nothing written.
    let mut again = turn.clone();
    again.expected_version = 1;
    assert_eq!(
        store.commit_turn(&again).await.unwrap(),
        TurnOutcome::Duplicate,
        "{name}"
    );
    // A stale version: conflict, nothing written.
    let mut stale = turn.clone();
    stale.inbound.channel_message_id = Some("m-2".into());
    assert_eq!(
        store.commit_turn(&stale).await.unwrap(),
        TurnOutcome::Conflict,
        "{name}"
    );

    let transcript = store.transcript("conv-1").await.unwrap();
    assert_eq!(
        transcript.len(),
        3,
        "{name}: 1 in + 2 out, nothing from the rejected turns"
    );
    assert_eq!(transcript[0].direction, "in");
    assert_eq!(transcript[0].id, inbound_id);
    assert_eq!(transcript[0].latency_us, Some(420));
    assert_eq!(transcript[0].confidence, Some(0.87));
    assert!(transcript[0].off_hours);
    assert_eq!(transcript[1].reply_to, Some(inbound_id));
    let (inb, replies) = store
        .processed_message("web", "m-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(inb.text, "how do I reset my password");
    assert_eq!(replies.len(), 2);
    assert!(
        store
            .processed_message("web", "m-404")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        store.conversation("conv-1").await.unwrap().unwrap().version,
        1
    );

    let reqs = store.requests_of_person(p1.id).await.unwrap();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].reference, "REQ-1001");
    assert_eq!(reqs[0].priority, "urgent");
    assert!(
        store
            .request_by_reference("REQ-1001")
            .await
            .unwrap()
            .is_some()
    );
    let ic = store.input_collections("conv-1").await.unwrap();
    assert_eq!(ic[0].reprompts, 2);
    assert!(!ic[0].complete_first_attempt);
    let esc = store.escalations_of_conversation("conv-1").await.unwrap();
    assert_eq!(esc.len(), 1);
    assert_eq!(esc[0].status, "open");
    let pings = store.outbox_of_escalation(esc[0].id).await.unwrap();
    assert_eq!(pings.len(), 2, "{name}: pings written with the escalation");
    assert!(pings.iter().all(|p| p.status == "pending"));
    assert_ne!(pings[0].idempotency_key, pings[1].idempotency_key);
    let surveys = store.surveys_of_person(p1.id).await.unwrap();
    assert_eq!(surveys[0].score, Some(4));
    assert_eq!(surveys[0].answered_at, Some(50));
    assert_eq!(store.gaps(0).await.unwrap().len(), 1);
    let ledger = store.ledger("ACME", 0, 100).await.unwrap();
    assert_eq!(ledger.len(), 1);
    assert_eq!(ledger[0].interaction_type, "guided_request");
    assert_eq!(store.message_count().await.unwrap(), 3);

    requests_story(name, store).await;
}

/// A request's life in the store: created with its first event and its case-system row, then
/// changed under a guard that refuses a second change from the same read; the queue's filters.
async fn requests_story(name: &str, store: &dyn Store) {
    let r = store
        .request_by_reference("REQ-1001")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((r.status.as_str(), r.updated_at), ("open", 50), "{name}");
    let events = store.request_events(r.id).await.unwrap();
    assert_eq!(events.len(), 1, "{name}");
    assert_eq!(
        (events[0].kind.as_str(), events[0].source.as_str()),
        ("created", "chat")
    );
    let hooks = store
        .outbox_by_key_prefix("request-REQ-1001-hook-")
        .await
        .unwrap();
    assert_eq!(
        hooks.len(),
        1,
        "{name}: request.created queued with the request"
    );

    let mut after = r.clone();
    after.status = "in_progress".into();
    after.updated_at = 60;
    after.assignee = Some("dana@sso.example".into());
    let update = RequestUpdate {
        before: r.clone(),
        after: after.clone(),
        events: vec![NewRequestEvent {
            kind: "status".into(),
            from_status: Some("open".into()),
            to_status: Some("in_progress".into()),
            actor: "dana@sso.example".into(),
            source: "backoffice".into(),
            note: None,
            idempotency_key: Some("k-1".into()),
        }],
        outbox: vec![(
            "request-REQ-1001-hook-0-request.updated-60".into(),
            NewPing {
                kind: "request_hook".into(),
                route: "{}".into(),
                payload: "{}".into(),
            },
        )],
    };
    store.update_request(&update).await.unwrap();
    // The same change again, made from the same read: refused whole.
    let err = store.update_request(&update).await.unwrap_err();
    assert!(matches!(err, StoreError::Stale(_)), "{name}: {err}");
    assert_eq!(store.request_events(r.id).await.unwrap().len(), 2, "{name}");
    assert_eq!(
        store
            .outbox_by_key_prefix("request-REQ-1001-hook-")
            .await
            .unwrap()
            .len(),
        2,
        "{name}"
    );
    let seen = store.request_event_by_key("k-1").await.unwrap().unwrap();
    assert_eq!(seen.to_status.as_deref(), Some("in_progress"));
    assert_eq!(
        store.request_by_reference("REQ-1001").await.unwrap(),
        Some(after),
        "{name}"
    );

    let filter = |f: RequestFilter| RequestFilter { limit: 10, ..f };
    let count = |f: RequestFilter| async move { store.requests(&filter(f)).await.unwrap().len() };
    let statuses = |s: &[&str]| s.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(count(RequestFilter::default()).await, 1, "{name}");
    let by_status = |s: &[&str]| RequestFilter {
        statuses: statuses(s),
        ..RequestFilter::default()
    };
    assert_eq!(count(by_status(&["in_progress"])).await, 1, "{name}");
    assert_eq!(count(by_status(&["open", "done"])).await, 0, "{name}");
    let clients = |c: &[&str]| RequestFilter {
        clients: Some(statuses(c)),
        ..RequestFilter::default()
    };
    assert_eq!(count(clients(&["GLOBEX", "ACME"])).await, 1, "{name}");
    assert_eq!(count(clients(&["GLOBEX"])).await, 0, "{name}");
    assert_eq!(count(clients(&[])).await, 0, "{name}: no clients, no rows");
    let assigned = RequestFilter {
        assignee: Some("dana@sso.example".into()),
        service: Some("vendor-setup".into()),
        ..RequestFilter::default()
    };
    assert_eq!(count(assigned).await, 1, "{name}");
    // Overdue: due 1000, still running at 2000.
    let overdue = |t| RequestFilter {
        due_before: Some(t),
        ..RequestFilter::default()
    };
    assert_eq!(count(overdue(2000)).await, 1, "{name}");
    assert_eq!(count(overdue(1000)).await, 0, "{name}");
    // Polling: changed since 61 — nothing; the cursor after the row — nothing more.
    let since = RequestFilter {
        updated_since: Some(61),
        ..RequestFilter::default()
    };
    assert_eq!(count(since).await, 0, "{name}");
    let after_cursor = RequestFilter {
        after: Some((60, r.id)),
        ..RequestFilter::default()
    };
    assert_eq!(count(after_cursor).await, 0, "{name}");
    let before_cursor = RequestFilter {
        after: Some((59, r.id)),
        ..RequestFilter::default()
    };
    assert_eq!(count(before_cursor).await, 1, "{name}");
}

#[tokio::test]
async fn store_story_on_every_backend() {
    for (name, store, _dir) in common::backends("store_story").await {
        story(name, store.as_ref()).await;
        eprintln!("store story passed on {name}");
    }
}

#[tokio::test]
async fn ledger_rows_and_request_events_are_immutable() {
    for (name, store, data) in common::backends("ledger_immutable").await {
        client_without_managers(store.as_ref(), "ACME", "Acme", "Europe/London", 1).await;
        let p = store
            .resolve_person(&claim("u", Some("ACME")), 1)
            .await
            .unwrap();
        store
            .open_conversation("web", "s", Some(&p), "c", "{}", 1)
            .await
            .unwrap();
        let turn = Turn {
            conversation_id: "c".into(),
            expected_version: 0,
            new_state: "{}".into(),
            channel: "web".into(),
            person_id: Some(p.id),
            opening: Default::default(),
            client_code: Some("ACME".into()),
            off_hours: false,
            inbound: msg("hi", None),
            outbound: vec![],
            records: vec![
                Record::Ledger {
                    interaction_type: "escalation".into(),
                    reference: None,
                },
                Record::Request {
                    reference: "REQ-7".into(),
                    service_id: "vendor-setup".into(),
                    priority: "normal".into(),
                    inputs: "{}".into(),
                    due_at: 100,
                    off_hours: false,
                    hooks: vec![],
                },
            ],
            now: 5,
        };
        assert!(matches!(
            store.commit_turn(&turn).await.unwrap(),
            TurnOutcome::Committed { .. }
        ));
        let ledger = store.ledger("ACME", 0, 10).await.unwrap();
        assert_eq!(ledger.len(), 1, "{name}");
        assert_eq!(ledger[0].quantity, 1);
        // The store exposes no update; the database itself refuses one (a trigger), so even a
        // hand-written UPDATE cannot rewrite history: on both backends, each with its own SQL.
        for sql in [
            "UPDATE recharge_ledger SET quantity = 5",
            "DELETE FROM recharge_ledger",
        ] {
            let err = raw_sql(&data, sql)
                .await
                .expect_err(&format!("[{name}] {sql} must be refused"));
            assert!(err.to_string().contains("immutable"), "[{name}] {err}");
        }
        let ledger = store.ledger("ACME", 0, 10).await.unwrap();
        assert_eq!(
            (ledger.len(), ledger[0].quantity),
            (1, 1),
            "[{name}] the row is as written"
        );
        // A request's timeline is as immutable as the ledger.
        for sql in [
            "UPDATE request_events SET note = 'rewritten'",
            "DELETE FROM request_events",
        ] {
            let err = raw_sql(&data, sql)
                .await
                .expect_err(&format!("[{name}] {sql} must be refused"));
            assert!(err.to_string().contains("immutable"), "[{name}] {err}");
        }
        let r = store.request_by_reference("REQ-7").await.unwrap().unwrap();
        let events = store.request_events(r.id).await.unwrap();
        assert_eq!(
            (events.len(), events[0].note.as_deref()),
            (1, None),
            "[{name}]"
        );
    }
}

/// The roll-out's run-time modes and their audit trail: one event per real change, in the
/// transaction that sets the mode, and the trail as immutable as the ledger.
#[tokio::test]
async fn rollout_changes_are_set_and_audited_once_and_the_trail_is_immutable() {
    for (name, store, data) in common::backends("rollout_audit").await {
        assert!(store.rollout_modes().await.unwrap().is_empty(), "[{name}]");
        let set = |web: &str, telegram: &str| {
            vec![
                ("web".to_string(), "live".to_string(), web.to_string()),
                (
                    "telegram".to_string(),
                    "live".to_string(),
                    telegram.to_string(),
                ),
            ]
        };
        // web live → shadow is a change; telegram live → live is not.
        let audit = store
            .set_rollout("ACME", &set("shadow", "live"), "ada", 10)
            .await
            .unwrap();
        assert_eq!(audit.len(), 1, "[{name}] {audit:?}");
        assert_eq!(
            (
                audit[0].actor.as_str(),
                audit[0].action.as_str(),
                audit[0].subject.as_str()
            ),
            ("ada", "rollout.set", "client:ACME")
        );
        let modes = store.rollout_modes().await.unwrap();
        assert_eq!(modes.len(), 1, "[{name}] {modes:?}");
        assert_eq!(
            (
                modes[0].channel.as_str(),
                modes[0].mode.as_str(),
                modes[0].updated_by.as_str()
            ),
            ("web", "shadow", "ada")
        );
        // Set again by someone else: the row follows, a second event is written.
        let changes = vec![("web".to_string(), "shadow".to_string(), "off".to_string())];
        store
            .set_rollout("ACME", &changes, "operator", 20)
            .await
            .unwrap();
        let modes = store.rollout_modes().await.unwrap();
        assert_eq!((modes[0].mode.as_str(), modes[0].updated_at), ("off", 20));
        let trail = store.audit_events("client:ACME", 10).await.unwrap();
        assert_eq!(trail.len(), 2, "[{name}]");
        assert_eq!(trail[0].actor, "operator", "newest first");
        assert!(
            store
                .audit_events("client:GLOBEX", 10)
                .await
                .unwrap()
                .is_empty()
        );
        // A mode the schema does not know is refused by the database, and nothing is written.
        let bad = vec![("web".to_string(), "off".to_string(), "sideways".to_string())];
        assert!(
            store.set_rollout("ACME", &bad, "ada", 30).await.is_err(),
            "[{name}]"
        );
        assert_eq!(
            store.audit_events("client:ACME", 10).await.unwrap().len(),
            2
        );
        for sql in [
            "UPDATE audit_events SET actor = 'someone else'",
            "DELETE FROM audit_events",
        ] {
            let err = raw_sql(&data, sql)
                .await
                .expect_err(&format!("[{name}] {sql} must be refused"));
            assert!(err.to_string().contains("immutable"), "[{name}] {err}");
        }
    }
}

/// Run a statement on the backend's database behind the store's back.
async fn raw_sql(data: &common::BackendData, sql: &str) -> Result<u64, sqlx::Error> {
    match data {
        common::BackendData::Sqlite(dir) => {
            let url = format!("sqlite://{}", dir.path().join("frontdoor.db").display());
            let pool = sqlx::SqlitePool::connect(&url).await?;
            let done = sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
                .execute(&pool)
                .await;
            pool.close().await;
            Ok(done?.rows_affected())
        }
        common::BackendData::Postgres { url, schema } => {
            let pool = sqlx::PgPool::connect(url).await?;
            let mut conn = pool.acquire().await?;
            sqlx::query(sqlx::AssertSqlSafe(format!("SET search_path TO {schema}")))
                .execute(&mut *conn)
                .await?;
            let done = sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
                .execute(&mut *conn)
                .await;
            drop(conn);
            pool.close().await;
            Ok(done?.rows_affected())
        }
    }
}

/// Request numbers never repeat, even while a replica of the previous version (which bumps the
/// `counters` row itself) runs beside this one during a rolling upgrade.
#[tokio::test]
async fn request_numbers_stay_unique_beside_a_replica_that_bumps_the_counter() {
    for (name, store, data) in common::backends("request_numbers").await {
        assert_eq!(store.next_request_number().await.unwrap(), 1001, "{name}");
        // The previous version's statement, as an older replica runs it.
        let bumped = raw_sql(
            &data,
            "UPDATE counters SET value = value + 1 WHERE name = 'request_reference'",
        )
        .await
        .unwrap();
        assert_eq!(bumped, 1, "{name}: the counter row is there");
        assert_eq!(
            store.next_request_number().await.unwrap(),
            1003,
            "{name}: the number the older replica took (1002) is not handed out again"
        );
        // Ten at once: all different, none taken before.
        let mut many: Vec<i64> =
            futures::future::join_all((0..10).map(|_| store.next_request_number()))
                .await
                .into_iter()
                .map(|n| n.unwrap())
                .collect();
        many.sort_unstable();
        many.dedup();
        assert_eq!(many.len(), 10, "{name}: {many:?}");
        assert!(many[0] > 1003, "{name}: {many:?}");
    }
}

/// A link code links one chat account. The same account using it again (a platform
/// redelivering `/start CODE` whose first delivery did not finish) gets its client again, even
/// once the code has expired; any other account is refused.
#[tokio::test]
async fn a_link_code_is_one_accounts_and_its_redelivery_still_links() {
    for (name, store, data) in common::backends("link_codes").await {
        let now = chrono::Utc::now().timestamp_millis();
        client_without_managers(store.as_ref(), "ACME", "Acme", "Europe/London", now).await;
        store
            .create_link_code("tess-code", "ACME", now + 60_000, now)
            .await
            .unwrap();
        let redeem = |code: &'static str, by: &'static str, at: i64| {
            let store = store.clone();
            async move { store.redeem_link_code(code, by, at).await.unwrap() }
        };
        assert_eq!(
            redeem("tess-code", "telegram:7", now).await.as_deref(),
            Some("ACME"),
            "{name}"
        );
        // Telegram delivers the update again: Tess is still linked.
        assert_eq!(
            redeem("tess-code", "telegram:7", now + 1).await.as_deref(),
            Some("ACME"),
            "{name}"
        );
        // Someone else with the same code is not.
        assert_eq!(
            redeem("tess-code", "telegram:8", now + 2).await,
            None,
            "{name}"
        );
        assert_eq!(
            redeem("tess-code", "discord:7", now + 3).await,
            None,
            "{name}"
        );
        // A redelivery that comes after the code expired still finds its own link.
        assert_eq!(
            redeem("tess-code", "telegram:7", now + 120_000)
                .await
                .as_deref(),
            Some("ACME"),
            "{name}"
        );
        // An expired code nobody used, an unknown one.
        store
            .create_link_code("late-code", "ACME", now + 10, now)
            .await
            .unwrap();
        assert_eq!(
            redeem("late-code", "telegram:9", now + 20).await,
            None,
            "{name}"
        );
        assert_eq!(
            redeem("no-such-code", "telegram:9", now).await,
            None,
            "{name}"
        );
        // A code used before accounts were recorded (no `used_by`) goes to nobody again.
        store
            .create_link_code("old-code", "ACME", now + 60_000, now)
            .await
            .unwrap();
        let used = raw_sql(
            &data,
            "UPDATE link_codes SET used_at = 1 WHERE code = 'old-code'",
        )
        .await
        .unwrap();
        assert_eq!(used, 1, "{name}");
        assert_eq!(redeem("old-code", "telegram:7", now).await, None, "{name}");
    }
}

/// The server's certificate and whether it speaks TLS at all (`SHOW ssl`).
async fn server_tls(url: &str) -> Option<String> {
    let pool = sqlx::PgPool::connect(url).await.expect("connect");
    let on: String = sqlx::query_scalar("SHOW ssl")
        .fetch_one(&pool)
        .await
        .unwrap();
    let cert: String = sqlx::query_scalar("SHOW ssl_cert_file")
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    (on == "on").then_some(cert)
}

/// The hot path's writers reach PostgreSQL over TLS when the URL asks (`sslmode` as libpq reads
/// it), checked on the server's side: every connection of the writers is encrypted, and a turn
/// goes through them. The machine's PostgreSQL has its own certificate (Debian's: for
/// "localhost"), which is the root `verify-full` is given.
#[tokio::test]
async fn postgres_writers_speak_tls_when_the_url_asks() {
    let Some(url) = common::postgres_url("postgres_tls") else {
        return;
    };
    let Some(cert) = server_tls(&url).await else {
        common::skipped("postgres", "PostgreSQL TLS test: the server has ssl = off");
        return;
    };
    let mut local = reqwest::Url::parse(&url).unwrap();
    local.set_host(Some("localhost")).unwrap();
    for (base, query) in [
        (url.as_str(), "sslmode=require".to_string()),
        (
            local.as_str(),
            format!("sslmode=verify-full&sslrootcert={cert}"),
        ),
    ] {
        let sep = if base.contains('?') { '&' } else { '?' };
        let with_tls = format!("{base}{sep}{query}");
        let schema = common::unique_schema("postgres_tls");
        let pg = common::postgres_store(&with_tls, &schema).await;
        let store: &dyn Store = &pg;
        let p = store
            .resolve_person(&claim("tls-1", None), 1)
            .await
            .unwrap();
        assert!(p.id > 0, "{query}");
        // A turn: through the group commit's writers (the person above was one too).
        let outcome = store
            .commit_turn(&Turn {
                conversation_id: "conv-tls".into(),
                expected_version: 0,
                new_state: "{}".into(),
                channel: "web".into(),
                person_id: Some(p.id),
                opening: TurnOpening {
                    session: Some("s-tls".into()),
                    identity: None,
                },
                client_code: None,
                off_hours: false,
                inbound: msg("hello", Some("m-tls")),
                outbound: vec![msg("hi", None)],
                records: vec![],
                now: 2,
            })
            .await
            .unwrap();
        assert!(
            matches!(outcome, TurnOutcome::Committed { .. }),
            "{query}: {outcome:?}"
        );
        let pool = sqlx::PgPool::connect(&url).await.unwrap();
        let writers: Vec<bool> = sqlx::query_scalar(
            "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a ON a.pid = s.pid
             WHERE a.application_name = $1",
        )
        .bind(format!("frontdoor-writer:{schema}"))
        .fetch_all(&pool)
        .await
        .unwrap();
        pool.close().await;
        assert!(!writers.is_empty(), "{query}: the writers are connected");
        assert!(writers.iter().all(|ssl| *ssl), "{query}: {writers:?}");
    }
}

#[tokio::test]
async fn concurrent_turns_on_one_conversation_serialise() {
    for (name, store, _dir) in common::backends("concurrent_turns").await {
        let p = store.resolve_person(&claim("u", None), 1).await.unwrap();
        store
            .open_conversation("web", "s", Some(&p), "c", "{}", 1)
            .await
            .unwrap();
        // Two turns computed from the same version: exactly one commits.
        let mk = |id: &str| Turn {
            conversation_id: "c".into(),
            expected_version: 0,
            new_state: "{}".into(),
            channel: "web".into(),
            person_id: Some(p.id),
            opening: Default::default(),
            client_code: None,
            off_hours: false,
            inbound: msg("x", Some(id)),
            outbound: vec![],
            records: vec![],
            now: 2,
        };
        let (ta, tb) = (mk("a"), mk("b"));
        let (a, b) = tokio::join!(store.commit_turn(&ta), store.commit_turn(&tb));
        let outcomes = [a.unwrap(), b.unwrap()];
        let committed = outcomes
            .iter()
            .filter(|o| matches!(o, TurnOutcome::Committed { .. }))
            .count();
        assert_eq!(committed, 1, "{name}: {outcomes:?}");
        assert!(outcomes.contains(&TurnOutcome::Conflict), "{name}");
    }
}

/// A session's first message, from someone the store has not met: the person, the conversation
/// and the turn are one write job (one commit). Refused — another replica opened the session
/// first, or the message was seen before — it leaves nothing, not even the person.
#[tokio::test]
async fn a_first_turn_opens_its_session_and_sender_or_leaves_nothing() {
    for (name, store, _dir) in common::backends("turn_opening").await {
        for code in ["ACME", "GLOBEX"] {
            client_without_managers(store.as_ref(), code, code, "Europe/London", 1).await;
        }
        let first = |session: &str, conversation: &str, message: &str, who: IdentityClaim| Turn {
            conversation_id: conversation.into(),
            expected_version: 0,
            new_state: r#"{"step":1}"#.into(),
            channel: "web".into(),
            person_id: None,
            opening: TurnOpening {
                session: Some(session.into()),
                identity: Some(who.clone()),
            },
            client_code: who.client_code.clone(),
            off_hours: false,
            inbound: msg("hello", Some(message)),
            outbound: vec![msg("hi, how can I help?", None)],
            records: vec![],
            now: 10,
        };

        let jobs = store.write_counts().jobs;
        let outcome = store
            .commit_turn(&first("s1", "c1", "m1", claim("ann", Some("ACME"))))
            .await
            .unwrap();
        assert!(
            matches!(outcome, TurnOutcome::Committed { .. }),
            "{name}: {outcome:?}"
        );
        assert_eq!(store.write_counts().jobs - jobs, 1, "{name}: one job");
        let ann = store.person_by_identity("web", "ann").await.unwrap();
        let ann = ann.unwrap_or_else(|| panic!("{name}: the turn creates its sender"));
        assert_eq!(ann.client_code.as_deref(), Some("ACME"), "{name}");
        assert_eq!((ann.created_at, ann.last_seen_at), (10, 10), "{name}");
        let c = store
            .conversation_by_session("web", "s1")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (c.id.as_str(), c.version, c.person_id, c.state.as_str()),
            ("c1", 1, Some(ann.id), r#"{"step":1}"#),
            "{name}: born at version 1 with the turn's state"
        );
        let transcript = store.transcript("c1").await.unwrap();
        assert_eq!(transcript.len(), 2, "{name}");
        assert!(
            transcript.iter().all(|m| m.person_id == Some(ann.id)),
            "{name}"
        );

        // Another replica opened the same session a moment before: conflict, nothing stays.
        let late = first("s1", "c2", "m2", claim("bob", None));
        assert_eq!(
            store.commit_turn(&late).await.unwrap(),
            TurnOutcome::Conflict,
            "{name}"
        );
        assert_eq!(
            store.person_by_identity("web", "bob").await.unwrap(),
            None,
            "{name}"
        );
        assert_eq!(store.conversation("c2").await.unwrap(), None, "{name}");

        // A message seen before, in a session of its own: a duplicate, nothing stays.
        let again = first("s3", "c3", "m1", claim("cy", None));
        assert_eq!(
            store.commit_turn(&again).await.unwrap(),
            TurnOutcome::Duplicate,
            "{name}"
        );
        assert_eq!(
            store.person_by_identity("web", "cy").await.unwrap(),
            None,
            "{name}"
        );
        assert_eq!(store.conversation("c3").await.unwrap(), None, "{name}");

        // Ann again, under a new name and claiming another client: seen now, renamed, and her
        // client kept (never silently changed).
        let mut renamed = claim("ann", Some("GLOBEX"));
        renamed.display_name = Some("Ann Lee-Smith".into());
        let next = Turn {
            expected_version: 1,
            opening: TurnOpening {
                session: None,
                identity: Some(renamed),
            },
            inbound: msg("thanks", Some("m4")),
            now: 20,
            ..first("s1", "c1", "m4", claim("ann", None))
        };
        let outcome = store.commit_turn(&next).await.unwrap();
        assert!(
            matches!(outcome, TurnOutcome::Committed { .. }),
            "{name}: {outcome:?}"
        );
        let ann = store.person(ann.id).await.unwrap().unwrap();
        assert_eq!(ann.last_seen_at, 20, "{name}");
        assert_eq!(ann.display_name.as_deref(), Some("Ann Lee-Smith"), "{name}");
        assert_eq!(ann.client_code.as_deref(), Some("ACME"), "{name}");
        let c = store.conversation("c1").await.unwrap().unwrap();
        assert_eq!(c.version, 2, "{name}");

        // A turn computed on version 1 after version 2 was committed: a conflict, and neither
        // its message nor its replies stay.
        let before = store.transcript("c1").await.unwrap().len();
        let stale = Turn {
            expected_version: 1,
            inbound: msg("am I late?", Some("m5")),
            outbound: vec![msg("one", None), msg("two", None)],
            ..next.clone()
        };
        assert_eq!(
            store.commit_turn(&stale).await.unwrap(),
            TurnOutcome::Conflict,
            "{name}"
        );
        assert_eq!(
            store.transcript("c1").await.unwrap().len(),
            before,
            "{name}"
        );

        // Ann as the service found her before stepping (her id on the turn): seen again, and
        // three replies kept in the order given, each answering her message.
        let found = Turn {
            expected_version: 2,
            person_id: Some(ann.id),
            inbound: msg("and my payslip?", Some("m6")),
            outbound: vec![msg("first", None), msg("second", None), msg("third", None)],
            now: 30,
            ..next.clone()
        };
        let TurnOutcome::Committed { inbound_id } = store.commit_turn(&found).await.unwrap() else {
            panic!("{name}: committed");
        };
        assert_eq!(
            store.person(ann.id).await.unwrap().unwrap().last_seen_at,
            30
        );
        let transcript = store.transcript("c1").await.unwrap();
        let tail: Vec<(&str, Option<i64>)> = transcript[before..]
            .iter()
            .map(|m| (m.text.as_str(), m.reply_to))
            .collect();
        assert_eq!(
            tail,
            [
                ("and my payslip?", None),
                ("first", Some(inbound_id)),
                ("second", Some(inbound_id)),
                ("third", Some(inbound_id)),
            ],
            "{name}"
        );
        assert_eq!(
            store.conversation("c1").await.unwrap().unwrap().version,
            3,
            "{name}"
        );
    }
}

/// A conversation gets its sender from the first turn that knows one, and keeps it: a later
/// turn by someone else moves the conversation on and fills in its client, but does not
/// change whose it is.
#[tokio::test]
async fn a_conversation_gets_its_sender_once_and_keeps_it() {
    for (name, store, _dir) in common::backends("turn_sender").await {
        client_without_managers(store.as_ref(), "ACME", "ACME", "Europe/London", 1).await;
        let ann = store.resolve_person(&claim("ann", None), 1).await.unwrap();
        let bob = store.resolve_person(&claim("bob", None), 1).await.unwrap();
        store
            .open_conversation("web", "anon", None, "c-anon", "{}", 1)
            .await
            .unwrap();

        // Ann speaks in a conversation without a sender: she becomes it.
        let hers = Turn {
            client_code: None,
            ..plain_turn(ann.id, "c-anon", 0, "m1")
        };
        let outcome = store.commit_turn(&hers).await.unwrap();
        assert!(
            matches!(outcome, TurnOutcome::Committed { .. }),
            "{name}: {outcome:?}"
        );
        let c = store.conversation("c-anon").await.unwrap().unwrap();
        assert_eq!((c.person_id, c.version), (Some(ann.id), 1), "{name}");

        // Bob's turn: Ann stays, the version moves on, and the client the turn knows is
        // filled in.
        let his = Turn {
            client_code: Some("ACME".into()),
            ..plain_turn(bob.id, "c-anon", 1, "m2")
        };
        let outcome = store.commit_turn(&his).await.unwrap();
        assert!(
            matches!(outcome, TurnOutcome::Committed { .. }),
            "{name}: {outcome:?}"
        );
        let c = store.conversation("c-anon").await.unwrap().unwrap();
        assert_eq!(
            (c.person_id, c.version, c.client_code.as_deref()),
            (Some(ann.id), 2, Some("ACME")),
            "{name}: the sender kept, the turn kept"
        );

        // The same turn on a stale version is still refused.
        let stale = Turn {
            inbound: msg("late", Some("m3")),
            ..his.clone()
        };
        assert_eq!(
            store.commit_turn(&stale).await.unwrap(),
            TurnOutcome::Conflict,
            "{name}"
        );
    }
}

/// The monthly report's review: comments in order with their actions, one mark per side that
/// a second mark does not move, marks listed from a month on, an action closed once.
async fn reviews_story(name: &str, store: &dyn Store) {
    use frontdoor::store::{NewReviewComment, ReviewMarkRow};
    let comment =
        |author: &str, side: &str, body: &str, action: Option<(&str, &str)>| NewReviewComment {
            client_code: "ACME".into(),
            month: "2026-10".into(),
            author: author.into(),
            role: if side == "sso" {
                "account_manager".into()
            } else {
                "client_lead".into()
            },
            side: side.into(),
            body: body.into(),
            action: action.map(|(o, d)| (o.to_string(), d.to_string())),
        };
    let first = store
        .add_review_comment(
            &comment("priya@sso", "sso", "Containment dipped in week 3", None),
            100,
        )
        .await
        .unwrap();
    let action = store
        .add_review_comment(
            &comment(
                "dana@acme",
                "client",
                "We will send complete POs",
                Some(("Dana", "2026-11")),
            ),
            200,
        )
        .await
        .unwrap();
    assert!(action.id > first.id, "{name}");
    assert_eq!(first.action_owner, None, "{name}");
    assert_eq!(
        (action.action_owner.as_deref(), action.action_due.as_deref()),
        (Some("Dana"), Some("2026-11")),
        "{name}"
    );
    // Another month's and another client's comments stay apart.
    let mut other = comment("priya@sso", "sso", "November note", None);
    other.month = "2026-11".into();
    store.add_review_comment(&other, 300).await.unwrap();
    let listed = store.review_comments("ACME", "2026-10").await.unwrap();
    assert_eq!(listed, vec![first.clone(), action.clone()], "{name}");
    assert!(
        store
            .review_comments("GLOBEX", "2026-10")
            .await
            .unwrap()
            .is_empty()
    );

    let mark = |side: &str, by: &str, at: i64| ReviewMarkRow {
        client_code: "ACME".into(),
        month: "2026-10".into(),
        side: side.into(),
        marked_by: by.into(),
        role: "account_manager".into(),
        marked_at: at,
    };
    let (stands, new) = store
        .mark_reviewed(&mark("sso", "priya@sso", 400))
        .await
        .unwrap();
    assert!(new, "{name}");
    assert_eq!(stands, mark("sso", "priya@sso", 400));
    // Marking again (even by someone else, later) is idempotent: the first mark stands.
    let (stands, new) = store
        .mark_reviewed(&mark("sso", "sam@sso", 500))
        .await
        .unwrap();
    assert!(!new, "{name}");
    assert_eq!(stands, mark("sso", "priya@sso", 400), "{name}");
    assert_eq!(
        store.review_marks("ACME", "2026-10").await.unwrap(),
        vec![mark("sso", "priya@sso", 400)],
        "{name}"
    );
    store
        .mark_reviewed(&mark("client", "dana@acme", 600))
        .await
        .unwrap();
    assert_eq!(
        store.review_marks("ACME", "2026-10").await.unwrap().len(),
        2
    );
    assert_eq!(store.review_marks_since("2026-10").await.unwrap().len(), 2);
    assert!(
        store
            .review_marks_since("2026-11")
            .await
            .unwrap()
            .is_empty()
    );

    // An action is closed once; a comment that is no action, or another report's, is not one.
    let closed = store
        .close_review_action("ACME", "2026-10", action.id, "priya@sso", 700)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (closed.action_done_at, closed.action_done_by.as_deref()),
        (Some(700), Some("priya@sso")),
        "{name}"
    );
    let again = store
        .close_review_action("ACME", "2026-10", action.id, "dana@acme", 800)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        again.action_done_at,
        Some(700),
        "{name}: the first close stands"
    );
    for (client, month, id) in [
        ("ACME", "2026-10", first.id),
        ("ACME", "2026-11", action.id),
        ("GLOBEX", "2026-10", action.id),
    ] {
        assert_eq!(
            store
                .close_review_action(client, month, id, "x", 900)
                .await
                .unwrap(),
            None,
            "{name}: {client} {month} {id}"
        );
    }
}

#[tokio::test]
async fn report_reviews_on_every_backend() {
    for (name, store, _dir) in common::backends("report_reviews").await {
        reviews_story(name, store.as_ref()).await;
        eprintln!("review story passed on {name}");
    }
}

/// A chat account on `channel` with a person in `client` (or none) and a conversation
/// `session` last used at `at`.
async fn chat_user(
    store: &dyn Store,
    channel: &str,
    id: &str,
    client: Option<&str>,
    session: &str,
    at: i64,
) {
    let person = store
        .resolve_person(
            &IdentityClaim {
                channel: channel.into(),
                external_id: id.into(),
                display_name: Some(format!("user {id}")),
                client_code: client.map(str::to_string),
            },
            at,
        )
        .await
        .unwrap();
    store
        .open_conversation(
            channel,
            session,
            Some(&person),
            &format!("conv-{channel}-{session}"),
            "{}",
            at,
        )
        .await
        .unwrap();
}

fn delivery(channel: &str, recipient: &str, status: DeliveryStatus, due_at: i64) -> NewDelivery {
    NewDelivery {
        channel: channel.into(),
        recipient: recipient.into(),
        client_code: "ACME".into(),
        status,
        due_at,
        outbox_key: format!("announce:1:{channel}:{recipient}"),
        route: format!(
            "{{\"type\":\"conversation\",\"channel\":\"{channel}\",\"conversation_id\":\"c\",\"session_key\":\"{recipient}\"}}"
        ),
        payload: "{}".into(),
    }
}

async fn announcement_story(name: &str, store: &dyn Store) {
    for code in ["ACME", "GLOBEX"] {
        client_without_managers(store, code, code, "UTC", 1).await;
    }
    // Ann is linked to ACME and talks in a private chat and a group; Bob is GLOBEX's; Cy never
    // linked; Dee is ACME's on Discord.
    chat_user(store, "telegram", "11", Some("ACME"), "11", 100).await;
    chat_user(store, "telegram", "11", Some("ACME"), "-500:11", 300).await;
    chat_user(store, "telegram", "22", Some("GLOBEX"), "22", 100).await;
    chat_user(store, "telegram", "33", None, "33", 100).await;
    chat_user(store, "discord", "44", Some("ACME"), "7044", 100).await;

    let id = store
        .create_announcement(
            &NewAnnouncement {
                title: "VPN maintenance".into(),
                body: "Saturday 06:00-08:00".into(),
                clients: vec!["ACME".into()],
                channels: vec!["telegram".into(), "discord".into(), "web".into()],
                active_days: None,
                article_id: Some("it-vpn".into()),
                urgent: false,
                starts_at: 0,
                ends_at: 10_000,
                created_by: "ada".into(),
            },
            50,
        )
        .await
        .unwrap();
    let a = store.announcement(id).await.unwrap().unwrap();
    assert_eq!(
        (a.client_list(), a.urgent, a.article_id.as_deref()),
        (vec!["ACME".to_string()], false, Some("it-vpn")),
        "{name}"
    );
    assert!(
        a.reaches_client(Some("ACME"))
            && !a.reaches_client(Some("GLOBEX"))
            && !a.reaches_client(None),
        "{name}"
    );
    assert_eq!(
        store.active_announcements(100).await.unwrap().len(),
        1,
        "{name}"
    );
    assert!(
        store.active_announcements(10_000).await.unwrap().is_empty(),
        "{name}: over at its end"
    );

    // Two replicas: one holds the lease until it lapses.
    assert_eq!(
        store
            .claim_announcements("w1", 100, 200)
            .await
            .unwrap()
            .len(),
        1,
        "{name}"
    );
    assert!(
        store
            .claim_announcements("w2", 150, 250)
            .await
            .unwrap()
            .is_empty(),
        "{name}: leased to w1"
    );
    assert_eq!(
        store
            .claim_announcements("w1", 160, 260)
            .await
            .unwrap()
            .len(),
        1,
        "{name}: w1 renews"
    );
    assert_eq!(
        store
            .claim_announcements("w2", 300, 400)
            .await
            .unwrap()
            .len(),
        1,
        "{name}: lapsed"
    );

    // The audience: linked accounts once each, with their latest conversation.
    let tg = store.audience("telegram", i64::MIN).await.unwrap();
    let who: Vec<(&str, &str, &str)> = tg
        .iter()
        .map(|m| {
            (
                m.recipient.as_str(),
                m.client_code.as_str(),
                m.session_key.as_str(),
            )
        })
        .collect();
    assert_eq!(
        who,
        vec![("11", "ACME", "-500:11"), ("22", "GLOBEX", "22")],
        "{name}"
    );
    assert!(
        store
            .audience("telegram", 200)
            .await
            .unwrap()
            .iter()
            .all(|m| m.recipient == "11"),
        "{name}: seen since 200"
    );

    // Recorded once: a second round adds nothing; queued rows get paced outbox slots.
    let pacing = Pacing::from([("telegram".to_string(), 35)]);
    let first = vec![
        delivery("telegram", "11", DeliveryStatus::Queued, 400),
        delivery("telegram", "12", DeliveryStatus::Queued, 400),
        delivery("telegram", "13", DeliveryStatus::Waiting, 900),
        delivery("discord", "44", DeliveryStatus::Waiting, 900),
    ];
    let new = store
        .record_deliveries(id, &first, &pacing, 400)
        .await
        .unwrap();
    assert_eq!(new.len(), 4, "{name}");
    assert!(
        store
            .record_deliveries(id, &first, &pacing, 410)
            .await
            .unwrap()
            .is_empty(),
        "{name}: once"
    );
    let rows = store.outbox_by_key_prefix("announce:1:").await.unwrap();
    let due: Vec<i64> = rows.iter().map(|r| r.next_attempt_at).collect();
    assert_eq!(due, vec![400, 435], "{name}: 35 ms apart");
    let counts = store.delivery_counts(id).await.unwrap();
    assert_eq!(
        (counts.queued, counts.waiting_for_coverage),
        (2, 2),
        "{name}"
    );

    // Unsubscribing skips what waits; subscribing again is remembered too.
    assert!(
        store
            .set_announcement_subscription("telegram", "13", false, 500)
            .await
            .unwrap(),
        "{name}"
    );
    assert!(
        !store
            .set_announcement_subscription("telegram", "13", false, 501)
            .await
            .unwrap(),
        "{name}: already"
    );
    assert!(
        store
            .audience("telegram", i64::MIN)
            .await
            .unwrap()
            .iter()
            .all(|m| !m.opted_out),
        "{name}: 13 has no account here"
    );
    assert!(
        store
            .set_announcement_subscription("telegram", "22", false, 500)
            .await
            .unwrap(),
        "{name}"
    );
    assert!(
        store
            .audience("telegram", i64::MIN)
            .await
            .unwrap()
            .iter()
            .any(|m| m.recipient == "22" && m.opted_out),
        "{name}"
    );
    assert!(
        store
            .set_announcement_subscription("telegram", "22", true, 502)
            .await
            .unwrap(),
        "{name}"
    );

    // The coverage window opens: the waiting Discord delivery is queued, once.
    assert_eq!(
        store.release_waiting(800, &pacing, 10).await.unwrap(),
        0,
        "{name}: not yet"
    );
    assert_eq!(
        store.release_waiting(900, &pacing, 10).await.unwrap(),
        1,
        "{name}"
    );
    assert_eq!(
        store.release_waiting(901, &pacing, 10).await.unwrap(),
        0,
        "{name}: once"
    );

    // One sent: the counts follow the outbox.
    let claimed = store
        .claim_outbox("sender", 1_000, 2_000, 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 3, "{name}");
    store
        .finish_outbox(claimed[0].id, "sender", &OutboxFinish::Delivered, 1_000)
        .await
        .unwrap();
    store
        .finish_outbox(
            claimed[1].id,
            "sender",
            &OutboxFinish::Failed {
                error: "blocked".into(),
                failover: None,
            },
            1_000,
        )
        .await
        .unwrap();
    let counts = store.delivery_counts(id).await.unwrap();
    assert_eq!(
        counts,
        DeliveryCounts {
            queued: 1,
            sent: 1,
            failed: 1,
            waiting_for_coverage: 0,
            unsubscribed_skipped: 1,
            expired: 0
        },
        "{name}"
    );
    assert_eq!(store.deliveries(id).await.unwrap().len(), 4, "{name}");

    // Ended early: gone from the running ones, not ended twice.
    assert!(store.end_announcement(id, 2_000).await.unwrap(), "{name}");
    assert!(!store.end_announcement(id, 2_001).await.unwrap(), "{name}");
    assert!(
        store.active_announcements(2_500).await.unwrap().is_empty(),
        "{name}"
    );
    assert!(
        store
            .claim_announcements("w3", 2_500, 3_000)
            .await
            .unwrap()
            .is_empty(),
        "{name}"
    );
    assert_eq!(
        store.announcements(10).await.unwrap()[0].ended_early_at,
        Some(2_000),
        "{name}"
    );
}

#[tokio::test]
async fn announcements_are_recorded_once_on_every_backend() {
    for (name, store, _dir) in common::backends("announcement_story").await {
        announcement_story(name, store.as_ref()).await;
        eprintln!("announcement story passed on {name}");
    }
}

/// PostgreSQL's group commit: the write jobs that queue while the writers are busy share one
/// transaction; a job that fails there costs the others nothing (the batch is run again job by
/// job), and a lost version race and a duplicate message leave nothing behind.
/// Two replicas take a brand-new sender's first message at the same moment (one chat user's
/// update delivered to both, or two chats of theirs): one links the identity, the other's turn is
/// a `Conflict` that leaves nothing (the service then steps again and finds the person), never
/// an error; each identity has one person and no person is left without one.
#[tokio::test]
async fn a_new_sender_on_two_replicas_at_once_is_one_person_and_no_error() {
    let Some(url) = common::postgres_url("new_sender_race") else {
        return;
    };
    let schema = common::unique_schema("new_sender_race");
    let a: std::sync::Arc<dyn Store> =
        std::sync::Arc::new(common::postgres_store(&url, &schema).await);
    let b: std::sync::Arc<dyn Store> =
        std::sync::Arc::new(common::postgres_store(&url, &schema).await);
    let first = |n: usize, replica: &str, who: &str| Turn {
        conversation_id: format!("c-{n}-{replica}"),
        expected_version: 0,
        new_state: r#"{"step":1}"#.into(),
        channel: "web".into(),
        person_id: None,
        opening: TurnOpening {
            session: Some(format!("s-{n}-{replica}")),
            identity: Some(claim(who, None)),
        },
        client_code: None,
        off_hours: false,
        inbound: msg("hello", Some(&format!("m-{n}-{replica}"))),
        outbound: vec![msg("hi, how can I help?", None)],
        records: vec![],
        now: 10,
    };
    let mut conflicts = 0;
    for n in 0..30 {
        let who = format!("zoe-{n}");
        let (ta, tb) = (first(n, "a", &who), first(n, "b", &who));
        let (ra, rb) = tokio::join!(a.commit_turn(&ta), b.commit_turn(&tb));
        let (ra, rb) = (ra.unwrap(), rb.unwrap());
        for (r, t) in [(&ra, &ta), (&rb, &tb)] {
            match r {
                TurnOutcome::Committed { .. } => {}
                TurnOutcome::Conflict => {
                    conflicts += 1;
                    let session = t.opening.session.as_deref().unwrap();
                    let left = a.conversation_by_session("web", session).await.unwrap();
                    assert!(left.is_none(), "{who}: a refused turn leaves nothing");
                }
                other => panic!("{who}: {other:?}"),
            }
        }
        assert!(
            matches!(ra, TurnOutcome::Committed { .. })
                || matches!(rb, TurnOutcome::Committed { .. }),
            "{who}: one of the two is kept"
        );
    }
    let admin = sqlx::PgPool::connect(&url).await.unwrap();
    let count = |sql: &str| {
        let sql = format!("SELECT count(*) FROM {schema}.{sql}");
        let admin = admin.clone();
        async move {
            sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql))
                .fetch_one(&admin)
                .await
                .unwrap()
        }
    };
    assert_eq!(count("identities").await, 30, "one identity each");
    assert_eq!(count("people").await, 30, "one person each, none left over");
    eprintln!("new sender race: {conflicts} of 60 turns lost the race and were refused cleanly");
}

/// A turn of `person` on a known conversation: one question, one answer.
fn plain_turn(person: i64, conversation: &str, version: i64, message_id: &str) -> Turn {
    Turn {
        conversation_id: conversation.into(),
        expected_version: version,
        new_state: "{\"state\":\"idle\"}".into(),
        channel: "web".into(),
        person_id: Some(person),
        opening: Default::default(),
        client_code: None,
        off_hours: false,
        inbound: msg(&format!("question {message_id}"), Some(message_id)),
        outbound: vec![msg(&format!("answer {message_id}"), None)],
        records: vec![],
        now: 2,
    }
}

/// A PostgreSQL store for the group-commit tests, with one person and their conversations
/// `block-0`, `block-1` (for [`HeldWriters`]), `{many}-0` … `{many}-19` and `{last}`, each at
/// version 0.
async fn batch_fixture(
    url: &str,
    schema: &str,
    many: &str,
    last: &str,
) -> (std::sync::Arc<dyn Store>, frontdoor::store::Person) {
    let store: std::sync::Arc<dyn Store> =
        std::sync::Arc::new(common::postgres_store(url, schema).await);
    let p = store.resolve_person(&claim("u", None), 1).await.unwrap();
    let conversations: Vec<String> = (0..2)
        .map(|i| format!("block-{i}"))
        .chain((0..20).map(|i| format!("{many}-{i}")))
        .chain([last.to_string()])
        .collect();
    for (i, c) in conversations.iter().enumerate() {
        store
            .open_conversation("web", &format!("s{i}"), Some(&p), c, "{}", 1)
            .await
            .unwrap();
    }
    (store, p)
}

/// Both PostgreSQL writers of a store kept busy: each runs a turn on a conversation whose row
/// this test holds locked (`block-0`, `block-1`, opened by the caller), so the jobs queued
/// meanwhile wait, and the first writer set free takes them all as one batch.
struct HeldWriters {
    admin: sqlx::PgPool,
    hold: sqlx::Transaction<'static, sqlx::Postgres>,
    blocked: Vec<tokio::task::JoinHandle<frontdoor::store::StoreResult<TurnOutcome>>>,
}

impl HeldWriters {
    async fn hold(
        store: &std::sync::Arc<dyn Store>,
        url: &str,
        schema: &str,
        turn: impl Fn(i64) -> Turn,
    ) -> Self {
        let admin = sqlx::postgres::PgPoolOptions::new()
            .max_connections(2)
            .connect(url)
            .await
            .unwrap();
        let mut hold = admin.begin().await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT 1 FROM {schema}.conversations WHERE id IN ('block-0', 'block-1') FOR UPDATE"
        )))
        .execute(&mut *hold)
        .await
        .unwrap();
        let writers_waiting = format!(
            "SELECT COUNT(*) FROM pg_stat_activity
             WHERE application_name = 'frontdoor-writer:{schema}' AND wait_event_type = 'Lock'"
        );
        // One at a time, so each writer takes one (a writer takes every job waiting).
        let mut blocked = Vec::new();
        for i in 0..2 {
            let (store, t) = (store.clone(), turn(i));
            blocked.push(tokio::spawn(async move { store.commit_turn(&t).await }));
            common::wait::until_async(
                "a writer waiting for the held rows",
                std::time::Duration::from_secs(20),
                || async {
                    let (n,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(writers_waiting.clone()))
                        .fetch_one(&admin)
                        .await
                        .unwrap();
                    (n == i + 1).then_some(())
                },
            )
            .await;
        }
        Self {
            admin,
            hold,
            blocked,
        }
    }

    /// Let what was queued meanwhile reach the queue, then set the writers free.
    async fn release(self) {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        self.hold.commit().await.unwrap();
        for b in self.blocked {
            assert!(matches!(
                b.await.unwrap().unwrap(),
                TurnOutcome::Committed { .. }
            ));
        }
    }
}

#[tokio::test]
async fn postgres_group_commit_shares_a_transaction_and_isolates_a_failing_job() {
    let Some(url) = common::postgres_url("postgres_group_commit") else {
        return;
    };
    let schema = common::unique_schema("group_commit");
    let (store, p) = batch_fixture(&url, &schema, "good", "race").await;
    let turn = |conversation: &str, version: i64, message_id: &str| {
        plain_turn(p.id, conversation, version, message_id)
    };
    // A message seen before, for the duplicate below.
    assert!(matches!(
        store.commit_turn(&turn("race", 0, "seen")).await.unwrap(),
        TurnOutcome::Committed { .. }
    ));

    let held = HeldWriters::hold(&store, &url, &schema, |i| {
        turn(&format!("block-{i}"), 0, &format!("b{i}"))
    })
    .await;
    let admin = held.admin.clone();

    // Meanwhile 23 turns queue: 20 good ones, one for a conversation that does not exist (a
    // foreign-key error), one that lost the version race, one whose message was seen before.
    let before = store.write_counts();
    let mut queued = Vec::new();
    let mut jobs = (0..20)
        .map(|i| turn(&format!("good-{i}"), 0, &format!("g{i}")))
        .collect::<Vec<_>>();
    jobs.push(turn("no-such-conversation", 0, "bad"));
    jobs.push(turn("race", 0, "late"));
    jobs.push(turn("good-0", 0, "seen"));
    for t in jobs {
        let store = store.clone();
        queued.push(tokio::spawn(async move { store.commit_turn(&t).await }));
    }
    held.release().await;
    let mut outcomes = Vec::new();
    for q in queued {
        outcomes.push(q.await.unwrap());
    }
    let committed = outcomes[..20]
        .iter()
        .filter(|o| matches!(o, Ok(TurnOutcome::Committed { .. })))
        .count();
    assert_eq!(committed, 20, "every good turn commits: {outcomes:?}");
    assert!(outcomes[20].is_err(), "the bad turn gets its error");
    assert_eq!(outcomes[21].as_ref().ok(), Some(&TurnOutcome::Conflict));
    assert_eq!(outcomes[22].as_ref().ok(), Some(&TurnOutcome::Duplicate));

    // One transaction for all 23, which failed whole and was run again job by job.
    let after = store.write_counts();
    assert_eq!(after.jobs - before.jobs, 23, "{before:?} → {after:?}");
    assert_eq!(after.batches - before.batches, 1, "{before:?} → {after:?}");
    assert_eq!(after.reruns - before.reruns, 1, "{before:?} → {after:?}");

    // What stayed: each good turn once with its reply; nothing of the other three.
    let count = |sql: String| {
        let admin = admin.clone();
        async move {
            let (n,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .fetch_one(&admin)
                .await
                .unwrap();
            n
        }
    };
    let messages =
        |like: &str| format!("SELECT COUNT(*) FROM {schema}.messages WHERE text LIKE '{like}'");
    assert_eq!(count(messages("question g%")).await, 20);
    assert_eq!(count(messages("answer g%")).await, 20);
    assert_eq!(count(messages("% bad")).await, 0);
    assert_eq!(
        count(messages("% late")).await,
        0,
        "the lost race left nothing"
    );
    assert_eq!(count(messages("question seen")).await, 1);
    assert_eq!(
        count(format!(
            "SELECT COUNT(*) FROM {schema}.conversations WHERE id LIKE 'good-%' AND version = 1"
        ))
        .await,
        20
    );
    admin.close().await;
}

#[tokio::test]
async fn postgres_a_batchs_turns_share_a_statement_in_conversation_order() {
    let Some(url) = common::postgres_url("postgres_shared_turns") else {
        return;
    };
    let schema = common::unique_schema("shared_turns");
    let (store, p) = batch_fixture(&url, &schema, "many", "burst").await;
    let held = HeldWriters::hold(&store, &url, &schema, |i| {
        plain_turn(p.id, &format!("block-{i}"), 0, &format!("b{i}"))
    })
    .await;
    let admin = held.admin.clone();

    // Meanwhile 23 turns queue: one on each of 20 conversations, a session's first (it opens
    // its conversation), and two on one conversation, the second computed on the first's state
    // (a burst: version 1 after version 0).
    let before = store.write_counts();
    let mut jobs: Vec<Turn> = (0..20)
        .map(|i| plain_turn(p.id, &format!("many-{i}"), 0, &format!("m{i}")))
        .collect();
    let mut opening = plain_turn(p.id, "fresh", 0, "opening");
    opening.opening.session = Some("s-fresh".into());
    jobs.push(opening);
    jobs.push(plain_turn(p.id, "burst", 0, "first"));
    jobs.push(plain_turn(p.id, "burst", 1, "second"));
    let mut queued = Vec::new();
    for t in jobs {
        let store = store.clone();
        queued.push(tokio::spawn(async move { store.commit_turn(&t).await }));
    }
    held.release().await;
    for (i, q) in queued.into_iter().enumerate() {
        let outcome = q.await.unwrap().unwrap();
        // Had the second turn of "burst" shared the first's statement, it would have seen the
        // version before the first's and lost as a conflict.
        assert!(
            matches!(outcome, TurnOutcome::Committed { .. }),
            "turn {i}: {outcome:?}"
        );
    }

    // One batch; its turns went as two statements: the 20, the opening and the burst's first
    // together, the burst's second after them.
    let after = store.write_counts();
    assert_eq!(after.batches - before.batches, 1, "{before:?} → {after:?}");
    assert_eq!(after.jobs - before.jobs, 23, "{before:?} → {after:?}");
    assert_eq!(after.reruns, before.reruns, "{before:?} → {after:?}");
    assert_eq!(
        (
            after.shared_statements - before.shared_statements,
            after.shared_calls - before.shared_calls
        ),
        (2, 23),
        "{before:?} → {after:?}"
    );
    let (burst,): (String,) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT string_agg(text, ' / ' ORDER BY id) FROM {schema}.messages
         WHERE conversation_id = 'burst'"
    )))
    .fetch_one(&admin)
    .await
    .unwrap();
    assert_eq!(
        burst,
        "question first / answer first / question second / answer second"
    );
    let versions: Vec<(String, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT id, version FROM {schema}.conversations WHERE id IN ('burst', 'fresh') ORDER BY id"
    )))
    .fetch_all(&admin)
    .await
    .unwrap();
    assert_eq!(versions, [("burst".into(), 2), ("fresh".into(), 1)]);
    let (opened,): (String,) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT string_agg(text, ' / ' ORDER BY id) FROM {schema}.messages
         WHERE conversation_id = 'fresh'"
    )))
    .fetch_one(&admin)
    .await
    .unwrap();
    assert_eq!(opened, "question opening / answer opening");
    admin.close().await;
}
