//! The `frontdoor` command line: one module per command, each with its own arguments and its
//! own `run`. `main.rs` parses, starts logging where the command wants it, and calls
//! [`dispatch`].

mod admin;
mod ask;
mod bench_kb;
mod check;
mod config;
mod demand;
mod demo_data;
mod eval;
mod export_rasa;
mod gaps;
mod import_rasa;
mod inbox;
mod link_code;
mod loadtest;
mod renewals;
mod report;
mod reviews;
mod serve;
mod statement;
mod telegram_webhook;
mod test_conversations;
mod token;

use std::future::Future;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::config::{Config, Flags, LogFormat};

#[derive(Parser)]
#[command(
    name = "frontdoor",
    version,
    about = "The self-service front door of a Shared Services Organisation"
)]
pub struct Cli {
    /// Configuration file (default: ./frontdoor.toml if present).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Address to listen on [env: FRONTDOOR_LISTEN] [default: 127.0.0.1:8080].
    #[arg(long, global = true)]
    listen: Option<String>,
    /// Folder for the SQLite database [env: FRONTDOOR_DATA_DIR] [default: ./data].
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// Folder holding intents/ and knowledge-base/ [env: FRONTDOOR_CONTENT_DIR] [default: .].
    #[arg(long, global = true)]
    content: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the service: web chat API (and bots whose tokens are set).
    Serve(serve::Args),
    /// Print the effective configuration, secrets masked.
    Config(config::Args),
    /// Answer one question from the command line, without a server.
    Ask(ask::Args),
    /// Measure the engine on a labelled JSONL dataset ({"text", "intent"}; "oos" = out of scope)
    /// or Rasa NLU YAML (.yml/.yaml; out_of_scope and nlu_fallback = out of scope), or the
    /// content through the dialogue on a development set (--devset).
    Eval(eval::Args),
    /// Mint a signed web chat identity token (needs FRONTDOOR_IDENTITY_SECRET), for host pages
    /// and scripts.
    Token(token::Args),
    /// Create a one-time code that links a Telegram account to a client: the user sends
    /// `/start CODE` to the bot (or opens https://t.me/<bot>?start=CODE).
    LinkCode(link_code::Args),
    /// A client's monthly report: KPIs of both sides of the SPA and the recharge statement.
    Report(report::Args),
    /// A client's monthly recharge statement from the ledger.
    Statement(statement::Args),
    /// Knowledge gaps (fallbacks, low-confidence answers, "didn't help", low scores) grouped
    /// by similarity, biggest first; or one group exported as content to paste.
    Gaps(gaps::Args),
    /// A client's daily demand, with spikes against the trailing 4-week same-weekday average.
    Demand(demand::Args),
    /// SPAs whose renewal-notice date is within 120 days (or passed while the SPA runs);
    /// --notify queues one alert per SPA and renewal to the client's account manager (the
    /// outbox worker of `frontdoor serve` delivers it; `serve` also checks daily by itself).
    Renewals(renewals::Args),
    /// Monthly reports awaiting review by the SSO or the client (the last three ended months);
    /// --notify queues one reminder per report to the account manager once it is
    /// `review_reminder_days` past its month's end (`serve` also checks hourly by itself).
    Reviews(reviews::Args),
    /// Fill an empty database with realistic demo traffic, played through the real dialogue
    /// (no ping is sent), so the back office has numbers to show.
    DemoData(demo_data::Args),
    /// Receive account managers' webhook pings and print them as the manager reads them (the
    /// sample clients' managers point here). Checks signatures when FRONTDOOR_WEBHOOK_SECRET
    /// is set; a retried ping (same Idempotency-Key) is acknowledged and not shown again.
    Inbox(inbox::Args),
    /// Register FRONTDOOR_TELEGRAM_WEBHOOK_URL (+ its secret) with Telegram: run once per
    /// deployment when several replicas serve Telegram through the webhook.
    TelegramWebhook(telegram_webhook::Args),
    /// Run scripted test conversations (*.txt transcripts) against the dialogue.
    TestConversations(test_conversations::Args),
    /// Back-office users and API tokens.
    Admin(admin::Args),
    /// Drive realistic conversations against a running server (or the echo server of
    /// `examples/echo_server.rs`) and report throughput and latency percentiles.
    Loadtest(loadtest::Args),
    /// The content multiplied N times (generated in a temp dir), loaded and queried: load
    /// time and single-query p50/p99 at that size.
    BenchKb(bench_kb::Args),
    /// Import a Rasa project (a folder with data/ and domain.yml, or one NLU file; Rasa 2.x/3.x
    /// YAML) as a new content directory; what is not imported is listed with file:line and why.
    ImportRasa(import_rasa::Args),
    /// Export the content's intents, examples, vocabulary, rules and answers as a Rasa 3.x
    /// project (data/nlu.yml, data/rules.yml, domain.yml).
    ExportRasa(export_rasa::Args),
    /// Validate intents, the knowledge base and the request webhooks' templates; exits non-zero
    /// on errors.
    Check(check::Args),
}

