//! `frontdoor loadtest`: realistic conversations against a running server (or the bare echo
//! server of `examples/echo_server.rs`, the framework's ceiling), over `POST /api/v1/chat` and the
//! WebSocket, with throughput, latency percentiles and error counts.
//!
//! Two modes:
//! - **closed loop** (no `--rate`): every simulated user sends its next message as soon as the
//!   previous one is answered — saturation throughput.
//! - **open loop** (`--rate R`): messages are due at a fixed total rate, spread over the users;
//!   latency is measured from when a message was *due*, not when it could be sent, so a server
//!   that falls behind shows it (no coordinated omission).

pub mod scenario;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use rand::SeedableRng;
use rand::rngs::SmallRng;
use serde::Serialize;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message as WsMessage;

use scenario::{Conversation, Message};
pub use scenario::{Material, Mix};

#[derive(Clone, Debug)]
pub struct Options {
    /// Base URL of the server, e.g. `http://127.0.0.1:8080`.
    pub url: String,
    /// Simulated users talking at once.
    pub sessions: usize,
    pub duration: Duration,
    /// Not measured at the start (connections, caches).
    pub warmup: Duration,
    /// Messages per second in total (open loop); `None`: closed loop.
    pub rate: Option<f64>,
    /// Share of users on the WebSocket (0..=1); the rest use `POST /api/v1/chat`.
    pub ws_share: f64,
    pub mix: Mix,
    /// Per-request timeout.
    pub timeout: Duration,
    pub seed: u64,
}

/// The result of a run.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub url: String,
    pub mode: &'static str,
    pub sessions: usize,
    pub ws_sessions: usize,
    pub target_rate: Option<f64>,
    /// Measured seconds (after warm-up).
    pub seconds: f64,
    /// Messages answered with success (HTTP 200 / a reply frame) in the measured window.
    pub ok: u64,
    /// Messages that failed, by reason (`http 503`, `timeout`, `connect`, ...).
    pub errors: BTreeMap<String, u64>,
    /// Successful messages per second.
    pub throughput: f64,
    pub latency_ms: Latency,
    pub latency_http_ms: Option<Latency>,
    pub latency_ws_ms: Option<Latency>,
    /// Replies by outcome (answered, prompt, request_opened, escalated, ...).
    pub outcomes: BTreeMap<String, u64>,
    /// Conversations finished, by kind.
    pub conversations: BTreeMap<String, u64>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Latency {
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
    pub mean: f64,
}

