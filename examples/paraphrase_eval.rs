//! Measure the shipped content on a paraphrase file (same format and scoring as
//! `tests/fixtures/paraphrases.toml` in `tests/knowledge.rs`), printing every miss with the
//! engine's top intents. Content is read at runtime, so no rebuild is needed after editing it.
//!
//! ```text
//! cargo run --release --example paraphrase_eval -- [--content DIR] [--seed N] [--set K=V]... [FILE...]
//! ```
//! Default file: `tests/fixtures/paraphrases.toml`; default content: `.`. `--seed` trains the
//! engine with another seed (the tests use the default): a figure that only holds for one seed
//! is luck, not content quality. `--set` overrides any other engine setting (TOML value; an
//! unknown key is refused by name), e.g.
//! `--set ensemble=3`.

use std::path::PathBuf;

use frontdoor::engine::Decision;
use frontdoor::knowledge::{Action, Knowledge};

#[derive(serde::Deserialize)]
struct Paraphrases {
    #[serde(default)]
    case: Vec<Case>,
    #[serde(default)]
    off_topic: Vec<OffTopic>,
}
#[derive(serde::Deserialize)]
struct Case {
    text: String,
    expect: String,
}
#[derive(serde::Deserialize)]
struct OffTopic {
    text: String,
}

fn main() -> anyhow::Result<()> {
    let mut content = PathBuf::from(".");
    let mut files = Vec::new();
    let mut seed = None;
    let mut sets = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--content" {
            content = PathBuf::from(args.next().expect("--content DIR"));
        } else if a == "--seed" {
            seed = Some(args.next().expect("--seed N").parse::<u64>()?);
        } else if a == "--set" {
            sets.push(args.next().expect("--set KEY=VALUE"));
        } else {
            files.push(PathBuf::from(a));
        }
    }
    if files.is_empty() {
        files.push(PathBuf::from("tests/fixtures/paraphrases.toml"));
    }
    let mut config = frontdoor::config::engine_overrides(&sets)?;
    if let Some(seed) = seed {
        config.seed = seed;
    }
    let k = Knowledge::load(&content, config)?;
    let article_of = |intent: &str| match &k.intents[intent].action {
        Action::Article(a) => Some(a.clone()),
        _ => None,
    };
    for file in files {
        let set: Paraphrases = toml::from_str(&std::fs::read_to_string(&file)?)?;
        let mut wrong = 0;
        println!("== {}", file.display());
        for c in &set.case {
            let got = k.engine.classify(&c.text);
            let article = match &got.decision {
                Decision::Intent(i) => article_of(i),
                Decision::Clarify(a, _) => article_of(a).filter(|x| x == &c.expect),
                Decision::Suggest(_) | Decision::Fallback => None,
            };
            if article.as_deref() != Some(c.expect.as_str()) {
                wrong += 1;
                let ranked: Vec<String> = got
                    .ranked
                    .iter()
                    .take(3)
                    .map(|s| format!("{} {:.2}", s.intent, s.confidence))
                    .collect();
                println!(
                    "MISS {:?}\n     expect {} got {:?} [{}]",
                    c.text,
                    c.expect,
                    got.decision,
                    ranked.join(", ")
                );
            }
        }
        let mut answered = 0;
        for o in &set.off_topic {
            let got = k.engine.classify(&o.text);
            if got.decision != Decision::Fallback {
                answered += 1;
                println!(
                    "OFF-TOPIC ANSWERED {:?} -> {:?} {:.2}",
                    o.text, got.decision, got.confidence
                );
            }
        }
        let n = set.case.len().max(1);
        println!(
            "accuracy {:.1}% ({} of {}), off-topic {} of {} fall back",
            100.0 * (n - wrong) as f64 / n as f64,
            n - wrong,
            set.case.len(),
            set.off_topic.len() - answered,
            set.off_topic.len()
        );
    }
    Ok(())
}
