//! `frontdoor loadtest`: realistic conversations against a running server; throughput and
//! latency percentiles.

use std::time::Duration;

use crate::config::Config;
use crate::loadtest::{Material, Mix, Options};

#[derive(clap::Args)]
pub struct Args {
    /// Base URL of the server.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// Simulated users talking at once.
    #[arg(long, default_value_t = 64)]
    sessions: usize,
    /// Measured seconds.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Seconds of load before measuring.
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// Open loop: messages per second in total (latency from when each was due). Without
    /// it, closed loop: each user sends as soon as answered (saturation).
    #[arg(long)]
    rate: Option<f64>,
    /// Share of users on the WebSocket (0-1); the rest use POST /api/v1/chat.
    #[arg(long, default_value_t = 0.2)]
    ws_share: f64,
    /// Percent of conversations that are service requests (slot filling).
    #[arg(long, default_value_t = 25)]
    service_pct: u32,
    /// Percent of conversations that ask for a human (escalations).
    #[arg(long, default_value_t = 2)]
    escalate_pct: u32,
    /// Per-request timeout, seconds.
    #[arg(long, default_value_t = 10.0)]
    timeout: f64,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(config: &Config, a: Args) -> anyhow::Result<()> {
    let k = crate::app::load_knowledge(&config.content_dir, &config.engine)?;
    let material = Material::from_knowledge(&k);
    let opts = Options {
        url: a.url.trim_end_matches('/').to_string(),
        sessions: a.sessions,
        duration: Duration::from_secs_f64(a.duration),
        warmup: Duration::from_secs_f64(a.warmup),
        rate: a.rate,
        ws_share: a.ws_share,
        mix: Mix {
            service_pct: a.service_pct,
            escalate_pct: a.escalate_pct,
            ..Default::default()
        },
        timeout: Duration::from_secs_f64(a.timeout),
        seed: a.seed,
    };
    let report = super::multi_thread(crate::loadtest::run(opts, material))?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{report}");
    }
    Ok(())
}
