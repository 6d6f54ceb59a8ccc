//! Two replicas under load, each killed once: the real `frontdoor serve` binary twice on one
//! PostgreSQL database, a minute of mixed traffic from clients that alternate between them,
//! and `kill -9` of one replica, then of the other, with requests in flight.
//!
//! - Web users run conversations, each message with a `message_id`, message k of a
//!   conversation to replica k % 2 (so every conversation's turns alternate between the two
//!   processes): an FAQ answer, "Yes", then the pulse survey; a vendor set-up form through to
//!   its `REQ-` reference; "talk to a real person", after which Priya (ACME's account manager)
//!   gets the ping at her webhook (a receiver in the test), resolves the escalation through the
//!   API, and the user answers the survey that follows.
//! - One Telegram chat in webhook mode (the fake Bot API of `tests/common/fake_telegram.rs`)
//!   runs vendor set-up forms the same way, its updates alternating between the replicas.
//! - Whatever fails — a refused connection, an answer cut by the kill, a 503 — is sent again
//!   with the same `message_id` (update, `Idempotency-Key`) to the other replica, as a client,
//!   a load balancer or Telegram does.
//! - At a third of the run replica 1 is killed (once 3 requests are in flight to it), is down
//!   for 3 s while replica 0 takes everything, and restarts on the same database; at two thirds
//!   the same happens to replica 0.
//!
//! Then, read from PostgreSQL directly: every message that got a 200 is stored once, under its
//! `message_id`, with the outcome and number of replies it was answered with; every
//! conversation's turns are exactly the messages its client sent, in order, once each, and its
//! version counts them; every form's request holds the inputs that conversation gave; every
//! survey answered is recorded once; every escalation was pinged and each ping delivered once —
//! except where a killed replica had sent it and died before recording it (see
//! [`pings_are_delivered_once`]); the Telegram chat's updates were each processed once and in
//! order, and its replies delivered.
//!
//! Needs PostgreSQL (`FRONTDOOR_TEST_POSTGRES_URL`); without it the test says so loudly and
//! passes, and fails when `FRONTDOOR_TEST_REQUIRE` names `postgres` (as CI does).
//! `FRONTDOOR_TEST_REPLICAS_SECS` sets how long the traffic runs (60 s by default).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::fake_telegram::{FakeTelegram, text_update};
use common::serve::Served;
use common::wait::{until, until_async};
use common::webhook::{Hit, Webhook};
use frontdoor::store::{ChannelState, Conversations, Escalations, PgStore, SurveyRow};
use serde_json::{Value, json};
use sqlx::PgPool;
use tokio::time::Instant;

const TELEGRAM_TOKEN: &str = "123456:fake-telegram-token";
const TELEGRAM_HOOK_SECRET: &str = "replicas-telegram-hook-secret";
/// Ann's Telegram user id (and so her private chat's id).
const ANN_TELEGRAM: i64 = 424_242;
const LINK_CODE: &str = "acme-under-load";
/// Web users chatting at once (the Telegram chat comes on top).
const USERS: usize = 8;

