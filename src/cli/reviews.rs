//! `frontdoor reviews`: monthly reports awaiting review (which side is missing, days since the
//! month ended); `--notify` queues the reminders due for the outbox worker of `frontdoor serve`.

use crate::backoffice::review::{Side, awaiting, reminders};
use crate::config::Config;

#[derive(clap::Args)]
pub struct Args {
    /// Queue a reminder to the account manager for each report due one (once per report).
    #[arg(long)]
    notify: bool,
    #[arg(long)]
    json: bool,
}

pub async fn run(config: Config, a: Args) -> anyhow::Result<()> {
    let store = crate::store::connect(&config.database_url).await?;
    let k = crate::app::load_knowledge(&config.content_dir, &config.engine)?;
    let now = chrono::Utc::now();
    let list = awaiting::awaiting(store.as_ref(), &k, now).await?;
    let report = if a.notify {
        Some(reminders::remind(store.as_ref(), &k, now).await?)
    } else {
        None
    };
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({"awaiting": list, "notify": report}))?
        );
        return Ok(());
    }
    if list.is_empty() {
        println!(
            "every report of the last {} months is reviewed",
            awaiting::WINDOW_MONTHS
        );
    }
    for r in &list {
        let missing: Vec<&str> = r
            .missing
            .iter()
            .map(|s| match s {
                Side::Sso => "SSO",
                Side::Client => "client",
            })
            .collect();
        println!(
            "{:<8} {}  awaiting {:<12} {} days since month end — {}",
            r.client,
            r.month,
            missing.join(" + "),
            r.days_since_month_end,
            r.manager
                .as_ref()
                .map(|m| format!("{} <{}>", m.name, m.email))
                .unwrap_or_else(|| "no account manager".into())
        );
    }
    if let Some(report) = report {
        println!(
            "reminders queued: {:?}; already reminded: {:?}; no manager: {:?} (after {} days)",
            report.queued, report.already, report.no_manager, k.organisation.review_reminder_days
        );
        if !report.queued.is_empty() {
            println!("the outbox worker of `frontdoor serve` delivers them");
        }
    }
    Ok(())
}
