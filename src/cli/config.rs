//! `frontdoor config`: the effective configuration, secrets masked; exits non-zero when a
//! request webhook's template is broken (after printing, so the rest can be read).

use crate::config::Config;

#[derive(clap::Args)]
pub struct Args {}

pub fn run(config: &Config) -> anyhow::Result<()> {
    print!("{}", config.to_masked_toml());
    // What the loading could not check without the policy: the case systems' templates.
    crate::app::request_hooks(config)?;
    Ok(())
}
