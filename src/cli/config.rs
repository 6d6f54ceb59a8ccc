//! `frontdoor config`: the effective configuration, secrets masked.

use crate::config::Config;

#[derive(clap::Args)]
pub struct Args {}

pub fn run(config: &Config) -> anyhow::Result<()> {
    print!("{}", config.to_masked_toml());
    Ok(())
}
