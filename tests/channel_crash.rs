//! A manager's answer survives `kill -9`: the real `frontdoor serve` binary, with Telegram and
//! Discord pointed at the fake servers, takes a Telegram client's and a Discord client's
//! escalations; the manager answers both over the HTTP API; the fakes hold the sends to the
//! clients, and the server is killed with SIGKILL while they hang. Restarted on the same
//! SQLite file, the outbox delivers each answer, and each client gets it exactly once.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chrono::Utc;
use common::fake_discord::{self, FakeDiscord};
use common::fake_telegram::{self, Answer, FakeTelegram};
use frontdoor::store::{ChannelState, Outbox, SqliteStore, Store};

const ADMIN: &str = "crash-test-admin-token-0123456789";
const TELEGRAM_TOKEN: &str = "123456:fake-telegram-token";
const GUILD: &str = "800000000000000001";
const GUILD_CHANNEL: &str = "810000000000000001";
const TESS: i64 = 710_001;
const DANA: &str = "620000000000000002";

struct Server {
    child: Child,
    url: String,
}

fn start(data: &Path, content: &Path, config: &Path, telegram: &str, discord: &str) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_frontdoor"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(data)
        .arg("--content")
        .arg(content)
        .arg("--config")
        .arg(config)
        .env_clear()
        .env(
            "FRONTDOOR_LOG",
            "info,sqlx=warn,tower_http=warn,serenity=warn",
        )
        .env("NO_COLOR", "1")
        .env("FRONTDOOR_ADMIN_TOKEN", ADMIN)
        .env("TELEGRAM_BOT_TOKEN", TELEGRAM_TOKEN)
        .env("FRONTDOOR_TELEGRAM_API_URL", telegram)
        .env("DISCORD_BOT_TOKEN", "fake-discord-token")
        .env("FRONTDOOR_DISCORD_API_URL", discord)
        .env("FRONTDOOR_DISCORD_GUILD_CLIENTS", format!("{GUILD}=ACME"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start frontdoor serve");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(at) = line.find("listening: http://") {
                let rest = &line[at + "listening: ".len()..];
                let url = rest.split_whitespace().next().unwrap_or_default();
                if let Some(tx) = tx.take() {
                    let _ = tx.send(url.trim_end_matches('/').to_string());
                }
            }
            if line.contains("ERROR") || line.contains("panicked") || line.contains("relay") {
                eprintln!("server: {line}");
            }
        }
    });
    let url = rx
        .recv_timeout(Duration::from_secs(120))
        .expect("the server reports its address");
    Server { child, url }
}

fn config_file(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("frontdoor.toml");
    std::fs::write(
        &path,
        r#"
reload_interval_secs = 0

# Quick retries, short leases (a killed worker's claim lapses fast), never give up.
[escalation]
max_attempts = 100000
backoff_base_ms = 50
backoff_max_secs = 1
lease_secs = 1
timeout_secs = 30
poll_interval_ms = 100
"#,
    )
    .expect("write config");
    path
}

