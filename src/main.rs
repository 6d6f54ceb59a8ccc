//! The `frontdoor` command: serve, ask, eval, check, config, the back office's reports.

// mimalloc instead of glibc's malloc: the engine build allocates on every core and frees on
// another (per-thread glibc arenas made a 100x knowledge base's vectors phase 3x slower when
// one more pass moved to worker threads), and the server allocates per request on every worker.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use frontdoor::config::{Config, Flags, LogFormat};
use frontdoor::engine::Decision;

#[derive(Parser)]
#[command(
    name = "frontdoor",
    version,
    about = "The self-service front door of a Shared Services Organisation"
)]
struct Cli {
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
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service: web chat API (and bots whose tokens are set).
    Serve,
    /// Print the effective configuration, secrets masked.
    Config,
    /// Answer one question from the command line, without a server.
    Ask {
        text: String,
        /// Print the same JSON object as the chat API.
        #[arg(long)]
        json: bool,
        /// Explain the classification: rule, matching examples and terms, runner-up, margin.
        #[arg(long)]
        explain: bool,
        /// Answer as a user of this client.
        #[arg(long)]
        client: Option<String>,
    },
    /// Measure the engine on a labelled JSONL dataset ({"text", "intent"}; "oos" = out of scope),
    /// or the content through the dialogue on a development set (--devset).
    Eval {
        #[arg(long, required_unless_present = "devset")]
        train: Option<PathBuf>,
        /// Measure the content (the configured content directory) through the real dialogue on
        /// this development set (see tests/fixtures/devset.toml): right directly, right within
        /// suggestions, wrong answer, declined; out-of-domain answered.
        #[arg(long, conflicts_with_all = ["train", "test", "val", "holdout", "cv"])]
        devset: Option<PathBuf>,
        /// Directory of the dataset files the --devset names (default: the devset's `datasets`).
        #[arg(long, requires = "devset")]
        datasets: Option<PathBuf>,
        /// With --devset: print every miss.
        #[arg(long, requires = "devset")]
        misses: bool,
        /// Test file; or use --holdout K to test on every K-th row per intent of --train.
        #[arg(long)]
        test: Option<PathBuf>,
        /// Pick the out-of-scope threshold on this file (never on --test).
        #[arg(long)]
        val: Option<PathBuf>,
        #[arg(long, default_value_t = 0)]
        holdout: usize,
        /// Pick the threshold by K-fold cross-validation on --train instead of --val.
        #[arg(long, default_value_t = 0)]
        cv: usize,
        /// Expected out-of-scope share of traffic for --cv (default: train's own share).
        #[arg(long)]
        oos_prior: Option<f64>,
        /// Override an engine setting, e.g. --set clarify_margin=0.1 (repeatable).
        #[arg(long = "set")]
        set: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// Mint a signed web chat identity token (needs FRONTDOOR_IDENTITY_SECRET), for host pages
    /// and scripts.
    Token {
        /// The user's stable id (e.g. their email).
        #[arg(long)]
        user: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        client: Option<String>,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 3600)]
        ttl: i64,
        /// Mint an account manager's token for the escalation API instead (`--user` is the
        /// manager's email as in the client seed file).
        #[arg(long)]
        manager: bool,
    },
    /// Create a one-time code that links a Telegram account to a client: the user sends
    /// `/start CODE` to the bot (or opens https://t.me/<bot>?start=CODE).
    LinkCode {
        #[arg(long)]
        client: String,
        /// Hours until the code expires.
        #[arg(long, default_value_t = 72)]
        ttl_hours: i64,
    },
    /// A client's monthly report: KPIs of both sides of the SPA and the recharge statement.
    Report {
        #[arg(long)]
        client: String,
        /// The month, e.g. 2026-11 (in the client's time zone).
        #[arg(long)]
        month: String,
        /// html, csv or json.
        #[arg(long, default_value = "html")]
        format: String,
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// A client's monthly recharge statement from the ledger.
    Statement {
        #[arg(long)]
        client: String,
        /// The month, e.g. 2026-11 (in the client's time zone).
        #[arg(long)]
        month: String,
        /// json, csv or html.
        #[arg(long, default_value = "csv")]
        format: String,
        /// Write here instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Knowledge gaps (fallbacks, low-confidence answers, "didn't help", low scores) grouped
    /// by similarity, biggest first; or one group exported as content to paste.
    Gaps {
        #[arg(long)]
        client: Option<String>,
        /// How far back to look.
        #[arg(long, default_value_t = 30)]
        since_days: i64,
        #[arg(long)]
        json: bool,
        /// Export group N of the list (1 = the biggest) instead of listing.
        #[arg(long)]
        export: Option<usize>,
        /// With --export: `intent` (an [[intent]] example list for intents/*.toml) or
        /// `article` (a Markdown article stub for knowledge-base/).
        #[arg(long = "as", default_value = "intent")]
        export_as: String,
        /// Add group N's "asked X, chose Y" questions as examples of the intents chosen, in
        /// the content files (the content is reloaded to check it; nothing is written if the
        /// result does not load).
        #[arg(long, conflicts_with = "export")]
        promote: Option<usize>,
    },
    /// A client's daily demand, with spikes against the trailing 4-week same-weekday average.
    Demand {
        #[arg(long)]
        client: String,
        /// Days to show, up to today.
        #[arg(long, default_value_t = 28)]
        days: i64,
        /// A spike is at least this many times the baseline...
        #[arg(long, default_value_t = 2.0)]
        factor: f64,
        /// ...with at least this many contacts.
        #[arg(long, default_value_t = 10)]
        min_volume: i64,
        #[arg(long)]
        json: bool,
    },
    /// SPAs whose renewal-notice date is within 120 days (or passed while the SPA runs);
    /// --notify queues one alert per SPA and renewal to the client's account manager (the
    /// outbox worker of `frontdoor serve` delivers it; `serve` also checks daily by itself).
    Renewals {
        #[arg(long)]
        notify: bool,
        #[arg(long, default_value_t = frontdoor::backoffice::renewals::HORIZON_DAYS)]
        horizon_days: i64,
        #[arg(long)]
        json: bool,
    },
    /// Fill an empty database with realistic demo traffic, played through the real dialogue
    /// (no ping is sent), so the back office has numbers to show.
    DemoData {
        #[arg(long, default_value_t = 90)]
        days: u32,
        /// Database URL (default: the configured one).
        #[arg(long)]
        database: Option<String>,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Receive account managers' webhook pings and print them as the manager reads them (the
    /// sample clients' managers point here). Checks signatures when FRONTDOOR_WEBHOOK_SECRET
    /// is set; a retried ping (same Idempotency-Key) is acknowledged and not shown again.
    Inbox {
        /// Address to listen on.
        #[arg(long, default_value = frontdoor::escalation::inbox::DEFAULT_ADDR)]
        addr: String,
    },
    /// Register FRONTDOOR_TELEGRAM_WEBHOOK_URL (+ its secret) with Telegram: run once per
    /// deployment when several replicas serve Telegram through the webhook.
    TelegramWebhook,
    /// Run scripted test conversations (*.txt transcripts) against the dialogue.
    TestConversations {
        /// Folder of transcripts.
        #[arg(default_value = "tests/conversations")]
        dir: PathBuf,
    },
    /// Back-office users and API tokens.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Drive realistic conversations against a running server (or the echo server of
    /// `examples/echo_server.rs`) and report throughput and latency percentiles.
    Loadtest {
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
    },
    /// The content multiplied N times (generated in a temp dir), loaded and queried: load
    /// time and single-query p50/p99 at that size.
    BenchKb {
        #[arg(long, default_value_t = 100)]
        scale: usize,
        /// Queries to time (spread over the copies).
        #[arg(long, default_value_t = 5000)]
        queries: usize,
        #[arg(long)]
        json: bool,
    },
    /// Validate intents and the knowledge base; exits non-zero on errors.
    Check {
        #[arg(long)]
        json: bool,
        /// Skip the cross-validation report.
        #[arg(long)]
        no_cross_validation: bool,
        /// Also fail when cross-validation finds misclassified examples.
        #[arg(long)]
        strict: bool,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create a back-office user. The password comes from standard input (--password-stdin)
    /// or FRONTDOOR_NEW_PASSWORD, never from the command line (which `ps` shows).
    CreateUser {
        #[arg(long)]
        username: String,
        /// admin, sso_lead, account_manager or client_lead.
        #[arg(long, default_value = "admin")]
        role: String,
        /// Client codes, comma-separated (account managers: their clients; client leads: one).
        #[arg(long, value_delimiter = ',')]
        clients: Vec<String>,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Create an API token for a user (printed once; only its hash is stored).
    CreateToken {
        #[arg(long)]
        username: String,
        /// What the token is for.
        #[arg(long, default_value = "script")]
        name: String,
    },
}

fn flags(cli: &Cli) -> Flags {
    Flags {
        config_file: cli.config.clone(),
        listen: cli.listen.clone(),
        data_dir: cli.data_dir.clone(),
        content_dir: cli.content.clone(),
    }
}

fn init_tracing(format: LogFormat) {
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

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let config = Config::load(&flags(&cli))?;
    match cli.command {
        Command::Config => {
            print!("{}", config.to_masked_toml());
            Ok(())
        }
        Command::Inbox { addr } => {
            init_tracing(config.log_format);
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?
                .block_on(inbox(config, addr))
        }
        Command::Serve => {
            init_tracing(config.log_format);
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?
                .block_on(serve(config))
        }
        Command::Ask {
            text,
            json,
            explain,
            client,
        } => ask(&config, &text, json, explain, client),
        Command::BenchKb {
            scale,
            queries,
            json,
        } => {
            // logs go to stderr: FRONTDOOR_LOG=frontdoor::load=debug breaks the load down
            init_tracing(config.log_format);
            let work = tempfile_dir()?;
            eprintln!("generating {scale}x the content in {} ...", work.display());
            let r =
                frontdoor::knowledge::scale::measure(&config.content_dir, &work, scale, queries);
            let _ = std::fs::remove_dir_all(&work);
            let r = r?;
            if json {
                println!("{}", serde_json::to_string(&r)?);
            } else {
                println!(
                    "{}x: {} articles, {} intents, loaded in {:.2} s; {} queries: p50 {:.0} µs, p99 {:.0} µs, max {:.0} µs; top-1 {:.1}%",
                    r.scale,
                    r.articles,
                    r.intents,
                    r.load_seconds,
                    r.queries,
                    r.p50_us,
                    r.p99_us,
                    r.max_us,
                    r.top1_accuracy * 100.0
                );
            }
            Ok(())
        }
        Command::Check {
            json,
            no_cross_validation,
            strict,
        } => check(&config, json, !no_cross_validation, strict),
        Command::TestConversations { dir } => test_conversations(&config, &dir),
        Command::Loadtest {
            url,
            sessions,
            duration,
            warmup,
            rate,
            ws_share,
            service_pct,
            escalate_pct,
            timeout,
            seed,
            json,
        } => {
            let k = frontdoor::app::load_knowledge(&config.content_dir, &config.engine)?;
            let material = frontdoor::loadtest::Material::from_knowledge(&k);
            let opts = frontdoor::loadtest::Options {
                url: url.trim_end_matches('/').to_string(),
                sessions,
                duration: std::time::Duration::from_secs_f64(duration),
                warmup: std::time::Duration::from_secs_f64(warmup),
                rate,
                ws_share,
                mix: frontdoor::loadtest::Mix {
                    service_pct,
                    escalate_pct,
                    ..Default::default()
                },
                timeout: std::time::Duration::from_secs_f64(timeout),
                seed,
            };
            let report = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?
                .block_on(frontdoor::loadtest::run(opts, material))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{report}");
            }
            Ok(())
        }
        Command::Eval {
            devset: Some(devset),
            datasets,
            misses,
            set,
            json,
            ..
        } => eval_content(&config, &devset, datasets.as_deref(), &set, misses, json),
        Command::Eval {
            train: Some(train),
            test,
            val,
            holdout,
            cv,
            oos_prior,
            set,
            json,
            ..
        } => eval(
            &config,
            EvalArgs {
                train,
                test,
                val,
                holdout,
                cv,
                oos_prior,
                set,
                json,
            },
        ),
        Command::Eval { .. } => bail!("give --train FILE or --devset FILE"),
        Command::Report {
            client,
            month,
            format,
            out,
        } => block_on(print_report(config, client, month, format, out)),
        Command::Statement {
            client,
            month,
            format,
            out,
        } => block_on(print_statement(config, client, month, format, out)),
        Command::Gaps {
            client,
            since_days,
            json,
            export,
            export_as,
            promote,
        } => match promote {
            Some(rank) => block_on(promote_gaps(config, client, since_days, rank)),
            None => block_on(gaps(config, client, since_days, json, export, export_as)),
        },
        Command::Demand {
            client,
            days,
            factor,
            min_volume,
            json,
        } => block_on(demand(config, client, days, factor, min_volume, json)),
        Command::Renewals {
            notify,
            horizon_days,
            json,
        } => block_on(renewals(config, notify, horizon_days, json)),
        Command::DemoData {
            days,
            database,
            seed,
        } => block_on(demo_data(config, days, database, seed)),
        Command::TelegramWebhook => block_on(telegram_webhook(config)),
        Command::Admin { command } => block_on(admin(config, command)),
        Command::LinkCode { client, ttl_hours } => block_on(link_code(config, client, ttl_hours)),
        Command::Token {
            user,
            name,
            client,
            ttl,
            manager,
        } => {
            let Some(secret) = &config.identity_secret else {
                bail!("set FRONTDOOR_IDENTITY_SECRET to sign identity tokens");
            };
            let claims = frontdoor::channels::identity::Claims {
                sub: user,
                name,
                client,
                role: manager.then(|| "manager".to_string()),
                exp: chrono::Utc::now().timestamp() + ttl,
            };
            println!(
                "{}",
                frontdoor::channels::identity::sign(&claims, secret.expose().as_bytes())
            );
            Ok(())
        }
    }
}

/// Run a one-off command's future on a small runtime (the server builds its own).
fn block_on<F: std::future::Future<Output = anyhow::Result<()>>>(f: F) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_current_thread()
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

async fn print_report(
    config: Config,
    client: String,
    month: String,
    format: String,
    out: Option<PathBuf>,
) -> anyhow::Result<()> {
    let store = frontdoor::store::connect(&config.database_url).await?;
    let k = frontdoor::app::load_knowledge(&config.content_dir, &config.engine)?;
    let now = chrono::Utc::now().timestamp_millis();
    let r =
        frontdoor::backoffice::report::monthly(store.as_ref(), &k, &client, &month, now).await?;
    let text = match format.as_str() {
        "json" => serde_json::to_string_pretty(&r)?,
        "html" => r.to_html(),
        "csv" => r.to_csv(),
        other => bail!("--format must be json, csv or html, not {other}"),
    };
    write_out(out, &text)
}

async fn print_statement(
    config: Config,
    client: String,
    month: String,
    format: String,
    out: Option<PathBuf>,
) -> anyhow::Result<()> {
    let store = frontdoor::store::connect(&config.database_url).await?;
    let k = frontdoor::app::load_knowledge(&config.content_dir, &config.engine)?;
    let s =
        frontdoor::backoffice::statement::statement(store.as_ref(), &k, &client, &month).await?;
    let text = match format.as_str() {
        "json" => serde_json::to_string_pretty(&s)?,
        "csv" => s.to_csv(),
        "html" => s.to_html(),
        other => bail!("--format must be json, csv or html, not {other}"),
    };
    write_out(out, &text)
}

async fn admin(config: Config, command: AdminCommand) -> anyhow::Result<()> {
    use frontdoor::backoffice::access::{new_secret, secret_hash};
    let store = frontdoor::store::connect(&config.database_url).await?;
    match command {
        AdminCommand::CreateUser {
            username,
            role,
            clients,
            password_stdin,
        } => {
            let password = if password_stdin {
                let mut line = String::new();
                std::io::stdin().read_line(&mut line)?;
                line.trim_end_matches(['\r', '\n']).to_string()
            } else {
                std::env::var("FRONTDOOR_NEW_PASSWORD").map_err(|_| {
                    anyhow::anyhow!("give the password on standard input with --password-stdin, or in FRONTDOOR_NEW_PASSWORD")
                })?
            };
            let k = frontdoor::app::load_knowledge(&config.content_dir, &config.engine)?;
            let body = frontdoor::http::backoffice::api::NewUserBody {
                username: username.clone(),
                password,
                role,
                clients,
            };
            let id =
                frontdoor::http::backoffice::api::create_user_checked(store.as_ref(), &k, body)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("created user {username} (id {id})");
        }
        AdminCommand::CreateToken { username, name } => {
            let Some(user) = store.user_by_name(&username).await? else {
                bail!("no user {username}");
            };
            let token = new_secret(frontdoor::http::backoffice::auth::TOKEN_PREFIX);
            let now = chrono::Utc::now().timestamp_millis();
            store
                .create_api_token(user.id, &secret_hash(&token), &name, now)
                .await?;
            println!("{token}");
        }
    }
    Ok(())
}

fn local(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

/// The content and the knowledge gaps of the last `since_days` days, grouped.
async fn gap_report(
    config: &Config,
    client: Option<String>,
    since_days: i64,
) -> anyhow::Result<(
    frontdoor::knowledge::Knowledge,
    frontdoor::backoffice::gaps::GapReport,
)> {
    use frontdoor::backoffice::gaps::{GapQuery, GapSettings, knowledge_gaps};
    let store = frontdoor::store::connect(&config.database_url).await?;
    let k = frontdoor::app::load_knowledge(&config.content_dir, &config.engine)?;
    let now = chrono::Utc::now();
    let query = GapQuery {
        client,
        from: (now - chrono::Duration::days(since_days.max(0))).timestamp_millis(),
        to: now.timestamp_millis() + 1,
    };
    let report = knowledge_gaps(store.as_ref(), &k, &query, &GapSettings::default()).await?;
    Ok((k, report))
}

/// `gaps --promote N`: group N's chosen suggestions become examples of what was chosen.
async fn promote_gaps(
    config: Config,
    client: Option<String>,
    since_days: i64,
    rank: usize,
) -> anyhow::Result<()> {
    use frontdoor::backoffice::gaps::add_examples;
    let (k, report) = gap_report(&config, client, since_days).await?;
    let group = report.group(rank)?;
    if group.chosen.is_empty() {
        bail!("group {rank} has no chosen suggestions to promote (see `frontdoor gaps`)");
    }
    let mut by_intent: std::collections::BTreeMap<&str, Vec<String>> = Default::default();
    for c in &group.chosen {
        by_intent
            .entry(c.intent.as_str())
            .or_default()
            .push(c.question.clone());
    }
    let mut originals = Vec::new();
    for (intent, questions) in by_intent {
        let Some(file) = k.intents.get(intent).map(|i| i.file.clone()) else {
            bail!("intent {intent:?} is no longer in the content");
        };
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        let new = add_examples(&text, &k, intent, &questions)?;
        if new != text {
            std::fs::write(&file, &new)
                .with_context(|| format!("cannot write {}", file.display()))?;
            println!(
                "{}: {} example(s) added to {intent}",
                file.display(),
                questions.len()
            );
            originals.push((file, text));
        }
    }
    // the content must still load; if it does not, put every file back as it was
    if let Err(e) = frontdoor::app::load_knowledge(&config.content_dir, &config.engine) {
        for (file, text) in &originals {
            std::fs::write(file, text)?;
        }
        bail!("the content did not load after promoting, nothing changed:\n{e}");
    }
    Ok(())
}

async fn gaps(
    config: Config,
    client: Option<String>,
    since_days: i64,
    json: bool,
    export: Option<usize>,
    export_as: String,
) -> anyhow::Result<()> {
    let (k, report) = gap_report(&config, client, since_days).await?;
    let now = chrono::Utc::now();
    if let Some(rank) = export {
        let group = report.group(rank)?;
        match export_as.as_str() {
            "intent" => print!("{}", group.to_intent_toml(&k)),
            "article" => print!("{}", group.to_article_stub(&k, now.date_naive())),
            other => bail!("--as must be intent or article, not {other}"),
        }
        return Ok(());
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    println!(
        "{} gaps in {} groups, last {since_days} days{}",
        report.total,
        report.groups.len(),
        report
            .client
            .as_deref()
            .map(|c| format!(", {c}"))
            .unwrap_or_default()
    );
    for g in &report.groups {
        let kinds: Vec<String> = g.kinds.iter().map(|(k, n)| format!("{n} {k}")).collect();
        println!(
            "\n#{:<3} {:>4}  {}  [{}]  {} .. {}",
            g.rank,
            g.volume,
            g.label,
            kinds.join(", "),
            local(g.first_seen),
            local(g.last_seen)
        );
        for c in &g.chosen {
            println!("      asked {:?}, chose {}", c.question, c.intent);
        }
        if let Some(n) = &g.nearest {
            println!(
                "      nearest: {}{} ({:.0}%)",
                n.intent,
                n.title
                    .as_deref()
                    .map(|t| format!(" \"{t}\""))
                    .unwrap_or_default(),
                n.share * 100.0
            );
        }
        for e in g.examples.iter().skip(1).take(4) {
            println!("      · {e}");
        }
    }
    eprintln!("\nexport one: frontdoor gaps --export N --as intent|article");
    Ok(())
}

async fn demand(
    config: Config,
    client: String,
    days: i64,
    factor: f64,
    min_volume: i64,
    json: bool,
) -> anyhow::Result<()> {
    use frontdoor::backoffice::demand::{SpikeSettings, demand};
    let store = frontdoor::store::connect(&config.database_url).await?;
    let k = frontdoor::app::load_knowledge(&config.content_dir, &config.engine)?;
    let tz = k
        .clients
        .get(&client)
        .map(|c| c.timezone)
        .unwrap_or(k.organisation.timezone);
    let today = chrono::Utc::now().with_timezone(&tz).date_naive();
    let from = today - chrono::Duration::days(days.max(1) - 1);
    let settings = SpikeSettings {
        factor,
        min_volume,
        ..SpikeSettings::default()
    };
    let d = demand(store.as_ref(), &k, &client, from, today, &settings).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&d)?);
        return Ok(());
    }
    println!("date        day  contacts  baseline  ratio");
    for day in &d.days {
        println!(
            "{}  {}  {:>8}  {:>8.1}  {:>5}{}",
            day.date,
            day.weekday,
            day.volume,
            day.baseline,
            day.ratio
                .map(|r| format!("{r:.1}"))
                .unwrap_or_else(|| "–".into()),
            if day.spike { "  SPIKE" } else { "" }
        );
    }
    println!("{} spike day(s)", d.spikes.len());
    Ok(())
}

async fn renewals(
    config: Config,
    notify: bool,
    horizon_days: i64,
    json: bool,
) -> anyhow::Result<()> {
    use frontdoor::backoffice::renewals;
    let k = frontdoor::app::load_knowledge(&config.content_dir, &config.engine)?;
    let now = chrono::Utc::now();
    let list = renewals::upcoming(&k, now, horizon_days);
    if json && !notify {
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    if !json {
        if list.is_empty() {
            println!("no SPA reaches its renewal-notice date in the next {horizon_days} days");
        }
        for r in &list {
            println!(
                "{:<8} notice by {} ({}), SPA ends {} — {}",
                r.client,
                r.notice_date,
                if r.overdue {
                    format!("passed {} days ago", -r.days_left)
                } else {
                    format!("{} days left", r.days_left)
                },
                r.spa_end,
                r.manager
                    .as_ref()
                    .map(|m| format!("{} <{}>", m.name, m.email))
                    .unwrap_or_else(|| "no account manager".into())
            );
        }
    }
    if notify {
        let store = frontdoor::store::connect(&config.database_url).await?;
        let report = renewals::notify(store.as_ref(), &k, now, horizon_days).await?;
        if json {
            println!(
                "{}",
                serde_json::to_string_pretty(
                    &serde_json::json!({"renewals": list, "notify": report})
                )?
            );
        } else {
            println!(
                "alerts queued: {:?}; already alerted: {:?}; no manager: {:?}",
                report.queued, report.already, report.no_manager
            );
            if !report.queued.is_empty() {
                println!("the outbox worker of `frontdoor serve` delivers them");
            }
        }
    }
    Ok(())
}

async fn demo_data(
    config: Config,
    days: u32,
    database: Option<String>,
    seed: u64,
) -> anyhow::Result<()> {
    use frontdoor::simulation::demo::{DemoOptions, generate};
    let url = database
        .map(frontdoor::config::DatabaseUrl::new)
        .unwrap_or(config.database_url.clone());
    let store = frontdoor::store::connect(&url).await?;
    let k = frontdoor::app::load_knowledge(&config.content_dir, &config.engine)?;
    // No outbox worker runs here: nothing is delivered.
    let chat = frontdoor::dialogue::service::ChatService::new(
        store,
        frontdoor::dialogue::service::share(k),
        config.dialogue.clone(),
    )
    .with_escalation(config.escalation.clone());
    eprintln!(
        "playing {days} days of demo traffic into {} ...",
        url.masked()
    );
    let s = generate(
        &chat,
        &DemoOptions {
            days,
            seed,
            end: chrono::Utc::now(),
            scale: 1.0,
        },
    )
    .await?;
    println!(
        "{} conversations ({}), {} client turns, {} manager actions, {} escalations in {:.1} s",
        s.conversations,
        s.per_client
            .iter()
            .map(|(c, n)| format!("{c} {n}"))
            .collect::<Vec<_>>()
            .join(", "),
        s.client_turns,
        s.manager_actions,
        s.escalations,
        s.elapsed_ms as f64 / 1000.0
    );
    println!(
        "outcomes: {}",
        s.outcomes
            .iter()
            .map(|(o, n)| format!("{o} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "{} pings marked \"demo data: not sent\"; start `frontdoor serve` on this database to see the numbers",
        s.pings_not_sent
    );
    Ok(())
}

async fn telegram_webhook(config: Config) -> anyhow::Result<()> {
    let (Some(token), Some(url), Some(secret)) = (
        &config.channels.telegram.bot_token,
        &config.channels.telegram.webhook_url,
        &config.channels.telegram.webhook_secret,
    ) else {
        bail!(
            "set TELEGRAM_BOT_TOKEN, FRONTDOOR_TELEGRAM_WEBHOOK_URL and FRONTDOOR_TELEGRAM_WEBHOOK_SECRET"
        );
    };
    let store = frontdoor::store::connect(&config.database_url).await?;
    let k = frontdoor::app::load_knowledge(&config.content_dir, &config.engine)?;
    let chat = frontdoor::dialogue::service::ChatService::new(
        store,
        frontdoor::dialogue::service::share(k),
        config.dialogue.clone(),
    );
    let bot = frontdoor::channels::telegram::TelegramAdapter::new(
        token.expose(),
        &config.channels.telegram.api_url,
        chat,
    )
    .map_err(anyhow::Error::msg)?;
    bot.set_webhook(url, secret.expose())
        .await
        .map_err(anyhow::Error::msg)?;
    println!("Telegram will post updates to {url}");
    Ok(())
}

/// A one-time Telegram link code for a client (see `Command::LinkCode`).
async fn link_code(config: Config, client: String, ttl_hours: i64) -> anyhow::Result<()> {
    let store = frontdoor::store::connect(&config.database_url).await?;
    let k = frontdoor::app::load_knowledge(&config.content_dir, &config.engine)?;
    frontdoor::app::seed_clients(store.as_ref(), &k).await?;
    if !k.clients.contains_key(&client) {
        bail!(
            "unknown client {client}; known: {:?}",
            k.clients.keys().collect::<Vec<_>>()
        );
    }
    let bytes: [u8; 9] = rand::random();
    let code: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let now = chrono::Utc::now().timestamp_millis();
    store
        .create_link_code(&code, &client, now + ttl_hours * 3_600_000, now)
        .await?;
    println!("{code}");
    eprintln!(
        "send `/start {code}` to the bot within {ttl_hours} h to link a Telegram account to {client}"
    );
    Ok(())
}

async fn serve(config: Config) -> anyhow::Result<()> {
    tracing::info!(config = ?config, "starting");
    let mut state = frontdoor::app::build(&config).await?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut telegram = None;
    if let Some(token) = &config.channels.telegram.bot_token {
        let mut bot = frontdoor::channels::telegram::TelegramAdapter::new(
            token.expose(),
            &config.channels.telegram.api_url,
            state.chat.clone(),
        )
        .map_err(anyhow::Error::msg)?
        .with_outlets(state.web.outlets.clone());
        if config.channels.telegram.webhook_url.is_some() {
            // Webhook mode: Telegram posts to /telegram/webhook on any replica.
            if let Err(e) = bot.prepare().await {
                tracing::warn!(error = %e, "telegram: could not fetch the bot's name yet (group mentions need it)");
            }
            state.telegram = Some(bot);
            state.telegram_webhook_secret = config.channels.telegram.webhook_secret.clone();
            tracing::info!(
                "telegram webhook mode: POST /telegram/webhook (register once with `frontdoor telegram-webhook`)"
            );
        } else {
            state.telegram = Some(bot.clone());
            let mut stop = stop_rx.clone();
            telegram = Some(tokio::spawn(async move {
                if let Err(e) = bot
                    .run(async move {
                        let _ = stop.wait_for(|s| *s).await;
                    })
                    .await
                {
                    tracing::error!(error = %e, "telegram bot stopped");
                }
            }));
        }
    }
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, backend = ?state.chat.store.backend(), "web chat API listening: http://{addr}/");

    // Escalation pings: undelivered ones from before a restart go out now.
    let worker = {
        let mut stop = stop_rx.clone();
        tokio::spawn(
            frontdoor::app::outbox_worker(&config, &state).run(async move {
                let _ = stop.wait_for(|s| *s).await;
            }),
        )
    };
    // SPA renewal alerts: checked at start and daily; the outbox worker delivers them.
    {
        let mut stop = stop_rx.clone();
        tokio::spawn(frontdoor::backoffice::renewals::run_daily(
            state.chat.store.clone(),
            state.chat.knowledge.clone(),
            state.chat.outbox_wake.clone(),
            async move {
                let _ = stop.wait_for(|s| *s).await;
            },
        ));
    }
    if config.reload_interval_secs > 0 {
        tokio::spawn(frontdoor::app::watch_content(
            state.clone(),
            std::time::Duration::from_secs(config.reload_interval_secs),
            stop_rx.clone(),
        ));
    }
    #[cfg(unix)]
    {
        // SIGHUP reloads the content, as daemons do.
        let s = state.clone();
        tokio::spawn(async move {
            let Ok(mut hup) =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            else {
                return;
            };
            while hup.recv().await.is_some() {
                let _ = frontdoor::app::reload(&s).await;
            }
        });
    }
    let mut discord = None;
    if let Some(token) = &config.channels.discord.bot_token {
        let settings = frontdoor::channels::discord::DiscordSettings {
            proxy: (config.channels.discord.api_url != "https://discord.com")
                .then(|| config.channels.discord.api_url.clone()),
            guild_clients: config.channels.discord.guild_clients.clone(),
            shards: config.channels.discord.shards,
            outlets: state.web.outlets.clone(),
        };
        let (token, chat, mut stop) = (
            token.expose().to_string(),
            state.chat.clone(),
            stop_rx.clone(),
        );
        discord = Some(tokio::spawn(async move {
            let stopped = async move {
                let _ = stop.wait_for(|s| *s).await;
            };
            if let Err(e) = frontdoor::channels::discord::run(&token, chat, settings, stopped).await
            {
                tracing::error!(error = %e, "discord bot stopped");
            }
        }));
    }
    frontdoor::http::run(listener, state, async move {
        shutdown_signal().await;
        let _ = stop_tx.send(true);
    })
    .await?;
    // Let a delivery in flight finish and record its result.
    let _ = worker.await;
    if let Some(t) = telegram {
        let _ = t.await;
    }
    if let Some(d) = discord {
        let _ = d.await;
    }
    tracing::info!("stopped");
    Ok(())
}

/// `frontdoor inbox`: serve the webhook receiver and print each new ping on standard output.
async fn inbox(config: Config, addr: String) -> anyhow::Result<()> {
    use frontdoor::escalation::inbox;
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let secret = config.webhook_secret.clone();
    // the bound address, not the asked one: `--addr 127.0.0.1:0` picks a free port
    let at = listener.local_addr()?;
    if secret.is_some() {
        tracing::info!("inbox listening: http://{at}/hooks/<name>; signatures are checked");
    } else {
        tracing::warn!(
            "inbox listening: http://{at}/hooks/<name>; FRONTDOOR_WEBHOOK_SECRET is not set, \
             so signatures are not checked"
        );
    }
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let server = tokio::spawn(inbox::run(listener, secret, tx, shutdown_signal()));
    // Ends when the server stops and drops its sender.
    while let Some(ping) = rx.recv().await {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}", ping.render())?;
        out.flush()?;
    }
    server.await??;
    Ok(())
}

/// SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown signal received; finishing in-flight requests");
}

fn ask(
    config: &Config,
    text: &str,
    json: bool,
    explain: bool,
    client: Option<String>,
) -> anyhow::Result<()> {
    let k = frontdoor::app::load_knowledge(&config.content_dir, &config.engine)?;
    if explain {
        println!("{}", k.engine.explain(text));
        return Ok(());
    }
    // The same dialogue step as the chat API, on a fresh conversation, without a store.
    let event = frontdoor::dialogue::Event {
        input: frontdoor::dialogue::Input::Text(text.to_string()),
        channel: "cli".into(),
        user: frontdoor::dialogue::UserContext {
            client,
            ..Default::default()
        },
        now: chrono::Utc::now(),
    };
    let step = frontdoor::dialogue::step(Default::default(), &event, &k, &config.dialogue);
    if json {
        let out = serde_json::json!({
            "conversation": null,
            "replies": step.replies.iter().map(|r| serde_json::json!({
                "text": r.text,
                "html": frontdoor::knowledge::render::to_html(&r.text),
                "buttons": r.buttons,
            })).collect::<Vec<_>>(),
            "intent": step.intent,
            "confidence": step.confidence,
            "outcome": step.outcome.as_str(),
            "suggestions": frontdoor::dialogue::suggestions_of(step.outcome.as_str(), &step.replies),
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        for r in &step.replies {
            println!("{}", frontdoor::knowledge::render::to_plain(&r.text));
            if !r.buttons.is_empty() {
                let labels: Vec<String> =
                    r.buttons.iter().map(|b| format!("[{}]", b.label)).collect();
                println!("{}", labels.join(" "));
            }
            println!();
        }
        let c = k.engine.classify(text);
        let decision = match &c.decision {
            Decision::Intent(i) => i.clone(),
            Decision::Clarify(a, b) => format!("clarify({a}, {b})"),
            Decision::Suggest(list) => format!("suggest({})", list.join(", ")),
            Decision::Fallback => "fallback".into(),
        };
        eprintln!(
            "intent: {decision}  confidence: {:.2}  outcome: {}",
            c.confidence,
            step.outcome.as_str()
        );
    }
    Ok(())
}

struct EvalArgs {
    train: PathBuf,
    test: Option<PathBuf>,
    val: Option<PathBuf>,
    holdout: usize,
    cv: usize,
    oos_prior: Option<f64>,
    set: Vec<String>,
    json: bool,
}

fn read_rows(path: &std::path::Path) -> anyhow::Result<Vec<(String, String)>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    frontdoor::engine::eval::load_jsonl(&text)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// A one-line progress bar on stderr, redrawn at most every percent.
fn progress_bar(label: &'static str) -> impl FnMut(usize, usize) {
    let mut last = usize::MAX;
    move |done, total| {
        let pct = (done * 100).checked_div(total).unwrap_or(100);
        if pct != last {
            last = pct;
            let filled = pct / 4;
            eprint!(
                "\r{label} [{}{}] {pct:>3}%",
                "#".repeat(filled),
                " ".repeat(25 - filled)
            );
            if done >= total {
                eprintln!();
            }
        }
    }
}

/// The configured engine settings with `--set key=value` overrides applied.
fn engine_config_with(
    base: frontdoor::engine::EngineConfig,
    set: &[String],
) -> anyhow::Result<frontdoor::engine::EngineConfig> {
    let mut engine_config = serde_json::to_value(base)?;
    for kv in set {
        let (k, v) = kv.split_once('=').context("--set needs key=value")?;
        if engine_config.get(k).is_none() {
            bail!("--set: unknown engine setting {k:?}");
        }
        engine_config[k] =
            serde_json::from_str(v).unwrap_or(serde_json::Value::String(v.to_string()));
    }
    Ok(serde_json::from_value(engine_config)?)
}

/// `eval --devset`: the content through the real dialogue on questions we did not write.
fn eval_content(
    config: &Config,
    devset: &std::path::Path,
    datasets: Option<&std::path::Path>,
    set: &[String],
    misses: bool,
    json: bool,
) -> anyhow::Result<()> {
    use frontdoor::dialogue::eval;
    let engine_config = engine_config_with(frontdoor::app::engine_config(&config.engine), set)?;
    let k = frontdoor::knowledge::Knowledge::load(&config.content_dir, engine_config)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let rows = eval::load_devset(devset, datasets)?;
    eval::check_targets(&rows, &k, &devset.display().to_string())?;
    let report = eval::evaluate(&k, &config.dialogue, &rows);
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    if misses {
        for m in &report.misses {
            println!(
                "MISS [{}] {:?}\n     expect {} got {}",
                m.origin,
                m.text,
                m.expect.join("|"),
                serde_json::to_string(&m.got)?
            );
        }
    }
    print!("{report}");
    Ok(())
}

fn eval(config: &Config, a: EvalArgs) -> anyhow::Result<()> {
    use frontdoor::engine::eval::{cv_threshold, evaluate, holdout_split};
    // A dataset is not our content: the engine's own defaults (answer threshold 0.2, no
    // "did you mean" band), with only what the configuration sets explicitly.
    let mut engine_config = engine_config_with(
        frontdoor::app::dataset_engine_config(&config.engine),
        &a.set,
    )?;
    let train = read_rows(&a.train)?;
    let (train, test) = match (&a.test, a.holdout) {
        (Some(t), _) => (train, read_rows(t)?),
        (None, k) if k > 1 => holdout_split(&train, k),
        _ => bail!("give --test FILE or --holdout K"),
    };
    if let (Some(t), Some(v)) = (&a.test, &a.val)
        && (t == v
            || std::fs::canonicalize(t)
                .ok()
                .is_some_and(|t| std::fs::canonicalize(v).ok() == Some(t)))
    {
        bail!(
            "--val is the --test file: the threshold would be chosen on the test data; \
             use --cv K (cross-validation on --train) or a separate --val file"
        );
    }
    let val = a.val.as_deref().map(read_rows).transpose()?;
    if a.cv > 1 {
        engine_config.oos_threshold = cv_threshold(
            &train,
            a.cv,
            a.oos_prior,
            &engine_config,
            &mut progress_bar("cross-validating"),
        );
        eprintln!(
            "out-of-scope threshold from {}-fold cross-validation on train: {:.4}",
            a.cv, engine_config.oos_threshold
        );
    }
    let mut report = evaluate(
        &train,
        &test,
        if a.cv > 1 { None } else { val.as_deref() },
        engine_config,
        &mut progress_bar("evaluating"),
    );
    if a.cv > 1 {
        report.threshold_source = match a.oos_prior {
            Some(p) => format!("{}-fold cross-validation on train, oos prior {p}", a.cv),
            None => format!("{}-fold cross-validation on train", a.cv),
        };
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{report}");
    }
    Ok(())
}

fn test_conversations(config: &Config, dir: &std::path::Path) -> anyhow::Result<()> {
    let k = frontdoor::app::load_knowledge(&config.content_dir, &config.engine)?;
    let (passed, failures) = frontdoor::dialogue::transcript::run_dir(dir, &k, &config.dialogue)
        .with_context(|| format!("cannot read {}", dir.display()))?;
    for f in &failures {
        println!("FAIL {f}\n");
    }
    println!("{passed} passed, {} failed", failures.len());
    if !failures.is_empty() {
        bail!("{} conversation(s) failed", failures.len());
    }
    Ok(())
}

fn check(config: &Config, json: bool, cross_validate: bool, strict: bool) -> anyhow::Result<()> {
    let engine_config = frontdoor::app::engine_config(&config.engine);
    let report =
        frontdoor::knowledge::check::check(&config.content_dir, engine_config, cross_validate);
    let misclassified = report
        .cross_validation
        .as_ref()
        .map(|cv| cv.misclassified.len())
        .unwrap_or(0);
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        let mut out = std::io::stdout().lock();
        for e in &report.errors {
            writeln!(out, "{e}")?;
        }
        if let Some(cv) = &report.cross_validation {
            writeln!(
                out,
                "cross-validation: {} examples, {:.1}% classified to their own intent",
                cv.examples,
                cv.accuracy * 100.0
            )?;
            for m in &cv.misclassified {
                writeln!(
                    out,
                    "{}:{}: warning: example {:?} of {} goes to {}",
                    m.file, m.line, m.example, m.expected, m.got
                )?;
            }
            if !cv.confusable_pairs.is_empty() {
                writeln!(out, "most confusable intent pairs:")?;
                for p in cv.confusable_pairs.iter().take(10) {
                    writeln!(out, "  {:>3}  {} <-> {}", p.count, p.a, p.b)?;
                }
            }
        }
        let counts: Vec<String> = report
            .counts
            .iter()
            .map(|(k, v)| format!("{v} {k}"))
            .collect();
        writeln!(
            out,
            "{}: {}",
            if report.ok { "ok" } else { "FAILED" },
            if counts.is_empty() {
                format!("{} errors", report.errors.len())
            } else {
                counts.join(", ")
            }
        )?;
    }
    if !report.ok {
        bail!("{} content error(s)", report.errors.len());
    }
    if strict && misclassified > 0 {
        bail!("{misclassified} example(s) misclassified in cross-validation (--strict)");
    }
    Ok(())
}

/// A fresh scratch directory under the system temp dir.
fn tempfile_dir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!(
        "frontdoor-bench-kb-{}-{:x}",
        std::process::id(),
        rand::random::<u32>()
    ));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}