/// How long the traffic runs: `FRONTDOOR_TEST_REPLICAS_SECS`, 60 s unless set.
fn traffic() -> Duration {
    let secs = std::env::var("FRONTDOOR_TEST_REPLICAS_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    Duration::from_secs(secs)
}

/// The webhook signing secret of the `n`th process started: each has its own, so the receiver
/// can tell which process sent a ping.
fn signing_secret(n: usize) -> String {
    format!("replica-process-{n}-signing-secret")
}

/// What every replica is started with.
struct Launch {
    database_url: String,
    content: PathBuf,
    config: PathBuf,
    data: PathBuf,
    telegram_api: String,
}

impl Launch {
    /// Start process number `n` (its own signing secret) on the shared database.
    fn start(&self, n: usize) -> Served {
        let args = [
            OsStr::new("--data-dir"),
            self.data.as_os_str(),
            OsStr::new("--content"),
            self.content.as_os_str(),
            OsStr::new("--config"),
            self.config.as_os_str(),
        ];
        let secret = signing_secret(n);
        common::serve::serve(
            &format!("replica process {n}"),
            &args,
            &[
                ("FRONTDOOR_DATABASE_URL", self.database_url.as_str()),
                ("FRONTDOOR_ADMIN_TOKEN", common::ADMIN_TOKEN),
                ("FRONTDOOR_WEBHOOK_SECRET", secret.as_str()),
                ("TELEGRAM_BOT_TOKEN", TELEGRAM_TOKEN),
                ("FRONTDOOR_TELEGRAM_API_URL", self.telegram_api.as_str()),
                (
                    "FRONTDOOR_TELEGRAM_WEBHOOK_URL",
                    "https://frontdoor.example/telegram/webhook",
                ),
                ("FRONTDOOR_TELEGRAM_WEBHOOK_SECRET", TELEGRAM_HOOK_SECRET),
            ],
        )
    }
}

fn config_file(dir: &Path) -> PathBuf {
    let path = dir.join("frontdoor.toml");
    std::fs::write(
        &path,
        r#"
reload_interval_secs = 0

# The test floods from one address: no rate limits.
[web]
per_ip_burst = 1000000
per_ip_per_minute = 100000000
per_session_burst = 1000000
per_session_per_minute = 100000000

# Quick polls and retries. A claim is leased for 10 s: longer than any attempt can take
# (timeout 5 s), so two live replicas never hold one ping, and short enough that a killed
# replica's claims lapse well within the run.
[escalation]
max_attempts = 100000
backoff_base_ms = 50
backoff_max_secs = 1
lease_secs = 10
timeout_secs = 5
poll_interval_ms = 100
"#,
    )
    .expect("write config");
    path
}

/// `url` (the test database) with every connection's search path set to `schema`: how the
/// replicas, which take only a URL, share the test's fresh schema.
fn in_schema(url: &str, schema: &str) -> String {
    let mut u = reqwest::Url::parse(url).expect("database URL");
    u.query_pairs_mut()
        .append_pair("options[search_path]", schema);
    u.to_string()
}

/// One replica as the clients see it (what a load balancer keeps): its address while it is
/// up, and how many requests are on their way to it.
#[derive(Default)]
struct Slot {
    url: Mutex<Option<String>>,
    in_flight: AtomicUsize,
}

/// How the attempts went, over the whole run.
#[derive(Debug, Default)]
struct Tally {
    /// Messages, updates and manager actions that got their 200.
    answered: usize,
    /// Of those, how many took more than one attempt.
    retried: usize,
    /// Of those, how many were answered from the log (`"duplicate": true`): the first attempt
    /// had been committed by a replica that was killed before it could answer.
    from_log: usize,
    /// Attempts cut off: connection refused or reset, an answer cut short.
    cut: usize,
    /// Attempts answered 503 (a replica's pool losing a connection, say).
    unavailable: usize,
    /// Attempts answered 409 (a conversation busy on the other replica for too long).
    busy: usize,
    /// Requests in flight on each replica as it was killed.
    killed_in_flight: Vec<usize>,
}

/// A client of the two replicas.
#[derive(Clone)]
struct Client {
    http: reqwest::Client,
    replicas: Arc<Vec<Slot>>,
    tally: Arc<Mutex<Tally>>,
}

impl Client {
    /// The replica for attempt `k`: replica k % 2 when it is up, else the other one.
    async fn pick(&self, k: usize) -> (usize, String) {
        loop {
            for j in 0..self.replicas.len() {
                let i = (k + j) % self.replicas.len();
                if let Some(url) = self.replicas[i].url.lock().unwrap().clone() {
                    return (i, url);
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Send `request` (built on a replica's base URL) as message `k` of its conversation until
    /// it gets a 200: a refused connection, a cut answer or a 503 is sent again to the other
    /// replica after a short pause (a 409 too, when `busy_is_retried`). Any other status fails
    /// the test. The 200's JSON body, and how many attempts it took.
    async fn send(
        &self,
        k: usize,
        what: &str,
        busy_is_retried: bool,
        request: impl Fn(&reqwest::Client, &str) -> reqwest::RequestBuilder,
    ) -> (Value, usize) {
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            let (i, url) = self.pick(k + attempt).await;
            let slot = &self.replicas[i];
            slot.in_flight.fetch_add(1, Ordering::SeqCst);
            let answer = match request(&self.http, &url).send().await {
                Ok(r) => {
                    let status = r.status().as_u16();
                    r.bytes().await.map(|body| (status, body))
                }
                Err(e) => Err(e),
            };
            slot.in_flight.fetch_sub(1, Ordering::SeqCst);
            let why = match answer {
                Ok((200, body)) => {
                    let v: Value = serde_json::from_slice(&body)
                        .unwrap_or_else(|e| panic!("{what}: a 200 that is not JSON: {e}"));
                    let mut t = self.tally.lock().unwrap();
                    t.answered += 1;
                    if attempt > 0 {
                        t.retried += 1;
                    }
                    if v["duplicate"] == true {
                        t.from_log += 1;
                    }
                    return (v, attempt + 1);
                }
                Ok((503, _)) => {
                    self.tally.lock().unwrap().unavailable += 1;
                    "503".to_string()
                }
                Ok((409, body)) if busy_is_retried => {
                    self.tally.lock().unwrap().busy += 1;
                    format!("409 {}", String::from_utf8_lossy(&body))
                }
                Ok((status, body)) => panic!(
                    "{what}: {status} {} from replica {i}",
                    String::from_utf8_lossy(&body)
                ),
                Err(e) => {
                    self.tally.lock().unwrap().cut += 1;
                    format!("{e}")
                }
            };
            attempt += 1;
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "{what}: no 200 after {attempt} attempts in 2 minutes; the last: {why}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// A message that got a 200.
#[derive(Clone, Debug)]
struct Answered {
    message_id: String,
    outcome: String,
    replies: usize,
}

/// The vendor set-up inputs one conversation gives, distinct per conversation, so a request
/// holding another conversation's answers (or a mix) shows.
#[derive(Clone, Debug)]
struct Vendor {
    name: String,
    vat: String,
    email: String,
}

impl Vendor {
    fn numbered(n: usize) -> Vendor {
        Vendor {
            name: format!("Widgets {n:04} Ltd"),
            vat: format!("GB{n:09}"),
            email: format!("ap{n}@widgets.example"),
        }
    }

    /// The form, from asking for it to submitting its summary.
    fn script(&self) -> [&str; 7] {
        [
            "I need a new vendor set up in the system",
            &self.name,
            &self.vat,
            "Vendor will email",
            &self.email,
            "Goods",
            "Submit",
        ]
    }

    /// Whether a request's stored inputs are exactly these answers.
    fn check(&self, inputs: &str, reference: &str) {
        let inputs: Value = serde_json::from_str(inputs).expect("inputs are JSON");
        assert_eq!(
            inputs["vendor_name"],
            self.name.as_str(),
            "{reference}: {inputs}"
        );
        assert_eq!(
            inputs["vat_number"],
            self.vat.as_str(),
            "{reference}: {inputs}"
        );
        assert_eq!(
            inputs["contact_email"],
            self.email.as_str(),
            "{reference}: {inputs}"
        );
        assert_eq!(inputs["category"], "Goods", "{reference}: {inputs}");
        assert!(
            inputs["bank_details_evidence"]
                .as_str()
                .is_some_and(|e| e.starts_with("Vendor will email")),
            "{reference}: {inputs}"
        );
    }
}

/// What a conversation should have left behind besides its turns.
#[derive(Debug)]
enum Story {
    /// An answer, "Yes", and the self-service survey: 5, no comment.
    Faq,
    /// The vendor form, submitted as this request.
    Form { vendor: Vendor, reference: String },
    /// An escalation, resolved by Priya; its survey answered 4 with this comment.
    Escalation { id: i64, comment: String },
}

/// One web conversation as its client saw it.
#[derive(Debug)]
struct Conversation {
    id: String,
    /// The ids of its inbound turns, in order: the client's messages and Priya's action.
    turns: Vec<String>,
    answered: Vec<Answered>,
    story: Story,
}

/// A web user's side of one conversation.
struct Chat<'a> {
    client: &'a Client,
    session: String,
    user: Value,
    conversation: String,
    turns: Vec<String>,
    answered: Vec<Answered>,
}

impl<'a> Chat<'a> {
    fn new(client: &'a Client, session: String) -> Self {
        let user =
            json!({"id": format!("{session}@acme.example"), "name": "Ann Lee", "client": "ACME"});
        Chat {
            client,
            session,
            user,
            conversation: String::new(),
            turns: Vec::new(),
            answered: Vec::new(),
        }
    }

    async fn say(&mut self, text: &str) -> Value {
        self.send(json!({"text": text})).await
    }

    async fn press(&mut self, payload: &str) -> Value {
        self.send(json!({"payload": payload})).await
    }

    /// Send the conversation's next message (with its `message_id`; the user with the first)
    /// to the replica its number picks, until it is answered.
    async fn send(&mut self, mut body: Value) -> Value {
        let k = self.turns.len();
        let message_id = format!("{}-m{k}", self.session);
        body["session"] = json!(self.session);
        body["message_id"] = json!(message_id);
        if k == 0 {
            body["user"] = self.user.clone();
        }
        let (v, _) = self
            .client
            .send(k, &message_id, true, |http, url| {
                http.post(format!("{url}/api/v1/chat")).json(&body)
            })
            .await;
        self.conversation = v["conversation"]
            .as_str()
            .expect("conversation")
            .to_string();
        self.turns.push(message_id.clone());
        self.answered.push(Answered {
            message_id,
            outcome: v["outcome"].as_str().unwrap_or_default().to_string(),
            replies: v["replies"].as_array().map_or(0, Vec::len),
        });
        v
    }

    fn done(self, story: Story) -> Conversation {
        Conversation {
            id: self.conversation,
            turns: self.turns,
            answered: self.answered,
            story,
        }
    }
}

fn texts(v: &Value) -> String {
    v["replies"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| r["text"].as_str().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

/// "How do I reset my password" — the article — "Yes" — the survey: 5, and no comment.
async fn faq(client: &Client, session: String) -> Conversation {
    let mut ann = Chat::new(client, session);
    let answer = ann.say("how do I reset my password").await;
    assert_eq!(answer["outcome"], "answered", "{answer}");
    let glad = ann.press("yes").await;
    assert_eq!(glad["outcome"], "survey", "{glad}");
    let thanks = ann.press("survey:5").await;
    assert_eq!(thanks["outcome"], "survey", "{thanks}");
    let skipped = ann.press("skip").await;
    assert_eq!(skipped["outcome"], "survey", "{skipped}");
    ann.done(Story::Faq)
}

/// The vendor set-up form, one answer per message, through to its reference.
async fn form(client: &Client, session: String, vendor: Vendor) -> Conversation {
    let mut ann = Chat::new(client, session);
    let script = vendor.script();
    let mut last = Value::Null;
    for (i, text) in script.iter().enumerate() {
        last = ann.say(text).await;
        if i + 1 < script.len() {
            assert_eq!(last["outcome"], "prompt", "{text:?} → {last}");
        }
    }
    assert_eq!(last["outcome"], "request_opened", "{last}");
    let reference = regex::Regex::new(r"REQ-\d+")
        .unwrap()
        .find(&texts(&last))
        .unwrap_or_else(|| panic!("a reference in {last}"))
        .as_str()
        .to_string();
    ann.done(Story::Form { vendor, reference })
}

/// "Talk to a real person"; Priya gets the ping and resolves the escalation through the API
/// (retried with one `Idempotency-Key`); Ann answers the survey that follows, with a comment.
async fn escalation(client: &Client, priya: &Webhook, session: String) -> Conversation {
    let mut ann = Chat::new(client, session);
    let hello = ann.say("hello").await;
    assert_eq!(hello["outcome"], "smalltalk", "{hello}");
    let passed = ann.say("I want to talk to a real person please").await;
    assert_eq!(passed["outcome"], "escalated", "{passed}");
    let conversation = ann.conversation.clone();
    // A minute and a half: a ping claimed by a replica that was then killed waits for its
    // lease (10 s) to lapse before the other replica sends it.
    let ping = until_async("Priya's ping", Duration::from_secs(90), || async {
        ping_about(priya, &conversation)
    })
    .await;
    let id = ping["escalation_id"].as_i64().expect("escalation_id");
    let key = format!("resolve-{id}");
    let (resolved, _) = client
        .send(ann.turns.len(), &key, false, |http, url| {
            http.post(format!("{url}/api/v1/escalations/{id}/resolve"))
                .bearer_auth(common::ADMIN_TOKEN)
                .header("Idempotency-Key", &key)
        })
        .await;
    assert_eq!(resolved["status"], "resolved", "{resolved}");
    assert!(
        texts(&resolved).contains("How would you rate"),
        "the resolution asks for the survey: {resolved}"
    );
    ann.turns.push(format!("manager:{id}:resolve:{key}"));
    let thanks = ann.press("survey:4").await;
    assert_eq!(thanks["outcome"], "survey", "{thanks}");
    let comment = format!("Priya sorted it out the same day ({id})");
    let noted = ann.say(&comment).await;
    assert_eq!(noted["outcome"], "survey", "{noted}");
    ann.done(Story::Escalation { id, comment })
}

/// The first ping Priya's webhook got about `conversation`.
fn ping_about(priya: &Webhook, conversation: &str) -> Option<Value> {
    let needle = conversation.as_bytes();
    priya
        .hits("/hooks/priya")
        .iter()
        .find(|h| h.body.windows(needle.len()).any(|w| w == needle))
        .map(Hit::json)
}

/// A web user: conversations one after another (FAQ, form, escalation in turn, each as a new
/// user so the survey is not held back as asked too recently) until `deadline`.
async fn user(id: usize, client: Client, priya: Webhook, deadline: Instant) -> Vec<Conversation> {
    let mut done = Vec::new();
    for n in 0.. {
        if Instant::now() >= deadline {
            break;
        }
        let session = format!("u{id}-c{n}");
        let c = match (id + n) % 3 {
            0 => faq(&client, session).await,
            1 => form(&client, session, Vendor::numbered(id * 1000 + n)).await,
            _ => escalation(&client, &priya, session).await,
        };
        done.push(c);
    }
    done
}

/// What the Telegram chat sent: every update id in order, each form's vendor with the id of
/// its "Submit" update, and how many times each redelivered update was delivered in all.
#[derive(Debug, Default)]
struct TelegramChat {
    updates: Vec<i64>,
    forms: Vec<(Vendor, i64)>,
    redelivered: BTreeMap<i64, usize>,
}

impl TelegramChat {
    /// Ann's next message, as update k to replica k % 2, delivered again to the other one
    /// until it is answered 200 (what Telegram does with a webhook that fails).
    async fn send(&mut self, client: &Client, text: &str) {
        let k = self.updates.len();
        let id = 1000 + k as i64;
        let update = text_update(id, ANN_TELEGRAM, "Ann", text);
        let (_, deliveries) = client
            .send(k, &format!("update {id}"), false, |http, url| {
                http.post(format!("{url}/telegram/webhook"))
                    .header("X-Telegram-Bot-Api-Secret-Token", TELEGRAM_HOOK_SECRET)
                    .json(&update)
            })
            .await;
        if deliveries > 1 {
            self.redelivered.insert(id, deliveries);
        }
        self.updates.push(id);
    }
}

/// Ann on Telegram: `/start` with her link code, then vendor set-up forms until `deadline`.
async fn telegram(client: Client, deadline: Instant) -> TelegramChat {
    let mut chat = TelegramChat::default();
    chat.send(&client, &format!("/start {LINK_CODE}")).await;
    for n in 0.. {
        if Instant::now() >= deadline {
            break;
        }
        let vendor = Vendor::numbered(900_000 + n);
        for text in vendor.script() {
            chat.send(&client, text).await;
        }
        let submit = *chat.updates.last().expect("the form's updates");
        chat.forms.push((vendor, submit));
    }
    chat
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_under_load_each_killed_once_lose_and_double_nothing() {
    let Some(url) = common::postgres_url("two_replicas_under_load") else {
        return;
    };
    let schema = common::unique_schema("replicas_load");
    let store = common::postgres_store(&url, &schema).await;
    let database_url = in_schema(&url, &schema);
    let db = PgPool::connect(&database_url)
        .await
        .expect("the test's own connection to the schema");

    // Priya takes pings at her webhook only.
    let (priya, priya_url) = Webhook::start().await;
    let content = common::content_copy();
    common::set_acme_primary_routes(
        content.path(),
        &format!("webhook = \"{priya_url}/hooks/priya\""),
    );
    let (bot_api, telegram_api) = FakeTelegram::start().await;
    let data = tempfile::tempdir().unwrap();
    let launch = Arc::new(Launch {
        database_url,
        content: content.path().to_path_buf(),
        config: config_file(data.path()),
        data: data.path().to_path_buf(),
        telegram_api,
    });

    // Two replicas, started one after the other (the first migrates the schema).
    let replicas: Arc<Vec<Slot>> = Arc::new((0..2).map(|_| Slot::default()).collect());
    let mut processes = Vec::new();
    for (n, slot) in replicas.iter().enumerate() {
        let p = launch.start(n);
        *slot.url.lock().unwrap() = Some(p.url.clone());
        processes.push((n, p));
    }
    // Ann's link code, for the client the replicas seeded.
    let now = chrono::Utc::now().timestamp_millis();
    store
        .create_link_code(LINK_CODE, "ACME", now + 3_600_000, now)
        .await
        .unwrap();
    let client = Client {
        http: reqwest::Client::builder()
            // A live replica answers in milliseconds; a minute only turns a hang into a
            // failure the client retries elsewhere.
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap(),
        replicas: replicas.clone(),
        tally: Arc::default(),
    };

    let started = Instant::now();
    let deadline = started + traffic();
    let users: Vec<_> = (0..USERS)
        .map(|id| tokio::spawn(user(id, client.clone(), priya.clone(), deadline)))
        .collect();
    let ann_on_telegram = tokio::spawn(telegram(client.clone(), deadline));

    // Replica 1 killed at a third of the run, replica 0 at two thirds, each with requests in
    // flight, each down for 3 s (the other takes everything) and then back on the database.
    let mut killed = BTreeSet::new();
    for (round, victim) in [(1u32, 1usize), (2, 0)] {
        tokio::time::sleep_until(started + traffic() * round / 3).await;
        let slot = &replicas[victim];
        let in_flight = until(
            "three requests in flight to the replica to kill",
            Duration::from_secs(60),
            || {
                let n = slot.in_flight.load(Ordering::SeqCst);
                (n >= 3).then_some(n)
            },
        )
        .await;
        let (n, process) = &mut processes[victim];
        process.kill_9();
        killed.insert(*n);
        *slot.url.lock().unwrap() = None;
        client
            .tally
            .lock()
            .unwrap()
            .killed_in_flight
            .push(in_flight);
        // The fault injected: the replica stays down for 3 s.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let l = launch.clone();
        // Processes 0 and 1 were the first two; the restarts are 2 and 3.
        let n = round as usize + 1;
        let restarted = tokio::task::spawn_blocking(move || l.start(n))
            .await
            .unwrap();
        *slot.url.lock().unwrap() = Some(restarted.url.clone());
        processes[victim] = (n, restarted);
    }

    let mut conversations = Vec::new();
    for u in users {
        conversations.extend(u.await.expect("a web user"));
    }
    let ann = ann_on_telegram.await.expect("the Telegram chat");
    let tally = std::mem::take(&mut *client.tally.lock().unwrap());

    every_answer_is_stored_once(&store, &db, &conversations).await;
    every_conversation_holds_its_turns_once_in_order(&store, &db, &conversations).await;
    every_form_survey_and_escalation_is_whole(&store, &db, &conversations).await;
    let telegram_extra = the_telegram_chat_is_whole(&store, &db, &bot_api, &ann).await;
    let pings = pings_are_delivered_once(&db, &priya, &mut processes, &killed).await;

    let count = |f: fn(&Story) -> bool| conversations.iter().filter(|c| f(&c.story)).count();
    eprintln!(
        "two replicas under load for {:?}, each killed once (requests in flight at the kills: {:?}): \
         {} conversations ({} FAQ + survey, {} forms, {} escalations resolved + survey) and {} Telegram forms; \
         {} messages/updates/actions answered, {} of them retried ({} answered from the log), \
         {} attempts cut by the kills, {} answered 503, {} answered 409; \
         {} pings delivered, {} delivered twice (sent by a killed replica that died before recording it); \
         {} Telegram replies sent twice (redelivered updates)",
        traffic(),
        tally.killed_in_flight,
        conversations.len(),
        count(|s| matches!(s, Story::Faq)),
        count(|s| matches!(s, Story::Form { .. })),
        count(|s| matches!(s, Story::Escalation { .. })),
        ann.forms.len(),
        tally.answered,
        tally.retried,
        tally.from_log,
        tally.cut,
        tally.unavailable,
        tally.busy,
        pings.0,
        pings.1,
        telegram_extra,
    );
    assert!(
        count(|s| matches!(s, Story::Escalation { .. })) >= 2 && !ann.forms.is_empty(),
        "the run had forms, escalations and a Telegram chat"
    );
}

/// Every message that got a 200 is in the store under its `message_id`, with the outcome and
/// the number of replies it was answered with; no `message_id` is stored twice.
async fn every_answer_is_stored_once(store: &PgStore, db: &PgPool, conversations: &[Conversation]) {
    for c in conversations {
        for m in &c.answered {
            let (inbound, replies) = store
                .processed_message("web", &m.message_id)
                .await
                .unwrap()
                .unwrap_or_else(|| panic!("answered message {} is not stored", m.message_id));
            assert_eq!(inbound.conversation_id, c.id, "{}", m.message_id);
            assert_eq!(
                inbound.outcome.as_deref(),
                Some(m.outcome.as_str()),
                "{}",
                m.message_id
            );
            assert_eq!(replies.len(), m.replies, "{}", m.message_id);
        }
    }
    let twice: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT channel, channel_message_id, COUNT(*) FROM messages
         WHERE channel_message_id IS NOT NULL GROUP BY channel, channel_message_id
         HAVING COUNT(*) > 1",
    )
    .fetch_all(db)
    .await
    .unwrap();
    assert!(twice.is_empty(), "message ids stored twice: {twice:?}");
}

/// Each conversation's inbound turns are exactly the messages its client sent (and Priya's
/// action), in order, once each; its version counts its turns (every committed turn adds one
/// and nothing else changes it, `store::writes::commit_turn`) — for every conversation in the
/// database, Telegram's included; and each ended idle, as it would on one server.
async fn every_conversation_holds_its_turns_once_in_order(
    store: &PgStore,
    db: &PgPool,
    conversations: &[Conversation],
) {
    let versions: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT c.id, c.version, COUNT(m.id) FROM conversations c
         LEFT JOIN messages m ON m.conversation_id = c.id AND m.direction = 'in'
         GROUP BY c.id, c.version",
    )
    .fetch_all(db)
    .await
    .unwrap();
    for (id, version, turns) in &versions {
        assert_eq!(
            version, turns,
            "conversation {id}: version {version}, {turns} turns"
        );
    }
    assert_eq!(
        versions.len(),
        conversations.len() + 1,
        "one conversation per web conversation run, and Ann's on Telegram"
    );
    for c in conversations {
        let turns: Vec<String> = store
            .transcript(&c.id)
            .await
            .unwrap()
            .into_iter()
            .filter(|m| m.direction == "in")
            .map(|m| m.channel_message_id.unwrap_or_default())
            .collect();
        assert_eq!(turns, c.turns, "the turns of {}", c.id);
        let state: String = sqlx::query_scalar("SELECT state FROM conversations WHERE id = $1")
            .bind(&c.id)
            .fetch_one(db)
            .await
            .unwrap();
        let state: Value = serde_json::from_str(&state).unwrap();
        assert_eq!(state["state"], "idle", "{} ended {state}", c.id);
    }
}

/// Every reference answered is a request holding exactly that conversation's inputs, and
/// there is no other; every survey answered is recorded once, with its score and comment;
/// every escalation is its conversation's only one, and resolved.
async fn every_form_survey_and_escalation_is_whole(
    store: &PgStore,
    db: &PgPool,
    conversations: &[Conversation],
) {
    let mut forms = 0;
    let mut escalations = 0;
    for c in conversations {
        let surveys: Vec<SurveyRow> =
            sqlx::query_as("SELECT * FROM surveys WHERE conversation_id = $1")
                .bind(&c.id)
                .fetch_all(db)
                .await
                .unwrap();
        let requests: Vec<String> =
            sqlx::query_scalar("SELECT reference FROM service_requests WHERE conversation_id = $1")
                .bind(&c.id)
                .fetch_all(db)
                .await
                .unwrap();
        let escalated = store.escalations_of_conversation(&c.id).await.unwrap();
        match &c.story {
            Story::Faq => {
                assert_eq!(surveys.len(), 1, "{}: {surveys:?}", c.id);
                let s = &surveys[0];
                assert_eq!(
                    (s.cause.as_str(), s.score, s.comment.as_deref()),
                    ("self_service", Some(5), None)
                );
                assert!(s.answered_at.is_some());
                assert!(requests.is_empty() && escalated.is_empty(), "{}", c.id);
            }
            Story::Form { vendor, reference } => {
                forms += 1;
                assert_eq!(requests, std::slice::from_ref(reference), "{}", c.id);
                let r = store
                    .request_by_reference(reference)
                    .await
                    .unwrap()
                    .unwrap_or_else(|| panic!("{reference} answered but not stored"));
                assert_eq!(
                    (r.conversation_id.as_str(), r.service_id.as_str()),
                    (c.id.as_str(), "vendor-setup")
                );
                vendor.check(&r.inputs, reference);
                assert!(surveys.is_empty() && escalated.is_empty(), "{}", c.id);
            }
            Story::Escalation { id, comment } => {
                escalations += 1;
                assert_eq!(escalated.len(), 1, "{}: {escalated:?}", c.id);
                assert_eq!(
                    (escalated[0].id, escalated[0].status.as_str()),
                    (*id, "resolved")
                );
                assert_eq!(surveys.len(), 1, "{}: {surveys:?}", c.id);
                let s = &surveys[0];
                assert_eq!(
                    (s.cause.as_str(), s.score, s.comment.as_deref()),
                    ("escalation_resolved", Some(4), Some(comment.as_str()))
                );
                assert!(s.answered_at.is_some());
                assert!(requests.is_empty(), "{}", c.id);
            }
        }
    }
    let (all_escalations,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM escalations")
        .fetch_one(db)
        .await
        .unwrap();
    assert_eq!(
        all_escalations, escalations,
        "no escalation but those answered"
    );
    let web_requests: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM service_requests r JOIN conversations c ON c.id = r.conversation_id
         WHERE c.channel = 'web'",
    )
    .fetch_one(db)
    .await
    .unwrap();
    assert_eq!(web_requests, forms, "no request but those answered");
}

/// Text as a person reads it: tags, entities and Markdown marks dropped, letters and digits
/// kept (to compare a logged reply in Markdown with the HTML sent to Telegram).
fn readable(text: &str) -> String {
    let text = text
        .replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"");
    let mut out = String::new();
    let mut in_tag = false;
    for ch in text.chars() {
        match ch {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag && c.is_alphanumeric() => out.push(c),
            _ => {}
        }
    }
    out
}

/// Ann's Telegram chat: each update processed once and in order, each form's request holding
/// its answers, and every reply logged sent to her, in order. A reply may have gone out twice
/// — from a replica killed after sending it, then from the redelivered update's answer from
/// the log — and only then: the number of such extra messages.
async fn the_telegram_chat_is_whole(
    store: &PgStore,
    db: &PgPool,
    bot_api: &FakeTelegram,
    ann: &TelegramChat,
) -> usize {
    let conversation = store
        .conversation_by_session("telegram", &ANN_TELEGRAM.to_string())
        .await
        .unwrap()
        .expect("Ann's Telegram conversation");
    let log = store.transcript(&conversation.id).await.unwrap();
    let inbound: Vec<_> = log.iter().filter(|m| m.direction == "in").collect();
    let ids: Vec<String> = inbound
        .iter()
        .map(|m| m.channel_message_id.clone().unwrap_or_default())
        .collect();
    let sent: Vec<String> = ann.updates.iter().map(i64::to_string).collect();
    assert_eq!(ids, sent, "each update processed once, in order");
    let reference = regex::Regex::new(r"REQ-\d+").unwrap();
    for (vendor, submit) in &ann.forms {
        let turn = inbound
            .iter()
            .find(|m| m.channel_message_id.as_deref() == Some(submit.to_string().as_str()))
            .unwrap();
        assert_eq!(
            turn.outcome.as_deref(),
            Some("request_opened"),
            "update {submit}"
        );
        let reply = log
            .iter()
            .filter(|m| m.reply_to == Some(turn.id))
            .map(|m| m.text.clone())
            .collect::<Vec<_>>()
            .join("\n");
        let reference = reference
            .find(&reply)
            .unwrap_or_else(|| panic!("a reference answering update {submit}: {reply}"))
            .as_str();
        let r = store
            .request_by_reference(reference)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(r.conversation_id, conversation.id);
        vendor.check(&r.inputs, reference);
    }
    let (requests,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM service_requests WHERE conversation_id = $1")
            .bind(&conversation.id)
            .fetch_one(db)
            .await
            .unwrap();
    assert_eq!(requests as usize, ann.forms.len(), "one request per form");

    // Every logged reply reached her, in order; the only other messages are the link's note
    // and replies sent twice around a kill.
    let delivered: Vec<String> = bot_api
        .accepted_to(ANN_TELEGRAM)
        .iter()
        .map(|t| readable(t))
        .collect();
    let logged: Vec<String> = log
        .iter()
        .filter(|m| m.direction == "out")
        .map(|m| readable(&m.text))
        .collect();
    let mut next = 0;
    for l in &logged {
        let found = delivered[next..]
            .iter()
            .position(|d| d == l)
            .unwrap_or_else(|| {
                panic!("reply not delivered in order: {l:?}\ndelivered: {delivered:#?}")
            });
        next += found + 1;
    }
    let linked = delivered
        .iter()
        .filter(|d| d.starts_with("YourTelegramaccountisnowlinked"))
        .count();
    assert_eq!(linked, 1, "linked once: {delivered:#?}");
    let extra = delivered.len() - logged.len() - linked;
    // A reply sent more than once belongs to an update delivered more than once: each extra
    // delivery may repeat that turn's replies, no more.
    let repeatable: usize = inbound
        .iter()
        .filter_map(|m| {
            let id: i64 = m.channel_message_id.as_deref()?.parse().ok()?;
            let again = ann.redelivered.get(&id)? - 1;
            Some(again * log.iter().filter(|o| o.reply_to == Some(m.id)).count())
        })
        .sum();
    assert!(
        extra <= repeatable,
        "{extra} Telegram messages besides the logged replies, but only {repeatable} could be repeats: {delivered:#?}"
    );
    extra
}

/// Every escalation's ping reaches Priya's webhook; once, unless the process that sent it was
/// killed before it could record the delivery.
///
/// The guarantee is at-least-once with a stable key: a ping is claimed with a lease before it
/// is sent, so two live replicas never send the same one; but a replica killed after the
/// receiver took its ping and before it marked the row delivered leaves the row to be claimed
/// again when the lease lapses, and the other replica sends it again — under the same
/// `Idempotency-Key`, which is what lets a receiver drop the copy. Each process signs with its
/// own secret here, so the receiver can tell who sent what: every delivery of a key but the
/// last was made by a process that was then killed (each at most once), and all carry the
/// same key in the header and the body. Returns (pings delivered, delivered more than once).
async fn pings_are_delivered_once(
    db: &PgPool,
    priya: &Webhook,
    processes: &mut [(usize, Served)],
    killed: &BTreeSet<usize>,
) -> (usize, usize) {
    let escalations: Vec<i64> = sqlx::query_scalar("SELECT id FROM escalations ORDER BY id")
        .fetch_all(db)
        .await
        .unwrap();
    // Recorded delivered: a ping a killed replica sent but did not record goes again once its
    // lease lapses.
    until_async(
        "every ping recorded delivered",
        Duration::from_secs(90),
        || async {
            let waiting: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM outbox WHERE idempotency_key LIKE 'escalation-%-ping-%'
             AND status <> 'delivered'",
            )
            .fetch_one(db)
            .await
            .unwrap();
            (waiting == 0).then_some(())
        },
    )
    .await;
    // Graceful stops: a worker finishes the delivery in hand first, so none can follow.
    for (_, p) in processes.iter_mut() {
        p.stop();
    }
    // Each key's senders, in arrival order.
    let mut by_key: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for hit in priya.hits("/hooks/priya") {
        let body = hit.json();
        if body["event"] != "escalation.ping" {
            continue;
        }
        let key = hit.header("idempotency-key").to_string();
        assert_eq!(body["idempotency_key"], key.as_str(), "{body}");
        let signature = hit.header("x-frontdoor-signature");
        let sender = (0..8)
            .find(|&n| {
                frontdoor::escalation::deliver::verify(
                    signing_secret(n).as_bytes(),
                    signature,
                    &hit.body,
                )
            })
            .unwrap_or_else(|| panic!("{key}: signed by none of the processes"));
        by_key.entry(key).or_default().push(sender);
    }
    let expected: BTreeSet<String> = escalations
        .iter()
        .map(|id| format!("escalation-{id}-ping-0-0"))
        .collect();
    let got: BTreeSet<String> = by_key.keys().cloned().collect();
    assert_eq!(got, expected, "one ping key per escalation, and only those");
    let mut twice = 0;
    for (key, senders) in &by_key {
        // A delivery followed by another was made by a process that was killed before it
        // recorded it, and each killed process sent it at most once.
        let (_last, before) = senders.split_last().unwrap();
        let distinct: BTreeSet<_> = before.iter().collect();
        assert!(
            before.iter().all(|n| killed.contains(n)) && distinct.len() == before.len(),
            "{key} sent by processes {senders:?}, in that order; killed: {killed:?}"
        );
        if senders.len() > 1 {
            twice += 1;
        }
    }
    (by_key.len(), twice)
}
