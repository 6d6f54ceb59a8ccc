//! `frontdoor token`: a signed web chat identity token, for host pages and scripts.

use anyhow::bail;

use crate::channels::identity::{Claims, sign};
use crate::config::Config;

#[derive(clap::Args)]
pub struct Args {
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
}

pub fn run(config: &Config, a: Args) -> anyhow::Result<()> {
    let Some(secret) = &config.identity_secret else {
        bail!("set FRONTDOOR_IDENTITY_SECRET to sign identity tokens");
    };
    let claims = Claims {
        sub: a.user,
        name: a.name,
        client: a.client,
        role: a.manager.then(|| "manager".to_string()),
        exp: chrono::Utc::now().timestamp() + a.ttl,
    };
    println!("{}", sign(&claims, secret.expose().as_bytes()));
    Ok(())
}
