//! `frontdoor demand`: a client's daily demand, with spikes against the trailing 4-week
//! same-weekday average.

use crate::backoffice::demand::{SpikeSettings, demand};
use crate::config::Config;

#[derive(clap::Args)]
pub struct Args {
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
}

pub async fn run(config: Config, a: Args) -> anyhow::Result<()> {
    let store = crate::store::connect(&config.database_url).await?;
    let k = crate::app::load_knowledge(&config.content_dir, &config.engine)?;
    let tz = k
        .clients
        .get(&a.client)
        .map(|c| c.timezone)
        .unwrap_or(k.organisation.timezone);
    let today = chrono::Utc::now().with_timezone(&tz).date_naive();
    let from = today - chrono::Duration::days(a.days.max(1) - 1);
    let settings = SpikeSettings {
        factor: a.factor,
        min_volume: a.min_volume,
        ..SpikeSettings::default()
    };
    let d = demand(store.as_ref(), &k, &a.client, from, today, &settings).await?;
    if a.json {
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
