//! `frontdoor test-conversations`: scripted conversations (*.txt transcripts) against the
//! dialogue.

use std::path::PathBuf;

use anyhow::{Context, bail};

use crate::config::Config;

#[derive(clap::Args)]
pub struct Args {
    /// Folder of transcripts.
    #[arg(default_value = "tests/conversations")]
    dir: PathBuf,
}

pub fn run(config: &Config, a: Args) -> anyhow::Result<()> {
    let dir = a.dir.as_path();
    let k = crate::app::load_knowledge(&config.content_dir, &config.engine)?;
    let (passed, failures) = crate::dialogue::transcript::run_dir(dir, &k, &config.dialogue)
        .with_context(|| format!("cannot read {}", dir.display()))?;
    for f in &failures {
        println!("FAIL {f}\n");
    }
    println!("{passed} passed, {} failed", failures.len());
    if !failures.is_empty() {
        bail!("{} conversation(s) failed", failures.len());
    }
    Ok(())
}
