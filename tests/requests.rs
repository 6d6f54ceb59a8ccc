//! A service request's life, end to end: a client opens it in their channel (web, Telegram,
//! Discord); the SSO's case system moves it over the REST API with the operator token; the
//! client hears of each move in the channel they used — picked up, a question (their next
//! message is the answer), done with the note, then the pulse survey — and the back office's
//! KPIs count it. Real server, real teloxide and serenity clients against the fakes, the outbox
//! worker delivering; SQLite always, PostgreSQL when configured.

mod common;

use common::channels::{self, ACME_GUILD_CHANNEL, Channels, Options, web_say, web_socket};
use common::fake_telegram;
use serde_json::{Value, json};

/// The vendor set-up, values given up front (see tests/conversations/06-…).
const OPEN_VENDOR: [&str; 4] = [
    "please start a new vendor set-up request: Acme Widgets Ltd, VAT GB123456789, accounts contact ap@acmewidgets.example",
    "1",
    "Goods",
    "yes",
];

const DONE_NOTE: &str = "Acme Widgets Ltd is set up as vendor V-20417; you can raise POs now.";

fn reference_in(text: &str) -> Option<String> {
    let at = text.find("REQ-")?;
    let digits: String = text[at + 4..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    (!digits.is_empty()).then(|| format!("REQ-{digits}"))
}

/// The case system's call: (status, body).
async fn api(
    c: &Channels,
    method: &str,
    path: &str,
    body: Option<Value>,
    key: Option<&str>,
) -> (u16, Value) {
    channels::operator_call(c, method, path, body, key).await
}

async fn move_to(c: &Channels, reference: &str, body: Value, key: Option<&str>) -> Value {
    let (status, answer) = api(
        c,
        "PATCH",
        &format!("/api/v1/requests/{reference}"),
        Some(body),
        key,
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    answer
}

fn kinds(detail: &Value) -> Vec<String> {
    detail["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{}:{}",
                e["kind"].as_str().unwrap(),
                e["to"].as_str().unwrap_or("")
            )
        })
        .collect()
}

/// The web client opens the vendor request; its reference and conversation.
async fn web_opens(c: &Channels, session: &str) -> (String, String) {
    let mut last = Value::Null;
    for text in OPEN_VENDOR {
        last = web_say(c, session, text).await;
    }
    assert_eq!(last["outcome"], "request_opened", "{last}");
    let reference = last["replies"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|r| reference_in(r["text"].as_str().unwrap_or("")))
        .expect("the reference in the confirmation");
    (
        reference,
        last["conversation"].as_str().unwrap().to_string(),
    )
}

async fn transcript_texts(c: &Channels, conversation: &str) -> Vec<String> {
    c.store
        .transcript(conversation)
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.direction == "out")
        .map(|m| m.text)
        .collect()
}

