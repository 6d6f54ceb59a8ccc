//! `frontdoor report`: a client's monthly report (KPIs of both sides of the SPA, the
//! recharge statement, and the review of the month before).

use std::path::PathBuf;

use anyhow::bail;

use super::write_out;
use crate::config::Config;

#[derive(clap::Args)]
pub struct Args {
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
}

pub async fn run(config: Config, a: Args) -> anyhow::Result<()> {
    let store = crate::store::connect(&config.database_url).await?;
    let k = crate::app::load_knowledge(&config.content_dir, &config.engine)?;
    let now = chrono::Utc::now().timestamp_millis();
    let r =
        crate::backoffice::report::monthly_reviewed(store.as_ref(), &k, &a.client, &a.month, now)
            .await?;
    let text = match a.format.as_str() {
        "json" => serde_json::to_string_pretty(&r)?,
        "html" => r.to_html(),
        "csv" => r.to_csv(),
        other => bail!("--format must be json, csv or html, not {other}"),
    };
    write_out(a.out, &text)
}
