//! `frontdoor bench-kb`: the content multiplied N times, loaded and queried.

use std::path::PathBuf;

use anyhow::Context;

use crate::config::Config;

#[derive(clap::Args)]
pub struct Args {
    #[arg(long, default_value_t = 100)]
    scale: usize,
    /// Queries to time (spread over the copies).
    #[arg(long, default_value_t = 5000)]
    queries: usize,
    #[arg(long)]
    json: bool,
}

pub fn run(config: &Config, a: Args) -> anyhow::Result<()> {
    let work = scratch_dir()?;
    eprintln!(
        "generating {}x the content in {} ...",
        a.scale,
        work.display()
    );
    let r = crate::knowledge::scale::measure(&config.content_dir, &work, a.scale, a.queries);
    let _ = std::fs::remove_dir_all(&work);
    let r = r?;
    if a.json {
        println!("{}", serde_json::to_string(&r)?);
    } else {
        println!(
            "{}x: {} articles, {} intents, loaded in {:.2} s; {} queries: p50 {:.0} µs, p99 {:.0} µs, max {:.0} µs; top-1 {:.1}%",
            r.scale,
            r.articles,
            r.intents,
            r.load_seconds,
            r.queries,
            r.p50_us,
            r.p99_us,
            r.max_us,
            r.top1_accuracy * 100.0
        );
    }
    Ok(())
}

/// A fresh scratch directory under the system temp dir.
fn scratch_dir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!(
        "frontdoor-bench-kb-{}-{:x}",
        std::process::id(),
        rand::random::<u32>()
    ));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}