impl Latency {
    fn of(samples: &mut [u32]) -> Option<Latency> {
        if samples.is_empty() {
            return None;
        }
        samples.sort_unstable();
        let at = |q: f64| {
            let i = ((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1;
            f64::from(samples[i]) / 1000.0
        };
        let sum: u64 = samples.iter().map(|&s| u64::from(s)).sum();
        Some(Latency {
            p50: at(0.50),
            p95: at(0.95),
            p99: at(0.99),
            max: at(1.0),
            mean: sum as f64 / samples.len() as f64 / 1000.0,
        })
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let errors: u64 = self.errors.values().sum();
        writeln!(
            f,
            "{} {} users ({} on WebSocket){}, {:.1} s measured",
            self.url,
            self.sessions,
            self.ws_sessions,
            match self.target_rate {
                Some(r) => format!(", open loop at {r} msg/s"),
                None => ", closed loop".into(),
            },
            self.seconds
        )?;
        writeln!(
            f,
            "throughput: {:.0} msg/s   ok: {}   errors: {errors}",
            self.throughput, self.ok
        )?;
        let line = |f: &mut std::fmt::Formatter<'_>, name: &str, l: &Latency| {
            writeln!(
                f,
                "latency {name:<5} ms: p50 {:.2}  p95 {:.2}  p99 {:.2}  max {:.2}  mean {:.2}",
                l.p50, l.p95, l.p99, l.max, l.mean
            )
        };
        line(f, "all", &self.latency_ms)?;
        if let Some(l) = &self.latency_http_ms {
            line(f, "http", l)?;
        }
        if let Some(l) = &self.latency_ws_ms {
            line(f, "ws", l)?;
        }
        for (k, v) in &self.errors {
            writeln!(f, "error {k}: {v}")?;
        }
        if !self.outcomes.is_empty() {
            let o: Vec<String> = self
                .outcomes
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect();
            writeln!(f, "outcomes: {}", o.join(", "))?;
        }
        if !self.conversations.is_empty() {
            let o: Vec<String> = self
                .conversations
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect();
            writeln!(f, "conversations: {}", o.join(", "))?;
        }
        Ok(())
    }
}

/// What one simulated user measured.
#[derive(Default)]
struct Tally {
    http: Vec<u32>,
    ws: Vec<u32>,
    errors: BTreeMap<String, u64>,
    outcomes: BTreeMap<String, u64>,
    conversations: BTreeMap<String, u64>,
}

enum Transport {
    Http(reqwest::Client),
    Ws(Option<Box<WsStream>>),
}

type WsStream =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Send one message and wait for its answer.
async fn exchange(
    transport: &mut Transport,
    opts: &Options,
    ws_base: &str,
    session: &str,
    msg: &Message,
) -> Result<Value, String> {
    match transport {
        Transport::Http(client) => {
            let r = client
                .post(format!("{}/api/v1/chat", opts.url))
                .json(&msg.body)
                .send()
                .await
                .map_err(|e| {
                    if e.is_timeout() {
                        "timeout".to_string()
                    } else if e.is_connect() {
                        "connect".to_string()
                    } else {
                        "http transport".to_string()
                    }
                })?;
            let status = r.status().as_u16();
            let body = r.bytes().await.map_err(|_| "http body".to_string())?;
            if status != 200 {
                return Err(format!("http {status}"));
            }
            serde_json::from_slice(&body).map_err(|_| "bad json".to_string())
        }
        Transport::Ws(socket) => {
            if socket.is_none() {
                let url = format!("{ws_base}/api/v1/ws?session={session}");
                let (s, _) = tokio::time::timeout(
                    opts.timeout,
                    tokio_tungstenite::connect_async(url.as_str()),
                )
                .await
                .map_err(|_| "ws connect timeout".to_string())?
                .map_err(|_| "ws connect".to_string())?;
                *socket = Some(Box::new(s));
            }
            let s = socket.as_mut().expect("connected above");
            let sent = async {
                s.send(WsMessage::text(msg.body.to_string()))
                    .await
                    .map_err(|_| "ws send".to_string())?;
                loop {
                    match s.next().await {
                        Some(Ok(WsMessage::Text(t))) => {
                            let v: Value =
                                serde_json::from_str(&t).map_err(|_| "bad json".to_string())?;
                            if v["push"] == true {
                                continue;
                            }
                            if let Some(status) = v["status"].as_u64()
                                && v.get("error").is_some()
                            {
                                return Err(format!("ws {status}"));
                            }
                            return Ok(v);
                        }
                        Some(Ok(WsMessage::Close(_))) | None => {
                            return Err("ws closed".to_string());
                        }
                        Some(Ok(_)) => continue,
                        Some(Err(_)) => return Err("ws error".to_string()),
                    }
                }
            };
            match tokio::time::timeout(opts.timeout, sent).await {
                Ok(Ok(v)) => Ok(v),
                Ok(Err(e)) => {
                    *socket = None;
                    Err(e)
                }
                Err(_) => {
                    *socket = None;
                    Err("timeout".to_string())
                }
            }
        }
    }
}

struct User {
    id: usize,
    ws: bool,
    /// Seconds between this user's messages in open loop.
    interval: Option<Duration>,
    /// When this user's first message is due (staggered in open loop).
    first_due: Instant,
}

async fn run_user(
    user: User,
    opts: Arc<Options>,
    material: Arc<Material>,
    client: reqwest::Client,
    run_id: u64,
    measure_from: Instant,
    end: Instant,
) -> Tally {
    let mut tally = Tally::default();
    let mut rng = SmallRng::seed_from_u64(opts.seed ^ (user.id as u64).wrapping_mul(0x9e37_79b9));
    let ws_base = opts.url.replacen("http", "ws", 1);
    let mut due = user.first_due;
    let mut n_conv = 0u64;
    'outer: while Instant::now() < end {
        n_conv += 1;
        let session = format!("lt{run_id:x}-{}-{n_conv}", user.id);
        let mut conv = Conversation::new(material.clone(), session.clone(), opts.mix, &mut rng);
        let mut transport = if user.ws {
            Transport::Ws(None)
        } else {
            Transport::Http(client.clone())
        };
        let mut last: Option<Value> = None;
        loop {
            let Some(msg) = conv.next(last.as_ref(), &mut rng) else {
                *tally.conversations.entry(conv.kind().into()).or_default() += 1;
                break;
            };
            // Open loop: wait until the message is due; latency counts from then.
            let start = match user.interval {
                Some(interval) => {
                    if due >= end {
                        break 'outer;
                    }
                    tokio::time::sleep_until(due.into()).await;
                    let d = due;
                    due += interval;
                    d
                }
                None => Instant::now(),
            };
            if start >= end {
                break 'outer;
            }
            let result = exchange(&mut transport, &opts, &ws_base, conv.session(), &msg).await;
            let took = start.elapsed();
            let measured = start >= measure_from;
            match result {
                Ok(v) => {
                    if measured {
                        let us = took.as_micros().min(u128::from(u32::MAX)) as u32;
                        if user.ws {
                            tally.ws.push(us);
                        } else {
                            tally.http.push(us);
                        }
                        if let Some(o) = v["outcome"].as_str() {
                            *tally.outcomes.entry(o.to_string()).or_default() += 1;
                        }
                    }
                    last = Some(v);
                }
                Err(e) => {
                    if measured {
                        *tally.errors.entry(e).or_default() += 1;
                    }
                    // Start a fresh conversation; back off a little so a down server is not
                    // hammered in a tight loop.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    break;
                }
            }
        }
        if let Transport::Ws(Some(mut s)) = transport {
            let _ = s.close().await;
        }
    }
    tally
}

