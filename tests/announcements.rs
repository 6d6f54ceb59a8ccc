//! Announcements, as the SSO's staff and their clients' staff live them — the real server, the
//! real teloxide and serenity clients against the fake Bot API and the fake Discord, the real
//! fan-out and outbox worker driven by a test clock (no sleeps), on SQLite and PostgreSQL:
//!
//!   SSO lead (API)  POST /api/v1/admin/announcements  "VPN maintenance" for ACME
//!   fan-out         Ann, Bob (Telegram) and Dee (Discord), ACME's linked users: queued, paced
//!   Bot API         Bob: 429, retry after 2 s  →  Bob gets it after the wait, once
//!   Gus (GLOBEX), Cy (never linked), Oli (Discord, no client): nothing
//!   second round, a "restart" (new fan-out and worker): nothing more
//!
//!   Saturday        ACME is closed: deliveries wait for Monday 07:00; an urgent one goes now
//!   Bob             /unsubscribe  →  skipped from then on
//!   web             "how do I reset my password"  →  the article, and "Announcement: …"

mod common;

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use common::channels::{self, ACME_GUILD_CHANNEL, Channels, Options, quick_escalation, web_say};
use common::fake_discord::{self, dm_channel_of};
use common::fake_telegram::{self, Answer};
use common::{ADMIN_TOKEN, backends};
use frontdoor::announce::fanout::{Fanout, FanoutReport};
use frontdoor::escalation::deliver::Deliverer;
use frontdoor::escalation::worker::Worker;
use serde_json::{Value, json};

const ANN: i64 = 610_001;
const BOB: i64 = 610_002;
const GUS: i64 = 610_003;
const CY: i64 = 610_004;
const DEE: &str = "455000000000000001";
const OLI: &str = "466000000000000001";

fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
}

/// Wednesday 9 January 2030, 10:00 in London: ACME (Mon–Fri 07:00–19:00) is covered.
fn wednesday() -> DateTime<Utc> {
    at(2030, 1, 9, 10, 0)
}

/// How many of `texts` contain `needle`.
fn count(texts: &[String], needle: &str) -> usize {
    texts.iter().filter(|t| t.contains(needle)).count()
}

/// Texts the fake Discord accepted in `channel`.
fn discord_texts(c: &Channels, channel: &str) -> Vec<String> {
    c.discord.accepted_texts_to(channel)
}

