//! A phased roll-out, end to end: the operator switches ACME's web chat (and then Telegram) to
//! shadow mode over the API; a client's question gets a holding reply while the account
//! manager gets the bot's draft; the manager approves it (the article reaches the client's
//! conversation), edits one, answers another in their own words — and the back office counts
//! each kind, apart from self-service. Real server, real teloxide client against the fake Bot
//! API, the outbox worker delivering; SQLite always, PostgreSQL when configured.

mod common;

use common::channels::{
    self, Channels, Options, PRIYA_DISCORD, PRIYA_EMAIL, PRIYA_TELEGRAM, api_act, manager_token,
    web_say,
};
use common::fake_telegram;
use frontdoor::store::EscalationRow;
use serde_json::{Value, json};

const PASSWORD: &str = "how do I reset my password";
const ARTICLE: &str = "Reset a forgotten or expired password";

/// The operator's call to the back-office API: (status, body).
async fn admin(c: &Channels, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    channels::operator_call(c, method, path, body, None).await
}

async fn set_rollout(c: &Channels, body: Value) -> Value {
    let (status, answer) = admin(c, "PUT", "/api/v1/admin/clients/ACME/rollout", Some(body)).await;
    assert_eq!(status, 200, "{answer}");
    answer
}

fn mode_of(rollout: &Value, channel: &str) -> String {
    rollout["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["channel"] == channel)
        .map(|c| c["mode"].as_str().unwrap().to_string())
        .unwrap()
}

fn texts(answer: &Value) -> String {
    answer["replies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["text"].as_str().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

async fn outbound_texts(c: &Channels, conversation: &str) -> Vec<String> {
    c.store
        .transcript(conversation)
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.direction == "out")
        .map(|m| m.text)
        .collect()
}

/// The newest escalation of a conversation (each shadowed message has its own).
async fn newest_escalation(c: &Channels, conversation: &str) -> EscalationRow {
    c.store
        .escalations_of_conversation(conversation)
        .await
        .unwrap()
        .pop()
        .expect("an escalation")
}

#[tokio::test]
async fn shadow_mode_on_the_web_holds_the_answer_until_the_manager_approves_it() {
    for (name, store, _data) in common::backends("rollout_web").await {
        let c = Channels::start(store, Options::default()).await;

        // The operator switches ACME's web chat to shadow; the change is audited.
        let rollout = set_rollout(&c, json!({"web": "shadow"})).await;
        assert_eq!(mode_of(&rollout, "web"), "shadow", "[{name}] {rollout}");
        assert_eq!(mode_of(&rollout, "telegram"), "live");
        let change = &rollout["changes"][0];
        assert_eq!(change["actor"], "operator", "{rollout}");
        assert_eq!(change["action"], "rollout.set");
        let detail: Value = serde_json::from_str(change["detail"].as_str().unwrap()).unwrap();
        assert_eq!(
            detail,
            json!({"channel": "web", "from": "live", "to": "shadow"})
        );

        // The client asks; they get a holding reply, not the article.
        let answer = web_say(&c, "shadow-web-1", PASSWORD).await;
        assert_eq!(answer["outcome"], "shadowed", "[{name}] {answer}");
        let held = texts(&answer);
        assert!(held.contains("will answer you here"), "{held}");
        assert!(!held.contains(ARTICLE), "the article is held back: {held}");
        let conversation = answer["conversation"].as_str().unwrap().to_string();

        // The escalation carries the draft: the article, its intent and confidence.
        let e = newest_escalation(&c, &conversation).await;
        let draft: Value = serde_json::from_str(e.draft.as_deref().expect("a draft")).unwrap();
        assert_eq!(draft["intent"], "it-password-reset", "{draft}");
        assert!(draft["confidence"].as_f64().unwrap() > 0.3, "{draft}");
        assert!(
            draft["replies"][0]["text"]
                .as_str()
                .unwrap()
                .contains(ARTICLE)
        );
        // ... and so does the manager's ping (the webhook receiver gets it first).
        let ping = c
            .hooks
            .until("the ping with the draft", 30, |h| {
                h.bodies("/hooks/priya")
                    .into_iter()
                    .find(|p| p["escalation_id"] == e.id)
            })
            .await;
        assert_eq!(ping["draft"]["intent"], "it-password-reset", "{ping}");
        assert!(ping["draft"]["text"].as_str().unwrap().contains(ARTICLE));
        let approve = ping["actions"]["approve"].as_str().unwrap().to_string();

        // Priya approves it as written: the article reaches the client's conversation.
        let priya = manager_token(PRIYA_EMAIL);
        let (status, body) = channels::api_act_at(&c.server.url, &approve, &priya, None).await;
        assert_eq!(status, 200, "[{name}] {body}");
        assert_eq!(body["status"], "resolved");
        let said = outbound_texts(&c, &conversation).await;
        assert!(
            said.last().unwrap().contains(ARTICLE)
                || said.iter().rev().take(2).any(|t| t.contains(ARTICLE)),
            "[{name}] {said:?}"
        );
        // The conversation now waits for "Did this answer your question?", as live.
        let yes = web_say(&c, "shadow-web-1", "yes").await;
        assert_ne!(
            yes["outcome"], "shadowed",
            "an answer to the approved question goes on: {yes}"
        );
        // Approving twice, or approving an escalation without a draft, is refused.
        let (status, body) = api_act(&c, e.id, "approve", &priya, None).await;
        assert_eq!(status, 409, "{body}");

        // An edited draft: the client gets the manager's words.
        let answer = web_say(&c, "shadow-web-2", "how do I submit an expense claim").await;
        assert_eq!(answer["outcome"], "shadowed", "{answer}");
        let conv2 = answer["conversation"].as_str().unwrap().to_string();
        let e2 = newest_escalation(&c, &conv2).await;
        let edited = "Use Concur: Expenses → New claim. Receipts over £25 need a photo.";
        let (status, body) = api_act(&c, e2.id, "approve", &priya, Some(edited)).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(outbound_texts(&c, &conv2).await.last().unwrap(), edited);

        // A replaced draft: Priya answers in her own words.
        let answer = web_say(&c, "shadow-web-3", "when is payday this month").await;
        assert_eq!(answer["outcome"], "shadowed", "{answer}");
        let conv3 = answer["conversation"].as_str().unwrap().to_string();
        let e3 = newest_escalation(&c, &conv3).await;
        let (status, body) = api_act(
            &c,
            e3.id,
            "reply",
            &priya,
            Some("The 25th, as every month."),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let e3 = newest_escalation(&c, &conv3).await;
        assert_eq!(e3.draft_verdict.as_deref(), Some("replaced"));
        assert_eq!(e3.status, "resolved");

        // An escalation that carries no draft cannot be approved.
        let live = set_rollout(&c, json!({"web": "live"})).await;
        assert_eq!(mode_of(&live, "web"), "live");
        let human = web_say(&c, "shadow-web-4", "talk to a human").await;
        assert_eq!(human["outcome"], "escalated", "{human}");
        let conv4 = human["conversation"].as_str().unwrap().to_string();
        let e4 = newest_escalation(&c, &conv4).await;
        assert!(e4.draft.is_none());
        let (status, body) = api_act(&c, e4.id, "approve", &priya, None).await;
        assert_eq!(status, 409, "{body}");
        assert!(
            body["error"].as_str().unwrap().contains("no draft"),
            "{body}"
        );
        // Live again: the article at once.
        let answer = web_say(&c, "shadow-web-5", PASSWORD).await;
        assert!(texts(&answer).contains(ARTICLE), "{answer}");

        // The back office: drafts by verdict, shadowed conversations apart from self-service.
        let (status, kpis) = admin(&c, "GET", "/api/v1/admin/clients/ACME/kpis", None).await;
        assert_eq!(status, 200, "{kpis}");
        let k = &kpis["kpis"];
        assert_eq!(k["drafts"]["written"], 3, "[{name}] {k}");
        assert_eq!(k["drafts"]["approved"], 1, "{k}");
        assert_eq!(k["drafts"]["edited"], 1, "{k}");
        assert_eq!(k["drafts"]["replaced"], 1, "{k}");
        assert_eq!(k["by_channel"]["web"]["drafts"]["approved"], 1, "{k}");
        assert_eq!(k["shadowed_conversations"], 3, "{k}");
        // Two conversations the bot ran: one escalated, one answered.
        assert_eq!(k["self_service_rate"], 0.5, "{k}");
        // Recharge follows the rate card: three shadowed questions.
        let month = chrono::Utc::now().format("%Y-%m").to_string();
        let (status, st) = admin(
            &c,
            "GET",
            &format!("/api/v1/admin/clients/ACME/statement?month={month}"),
            None,
        )
        .await;
        assert_eq!(status, 200, "{st}");
        let shadowed = st["lines"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["interaction_type"] == "shadowed")
            .unwrap_or_else(|| panic!("a shadowed line: {st}"));
        assert_eq!(shadowed["count"], 3, "{st}");

        // Bad changes are refused whole, with the reason; nothing changes.
        for (body, want) in [
            (json!({"web": "sideways"}), 422),
            (json!({"fax": "live"}), 422),
            (json!({"web": "shadow", "fax": "live"}), 422),
            // ACME's client file names no pilot.
            (json!({"web": "pilot"}), 422),
        ] {
            let (status, answer) = admin(
                &c,
                "PUT",
                "/api/v1/admin/clients/ACME/rollout",
                Some(body.clone()),
            )
            .await;
            assert_eq!(status, want, "{body}: {answer}");
            assert!(answer["error"].is_string(), "{answer}");
        }
        let (status, _) = admin(
            &c,
            "PUT",
            "/api/v1/admin/clients/NOPE/rollout",
            Some(json!({"web": "off"})),
        )
        .await;
        assert_eq!(status, 404);
        // Nothing asked changes nothing.
        let same = set_rollout(&c, json!({})).await;
        assert_eq!(mode_of(&same, "web"), "live");
        let (_, now) = admin(&c, "GET", "/api/v1/admin/clients/ACME/rollout", None).await;
        assert_eq!(mode_of(&now, "web"), "live");
        assert_eq!(now["changes"].as_array().unwrap().len(), 2, "{now}");
        c.stop().await;
    }
}

#[tokio::test]
async fn shadow_mode_on_telegram_the_manager_approves_from_the_ping_button() {
    for (name, store, _data) in common::backends("rollout_telegram").await {
        let options = Options {
            priya_routes: format!(
                "telegram_chat = {PRIYA_TELEGRAM}\ndiscord_user = \"{PRIYA_DISCORD}\"\nroute_order = [\"telegram\", \"discord\"]"
            ),
            ..Options::default()
        };
        let c = Channels::start(store, options).await;
        // Tess links her Telegram account to ACME (and says hello) while the bot is live.
        let user = 710_001;
        let update = channels::telegram_client_linked(&c, user, "Tess", 1).await;
        c.telegram
            .until("the bot's hello after linking", 20, |t| {
                t.accepted_to(user)
                    .iter()
                    .any(|m| m.contains("Hello Tess"))
                    .then_some(())
            })
            .await;
        set_rollout(&c, json!({"telegram": "shadow"})).await;
        c.telegram
            .push(fake_telegram::text_update(update, user, "Tess", PASSWORD));
        c.telegram
            .until("the holding reply", 30, |t| {
                t.accepted_to(user)
                    .iter()
                    .any(|m| m.contains("will answer you here"))
                    .then_some(())
            })
            .await;
        assert!(
            !c.telegram
                .accepted_to(user)
                .iter()
                .any(|m| m.contains(ARTICLE)),
            "[{name}] the article is held back"
        );
        // Priya's ping in Telegram: the draft, and an Approve button first.
        let ping = c
            .telegram
            .until("the ping with the draft", 30, |t| {
                t.calls("sendMessage").into_iter().find(|m| {
                    m["chat_id"] == PRIYA_TELEGRAM
                        && m["text"].as_str().unwrap_or("").contains("Bot's draft")
                })
            })
            .await;
        assert!(ping["text"].as_str().unwrap().contains(ARTICLE), "{ping}");
        let button = &ping["reply_markup"]["inline_keyboard"][0][0];
        assert_eq!(button["text"], "Approve draft", "{ping}");
        let data = button["callback_data"].as_str().unwrap().to_string();
        assert!(data.starts_with("esc:approve:"), "{data}");

        // She presses it: the article reaches Tess's chat.
        c.telegram.push(fake_telegram::button_update(
            update + 1,
            PRIYA_TELEGRAM,
            "Priya",
            &data,
        ));
        c.telegram
            .until("the approved article in the client's chat", 30, |t| {
                t.accepted_to(user)
                    .iter()
                    .any(|m| m.contains(ARTICLE))
                    .then_some(())
            })
            .await;
        let id: i64 = data.rsplit(':').next().unwrap().parse().unwrap();
        let e = c.store.escalation(id).await.unwrap().unwrap();
        assert_eq!(e.draft_verdict.as_deref(), Some("approved"), "[{name}]");
        c.stop().await;
    }
}
