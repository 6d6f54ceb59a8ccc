//! `frontdoor demo-data`: realistic demo traffic played through the real dialogue into an
//! empty database (no ping is sent), so the back office has numbers to show.

use crate::config::{Config, DatabaseUrl};
use crate::dialogue::service::{ChatService, share};
use crate::simulation::demo::{DemoOptions, generate};

#[derive(clap::Args)]
pub struct Args {
    #[arg(long, default_value_t = 90)]
    days: u32,
    /// Database URL (default: the configured one).
    #[arg(long)]
    database: Option<String>,
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

pub async fn run(config: Config, a: Args) -> anyhow::Result<()> {
    let Args {
        days,
        database,
        seed,
    } = a;
    let url = database
        .map(DatabaseUrl::new)
        .unwrap_or(config.database_url.clone());
    let store = crate::store::connect(&url).await?;
    let k = crate::app::load_knowledge(&config.content_dir, &config.engine)?;
    // No outbox worker runs here: nothing is delivered.
    let chat = ChatService::new(store, share(k), config.dialogue.clone())
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
        "{} request moves by the SSO (picked up, asked, completed, cancelled, reopened)",
        s.request_moves
    );
    println!(
        "{} pings marked \"demo data: not sent\"; start `frontdoor serve` on this database to see the numbers",
        s.pings_not_sent
    );
    Ok(())
}