#[tokio::test]
async fn the_case_system_moves_a_web_request_to_done_and_the_client_hears_each_step() {
    for (name, store, _data) in common::backends("requests_web").await {
        let c = Channels::start(store, Options::default()).await;
        let (reference, conversation) = web_opens(&c, "req-web-1").await;
        let mut ws = web_socket(&c, "req-web-1").await;

        // Picked up.
        let detail = move_to(&c, &reference, json!({"status": "in_progress"}), None).await;
        assert_eq!(detail["request"]["status"], "in_progress", "[{name}]");
        let frame = channels::next_frame(&mut ws).await;
        assert!(
            frame.to_string().contains("has picked up"),
            "[{name}] {frame}"
        );

        // Done, with the note; retried with the same key: nothing twice.
        let body = json!({"status": "done", "note": DONE_NOTE});
        let detail = move_to(&c, &reference, body.clone(), Some("done-1")).await;
        assert_eq!(detail["request"]["status"], "done");
        assert_eq!(
            detail["request"]["sla"], "met",
            "[{name}] done within two days"
        );
        let again = move_to(&c, &reference, body, Some("done-1")).await;
        assert_eq!(
            kinds(&again),
            kinds(&detail),
            "[{name}] a retry adds nothing"
        );

        // The client's transcript holds the note and the survey question, once each.
        let said = transcript_texts(&c, &conversation).await;
        assert_eq!(
            said.iter().filter(|t| t.contains(DONE_NOTE)).count(),
            1,
            "[{name}] {said:#?}"
        );
        assert_eq!(
            said.iter()
                .filter(|t| t.contains("How would you rate"))
                .count(),
            1,
            "[{name}] {said:#?}"
        );

        // Three events: created, picked up, done.
        let (status, detail) = api(
            &c,
            "GET",
            &format!("/api/v1/requests/{reference}"),
            None,
            None,
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(
            kinds(&detail),
            ["created:open", "status:in_progress", "status:done"],
            "[{name}]"
        );

        // Moves the lifecycle does not allow, unknown statuses and references: a 4xx that
        // says why, and nothing changes.
        let (status, err) = api(
            &c,
            "PATCH",
            &format!("/api/v1/requests/{reference}"),
            Some(json!({"status": "waiting_for_client", "note": "one more thing"})),
            None,
        )
        .await;
        assert_eq!(status, 409, "{err}");
        assert!(
            err["error"]
                .as_str()
                .unwrap()
                .ends_with("Allowed from done: reopened"),
            "{err}"
        );
        let (status, err) = api(
            &c,
            "PATCH",
            &format!("/api/v1/requests/{reference}"),
            Some(json!({"status": "finished"})),
            None,
        )
        .await;
        assert_eq!(status, 422, "{err}");
        assert!(err["error"].as_str().unwrap().contains("in_progress"));
        let (status, _) = api(
            &c,
            "PATCH",
            "/api/v1/requests/REQ-999999",
            Some(json!({"status": "done"})),
            None,
        )
        .await;
        assert_eq!(status, 404);
        let (_, after) = api(
            &c,
            "GET",
            &format!("/api/v1/requests/{reference}"),
            None,
            None,
        )
        .await;
        assert_eq!(kinds(&after).len(), 3, "[{name}] nothing changed");

        // The case system polls what changed.
        let (status, page) = api(
            &c,
            "GET",
            "/api/v1/requests?status=done&client=ACME",
            None,
            None,
        )
        .await;
        assert_eq!(status, 200, "{page}");
        assert!(
            page["requests"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["reference"] == reference.as_str())
        );

        // The month's KPIs count it as completed on time.
        let (status, kpis) = api(&c, "GET", "/api/v1/admin/clients/ACME/kpis", None, None).await;
        assert_eq!(status, 200, "{kpis}");
        let met = find(&kpis, "request_sla_met").and_then(Value::as_f64);
        assert!(met.is_some_and(|m| m > 0.0), "[{name}] {kpis}");
        c.stop().await;
    }
}

/// The first value under `key`, at any depth.
fn find<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    match v {
        Value::Object(m) => m.get(key).or_else(|| m.values().find_map(|x| find(x, key))),
        Value::Array(a) => a.iter().find_map(|x| find(x, key)),
        _ => None,
    }
}