async fn api(
    c: &Channels,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut r = reqwest::Client::new()
        .request(method, format!("{}{path}", c.server.url))
        .bearer_auth(ADMIN_TOKEN);
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn announce(c: &Channels, body: Value) -> i64 {
    let (status, created) = api(
        c,
        reqwest::Method::POST,
        "/api/v1/admin/announcements",
        Some(body),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    created["id"].as_i64().unwrap()
}

async fn counts(c: &Channels, id: i64) -> Value {
    let (status, a) = api(
        c,
        reqwest::Method::GET,
        &format!("/api/v1/admin/announcements/{id}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{a}");
    a["counts"].clone()
}

/// The fan-out and the outbox worker as `serve` runs them, driven by the test's clock.
struct Senders {
    fanout: Fanout,
    worker: Worker,
}

fn senders(c: &Channels) -> Senders {
    let chat = &c.server.state.chat;
    Senders {
        fanout: Fanout::new(
            c.store.clone(),
            chat.knowledge.clone(),
            chat.outbox_wake.clone(),
        ),
        worker: Worker::new(
            c.store.clone(),
            chat.knowledge.clone(),
            Deliverer::from_outlets(c.server.state.web.outlets.clone()),
            quick_escalation(),
            Arc::new(tokio::sync::Notify::new()),
        ),
    }
}

impl Senders {
    /// A fan-out round at `now`, then the worker's rounds up to `now + secs` (each second).
    async fn run(&self, now: DateTime<Utc>, secs: i64) -> FanoutReport {
        let report = self.fanout.tick(now).await.unwrap();
        for s in 0..=secs {
            self.worker
                .tick(now + chrono::Duration::seconds(s))
                .await
                .unwrap();
        }
        report
    }
}

/// A Telegram user linked to `client` with a link code; the next free update id.
async fn telegram_linked(c: &Channels, user: i64, name: &str, client: &str, update: i64) -> i64 {
    let code = format!("code{user}");
    let now = Utc::now().timestamp_millis();
    c.store
        .create_link_code(&code, client, now + 600_000, now)
        .await
        .unwrap();
    c.telegram.push(fake_telegram::text_update(
        update,
        user,
        name,
        &format!("/start {code}"),
    ));
    c.telegram
        .until("the link confirmation", 20, |t| {
            (count(&t.accepted_to(user), "now linked") == 1).then_some(())
        })
        .await;
    update + 1
}

/// A Telegram user who talked to the bot without linking their account.
async fn telegram_unlinked(c: &Channels, user: i64, name: &str, update: i64) -> i64 {
    c.telegram
        .push(fake_telegram::text_update(update, user, name, "hello"));
    c.telegram
        .until("the greeting", 20, |t| {
            (!t.accepted_to(user).is_empty()).then_some(())
        })
        .await;
    update + 1
}

/// Dee, a member of ACME's Discord server, says hello there; Oli says hello in a DM.
async fn discord_users(c: &Channels) {
    c.discord.dispatch(
        "MESSAGE_CREATE",
        channels::discord_guild_message("100000000000000101", (DEE, "Dee"), "hello"),
    );
    c.discord
        .until("Dee's greeting", 20, |d| {
            (!d.accepted_texts_to(ACME_GUILD_CHANNEL).is_empty()).then_some(())
        })
        .await;
    c.discord.dispatch(
        "MESSAGE_CREATE",
        fake_discord::message(
            "100000000000000102",
            &dm_channel_of(OLI),
            (OLI, "Oli"),
            "hello",
        ),
    );
    c.discord
        .until("Oli's greeting", 20, |d| {
            (!d.accepted_texts_to(&dm_channel_of(OLI)).is_empty()).then_some(())
        })
        .await;
}

fn vpn(urgent: bool, title: &str) -> Value {
    json!({
        "title": title,
        "text": "The VPN is down for maintenance on Saturday 06:00-08:00.",
        "clients": ["ACME"],
        "channels": ["telegram", "discord", "web"],
        "urgent": urgent,
        "starts_at": "2030-01-04T00:00:00Z",
        "ends_at": "2030-01-31T00:00:00Z",
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_announcement_reaches_each_linked_user_of_its_audience_once() {
    for (name, store, _dir) in backends("announce_once").await {
        let c = Channels::start(
            store,
            Options {
                worker: false,
                ..Options::default()
            },
        )
        .await;
        let mut next = telegram_linked(&c, ANN, "Ann", "ACME", 1).await;
        next = telegram_linked(&c, BOB, "Bob", "ACME", next).await;
        next = telegram_linked(&c, GUS, "Gus", "GLOBEX", next).await;
        telegram_unlinked(&c, CY, "Cy", next).await;
        discord_users(&c).await;

        // The Bot API is flooded when Bob's turn comes, and so is Discord for Dee: each says
        // to wait and try again.
        c.telegram.script(BOB, [Answer::RetryAfter(2)]);
        c.discord
            .script(&dm_channel_of(DEE), [fake_discord::Answer::RetryAfter(1.5)]);
        let title = "VPN maintenance this Saturday";
        let id = announce(&c, vpn(false, title)).await;

        let s = senders(&c);
        let report = s.run(wednesday(), 0).await;
        assert_eq!(
            report.queued, 3,
            "[{name}] Ann, Bob (Telegram) and Dee (Discord): {report:?}"
        );
        assert_eq!(
            count(&c.telegram.accepted_to(ANN), title),
            1,
            "[{name}] Ann has it"
        );
        // Bob's slot is 35 ms after Ann's (paced); a second later the Bot API says 429, retry
        // after 2 s: the worker waits as asked, not a moment less.
        let bob_tries = |c: &Channels| {
            c.telegram
                .calls("sendMessage")
                .iter()
                .filter(|b| {
                    b["chat_id"].as_i64() == Some(BOB)
                        && b["text"].as_str().is_some_and(|t| t.contains(title))
                })
                .count()
        };
        s.run(wednesday() + chrono::Duration::seconds(1), 0).await;
        assert_eq!(
            (bob_tries(&c), count(&c.telegram.accepted_to(BOB), title)),
            (1, 0),
            "[{name}] the 429"
        );
        s.run(wednesday() + chrono::Duration::milliseconds(2_900), 0)
            .await;
        assert_eq!(bob_tries(&c), 1, "[{name}] not before the wait is over");
        s.run(wednesday() + chrono::Duration::seconds(3), 2).await;

        assert_eq!(bob_tries(&c), 2, "[{name}] Bob: the 429, then the message");
        for (who, chat) in [("Ann", ANN), ("Bob", BOB)] {
            let texts = c.telegram.accepted_to(chat);
            assert_eq!(
                count(&texts, title),
                1,
                "[{name}] {who} got it exactly once: {texts:?}"
            );
            assert_eq!(
                count(&texts, "/unsubscribe"),
                1,
                "[{name}] and how to stop them"
            );
        }
        for (who, chat) in [("Gus of GLOBEX", GUS), ("Cy, never linked", CY)] {
            assert_eq!(
                count(&c.telegram.accepted_to(chat), title),
                0,
                "[{name}] {who} is not in the audience"
            );
        }
        assert_eq!(
            count(&discord_texts(&c, &dm_channel_of(DEE)), title),
            1,
            "[{name}] Dee, in a DM, once"
        );
        assert_eq!(
            c.discord.attempts_to(&dm_channel_of(DEE)),
            2,
            "[{name}] Dee: the 429, then the message"
        );
        assert_eq!(
            count(&discord_texts(&c, ACME_GUILD_CHANNEL), title),
            0,
            "[{name}] not in ACME's channel"
        );
        assert_eq!(
            count(&discord_texts(&c, &dm_channel_of(OLI)), title),
            0,
            "[{name}] Oli has no client"
        );

        // Another round, and a restart (a new fan-out and worker on the same database): the
        // deliveries are recorded, nothing is queued or sent again.
        let again = s.run(wednesday() + chrono::Duration::minutes(1), 5).await;
        assert_eq!(again, FanoutReport::default(), "[{name}]");
        let restarted = senders(&c);
        let after_restart = restarted
            .run(wednesday() + chrono::Duration::minutes(2), 5)
            .await;
        assert_eq!(after_restart, FanoutReport::default(), "[{name}]");
        for chat in [ANN, BOB] {
            assert_eq!(
                count(&c.telegram.accepted_to(chat), title),
                1,
                "[{name}] still once"
            );
        }
        assert_eq!(
            count(&discord_texts(&c, &dm_channel_of(DEE)), title),
            1,
            "[{name}] still once"
        );

        let n = counts(&c, id).await;
        assert_eq!(
            n,
            json!({"queued": 0, "sent": 3, "failed": 0, "waiting_for_coverage": 0, "unsubscribed_skipped": 0, "expired": 0}),
            "[{name}] the API's counts match what the fakes got"
        );
        c.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outside_coverage_it_waits_for_the_window_urgent_goes_at_once_and_unsubscribe_stops_it() {
    for (name, store, _dir) in backends("announce_coverage").await {
        let c = Channels::start(
            store,
            Options {
                worker: false,
                ..Options::default()
            },
        )
        .await;
        let mut next = telegram_linked(&c, ANN, "Ann", "ACME", 1).await;
        next = telegram_linked(&c, BOB, "Bob", "ACME", next).await;
        discord_users(&c).await;

        // Bob: /unsubscribe.
        c.telegram
            .push(fake_telegram::text_update(next, BOB, "Bob", "/unsubscribe"));
        c.telegram
            .until("the unsubscribe confirmation", 20, |t| {
                (count(&t.accepted_to(BOB), "no more announcements") == 1).then_some(())
            })
            .await;

        let title = "Payroll cut-off moves to the 20th";
        let id = announce(&c, vpn(false, title)).await;
        // Saturday 5 January 2030, noon: ACME is closed until Monday 07:00.
        let saturday = at(2030, 1, 5, 12, 0);
        let s = senders(&c);
        let report = s.run(saturday, 60).await;
        assert_eq!(
            (report.queued, report.waiting, report.skipped),
            (0, 2, 1),
            "[{name}] {report:?}"
        );
        assert_eq!(
            count(&c.telegram.accepted_to(ANN), title),
            0,
            "[{name}] nothing on Saturday"
        );
        assert_eq!(
            count(&discord_texts(&c, &dm_channel_of(DEE)), title),
            0,
            "[{name}]"
        );
        assert_eq!(
            counts(&c, id).await,
            json!({"queued": 0, "sent": 0, "failed": 0, "waiting_for_coverage": 2, "unsubscribed_skipped": 1, "expired": 0}),
            "[{name}]"
        );

        // An urgent one does not wait; Bob, unsubscribed, does not get it either.
        let urgent = "VPN down now";
        let urgent_id = announce(&c, vpn(true, urgent)).await;
        let report = s.run(saturday + chrono::Duration::minutes(5), 5).await;
        assert_eq!(report.queued, 2, "[{name}] {report:?}");
        assert_eq!(
            count(&c.telegram.accepted_to(ANN), urgent),
            1,
            "[{name}] Ann at once"
        );
        assert_eq!(
            count(&discord_texts(&c, &dm_channel_of(DEE)), urgent),
            1,
            "[{name}] Dee at once"
        );
        assert_eq!(
            count(&c.telegram.accepted_to(BOB), urgent),
            0,
            "[{name}] Bob unsubscribed"
        );
        assert_eq!(counts(&c, urgent_id).await["sent"], 2, "[{name}]");

        // Monday: one minute before the window, still nothing; at 07:00 the waiting ones go.
        let monday = at(2030, 1, 7, 7, 0);
        let early = s.run(monday - chrono::Duration::minutes(1), 0).await;
        assert_eq!(early.released, 0, "[{name}]");
        assert_eq!(
            count(&c.telegram.accepted_to(ANN), title),
            0,
            "[{name}] not before 07:00"
        );
        let open = s.run(monday, 5).await;
        assert_eq!(open.released, 2, "[{name}] {open:?}");
        assert_eq!(
            count(&c.telegram.accepted_to(ANN), title),
            1,
            "[{name}] Ann at 07:00"
        );
        assert_eq!(
            count(&discord_texts(&c, &dm_channel_of(DEE)), title),
            1,
            "[{name}] Dee at 07:00"
        );
        assert_eq!(
            count(&c.telegram.accepted_to(BOB), title),
            0,
            "[{name}] never Bob"
        );

        // Dee says "unsubscribe" on Discord; a new announcement skips her, reaches Ann.
        c.discord.dispatch(
            "MESSAGE_CREATE",
            fake_discord::message(
                "100000000000000201",
                &dm_channel_of(DEE),
                (DEE, "Dee"),
                "unsubscribe",
            ),
        );
        c.discord
            .until("Dee's unsubscribe confirmation", 20, |d| {
                (count(
                    &d.accepted_texts_to(&dm_channel_of(DEE)),
                    "no more announcements",
                ) == 1)
                    .then_some(())
            })
            .await;
        let later = "Expenses portal moves";
        let later_id = announce(&c, vpn(false, later)).await;
        s.run(monday + chrono::Duration::hours(1), 5).await;
        assert_eq!(count(&c.telegram.accepted_to(ANN), later), 1, "[{name}]");
        assert_eq!(
            count(&discord_texts(&c, &dm_channel_of(DEE)), later),
            0,
            "[{name}] Dee unsubscribed"
        );
        assert_eq!(
            counts(&c, later_id).await,
            json!({"queued": 0, "sent": 1, "failed": 0, "waiting_for_coverage": 0, "unsubscribed_skipped": 2, "expired": 0}),
            "[{name}]"
        );
        assert_eq!(
            counts(&c, id).await,
            json!({"queued": 0, "sent": 2, "failed": 0, "waiting_for_coverage": 0, "unsubscribed_skipped": 1, "expired": 0}),
            "[{name}]"
        );
        c.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_from_the_announced_article_mentions_it_and_bad_requests_are_refused() {
    for (name, store, _dir) in backends("announce_answer").await {
        let c = Channels::start(
            store,
            Options {
                worker: false,
                ..Options::default()
            },
        )
        .await;
        let ends = (Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
        let body = |title: &str, client: &str| {
            json!({
                "title": title,
                "text": "Self-service resets are off until 14:00; call the service desk meanwhile.",
                "clients": [client], "channels": ["web"], "article_id": "it-password-reset",
                "ends_at": ends,
            })
        };
        announce(&c, body("Password resets paused", "ACME")).await;
        announce(&c, body("GLOBEX password notice", "GLOBEX")).await;

        let answer = web_say(&c, "announce-web-1", "how do I reset my password").await;
        let text = answer["replies"][0]["text"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert_eq!(answer["intent"], "it-password-reset", "[{name}] {answer}");
        assert!(
            text.contains("Announcement: **Password resets paused**"),
            "[{name}] {text}"
        );
        assert!(
            !text.contains("GLOBEX password notice"),
            "[{name}] another client's: {text}"
        );
        let other = web_say(&c, "announce-web-2", "how do I submit an expense claim").await;
        assert!(
            !other.to_string().contains("Announcement:"),
            "[{name}] another article's answer says nothing of it: {other}"
        );

        // The banner endpoint: ACME's visitor sees ACME's, not GLOBEX's.
        let banners: Value = reqwest::Client::new()
            .get(format!("{}/api/v1/announcements", c.server.url))
            .bearer_auth(channels::token("ann@acme.example", Some("ACME"), None))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let titles: Vec<&str> = banners
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|b| b["title"].as_str())
            .collect();
        assert_eq!(titles, vec!["Password resets paused"], "[{name}]");

        // Mistakes get a 4xx with the reason.
        let post = |b: Value| {
            api(
                &c,
                reqwest::Method::POST,
                "/api/v1/admin/announcements",
                Some(b),
            )
        };
        let ok = body("x", "ACME");
        let with = |k: &str, v: Value| {
            let mut b = ok.clone();
            b[k] = v;
            b
        };
        for (bad, reason) in [
            (
                with("starts_at", json!("2031-01-01T00:00:00Z")),
                "is not after starts_at",
            ),
            (with("clients", json!(["NOPE"])), "unknown client \"NOPE\""),
            (
                with("article_id", json!("no-such-article")),
                "unknown article",
            ),
            (with("text", json!("   ")), "text is empty"),
            (with("channels", json!(["fax"])), "unknown channel \"fax\""),
            (
                with("ends_at", json!("2020-01-01T00:00:00Z")),
                "in the past",
            ),
        ] {
            let (status, e) = post(bad).await;
            assert_eq!(status, 422, "[{name}] {e}");
            assert!(
                e["error"].as_str().unwrap_or_default().contains(reason),
                "[{name}] {e}"
            );
        }
        let (status, _) = api(
            &c,
            reqwest::Method::GET,
            "/api/v1/admin/announcements/9999",
            None,
        )
        .await;
        assert_eq!(status, 404, "[{name}]");
        let unauthenticated = reqwest::Client::new()
            .get(format!("{}/api/v1/admin/announcements", c.server.url))
            .send()
            .await
            .unwrap();
        assert_eq!(unauthenticated.status(), 401, "[{name}]");

        // Ended early: the banner goes, and the answer no longer mentions it.
        let (_, list) = api(
            &c,
            reqwest::Method::GET,
            "/api/v1/admin/announcements",
            None,
        )
        .await;
        let acme = list
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["title"] == "Password resets paused")
            .unwrap()["id"]
            .as_i64()
            .unwrap();
        let (status, ended) = api(
            &c,
            reqwest::Method::DELETE,
            &format!("/api/v1/admin/announcements/{acme}"),
            None,
        )
        .await;
        assert_eq!(
            (status, ended["status"].as_str()),
            (200, Some("ended")),
            "[{name}] {ended}"
        );
        let (status, _) = api(
            &c,
            reqwest::Method::DELETE,
            &format!("/api/v1/admin/announcements/{acme}"),
            None,
        )
        .await;
        assert_eq!(status, 409, "[{name}] already ended");
        let answer = web_say(&c, "announce-web-3", "how do I reset my password").await;
        assert!(
            !answer.to_string().contains("Announcement:"),
            "[{name}] {answer}"
        );
        c.stop().await;
    }
}
