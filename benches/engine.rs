//! Query cost at 1×, 10× and 100× the CLINC150 intent count, and at 1× with general English
//! (WordNet) off and with the shipped content's vocabulary groups on (`1x-no-lexicon`,
//! `1x-vocabulary`): CLINC150's questions say "vacation", "paycheck" and "401k", so the
//! vocabulary's expansion runs on real queries.
//!
//! Larger sets are synthetic: every CLINC150 intent is copied with a suffix
//! (`name~k`) and perturbed examples (two tokens swapped, one token replaced
//! by a random vocabulary word, sometimes one dropped), so copies are similar
//! but not identical. Copies keep `COPY_EXAMPLES` examples each to bound build
//! time; the original 150 intents keep all of theirs.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use frontdoor::engine::eval::{load_jsonl, to_intents};
use frontdoor::engine::{Engine, EngineConfig, IntentDef, VocabularyGroup};

const COPY_EXAMPLES: usize = 20;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as usize
    }
}

fn perturb(text: &str, vocab: &[String], rng: &mut Rng) -> String {
    let mut toks: Vec<String> = text.split_whitespace().map(str::to_string).collect();
    if toks.len() >= 2 {
        let (a, b) = (rng.next() % toks.len(), rng.next() % toks.len());
        toks.swap(a, b);
        let r = rng.next() % toks.len();
        toks[r] = vocab[rng.next() % vocab.len()].clone();
        if toks.len() > 4 && rng.next().is_multiple_of(3) {
            let d = rng.next() % toks.len();
            toks.remove(d);
        }
    }
    toks.join(" ")
}

fn scaled(base: &[IntentDef], factor: usize) -> Vec<IntentDef> {
    let mut vocab: Vec<String> = base
        .iter()
        .flat_map(|d| {
            d.examples
                .iter()
                .flat_map(|e| e.split_whitespace().map(str::to_string))
        })
        .collect();
    vocab.sort();
    vocab.dedup();
    let mut rng = Rng(0x5DEE_CE66_D1CE_4E5B);
    let mut out = base.to_vec();
    for k in 1..factor {
        for d in base {
            out.push(IntentDef {
                name: format!("{}~{k}", d.name),
                examples: d
                    .examples
                    .iter()
                    .take(COPY_EXAMPLES)
                    .map(|e| perturb(e, &vocab, &mut rng))
                    .collect(),
                rules: Vec::new(),
                passages: Vec::new(),
            });
        }
    }
    out
}

/// The shipped `intents/vocabulary.toml`'s groups, unscoped (their scopes name our articles,
/// which CLINC150 does not have).
fn shipped_vocabulary() -> Vec<VocabularyGroup> {
    #[derive(serde::Deserialize)]
    struct File {
        group: Vec<Group>,
    }
    #[derive(serde::Deserialize)]
    struct Group {
        terms: Vec<String>,
        #[serde(default)]
        off_topic: bool,
    }
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("intents/vocabulary.toml");
    let text = std::fs::read_to_string(&path).expect("intents/vocabulary.toml");
    let file: File = toml::from_str(&text).expect("vocabulary.toml parses");
    file.group
        .into_iter()
        .map(|g| VocabularyGroup {
            terms: g.terms,
            scope: Vec::new(),
            origin: String::new(),
            off_topic: g.off_topic,
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/datasets/clinc150/train.jsonl");
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprintln!("skipping engine bench: {} not found", path.display());
        return;
    };
    let rows = match load_jsonl(&text) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("skipping engine bench: {e}");
            return;
        }
    };
    // `oos` rows left out: the copies scale the in-scope intents
    let base = to_intents(&rows, "");
    let queries: Vec<String> = rows.iter().step_by(37).map(|r| r.0.clone()).collect();
    let mut group = c.benchmark_group("classify");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(5));
    // "1x-sparse" forces the many-intents regime (word-level model, sampled
    // softmax over sparse rows) at 1x, for a like-for-like comparison with 10x/100x.
    let vocabulary = shipped_vocabulary();
    for (label, factor, cfg, groups) in [
        ("1x", 1usize, EngineConfig::default(), &[][..]),
        (
            "1x-no-lexicon",
            1,
            EngineConfig {
                lexicon: false,
                ..EngineConfig::default()
            },
            &[][..],
        ),
        ("1x-vocabulary", 1, EngineConfig::default(), &vocabulary[..]),
        (
            "1x-sparse",
            1,
            EngineConfig {
                dense_max_classes: 0,
                ..EngineConfig::default()
            },
            &[][..],
        ),
        ("10x", 10, EngineConfig::default(), &[][..]),
        ("100x", 100, EngineConfig::default(), &[][..]),
    ] {
        let intents = scaled(&base, factor);
        let n_examples: usize = intents.iter().map(|d| d.examples.len()).sum();
        let t0 = Instant::now();
        let engine = match Engine::build_with_vocabulary(&intents, &[], groups, cfg) {
            Ok(e) => e,
            Err(e) => {
                eprintln!("build failed at {factor}x: {e}");
                continue;
            }
        };
        eprintln!(
            "classify/{label}: {} intents, {n_examples} examples, built in {:.2}s",
            intents.len(),
            t0.elapsed().as_secs_f64()
        );
        let mut i = 0;
        group.bench_function(label, |b| {
            b.iter(|| {
                i = (i + 1) % queries.len();
                black_box(engine.classify(black_box(&queries[i])))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
