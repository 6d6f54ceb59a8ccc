//! `frontdoor eval`: the engine measured on a labelled JSONL dataset (`--train`), or the
//! content measured through the real dialogue on a development set (`--devset`).

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::config::Config;
use crate::engine::EngineConfig;

#[derive(clap::Args)]
pub struct Args {
    /// Labelled data: JSONL, or Rasa NLU YAML (.yml/.yaml file, or a Rasa project folder).
    #[arg(long, required_unless_present = "devset")]
    train: Option<PathBuf>,
    /// Measure the content (the configured content directory) through the real dialogue on
    /// this development set (see tests/fixtures/devset.toml): right directly, right within
    /// suggestions, wrong answer, declined; out-of-domain answered.
    #[arg(long, conflicts_with_all = ["train", "test", "val", "holdout", "cv"])]
    devset: Option<PathBuf>,
    /// Directory of the dataset files the --devset names (default: the devset's `datasets`).
    #[arg(long, requires = "devset")]
    datasets: Option<PathBuf>,
    /// With --devset: print every miss.
    #[arg(long, requires = "devset")]
    misses: bool,
    /// Test file; or use --holdout K to test on every K-th row per intent of --train.
    #[arg(long)]
    test: Option<PathBuf>,
    /// Pick the out-of-scope threshold on this file (never on --test).
    #[arg(long)]
    val: Option<PathBuf>,
    #[arg(long, default_value_t = 0)]
    holdout: usize,
    /// Pick the threshold by K-fold cross-validation on --train instead of --val.
    #[arg(long, default_value_t = 0)]
    cv: usize,
    /// Expected out-of-scope share of traffic for --cv (default: train's own share).
    #[arg(long)]
    oos_prior: Option<f64>,
    /// Override an engine setting, e.g. --set clarify_margin=0.1 (repeatable).
    #[arg(long = "set")]
    set: Vec<String>,
    #[arg(long)]
    json: bool,
}

pub fn run(config: &Config, a: Args) -> anyhow::Result<()> {
    match (&a.devset, &a.train) {
        (Some(devset), _) => content(config, devset, &a),
        (None, Some(train)) => dataset(config, train, &a),
        (None, None) => bail!("give --train FILE or --devset FILE"),
    }
}

/// Labelled rows from JSONL (`{"text", "intent"}` per line) or Rasa NLU YAML (`.yml`/`.yaml`:
/// a training data file or a project folder's files; `out_of_scope`/`nlu_fallback` are `oos`).
fn read_rows(path: &Path) -> anyhow::Result<Vec<(String, String)>> {
    let rasa = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("yml") || e.eq_ignore_ascii_case("yaml"));
    if rasa || path.is_dir() {
        return Ok(crate::knowledge::rasa::labelled_rows(path)?);
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    crate::engine::eval::load_jsonl(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// A one-line progress bar on stderr, redrawn at most every percent.
fn progress_bar(label: &'static str) -> impl FnMut(usize, usize) {
    let mut last = usize::MAX;
    move |done, total| {
        let pct = (done * 100).checked_div(total).unwrap_or(100);
        if pct != last {
            last = pct;
            let filled = pct / 4;
            eprint!(
                "\r{label} [{}{}] {pct:>3}%",
                "#".repeat(filled),
                " ".repeat(25 - filled)
            );
            if done >= total {
                eprintln!();
            }
        }
    }
}

/// The configured engine settings with `--set key=value` overrides applied.
fn engine_config_with(base: EngineConfig, set: &[String]) -> anyhow::Result<EngineConfig> {
    let mut engine_config = serde_json::to_value(base)?;
    for kv in set {
        let (k, v) = kv.split_once('=').context("--set needs key=value")?;
        if engine_config.get(k).is_none() {
            bail!("--set: unknown engine setting {k:?}");
        }
        engine_config[k] =
            serde_json::from_str(v).unwrap_or(serde_json::Value::String(v.to_string()));
    }
    Ok(serde_json::from_value(engine_config)?)
}

/// `eval --devset`: the content through the real dialogue on questions we did not write.
fn content(config: &Config, devset: &Path, a: &Args) -> anyhow::Result<()> {
    use crate::dialogue::eval;
    let engine_config = engine_config_with(crate::app::engine_config(&config.engine), &a.set)?;
    let k = crate::knowledge::Knowledge::load(&config.content_dir, engine_config)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let rows = eval::load_devset(devset, a.datasets.as_deref())?;
    eval::check_targets(&rows, &k, &devset.display().to_string())?;
    let report = eval::evaluate(&k, &config.dialogue, &rows);
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    if a.misses {
        for m in &report.misses {
            println!(
                "MISS [{}] {:?}\n     expect {} got {}",
                m.origin,
                m.text,
                m.expect.join("|"),
                serde_json::to_string(&m.got)?
            );
        }
    }
    print!("{report}");
    Ok(())
}

/// `eval --train`: the engine on a labelled dataset.
fn dataset(config: &Config, train: &Path, a: &Args) -> anyhow::Result<()> {
    use crate::engine::eval::{cv_threshold, evaluate, holdout_split};
    // A dataset is not our content: the engine's own defaults (answer threshold 0.2, no
    // "did you mean" band), with only what the configuration sets explicitly.
    let mut engine_config =
        engine_config_with(crate::app::dataset_engine_config(&config.engine), &a.set)?;
    let train = read_rows(train)?;
    let (train, test) = match (&a.test, a.holdout) {
        (Some(t), _) => (train, read_rows(t)?),
        (None, k) if k > 1 => holdout_split(&train, k),
        _ => bail!("give --test FILE or --holdout K"),
    };
    if let (Some(t), Some(v)) = (&a.test, &a.val)
        && (t == v
            || std::fs::canonicalize(t)
                .ok()
                .is_some_and(|t| std::fs::canonicalize(v).ok() == Some(t)))
    {
        bail!(
            "--val is the --test file: the threshold would be chosen on the test data; \
             use --cv K (cross-validation on --train) or a separate --val file"
        );
    }
    let val = a.val.as_deref().map(read_rows).transpose()?;
    if a.cv > 1 {
        engine_config.oos_threshold = cv_threshold(
            &train,
            a.cv,
            a.oos_prior,
            &engine_config,
            &mut progress_bar("cross-validating"),
        );
        eprintln!(
            "out-of-scope threshold from {}-fold cross-validation on train: {:.4}",
            a.cv, engine_config.oos_threshold
        );
    }
    let mut report = evaluate(
        &train,
        &test,
        if a.cv > 1 { None } else { val.as_deref() },
        engine_config,
        &mut progress_bar("evaluating"),
    );
    if a.cv > 1 {
        report.threshold_source = match a.oos_prior {
            Some(p) => format!("{}-fold cross-validation on train, oos prior {p}", a.cv),
            None => format!("{}-fold cross-validation on train", a.cv),
        };
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{report}");
    }
    Ok(())
}
