//! `frontdoor import-rasa PATH --out DIR`: a Rasa project (or one NLU file) as a new content
//! directory that `frontdoor --content DIR check` passes and `serve` serves. The import checks
//! its own output with the same validation as `check`, drops the vocabulary groups that would
//! fail it (a synonym for words the content never uses changes no answer), and writes what it
//! did not import, with `file:line` and why, to stdout and `DIR/rasa-import-report.txt`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::config::Config;
use crate::knowledge::check::{CheckReport, check};
use crate::knowledge::rasa::{self, Loc, Skipped, import::Imported};

/// The report's file name in the output directory.
pub const REPORT: &str = "rasa-import-report.txt";

#[derive(clap::Args)]
pub struct Args {
    /// A Rasa project folder (data/**/*.yml, domain.yml) or one training data file.
    path: PathBuf,
    /// The content directory to create (absent or empty).
    #[arg(long)]
    out: PathBuf,
    /// The organisation's name in knowledge-base/sso.toml [default: the project folder's name].
    #[arg(long)]
    organisation: Option<String>,
}

pub fn run(config: &Config, a: Args) -> anyhow::Result<()> {
    if a.out
        .read_dir()
        .is_ok_and(|mut entries| entries.next().is_some())
    {
        bail!("{} is not empty: import into a new folder", a.out.display());
    }
    let project = rasa::read(&a.path)?;
    let organisation = a
        .organisation
        .clone()
        .unwrap_or_else(|| folder_name(&a.path));
    let today = chrono::Utc::now().date_naive();
    let mut imported = rasa::import::to_content(&project, &organisation, today);
    for (rel, text) in &imported.files {
        rasa::write_file(&a.out.join(rel), text)?;
    }
    let engine_config = crate::app::engine_config(&config.engine);
    let report = verify(&a.out, &mut imported, || {
        check(&a.out, engine_config.clone(), false)
    })?;
    let text = report_text(&a, &imported, &report);
    rasa::write_file(&a.out.join(REPORT), &text)?;
    print!("{text}");
    if !report.ok {
        bail!(
            "the imported content has {} error(s) (listed above)",
            report.errors.len()
        );
    }
    Ok(())
}

/// Write the vocabulary, check, drop the groups `check` rejects, until it has nothing to say
/// about the vocabulary (each round only removes groups, so this ends).
fn verify(
    out: &Path,
    imported: &mut Imported,
    check: impl Fn() -> CheckReport,
) -> anyhow::Result<CheckReport> {
    let vocabulary = out.join("intents/vocabulary.toml");
    loop {
        let (text, headers) = imported.vocabulary_toml();
        if imported.groups.is_empty() {
            if vocabulary.exists() {
                std::fs::remove_file(&vocabulary)
                    .with_context(|| format!("cannot remove {}", vocabulary.display()))?;
            }
        } else {
            rasa::write_file(&vocabulary, &text)?;
        }
        let report = check();
        let mut rejected: Vec<(usize, String)> = report
            .errors
            .iter()
            .filter(|e| e.file == vocabulary)
            .filter_map(|e| {
                let group = headers.iter().rposition(|h| *h <= e.line)?;
                Some((group, e.message.clone()))
            })
            .collect();
        if rejected.is_empty() {
            return Ok(report);
        }
        rejected.sort_by_key(|(g, _)| std::cmp::Reverse(*g));
        rejected.dedup_by_key(|(g, _)| *g);
        for (g, message) in rejected {
            let group = imported.groups.remove(g);
            imported.skipped.push(Skipped {
                loc: group.loc,
                what: format!("{} [{}]", group.note, group.terms.join(", ")),
                reason: format!("as a vocabulary group here: {message}"),
            });
        }
        imported.skipped.sort();
    }
}

/// The project's folder name: the folder given, or for a file the folder above its `data/`
/// (or `data/nlu/`) folders.
fn folder_name(path: &Path) -> String {
    let mut dir = std::fs::canonicalize(path).ok();
    if !path.is_dir() {
        dir = dir.and_then(|d| d.parent().map(Path::to_path_buf));
    }
    while let Some(d) = dir
        .clone()
        .filter(|d| d.file_name().is_some_and(|n| n == "data" || n == "nlu"))
    {
        dir = d.parent().map(Path::to_path_buf);
    }
    dir.and_then(|d| d.file_name().map(|n| n.to_string_lossy().to_string()))
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "Imported assistant".into())
}

fn report_text(a: &Args, imported: &Imported, report: &CheckReport) -> String {
    let mut out = String::new();
    let count = |kind: &str| imported.intents.iter().filter(|i| i.action == kind).count();
    let examples: usize = imported.intents.iter().map(|i| i.examples).sum();
    let _ = writeln!(
        out,
        "Imported {} into {}: {} intents ({} articles, {} smalltalk, {} help, {} out of scope, {} other), {examples} examples, {} vocabulary groups",
        a.path.display(),
        a.out.display(),
        imported.intents.len(),
        count("article"),
        count("smalltalk"),
        count("help"),
        count("out_of_scope"),
        imported.intents.len()
            - ["article", "smalltalk", "help", "out_of_scope"]
                .iter()
                .map(|k| count(k))
                .sum::<usize>(),
        imported.groups.len(),
    );
    let _ = writeln!(out, "\nIntents (Rasa -> Frontdoor):");
    for i in &imported.intents {
        let _ = writeln!(
            out,
            "  {} -> {} ({}, {} examples)",
            i.rasa.join(" + "),
            i.name,
            i.action,
            i.examples
        );
    }
    if !imported.notes.is_empty() {
        let _ = writeln!(out, "\nTo review:");
        for n in &imported.notes {
            let _ = writeln!(out, "  {n}");
        }
    }
    let _ = writeln!(out, "\nNot imported ({}):", imported.skipped.len());
    for s in &imported.skipped {
        let _ = writeln!(out, "  {}", shown(s));
    }
    let _ = writeln!(out);
    for e in &report.errors {
        let _ = writeln!(out, "{e}");
    }
    let counts: Vec<String> = report
        .counts
        .iter()
        .map(|(k, v)| format!("{v} {k}"))
        .collect();
    let _ = writeln!(
        out,
        "check: {}: {}",
        if report.ok { "ok" } else { "FAILED" },
        counts.join(", ")
    );
    out
}

/// A skipped item; a location with no file (nothing to point at) shows only what and why.
fn shown(s: &Skipped) -> String {
    if s.loc == Loc::default() {
        format!("{}: {}", s.what, s.reason)
    } else {
        s.to_string()
    }
}
