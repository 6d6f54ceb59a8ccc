//! The SSO's request queue in the back office, over real HTTP on both backends: a client opens a
//! request in the web chat; staff find it in `/admin/requests`, pick it up, ask the client a
//! question (which the client gets in their conversation and answers there), complete it, and
//! reopen it — each through the request page's forms — while the access rules hold: an account
//! manager acts only on their clients' requests (someone else's is "not found"), a client lead
//! follows their client's but may not act, a refused move says what is allowed and changes
//! nothing, and a cross-site form post is refused.

mod common;

use common::{ADMIN_TOKEN, TestServer};
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use serde_json::{Value, json};

const PASSWORD: &str = "a long enough password";

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn create_user(server: &TestServer, username: &str, role: &str, clients: &[&str]) {
    let r = http()
        .post(format!("{}/api/v1/admin/users", server.url))
        .bearer_auth(ADMIN_TOKEN)
        .json(
            &json!({"username": username, "password": PASSWORD, "role": role, "clients": clients}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{username}: {}", r.text().await.unwrap());
}

/// A signed-in back-office user (their session cookie).
struct Staff {
    cookie: String,
}

impl Staff {
    async fn sign_in(server: &TestServer, username: &str) -> Staff {
        let r = http()
            .post(format!("{}/admin/login", server.url))
            .form(&[
                ("username", username),
                ("password", PASSWORD),
                ("next", "/admin"),
            ])
            .send()
            .await
            .unwrap();
        let cookie = r
            .headers()
            .get(SET_COOKIE)
            .and_then(|c| c.to_str().ok())
            .and_then(|c| c.split(';').next())
            .unwrap_or_else(|| panic!("{username} signs in"))
            .to_string();
        Staff { cookie }
    }

    async fn get(&self, server: &TestServer, path: &str) -> (StatusCode, String) {
        let r = http()
            .get(format!("{}{path}", server.url))
            .header(COOKIE, &self.cookie)
            .send()
            .await
            .unwrap();
        (r.status(), r.text().await.unwrap())
    }

    /// Press a button of the request page: (status, redirect target or page).
    async fn act(
        &self,
        server: &TestServer,
        reference: &str,
        form: &[(&str, &str)],
    ) -> (StatusCode, String) {
        let r = http()
            .post(format!("{}/admin/requests/{reference}", server.url))
            .header(COOKIE, &self.cookie)
            .form(form)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let location = r
            .headers()
            .get(LOCATION)
            .map(|l| l.to_str().unwrap().to_string());
        (status, location.unwrap_or(r.text().await.unwrap()))
    }
}

/// A client in the web chat: says something, gets the bot's words back.
async fn say(server: &TestServer, session: &str, user: &Value, text: &str) -> (String, String) {
    let mut body = json!({"session": session, "text": text});
    if !user.is_null() {
        body["user"] = user.clone();
    }
    let r = http()
        .post(format!("{}/api/v1/chat", server.url))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let reply: Value = r.json().await.unwrap();
    let words = reply["replies"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["text"].as_str())
        .collect::<Vec<_>>()
        .join("\n");
    (reply["conversation"].as_str().unwrap().to_string(), words)
}

/// A client asks for a vendor set-up and submits it: the request's reference and conversation.
async fn vendor_request(server: &TestServer, session: &str, user: Value) -> (String, String) {
    let mut who = user;
    let mut last = (String::new(), String::new());
    for text in &common::VENDOR_THEN_HUMAN[..7] {
        last = say(server, session, &who, text).await;
        who = Value::Null;
    }
    let (conversation, words) = last;
    let reference = words
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .find(|w| w.starts_with("REQ-"))
        .unwrap_or_else(|| panic!("a request was opened: {words}"))
        .to_string();
    (reference, conversation)
}

#[tokio::test]
async fn staff_work_a_request_from_the_queue_and_the_client_hears_of_it() {
    for (name, store, _dir) in common::backends("request_queue").await {
        let server = TestServer::start(store.clone()).await;
        create_user(&server, "dana.lead", "sso_lead", &[]).await;
        create_user(
            &server,
            "priya.shah@northwind.example",
            "account_manager",
            &["ACME"],
        )
        .await;
        create_user(
            &server,
            "omar.globex@northwind.example",
            "account_manager",
            &["GLOBEX"],
        )
        .await;
        create_user(&server, "alice.acme", "client_lead", &["ACME"]).await;
        let dana = Staff::sign_in(&server, "dana.lead").await;
        let priya = Staff::sign_in(&server, "priya.shah@northwind.example").await;
        let omar = Staff::sign_in(&server, "omar.globex@northwind.example").await;
        let alice = Staff::sign_in(&server, "alice.acme").await;

        // Ann at ACME and Gus at GLOBEX each need a vendor set up.
        let (acme, conversation) = vendor_request(
            &server,
            "s-ann",
            json!({"id": "ann.lee@acme.example", "name": "Ann Lee", "client": "ACME"}),
        )
        .await;
        let (globex, _) = vendor_request(
            &server,
            "s-gus",
            json!({"id": "gus@globex.example", "name": "Gus", "client": "GLOBEX"}),
        )
        .await;

        // The SSO lead's queue has both, on track; Priya's only her client's; Alice (ACME's
        // client lead) sees ACME's too, and the nav leads everyone there.
        let (status, page) = dana.get(&server, "/admin/requests").await;
        assert_eq!(status, 200, "[{name}] {page}");
        assert!(page.contains(&acme) && page.contains(&globex), "[{name}]");
        assert!(page.contains("on track"), "[{name}]");
        assert!(
            page.contains("href=\"/admin/requests\""),
            "[{name}] in the nav"
        );
        let (_, page) = priya.get(&server, "/admin/requests").await;
        assert!(page.contains(&acme) && !page.contains(&globex), "[{name}]");
        let (status, _) = priya.get(&server, "/admin/requests?client=GLOBEX").await;
        assert_eq!(status, 403, "[{name}] not her client");
        let (_, page) = alice.get(&server, "/admin/requests").await;
        assert!(page.contains(&acme) && !page.contains(&globex), "[{name}]");
        // Filters: by client, service, status, due.
        let (_, page) = dana.get(&server, "/admin/requests?client=GLOBEX").await;
        assert!(!page.contains(&acme) && page.contains(&globex), "[{name}]");
        let (_, page) = dana
            .get(&server, "/admin/requests?service=purchase-order")
            .await;
        assert!(page.contains("No requests match."), "[{name}]");
        for filter in ["status=done", "due=overdue"] {
            let (_, page) = dana
                .get(&server, &format!("/admin/requests?{filter}"))
                .await;
            assert!(!page.contains(&acme), "[{name}] {filter}");
        }
        let (status, page) = dana.get(&server, "/admin/requests?status=finished").await;
        assert_eq!(status, 400, "[{name}] {page}");

        // The request page: its inputs, timeline, due time and SLA state.
        let path = format!("/admin/requests/{acme}");
        let (status, page) = priya.get(&server, &path).await;
        assert_eq!(status, 200, "[{name}] {page}");
        for shown in [
            "Acme Widgets Ltd",
            "GB123456789",
            "on track",
            "Timeline",
            "Start",
        ] {
            assert!(page.contains(shown), "[{name}] {shown} on the page");
        }
        // Omar manages GLOBEX: ACME's request does not exist for him, to read or to move.
        let (status, _) = omar.get(&server, &path).await;
        assert_eq!(status, 404, "[{name}]");
        let (status, _) = omar.act(&server, &acme, &[("action", "start")]).await;
        assert_eq!(status, 404, "[{name}]");
        // Alice follows it but does not act on it.
        let (status, page) = alice.get(&server, &path).await;
        assert_eq!(status, 200, "[{name}]");
        assert!(
            !page.contains("Ask the client"),
            "[{name}] no forms for her"
        );
        let (status, _) = alice.act(&server, &acme, &[("action", "start")]).await;
        assert_eq!(status, 403, "[{name}]");
        let status_of = |r: &str| {
            let store = store.clone();
            let r = r.to_string();
            async move {
                store
                    .request_by_reference(&r)
                    .await
                    .unwrap()
                    .unwrap()
                    .status
            }
        };
        assert_eq!(status_of(&acme).await, "open", "[{name}] nothing moved");

        // Priya takes it, starts it, and asks Ann a question.
        let back = format!("/admin/requests/{acme}");
        for form in [
            vec![
                ("action", "assign"),
                ("assignee", "priya.shah@northwind.example"),
            ],
            vec![("action", "start"), ("note", "")],
        ] {
            let (status, to) = priya.act(&server, &acme, &form).await;
            assert_eq!(
                (status, to.as_str()),
                (StatusCode::SEE_OTHER, back.as_str()),
                "[{name}] {form:?}"
            );
        }
        let (status, page) = priya
            .act(&server, &acme, &[("action", "ask"), ("note", " ")])
            .await;
        assert_eq!(status, 422, "[{name}] a question needs words: {page}");
        let question = "Which bank account should we pay them into?";
        let (status, _) = priya
            .act(&server, &acme, &[("action", "ask"), ("note", question)])
            .await;
        assert_eq!(status, 303, "[{name}]");
        let (_, page) = priya.get(&server, &path).await;
        assert!(page.contains("waiting for the client"), "[{name}]");
        assert!(
            page.contains("The client&#x27;s answer due") || page.contains("answer due"),
            "[{name}]"
        );
        let (_, page) = dana
            .get(
                &server,
                "/admin/requests?assignee=priya.shah@northwind.example",
            )
            .await;
        assert!(page.contains(&acme) && !page.contains(&globex), "[{name}]");

        // Ann got the question in her conversation; her next message is the answer.
        let said: Vec<String> = store
            .transcript(&conversation)
            .await
            .unwrap()
            .iter()
            .filter(|m| m.direction == "out")
            .map(|m| m.text.clone())
            .collect();
        assert!(
            said.iter().any(|t| t.contains("picked up")),
            "[{name}] {said:?}"
        );
        assert!(
            said.iter().any(|t| t.contains(question)),
            "[{name}] {said:?}"
        );
        let (_, words) = say(
            &server,
            "s-ann",
            &Value::Null,
            "Barclays <b onmouseover=alert(3)>20-00-00</b> 12345678",
        )
        .await;
        assert!(
            words.contains(&format!("added that to **{acme}**")),
            "[{name}] {words}"
        );
        assert_eq!(status_of(&acme).await, "in_progress", "[{name}]");
        let (_, page) = priya.get(&server, &path).await;
        assert!(
            page.contains("Barclays"),
            "[{name}] the answer is on the timeline"
        );
        assert!(
            !page.contains("<b onmouseover") && page.contains("&lt;b onmouseover"),
            "[{name}] as text, not markup"
        );

        // Completed with a note (Ann is told, and asked for a score).
        let (status, _) = priya
            .act(
                &server,
                &acme,
                &[("action", "complete"), ("note", "Vendor V-1001 created")],
            )
            .await;
        assert_eq!(status, 303, "[{name}]");
        assert_eq!(status_of(&acme).await, "done", "[{name}]");
        let said: Vec<String> = store
            .transcript(&conversation)
            .await
            .unwrap()
            .iter()
            .map(|m| m.text.clone())
            .collect();
        assert!(
            said.iter().any(|t| t.contains("Vendor V-1001 created")),
            "[{name}]"
        );
        assert!(
            said.iter().any(|t| t.contains("How would you rate")),
            "[{name}]"
        );

        // A move the lifecycle does not allow: 409 with the allowed moves, and nothing changes.
        let (status, page) = priya
            .act(
                &server,
                &acme,
                &[("action", "ask"), ("note", "One more thing?")],
            )
            .await;
        assert_eq!(status, 409, "[{name}] {page}");
        assert!(
            page.contains("cannot move to waiting_for_client. Allowed from done: reopened"),
            "[{name}] {page}"
        );
        assert_eq!(status_of(&acme).await, "done", "[{name}]");
        let (status, _) = priya.act(&server, &acme, &[("action", "explode")]).await;
        assert_eq!(status, 422, "[{name}]");

        // A cross-site form post with Priya's cookie is refused.
        let r = http()
            .post(format!("{}/admin/requests/{acme}", server.url))
            .header(COOKIE, &priya.cookie)
            .header("origin", "https://evil.example")
            .form(&[("action", "reopen")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "[{name}]");
        assert_eq!(status_of(&acme).await, "done", "[{name}]");

        // The SSO lead reopens it; the timeline has every step, by whom.
        let (status, _) = dana
            .act(
                &server,
                &acme,
                &[("action", "reopen"), ("note", "Wrong sort code")],
            )
            .await;
        assert_eq!(status, 303, "[{name}]");
        let events = store
            .request_events(store.request_by_reference(&acme).await.unwrap().unwrap().id)
            .await
            .unwrap();
        let steps: Vec<(&str, Option<&str>, &str)> = events
            .iter()
            .map(|e| (e.kind.as_str(), e.to_status.as_deref(), e.actor.as_str()))
            .collect();
        let priya_email = "priya.shah@northwind.example";
        assert_eq!(
            steps[steps.len() - 6..],
            [
                ("assigned", None, priya_email),
                ("status", Some("in_progress"), priya_email),
                ("status", Some("waiting_for_client"), priya_email),
                ("client_reply", Some("in_progress"), "client"),
                ("status", Some("done"), priya_email),
                ("status", Some("reopened"), "dana.lead"),
            ],
            "[{name}] {events:#?}"
        );
        assert!(
            events.iter().filter(|e| e.source == "backoffice").count() >= 5,
            "[{name}]"
        );
        // Its first completion was charged, once.
        let ledger = store.ledger("ACME", 0, i64::MAX).await.unwrap();
        assert_eq!(
            ledger
                .iter()
                .filter(|l| l.interaction_type == "completed_request.vendor-setup")
                .count(),
            1,
            "[{name}] {ledger:?}"
        );
        server.stop().await;
    }
}

/// A request written as the dialogue writes it: `n`, of `client` (or of nobody: an anonymous
/// visitor's), due at `due`, then moved straight to `status` by the store's guarded update.
async fn hand_built(
    store: &std::sync::Arc<dyn frontdoor::store::Store>,
    n: u32,
    client: Option<&str>,
    service: &str,
    due: chrono::DateTime<chrono::Utc>,
    status: &str,
) -> String {
    use frontdoor::store::{NewMessage, NewRequestEvent, Record, RequestUpdate, Turn};
    let opened = due - chrono::Duration::days(2);
    let conversation = format!("q-{n}");
    store
        .open_conversation(
            "web",
            &conversation,
            None,
            &conversation,
            "{}",
            opened.timestamp_millis(),
        )
        .await
        .unwrap();
    let reference = format!("REQ-{n}");
    store
        .commit_turn(&Turn {
            conversation_id: conversation,
            expected_version: 0,
            new_state: "{}".into(),
            channel: "web".into(),
            person_id: None,
            opening: Default::default(),
            client_code: client.map(str::to_string),
            off_hours: false,
            inbound: NewMessage {
                text: "Submit".into(),
                outcome: Some("request_opened".into()),
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
        })
        .await
        .unwrap();
    if status != "open" {
        let before = store
            .request_by_reference(&reference)
            .await
            .unwrap()
            .unwrap();
        let mut after = before.clone();
        after.status = status.into();
        after.updated_at += 1;
        if status == "waiting_for_client" {
            after.waiting_since = Some(after.updated_at);
            after.client_due_at = Some(due.timestamp_millis() + 86_400_000);
        }
        if status == "done" {
            (after.closed_at, after.first_done_at) =
                (Some(after.updated_at), Some(after.updated_at));
        }
        store
            .update_request(&RequestUpdate {
                before,
                after,
                events: vec![NewRequestEvent {
                    kind: "status".into(),
                    from_status: Some("open".into()),
                    to_status: Some(status.into()),
                    actor: "li.chen@northwind.example".into(),
                    source: "backoffice".into(),
                    note: None,
                    idempotency_key: None,
                }],
                outbox: vec![],
            })
            .await
            .unwrap();
    }
    reference
}

/// The queue itself, on both backends: most urgent first, its due filters judged by the SLA
/// state in the client's time zone, its other filters, and every caller's scope.
#[tokio::test]
async fn the_queue_puts_overdue_work_first_and_filters_by_where_requests_stand() {
    use chrono::{TimeZone, Utc};
    use frontdoor::backoffice::access::{Principal, Role};
    use frontdoor::backoffice::queue::{Due, QueueError, QueueQuery, queue};
    use frontdoor::domain::RequestStatus;
    use frontdoor::policy::lifecycle::SlaState;
    let k = common::shipped();
    // Wed 18 Nov 2026, noon in London (= UTC in November).
    let at = |d: u32, h: u32| Utc.with_ymd_and_hms(2026, 11, d, h, 0, 0).unwrap();
    let now = at(18, 12).timestamp_millis();
    let admin = Principal {
        user_id: None,
        username: "ada".into(),
        role: Role::Admin,
        clients: vec![],
    };
    let priya = Principal {
        user_id: None,
        username: "priya.shah@northwind.example".into(),
        role: Role::AccountManager,
        clients: vec!["ACME".into()],
    };
    for (name, store, _dir) in common::backends("queue_order").await {
        frontdoor::app::seed_clients(store.as_ref(), &k)
            .await
            .unwrap();
        let late = hand_built(&store, 1, Some("ACME"), "vendor-setup", at(17, 10), "open").await;
        let today = hand_built(
            &store,
            2,
            Some("ACME"),
            "purchase-order",
            at(18, 16),
            "in_progress",
        )
        .await;
        let globex = hand_built(
            &store,
            3,
            Some("GLOBEX"),
            "vendor-setup",
            at(20, 10),
            "open",
        )
        .await;
        let waiting = hand_built(
            &store,
            4,
            Some("ACME"),
            "vendor-setup",
            at(17, 14),
            "waiting_for_client",
        )
        .await;
        let done = hand_built(&store, 5, Some("ACME"), "vendor-setup", at(16, 10), "done").await;
        let nobody = hand_built(&store, 6, None, "purchase-order", at(19, 10), "open").await;
        let list = |who: &Principal, q: QueueQuery| {
            let store = store.clone();
            let k = k.clone();
            let who = who.clone();
            async move {
                queue(store.as_ref(), &k, &who, &q, now).await.map(|found| {
                    found
                        .rows
                        .iter()
                        .map(|r| (r.request.reference.clone(), r.sla))
                        .collect::<Vec<_>>()
                })
            }
        };
        // The work to do, by due time; the one waiting for the client has its clock stopped.
        assert_eq!(
            list(&admin, QueueQuery::default()).await.unwrap(),
            [
                (late.clone(), SlaState::Overdue),
                (waiting.clone(), SlaState::WaitingForClient),
                (today.clone(), SlaState::DueToday),
                (nobody.clone(), SlaState::OnTrack),
                (globex.clone(), SlaState::OnTrack),
            ],
            "[{name}]"
        );
        let due = |d: Due| QueueQuery {
            due: Some(d),
            ..QueueQuery::default()
        };
        assert_eq!(
            list(&admin, due(Due::Overdue)).await.unwrap(),
            [(late.clone(), SlaState::Overdue)],
            "[{name}]"
        );
        assert_eq!(
            list(&admin, due(Due::DueToday)).await.unwrap(),
            [(today.clone(), SlaState::DueToday)],
            "[{name}]"
        );
        // Priya sees ACME's only (not GLOBEX's, nor the anonymous visitor's).
        let refs =
            |rows: Vec<(String, SlaState)>| rows.into_iter().map(|r| r.0).collect::<Vec<_>>();
        assert_eq!(
            refs(list(&priya, QueueQuery::default()).await.unwrap()),
            [late.clone(), waiting.clone(), today.clone()],
            "[{name}]"
        );
        let other = QueueQuery {
            client: Some("GLOBEX".into()),
            ..QueueQuery::default()
        };
        assert!(matches!(
            list(&priya, other).await,
            Err(QueueError::Forbidden(_))
        ));
        // Closed requests on asking, after the work to do.
        let all = QueueQuery {
            statuses: RequestStatus::ALL.to_vec(),
            client: Some("ACME".into()),
            ..QueueQuery::default()
        };
        assert_eq!(
            refs(list(&priya, all).await.unwrap()),
            [late.clone(), waiting.clone(), today.clone(), done.clone()],
            "[{name}]"
        );
        let by = |q: QueueQuery| async { refs(list(&admin, q).await.unwrap()) };
        assert_eq!(
            by(QueueQuery {
                statuses: vec![RequestStatus::Done],
                ..QueueQuery::default()
            })
            .await,
            [done]
        );
        assert_eq!(
            by(QueueQuery {
                service: Some("purchase-order".into()),
                ..QueueQuery::default()
            })
            .await,
            [today.clone(), nobody.clone()]
        );
        assert!(matches!(
            list(
                &admin,
                QueueQuery {
                    service: Some("time-travel".into()),
                    ..QueueQuery::default()
                }
            )
            .await,
            Err(QueueError::Invalid(_))
        ));
    }
}
