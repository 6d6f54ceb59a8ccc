//! `frontdoor bench-kb`: the content multiplied N times, loaded and queried.

use std::path::PathBuf;

use anyhow::Context;

use crate::config::{Config, engine_overrides};

#[derive(clap::Args)]
pub struct Args {
    #[arg(long, default_value_t = 100)]
    scale: usize,
    /// Queries to time (spread over the copies).
    #[arg(long, default_value_t = 5000)]
    queries: usize,
    #[arg(long)]
    json: bool,
    /// Skip changing one article and timing the reload.
    #[arg(long)]
    no_reload: bool,
    /// Override one engine setting for this run (`KEY=VALUE`, the value in TOML, as
    /// `paraphrase_eval --set`), e.g. `--set train_candidates=12`: a setting's cost and its
    /// top-1 at scale, measured without a rebuild. Repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
}

pub fn run(config: &Config, a: Args) -> anyhow::Result<()> {
    let engine = engine_overrides(&a.sets)?;
    let work = scratch_dir()?;
    eprintln!(
        "generating {}x the content in {} ...",
        a.scale,
        work.display()
    );
    let r = crate::knowledge::scale::measure(
        &config.content_dir,
        &work,
        a.scale,
        a.queries,
        !a.no_reload,
        &engine,
    );
    let _ = std::fs::remove_dir_all(&work);
    let r = r?;
    if a.json {
        println!("{}", serde_json::to_string(&r)?);
    } else {
        let mb = |m: Option<f64>| m.map_or("unknown".to_string(), |m| format!("{m:.0} MB"));
        println!(
            "{}x: {} articles, {} intents, loaded in {:.2} s (peak RSS {}); {} queries: p50 {:.0} µs, p99 {:.0} µs, max {:.0} µs; top-1 {:.1}%; model {}",
            r.scale,
            r.articles,
            r.intents,
            r.load_seconds,
            mb(r.load_peak_rss_mb),
            r.queries,
            r.p50_us,
            r.p99_us,
            r.max_us,
            r.top1_accuracy * 100.0,
            r.model_fingerprint
        );
        if let Some(re) = &r.reload {
            println!(
                "reload after one changed file ({}: added {:?}): {:.2} s, engine {:?}; the new question {}; top-1 {:.1}%; peak RSS {}",
                re.article,
                re.question,
                re.seconds,
                re.engine,
                if re.answers_new_question {
                    "is answered with it"
                } else {
                    "is NOT answered with it"
                },
                re.top1_accuracy * 100.0,
                mb(re.peak_rss_mb)
            );
        }
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
