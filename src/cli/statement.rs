//! `frontdoor statement`: a client's monthly recharge statement from the ledger.

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
    /// json, csv or html.
    #[arg(long, default_value = "csv")]
    format: String,
    /// Write here instead of standard output.
    #[arg(long)]
    out: Option<PathBuf>,
}

pub async fn run(config: Config, a: Args) -> anyhow::Result<()> {
    let store = crate::store::connect(&config.database_url).await?;
    let k = crate::app::load_knowledge(&config.content_dir, &config.engine)?;
    let s =
        crate::backoffice::statement::statement(store.as_ref(), &k, &a.client, &a.month).await?;
    let text = match a.format.as_str() {
        "json" => serde_json::to_string_pretty(&s)?,
        "csv" => s.to_csv(),
        "html" => s.to_html(),
        other => bail!("--format must be json, csv or html, not {other}"),
    };
    write_out(a.out, &text)
}
