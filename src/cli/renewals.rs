//! `frontdoor renewals`: SPAs whose renewal-notice date is near (or passed while the SPA
//! runs); `--notify` queues the alerts for the outbox worker of `frontdoor serve`.

use crate::backoffice::renewals;
use crate::config::Config;

#[derive(clap::Args)]
pub struct Args {
    #[arg(long)]
    notify: bool,
    #[arg(long, default_value_t = renewals::HORIZON_DAYS)]
    horizon_days: i64,
    #[arg(long)]
    json: bool,
}

pub async fn run(config: Config, a: Args) -> anyhow::Result<()> {
    let Args {
        notify,
        horizon_days,
        json,
    } = a;
    let k = crate::app::load_knowledge(&config.content_dir, &config.engine)?;
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
        let store = crate::store::connect(&config.database_url).await?;
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
