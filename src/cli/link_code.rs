//! `frontdoor link-code`: a one-time code that links a Telegram account to a client.

use anyhow::bail;

use crate::config::Config;

#[derive(clap::Args)]
pub struct Args {
    #[arg(long)]
    client: String,
    /// Hours until the code expires.
    #[arg(long, default_value_t = 72)]
    ttl_hours: i64,
}

pub async fn run(config: Config, a: Args) -> anyhow::Result<()> {
    let Args { client, ttl_hours } = a;
    let store = crate::store::connect(&config.database_url).await?;
    let k = crate::app::load_knowledge(&config.content_dir, &config.engine)?;
    crate::knowledge::live::seed_clients(store.as_ref(), &k).await?;
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
