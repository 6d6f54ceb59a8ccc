//! `frontdoor check`: validate intents, the knowledge base and the request webhooks' templates;
//! exits non-zero on errors.

use std::io::Write;

use anyhow::bail;

use crate::config::Config;

#[derive(clap::Args)]
pub struct Args {
    #[arg(long)]
    json: bool,
    /// Skip the cross-validation report.
    #[arg(long)]
    no_cross_validation: bool,
    /// Also fail when cross-validation finds misclassified examples.
    #[arg(long)]
    strict: bool,
}

pub fn run(config: &Config, a: Args) -> anyhow::Result<()> {
    if let Err(e) = crate::app::request_hooks(config) {
        bail!("{e}");
    }
    let engine_config = crate::app::engine_config(&config.engine);
    let report =
        crate::knowledge::check::check(&config.content_dir, engine_config, !a.no_cross_validation);
    let misclassified = report
        .cross_validation
        .as_ref()
        .map(|cv| cv.misclassified.len())
        .unwrap_or(0);
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        let mut out = std::io::stdout().lock();
        for e in &report.errors {
            writeln!(out, "{e}")?;
        }
        if let Some(cv) = &report.cross_validation {
            writeln!(
                out,
                "cross-validation: {} examples, {:.1}% classified to their own intent",
                cv.examples,
                cv.accuracy * 100.0
            )?;
            for m in &cv.misclassified {
                writeln!(
                    out,
                    "{}:{}: warning: example {:?} of {} goes to {}",
                    m.file, m.line, m.example, m.expected, m.got
                )?;
            }
            if !cv.confusable_pairs.is_empty() {
                writeln!(out, "most confusable intent pairs:")?;
                for p in cv.confusable_pairs.iter().take(10) {
                    writeln!(out, "  {:>3}  {} <-> {}", p.count, p.a, p.b)?;
                }
            }
        }
        let counts: Vec<String> = report
            .counts
            .iter()
            .map(|(k, v)| format!("{v} {k}"))
            .collect();
        writeln!(
            out,
            "{}: {}",
            if report.ok { "ok" } else { "FAILED" },
            if counts.is_empty() {
                format!("{} errors", report.errors.len())
            } else {
                counts.join(", ")
            }
        )?;
    }
    if !report.ok {
        bail!("{} content error(s)", report.errors.len());
    }
    if a.strict && misclassified > 0 {
        bail!("{misclassified} example(s) misclassified in cross-validation (--strict)");
    }
    Ok(())
}