/// Run the load and report.
pub async fn run(opts: Options, material: Material) -> anyhow::Result<Report> {
    anyhow::ensure!(opts.sessions > 0, "--sessions must be at least 1");
    anyhow::ensure!(
        (0.0..=1.0).contains(&opts.ws_share),
        "--ws-share must be between 0 and 1"
    );
    if let Some(r) = opts.rate {
        anyhow::ensure!(r > 0.0, "--rate must be positive");
    }
    let opts = Arc::new(opts);
    let material = Arc::new(material);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(usize::MAX)
        .pool_idle_timeout(Duration::from_secs(90))
        .tcp_nodelay(true)
        .timeout(opts.timeout)
        .build()?;
    let run_id: u64 = rand::random::<u64>() & 0xffff_ffff;
    let start = Instant::now();
    let measure_from = start + opts.warmup;
    let end = measure_from + opts.duration;
    let ws_users = (opts.sessions as f64 * opts.ws_share).round() as usize;
    let interval = opts
        .rate
        .map(|r| Duration::from_secs_f64(opts.sessions as f64 / r));
    let mut tasks = Vec::with_capacity(opts.sessions);
    for id in 0..opts.sessions {
        let user = User {
            id,
            // Spread the WebSocket users evenly among the others.
            ws: ws_users > 0
                && (id * ws_users) / opts.sessions != ((id + 1) * ws_users) / opts.sessions,
            interval,
            first_due: start
                + interval.map_or(Duration::ZERO, |i| {
                    i.mul_f64(id as f64 / opts.sessions as f64)
                }),
        };
        tasks.push(tokio::spawn(run_user(
            user,
            opts.clone(),
            material.clone(),
            client.clone(),
            run_id,
            measure_from,
            end,
        )));
    }
    let mut all = Tally::default();
    for t in tasks {
        let t = t.await?;
        all.http.extend(t.http);
        all.ws.extend(t.ws);
        for (k, v) in t.errors {
            *all.errors.entry(k).or_default() += v;
        }
        for (k, v) in t.outcomes {
            *all.outcomes.entry(k).or_default() += v;
        }
        for (k, v) in t.conversations {
            *all.conversations.entry(k).or_default() += v;
        }
    }
    let seconds = opts.duration.as_secs_f64();
    let ok = (all.http.len() + all.ws.len()) as u64;
    let mut every: Vec<u32> = all.http.iter().chain(all.ws.iter()).copied().collect();
    Ok(Report {
        url: opts.url.clone(),
        mode: if opts.rate.is_some() {
            "open"
        } else {
            "closed"
        },
        sessions: opts.sessions,
        ws_sessions: ws_users,
        target_rate: opts.rate,
        seconds,
        ok,
        errors: all.errors,
        throughput: ok as f64 / seconds,
        latency_ms: Latency::of(&mut every).unwrap_or_default(),
        latency_http_ms: Latency::of(&mut all.http),
        latency_ws_ms: Latency::of(&mut all.ws),
        outcomes: all.outcomes,
        conversations: all.conversations,
    })
}
