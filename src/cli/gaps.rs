//! `frontdoor gaps`: knowledge gaps grouped by similarity, biggest first; one group exported
//! as content to paste (`--export`), or its chosen suggestions promoted to examples
//! (`--promote`).

use std::collections::BTreeMap;

use anyhow::{Context, bail};

use crate::backoffice::gaps::{GapQuery, GapReport, GapSettings, add_examples, knowledge_gaps};
use crate::config::Config;
use crate::knowledge::Knowledge;

#[derive(clap::Args)]
pub struct Args {
    #[arg(long)]
    client: Option<String>,
    /// How far back to look.
    #[arg(long, default_value_t = 30)]
    since_days: i64,
    #[arg(long)]
    json: bool,
    /// Export group N of the list (1 = the biggest) instead of listing.
    #[arg(long)]
    export: Option<usize>,
    /// With --export: `intent` (an [[intent]] example list for intents/*.toml) or
    /// `article` (a Markdown article stub for knowledge-base/).
    #[arg(long = "as", default_value = "intent")]
    export_as: String,
    /// Add group N's "asked X, chose Y" questions as examples of the intents chosen, in
    /// the content files (the content is reloaded to check it; nothing is written if the
    /// result does not load).
    #[arg(long, conflicts_with = "export")]
    promote: Option<usize>,
}

pub async fn run(config: Config, a: Args) -> anyhow::Result<()> {
    match a.promote {
        Some(rank) => promote(&config, a.client, a.since_days, rank).await,
        None => list(&config, a).await,
    }
}

fn local(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

/// The content and the knowledge gaps of the last `since_days` days, grouped.
async fn gap_report(
    config: &Config,
    client: Option<String>,
    since_days: i64,
) -> anyhow::Result<(Knowledge, GapReport)> {
    let store = crate::store::connect(&config.database_url).await?;
    let k = crate::app::load_knowledge(&config.content_dir, &config.engine)?;
    let now = chrono::Utc::now();
    let query = GapQuery {
        client,
        from: (now - chrono::Duration::days(since_days.max(0))).timestamp_millis(),
        to: now.timestamp_millis() + 1,
    };
    let report = knowledge_gaps(store.as_ref(), &k, &query, &GapSettings::default()).await?;
    Ok((k, report))
}

/// `gaps --promote N`: group N's chosen suggestions become examples of what was chosen.
async fn promote(
    config: &Config,
    client: Option<String>,
    since_days: i64,
    rank: usize,
) -> anyhow::Result<()> {
    let (k, report) = gap_report(config, client, since_days).await?;
    let group = report.group(rank)?;
    if group.chosen.is_empty() {
        bail!("group {rank} has no chosen suggestions to promote (see `frontdoor gaps`)");
    }
    let mut by_intent: BTreeMap<&str, Vec<String>> = Default::default();
    for c in &group.chosen {
        by_intent
            .entry(c.intent.as_str())
            .or_default()
            .push(c.question.clone());
    }
    let mut originals = Vec::new();
    for (intent, questions) in by_intent {
        let Some(file) = k.intents.get(intent).map(|i| i.file.clone()) else {
            bail!("intent {intent:?} is no longer in the content");
        };
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        let new = add_examples(&text, &k, intent, &questions)?;
        if new != text {
            std::fs::write(&file, &new)
                .with_context(|| format!("cannot write {}", file.display()))?;
            println!(
                "{}: {} example(s) added to {intent}",
                file.display(),
                questions.len()
            );
            originals.push((file, text));
        }
    }
    // the content must still load; if it does not, put every file back as it was
    if let Err(e) = crate::app::load_knowledge(&config.content_dir, &config.engine) {
        for (file, text) in &originals {
            std::fs::write(file, text)?;
        }
        bail!("the content did not load after promoting, nothing changed:\n{e}");
    }
    Ok(())
}

/// The groups as a list, or one exported (`--export N --as intent|article`).
async fn list(config: &Config, a: Args) -> anyhow::Result<()> {
    let since_days = a.since_days;
    let (k, report) = gap_report(config, a.client, since_days).await?;
    let now = chrono::Utc::now();
    if let Some(rank) = a.export {
        let group = report.group(rank)?;
        match a.export_as.as_str() {
            "intent" => print!("{}", group.to_intent_toml(&k)),
            "article" => print!("{}", group.to_article_stub(&k, now.date_naive())),
            other => bail!("--as must be intent or article, not {other}"),
        }
        return Ok(());
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    println!(
        "{} gaps in {} groups, last {since_days} days{}",
        report.total,
        report.groups.len(),
        report
            .client
            .as_deref()
            .map(|c| format!(", {c}"))
            .unwrap_or_default()
    );
    for g in &report.groups {
        let kinds: Vec<String> = g.kinds.iter().map(|(k, n)| format!("{n} {k}")).collect();
        println!(
            "\n#{:<3} {:>4}  {}  [{}]  {} .. {}",
            g.rank,
            g.volume,
            g.label,
            kinds.join(", "),
            local(g.first_seen),
            local(g.last_seen)
        );
        for c in &g.chosen {
            println!("      asked {:?}, chose {}", c.question, c.intent);
        }
        if let Some(n) = &g.nearest {
            println!(
                "      nearest: {}{} ({:.0}%)",
                n.intent,
                n.title
                    .as_deref()
                    .map(|t| format!(" \"{t}\""))
                    .unwrap_or_default(),
                n.share * 100.0
            );
        }
        for e in g.examples.iter().skip(1).take(4) {
            println!("      · {e}");
        }
    }
    eprintln!("\nexport one: frontdoor gaps --export N --as intent|article");
    Ok(())
}