#[tokio::test]
async fn a_question_reaches_the_client_and_their_next_message_is_the_answer() {
    for (name, store, _data) in common::backends("requests_question").await {
        let c = Channels::start(store, Options::default()).await;
        let (reference, _) = web_opens(&c, "req-web-2").await;
        move_to(&c, &reference, json!({"status": "in_progress"}), None).await;
        let detail = move_to(
            &c,
            &reference,
            json!({"status": "waiting_for_client", "note": "Which bank will Acme Widgets be paid into?"}),
            None,
        )
        .await;
        assert_eq!(detail["request"]["sla"], "waiting_for_client");
        assert!(detail["request"]["client_due_at"].is_string(), "{detail}");

        let answer = web_say(&c, "req-web-2", "Barclays, sort code 20-45-77").await;
        assert_eq!(answer["outcome"], "request_update", "[{name}] {answer}");
        assert!(answer.to_string().contains("added that to"), "{answer}");

        let (_, detail) = api(
            &c,
            "GET",
            &format!("/api/v1/requests/{reference}"),
            None,
            None,
        )
        .await;
        assert_eq!(detail["request"]["status"], "in_progress", "[{name}]");
        let reply = detail["events"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["kind"] == "client_reply")
            .expect("the answer on the timeline");
        assert_eq!(reply["source"], "chat");
        assert!(reply["note"].as_str().unwrap().contains("Barclays"));
        // The next message is a new question again.
        let next = web_say(&c, "req-web-2", "how do I reset my password").await;
        assert_ne!(next["outcome"], "request_update", "[{name}] {next}");
        c.stop().await;
    }
}

#[tokio::test]
async fn telegram_and_discord_clients_get_the_completion_note_in_their_chat() {
    for (name, store, _data) in common::backends("requests_chats").await {
        let c = Channels::start(store, Options::default()).await;

        // Telegram: a linked ACME user opens the request in their private chat.
        let user = 700_001;
        let mut update = channels::telegram_client_linked(&c, user, "Tess", 1).await;
        for text in OPEN_VENDOR {
            c.telegram
                .push(fake_telegram::text_update(update, user, "Tess", text));
            update += 1;
            let seen = c.telegram.accepted_to(user).len();
            c.telegram
                .until("the bot's answer", 20, |t| {
                    (t.accepted_to(user).len() > seen).then_some(())
                })
                .await;
        }
        let reference = c
            .telegram
            .until("the reference", 20, |t| {
                t.accepted_to(user).iter().find_map(|m| reference_in(m))
            })
            .await;
        move_to(
            &c,
            &reference,
            json!({"status": "done", "note": DONE_NOTE}),
            None,
        )
        .await;
        c.telegram
            .until("the note and the survey in the chat", 30, |t| {
                let got = t.accepted_to(user);
                (got.iter().any(|m| m.contains(DONE_NOTE))
                    && got.iter().any(|m| m.contains("How would you rate")))
                .then_some(())
            })
            .await;

        // Discord: a member of ACME's guild, in the guild channel. Each message goes once the
        // bot has answered the one before: the first answer is two posts, so "one more post"
        // would send the next while the bot was still on the last, and serenity runs each
        // event on a task of its own, in no set order.
        let dana = "620000000000000001";
        let answers = [
            "bank details be confirmed",
            "Which category",
            "Please check your",
            "REQ-",
        ];
        for (n, (text, answer)) in OPEN_VENDOR.iter().zip(answers).enumerate() {
            let before = c.discord.accepted_to(ACME_GUILD_CHANNEL).len();
            c.discord.dispatch(
                "MESSAGE_CREATE",
                channels::discord_guild_message(
                    &format!("13000000000000000{n}"),
                    (dana, "Dana"),
                    text,
                ),
            );
            c.discord
                .until("the bot's answer", 20, |d| {
                    d.accepted_texts_to(ACME_GUILD_CHANNEL)[before..]
                        .iter()
                        .any(|m| m.contains(answer))
                        .then_some(())
                })
                .await;
        }
        let reference = c
            .discord
            .until("the reference", 20, |d| {
                d.accepted_texts_to(ACME_GUILD_CHANNEL)
                    .iter()
                    .rev()
                    .find_map(|m| reference_in(m))
            })
            .await;
        move_to(
            &c,
            &reference,
            json!({"status": "done", "note": DONE_NOTE}),
            None,
        )
        .await;
        c.discord
            .until("the note in the guild channel", 30, |d| {
                d.accepted_texts_to(ACME_GUILD_CHANNEL)
                    .iter()
                    .any(|m| m.contains(DONE_NOTE))
                    .then_some(())
            })
            .await;
        eprintln!("[{name}] Telegram and Discord clients told");
        c.stop().await;
    }
}