impl Cli {
    /// The command-line part of the configuration (highest precedence).
    pub fn flags(&self) -> Flags {
        Flags {
            config_file: self.config.clone(),
            listen: self.listen.clone(),
            data_dir: self.data_dir.clone(),
            content_dir: self.content.clone(),
        }
    }
}

impl Command {
    /// Does this command log? The long-running ones do (to stderr); the others print their
    /// result and nothing else, so their output stays what scripts parse.
    pub fn logs(&self) -> bool {
        // bench-kb: logs go to stderr, so FRONTDOOR_LOG=frontdoor::load=debug breaks the load
        // down
        matches!(
            self,
            Command::Serve(_) | Command::Inbox(_) | Command::BenchKb(_)
        )
    }
}

/// Run one command with the effective configuration.
pub fn dispatch(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::Serve(_) => multi_thread(serve::run(config)),
        Command::Config(_) => config::run(&config),
        Command::Ask(a) => ask::run(&config, a),
        Command::Eval(a) => eval::run(&config, a),
        Command::Token(a) => token::run(&config, a),
        Command::LinkCode(a) => block_on(link_code::run(config, a)),
        Command::Report(a) => block_on(report::run(config, a)),
        Command::Statement(a) => block_on(statement::run(config, a)),
        Command::Gaps(a) => block_on(gaps::run(config, a)),
        Command::Demand(a) => block_on(demand::run(config, a)),
        Command::Renewals(a) => block_on(renewals::run(config, a)),
        Command::Reviews(a) => block_on(reviews::run(config, a)),
        Command::DemoData(a) => block_on(demo_data::run(config, a)),
        Command::Inbox(a) => multi_thread(inbox::run(config, a)),
        Command::TelegramWebhook(_) => block_on(telegram_webhook::run(config)),
        Command::TestConversations(a) => test_conversations::run(&config, a),
        Command::Admin(a) => block_on(admin::run(config, a)),
        Command::Loadtest(a) => loadtest::run(&config, a),
        Command::BenchKb(a) => bench_kb::run(&config, a),
        Command::Check(a) => check::run(&config, a),
        Command::ImportRasa(a) => import_rasa::run(&config, a),
        Command::ExportRasa(a) => export_rasa::run(&config, a),
    }
}

/// Logs to stderr, as text or JSON lines; `FRONTDOOR_LOG` filters.
pub fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("FRONTDOOR_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

/// Run a one-off command's future on a small runtime (the server builds its own).
fn block_on<F: Future<Output = anyhow::Result<()>>>(f: F) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(f)
}

/// Run a server's (or a load generator's) future on every core.
fn multi_thread<T, F: Future<Output = anyhow::Result<T>>>(f: F) -> anyhow::Result<T> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(f)
}

/// A command's output to `--out FILE`, or standard output.
fn write_out(out: Option<PathBuf>, text: &str) -> anyhow::Result<()> {
    match out {
        Some(path) => {
            std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))
        }
        None => {
            print!("{text}");
            Ok(())
        }
    }
}