async fn conversation(store: &dyn Store, channel: &str, session: &str) -> String {
    let wait = async {
        loop {
            if let Some(c) = store.turn_context(channel, session).await.unwrap() {
                return c.conversation.id;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(30), wait)
        .await
        .expect("the conversation stored")
}

async fn escalation(store: &dyn Store, conversation: &str) -> i64 {
    let wait = async {
        loop {
            if let Some(e) = store
                .escalations_of_conversation(conversation)
                .await
                .unwrap()
                .first()
            {
                return e.id;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(30), wait)
        .await
        .expect("the escalation stored")
}

fn count(texts: &[String], needle: &str) -> usize {
    texts.iter().filter(|t| t.contains(needle)).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_in_flight_at_kill_9_arrives_once_after_the_restart() {
    let (telegram, telegram_url) = FakeTelegram::start().await;
    let (discord, discord_url) = FakeDiscord::start().await;
    let content = common::content_copy();
    // Priya's pings go to Telegram (the fake accepts them); nothing on 9009.
    common::set_acme_primary_routes(content.path(), "telegram_chat = 100200300");
    let data = tempfile::tempdir().unwrap();
    let config = config_file(data.path());
    let store = SqliteStore::open(&data.path().join("frontdoor.db"))
        .await
        .expect("the SQLite file");
    let mut server = start(
        data.path(),
        content.path(),
        &config,
        &telegram_url,
        &discord_url,
    );
    discord
        .until("the Discord bot to identify", 60, |d| {
            d.identified().then_some(())
        })
        .await;
    // A link code for ACME (the server has seeded the clients by now).
    let now = Utc::now().timestamp_millis();
    store
        .create_link_code("crashlink", "ACME", now + 3_600_000, now)
        .await
        .unwrap();

    // A Telegram client of ACME and a Discord one ask for a person.
    telegram.push(fake_telegram::text_update(
        1,
        TESS,
        "Tess",
        "/start crashlink",
    ));
    telegram
        .until("the link", 30, |t| {
            (count(&t.accepted_to(TESS), "now linked") == 1).then_some(())
        })
        .await;
    let before = telegram.accepted_to(TESS).len();
    telegram.push(fake_telegram::text_update(
        2,
        TESS,
        "Tess",
        "I want to talk to a real person please",
    ));
    telegram
        .until("Tess's answer", 30, |t| {
            (t.accepted_to(TESS).len() > before).then_some(())
        })
        .await;
    let mut guild_message = fake_discord::message(
        "130000000000000009",
        GUILD_CHANNEL,
        (DANA, "Dana"),
        &format!(
            "<@{}> I want to talk to a real person please",
            fake_discord::BOT_ID
        ),
    );
    guild_message["guild_id"] = serde_json::json!(GUILD);
    guild_message["mentions"] =
        serde_json::json!([fake_discord::user(fake_discord::BOT_ID, "frontdoor", true)]);
    discord.dispatch("MESSAGE_CREATE", guild_message);
    discord
        .until("Dana's answer", 30, |d| {
            (!d.accepted_to(GUILD_CHANNEL).is_empty()).then_some(())
        })
        .await;
    let tess_escalation = escalation(
        &store,
        &conversation(&store, "telegram", &TESS.to_string()).await,
    )
    .await;
    let dana_escalation = escalation(
        &store,
        &conversation(&store, "discord", &format!("{GUILD_CHANNEL}:{DANA}")).await,
    )
    .await;

    // The next sends to the clients hang; the manager answers both.
    telegram.script(TESS, [Answer::Hold]);
    discord.script(GUILD_CHANNEL, [fake_discord::Answer::Hold]);
    let (tess_attempts, dana_attempts) = (
        telegram.attempts_to(TESS),
        discord.attempts_to(GUILD_CHANNEL),
    );
    let answers = [
        (tess_escalation, "For Tess: the claim is paid on Friday."),
        (dana_escalation, "For Dana: your laptop ships today."),
    ];
    for (id, text) in answers {
        let url = format!("{}/api/v1/escalations/{id}/reply", server.url);
        // The call hangs with the send; the kill cuts it off. Its answer does not matter: the
        // action was committed before the send began.
        tokio::spawn(async move {
            let _ = reqwest::Client::new()
                .post(url)
                .bearer_auth(ADMIN)
                .json(&serde_json::json!({ "text": text }))
                .send()
                .await;
        });
    }
    telegram
        .until("the held send to Tess", 30, |t| {
            (t.attempts_to(TESS) > tess_attempts).then_some(())
        })
        .await;
    discord
        .until("the held send to Dana", 30, |d| {
            (d.attempts_to(GUILD_CHANNEL) > dana_attempts).then_some(())
        })
        .await;
    server.child.kill().expect("kill -9");
    server.child.wait().unwrap();
    assert_eq!(count(&telegram.accepted_to(TESS), answers[0].1), 0);
    assert_eq!(
        count(&discord.accepted_texts_to(GUILD_CHANNEL), answers[1].1),
        0
    );

    // Restart on the same file: the outbox delivers each answer once.
    let mut server = start(
        data.path(),
        content.path(),
        &config,
        &telegram_url,
        &discord_url,
    );
    telegram
        .until("Tess's answer after the restart", 60, |t| {
            (count(&t.accepted_to(TESS), answers[0].1) >= 1).then_some(())
        })
        .await;
    discord
        .until("Dana's answer after the restart", 60, |d| {
            (count(&d.accepted_texts_to(GUILD_CHANNEL), answers[1].1) >= 1).then_some(())
        })
        .await;
    // Every relay row recorded as delivered: nothing left that could send it again.
    for (id, _) in answers {
        let wait = async {
            loop {
                let rows = store
                    .outbox_by_key_prefix(&format!("escalation-{id}-relay-"))
                    .await
                    .unwrap();
                if !rows.is_empty() && rows.iter().all(|r| r.status == "delivered") {
                    return rows;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        };
        let rows = tokio::time::timeout(Duration::from_secs(30), wait)
            .await
            .expect("the relay recorded as delivered");
        assert_eq!(rows.len(), 1, "{rows:#?}");
    }
    assert_eq!(count(&telegram.accepted_to(TESS), answers[0].1), 1);
    assert_eq!(
        count(&discord.accepted_texts_to(GUILD_CHANNEL), answers[1].1),
        1
    );
    let status = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(server.child.wait().unwrap().success());
}
