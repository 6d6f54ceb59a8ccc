//! The cross-channel matrix: a client on {web, Telegram, Discord} escalates; the account
//! manager answers and resolves from {Telegram, Discord, the HTTP API, the webhook inbox's
//! actions}; the answer, then the resolution and its survey, arrive in the client's channel,
//! each exactly once. Real teloxide and serenity clients against fake servers, the outbox
//! worker delivering through the channel port; SQLite always, PostgreSQL when configured.

mod common;

use common::channels::{
    self, ACME_GUILD_CHANNEL, Channels, Options, PRIYA_DISCORD, PRIYA_EMAIL, PRIYA_TELEGRAM,
    api_act, api_act_at, manager_token, web_say, web_socket,
};
use common::fake_discord::{self, dm_channel_of};
use common::fake_telegram;
use serde_json::Value;

#[derive(Clone, Copy, Debug)]
enum Client {
    Web,
    Telegram,
    Discord,
}

#[derive(Clone, Copy, Debug)]
enum Manager {
    Telegram,
    Discord,
    Api,
    Inbox,
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A client who escalated, and where to look for what reaches them.
struct Escalated {
    escalation: i64,
    web: Option<Socket>,
    telegram_chat: Option<i64>,
    discord_channel: Option<String>,
    /// Messages already in the (shared) guild channel before this client spoke.
    discord_before: usize,
}

/// A new client on `client` asks for a person; `n` makes the client unique.
async fn escalate(c: &Channels, client: Client, n: usize) -> Escalated {
    const ASK: &str = "I want to talk to a real person please";
    match client {
        Client::Web => {
            let session = format!("matrix-web-{n}");
            let body = web_say(c, &session, ASK).await;
            assert_eq!(body["outcome"], "escalated", "{body}");
            let escalation = c
                .escalation_of(body["conversation"].as_str().unwrap())
                .await;
            let ws = web_socket(c, &session).await;
            Escalated {
                escalation,
                web: Some(ws),
                telegram_chat: None,
                discord_channel: None,
                discord_before: 0,
            }
        }
        Client::Telegram => {
            let user = 600_000 + n as i64;
            let next =
                channels::telegram_client_linked(c, user, "Tess", (n as i64) * 100 + 1).await;
            c.telegram
                .push(fake_telegram::text_update(next, user, "Tess", ASK));
            let conversation = c.conversation_of("telegram", &user.to_string()).await;
            let escalation = c.escalation_of(&conversation).await;
            Escalated {
                escalation,
                web: None,
                telegram_chat: Some(user),
                discord_channel: None,
                discord_before: 0,
            }
        }
        Client::Discord => {
            let user = format!("6100000000000000{n:02}");
            let discord_before = c.discord.accepted_to(ACME_GUILD_CHANNEL).len();
            c.discord.dispatch(
                "MESSAGE_CREATE",
                channels::discord_guild_message(
                    &format!("1200000000000000{n:02}"),
                    (&user, "Dana"),
                    ASK,
                ),
            );
            let conversation = c
                .conversation_of("discord", &format!("{ACME_GUILD_CHANNEL}:{user}"))
                .await;
            let escalation = c.escalation_of(&conversation).await;
            Escalated {
                escalation,
                web: None,
                telegram_chat: None,
                discord_channel: Some(ACME_GUILD_CHANNEL.to_string()),
                discord_before,
            }
        }
    }
}

/// The manager's webhook ping for this escalation (the inbox's view of it).
async fn webhook_ping(c: &Channels, id: i64) -> Value {
    let wait = async {
        loop {
            let changed = c.hooks.changed.notified();
            if let Some(p) = c
                .hooks
                .bodies("/hooks/priya")
                .into_iter()
                .find(|b| b["escalation_id"].as_i64() == Some(id))
            {
                return p;
            }
            let _ = tokio::time::timeout(std::time::Duration::from_millis(200), changed).await;
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(30), wait)
        .await
        .expect("the webhook ping")
}

/// The manager answers `text` through `manager`, then (`resolve`) resolves.
async fn manager_acts(c: &Channels, manager: Manager, id: i64, n: usize, text: Option<&str>) {
    let priya = manager_token(PRIYA_EMAIL);
    let update = 50_000 + (n as i64) * 10 + i64::from(text.is_none());
    let interaction = format!("4300000000000000{n:02}");
    match (manager, text) {
        (Manager::Api, Some(t)) => {
            let (status, body) = api_act(c, id, "reply", &priya, Some(t)).await;
            assert_eq!(status, 200, "{body}");
        }
        (Manager::Api, None) => {
            let (status, body) = api_act(c, id, "resolve", &priya, None).await;
            assert_eq!(status, 200, "{body}");
        }
        (Manager::Inbox, text) => {
            // A manager on a webhook acts with the HTTP actions the ping carries.
            let ping = webhook_ping(c, id).await;
            let action = if text.is_some() { "reply" } else { "resolve" };
            let (status, body) = api_act_at(
                &c.server.url,
                ping["actions"][action]
                    .as_str()
                    .expect("the ping names its actions"),
                &priya,
                text,
            )
            .await;
            assert_eq!(status, 200, "{body}");
        }
        (Manager::Telegram, Some(t)) => {
            // A reply to the ping message.
            c.telegram.push(fake_telegram::reply_update(
                update,
                PRIYA_TELEGRAM,
                "Priya",
                &format!("Escalation #{id} from Acme Manufacturing (ACME)"),
                t,
            ));
            wait_telegram_done(c, id, "acknowledged").await;
        }
        (Manager::Telegram, None) => {
            // The ping's Resolve button.
            c.telegram.push(fake_telegram::button_update(
                update,
                PRIYA_TELEGRAM,
                "Priya",
                &format!("esc:resolve:{id}"),
            ));
            wait_telegram_done(c, id, "resolved").await;
        }
        (Manager::Discord, Some(t)) => {
            // A command typed in the DM with the bot.
            c.discord.dispatch(
                "MESSAGE_CREATE",
                fake_discord::message(
                    &interaction,
                    &dm_channel_of(PRIYA_DISCORD),
                    (PRIYA_DISCORD, "Priya"),
                    &format!("/reply {id} {t}"),
                ),
            );
            wait_discord_done(c, id, "acknowledged").await;
        }
        (Manager::Discord, None) => {
            // The ping's Resolve button.
            c.discord.dispatch(
                "INTERACTION_CREATE",
                fake_discord::button(
                    &interaction,
                    &dm_channel_of(PRIYA_DISCORD),
                    (PRIYA_DISCORD, "Priya"),
                    &format!("esc:resolve:{id}"),
                ),
            );
            wait_discord_done(c, id, "resolved").await;
        }
    }
}

async fn wait_telegram_done(c: &Channels, id: i64, status: &str) {
    let done = format!("Done: escalation #{id} is {status}.");
    c.telegram
        .until(&done, 30, |t| {
            t.accepted_to(PRIYA_TELEGRAM)
                .iter()
                .any(|m| m.contains(&done))
                .then_some(())
        })
        .await;
}

async fn wait_discord_done(c: &Channels, id: i64, status: &str) {
    let done = format!("Done: escalation #{id} is {status}.");
    c.discord
        .until(&done, 30, |d| {
            d.accepted_texts_to(&dm_channel_of(PRIYA_DISCORD))
                .iter()
                .any(|m| m.contains(&done))
                .then_some(())
        })
        .await;
}

/// What reached the client, as texts, once `until` holds for them.
async fn client_received(
    c: &Channels,
    e: &mut Escalated,
    what: &str,
    until: impl Fn(&[String]) -> bool,
    seen: &mut Vec<String>,
) {
    if let Some(ws) = e.web.as_mut() {
        while !until(seen) {
            let frame = channels::next_frame(ws).await;
            assert_eq!(frame["push"], true, "{frame}");
            for r in frame["replies"].as_array().unwrap() {
                seen.push(r["text"].as_str().unwrap_or_default().to_string());
            }
        }
        return;
    }
    if let Some(chat) = e.telegram_chat {
        *seen = c
            .telegram
            .until(what, 30, |t| {
                let texts = t.accepted_to(chat);
                until(&texts).then_some(texts)
            })
            .await;
        return;
    }
    let channel = e.discord_channel.clone().unwrap();
    let before = e.discord_before;
    *seen = c
        .discord
        .until(what, 30, |d| {
            let texts = d.accepted_texts_to(&channel).split_off(before);
            until(&texts).then_some(texts)
        })
        .await;
}

fn count(texts: &[String], needle: &str) -> usize {
    texts.iter().filter(|t| t.contains(needle)).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_client_channel_hears_every_manager_surface_once() {
    for (name, store, _dir) in common::backends("channel_matrix").await {
        let c = Channels::start(store, Options::default()).await;
        let mut n = 0;
        for client in [Client::Web, Client::Telegram, Client::Discord] {
            for manager in [
                Manager::Telegram,
                Manager::Discord,
                Manager::Api,
                Manager::Inbox,
            ] {
                n += 1;
                let combo = format!("[{name}] client {client:?} × manager {manager:?}");
                let mut e = escalate(&c, client, n).await;
                let id = e.escalation;
                let answer = format!("Answer {n}: your payslip is re-issued today.");
                manager_acts(&c, manager, id, n, Some(&answer)).await;
                let mut seen = Vec::new();
                client_received(&c, &mut e, &answer, |t| count(t, &answer) >= 1, &mut seen).await;
                manager_acts(&c, manager, id, n, None).await;
                // The resolution and its one-tap survey follow the answer.
                client_received(
                    &c,
                    &mut e,
                    "the survey",
                    |t| {
                        count(t, "marked your escalation as resolved") == 1
                            && count(t, "How would you rate") == 1
                    },
                    &mut seen,
                )
                .await;
                c.relays_delivered(id, 2).await;
                assert_eq!(count(&seen, &answer), 1, "{combo}: {seen:#?}");
                assert_eq!(c.status(id).await, "resolved", "{combo}");
                for row in c.relays(id).await {
                    assert_eq!(row.status, "delivered", "{combo}: {row:?}");
                }
                eprintln!("{combo}: answer and survey arrived once");
            }
        }
        c.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_back_office_page_acts_through_the_same_action_and_delivery() {
    let (name, store, _dir) = common::backends("channel_backoffice").await.remove(0);
    let c = Channels::start(store, Options::default()).await;
    let mut e = escalate(&c, Client::Telegram, 90).await;
    let id = e.escalation;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = http
        .get(format!("{}/admin/escalations", c.server.url))
        .bearer_auth(common::ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(&format!("action=\"/admin/escalations/{id}/act\"")),
        "[{name}] the page offers the actions"
    );
    let answer = "Back office: your PO is approved.";
    let r = http
        .post(format!("{}/admin/escalations/{id}/act", c.server.url))
        .bearer_auth(common::ADMIN_TOKEN)
        .form(&[("action", "reply"), ("text", answer)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303, "[{name}] back to the list");
    let mut seen = Vec::new();
    client_received(&c, &mut e, answer, |t| count(t, answer) >= 1, &mut seen).await;
    let r = http
        .post(format!("{}/admin/escalations/{id}/act", c.server.url))
        .bearer_auth(common::ADMIN_TOKEN)
        .form(&[("action", "resolve")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303, "[{name}]");
    client_received(
        &c,
        &mut e,
        "the survey",
        |t| count(t, "How would you rate") == 1,
        &mut seen,
    )
    .await;
    c.relays_delivered(id, 2).await;
    assert_eq!(count(&seen, answer), 1, "[{name}] {seen:#?}");
    assert_eq!(c.status(id).await, "resolved", "[{name}]");
    c.stop().await;
}
