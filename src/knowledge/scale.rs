//! `frontdoor bench-kb`: the shipped content multiplied `scale` times, loaded and queried — how
//! the knowledge base behaves when an SSO has a hundred times more articles.
//!
//! Every article is copied `scale - 1` times with its own id, title and questions (each copy's
//! questions carry a made-up unit code word, as a large SSO's per-unit variants of one policy
//! would), so the engine has `scale` × the intents and examples and no two intents share an
//! example. Services, clients, processes and hand-written intents stay as they are.

use std::path::Path;
use std::time::Instant;

use serde::Serialize;

use super::{ContentErrors, EngineBuild, Knowledge};
use crate::engine::EngineConfig;

#[derive(Debug, thiserror::Error)]
pub enum ScaleError {
    /// A file or folder of the content (or of the copy) that could not be read or written.
    #[error("{path}: {source}")]
    File {
        path: String,
        source: std::io::Error,
    },
    #[error("{file}: {message}")]
    Article { file: String, message: String },
    #[error("the generated content does not load:\n{0}")]
    Load(#[from] ContentErrors),
}

#[derive(Clone, Debug, Serialize)]
pub struct ScaleReport {
    pub scale: usize,
    pub articles: usize,
    pub intents: usize,
    /// Seconds to load (parse, validate, build the engine) the generated content.
    pub load_seconds: f64,
    pub queries: usize,
    /// Single-query classification time, one query at a time.
    pub p50_us: f64,
    pub p99_us: f64,
    pub max_us: f64,
    /// Queries whose answer was the article they were taken from.
    pub top1_accuracy: f64,
    /// The engine's [`crate::engine::Engine::model_fingerprint`], in hex: the same for two
    /// builds that trained the same model, to the bit.
    pub model_fingerprint: String,
    /// Peak resident memory of the process when the load was done (`VmHWM`; Linux only).
    pub load_peak_rss_mb: Option<f64>,
    /// One article's file changed (a question added) and the content reloaded, when asked for.
    pub reload: Option<ReloadReport>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ReloadReport {
    /// The article changed, and the question added to it.
    pub article: String,
    pub question: String,
    /// Seconds to reload the content (every file read and checked, the engine updated).
    pub seconds: f64,
    /// How the engine was made (patched, or built afresh).
    pub engine: EngineBuild,
    /// The added question is answered with the changed article.
    pub answers_new_question: bool,
    /// Top-1 of the reloaded knowledge on the same queries.
    pub top1_accuracy: f64,
    /// Peak resident memory of the process after the reload (both knowledges were held).
    pub peak_rss_mb: Option<f64>,
}

/// The process's peak resident memory in MB, from `/proc/self/status` (None elsewhere).
pub fn peak_rss_mb() -> Option<f64> {
    super::process_memory_mb().map(|(_, peak)| peak)
}

/// A pronounceable code word for copy `n` ("bakodu"), so copies differ by a real token.
fn code_word(n: usize) -> String {
    const C: &[u8] = b"bdfgklmnprstvz";
    const V: &[u8] = b"aeiou";
    let mut n = n + 7919;
    let mut w = String::new();
    for _ in 0..3 {
        w.push(C[n % C.len()] as char);
        n /= C.len();
        w.push(V[n % V.len()] as char);
        n /= V.len();
    }
    w
}

/// An I/O error as a [`ScaleError`] that names the path it happened on (bench-kb run from
/// the wrong folder said only "No such file or directory").
fn at(path: &Path) -> impl FnOnce(std::io::Error) -> ScaleError + '_ {
    move |source| ScaleError::File {
        path: path.display().to_string(),
        source,
    }
}

fn copy_dir(from: &Path, to: &Path) -> Result<(), ScaleError> {
    std::fs::create_dir_all(to).map_err(at(to))?;
    for entry in std::fs::read_dir(from).map_err(at(from))? {
        let entry = entry.map_err(at(from))?;
        let (source, target) = (entry.path(), to.join(entry.file_name()));
        if entry.file_type().map_err(at(&source))?.is_dir() {
            copy_dir(&source, &target)?;
        } else {
            std::fs::copy(&source, &target).map_err(at(&source))?;
        }
    }
    Ok(())
}

fn markdown_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) -> Result<(), ScaleError> {
    for entry in std::fs::read_dir(dir).map_err(at(dir))? {
        let path = entry.map_err(at(dir))?.path();
        if path.is_dir() {
            markdown_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "md") {
            out.push(path);
        }
    }
    Ok(())
}

/// Write the content of `src` into `dst`, every article `scale` times. Returns the queries to
/// ask: (question, article id it belongs to).
pub fn generate(src: &Path, dst: &Path, scale: usize) -> Result<Vec<(String, String)>, ScaleError> {
    copy_dir(&src.join("intents"), &dst.join("intents"))?;
    copy_dir(&src.join("knowledge-base"), &dst.join("knowledge-base"))?;
    let mut files = Vec::new();
    markdown_files(&dst.join("knowledge-base"), &mut files)?;
    files.sort();
    let mut queries = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).map_err(at(&file))?;
        let bad = |message: &str| ScaleError::Article {
            file: file.display().to_string(),
            message: message.to_string(),
        };
        let (table, body) = front_matter(&file, &text)?;
        let id = table
            .get("id")
            .and_then(|v| v.as_str())
            .ok_or_else(|| bad("no id"))?
            .to_string();
        let questions: Vec<String> = table
            .get("questions")
            .and_then(|v| v.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|q| q.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        if let Some(q) = questions.first() {
            queries.push((q.clone(), id.clone()));
        }
        for n in 1..scale {
            let word = code_word(n);
            let mut t = table.clone();
            let copy_id = format!("{id}-{word}");
            t.insert("id".into(), copy_id.clone().into());
            if let Some(title) = table.get("title").and_then(|v| v.as_str()) {
                t.insert("title".into(), format!("{title} ({word} unit)").into());
            }
            let qs: Vec<String> = questions.iter().map(|q| format!("{q} {word}")).collect();
            if let Some(q) = qs.get(n % qs.len().max(1)) {
                queries.push((q.clone(), copy_id.clone()));
            }
            t.insert(
                "questions".into(),
                toml::Value::Array(qs.into_iter().map(Into::into).collect()),
            );
            let front = toml::to_string(&t).map_err(|e| bad(&e.to_string()))?;
            let copy = file.with_file_name(format!("{copy_id}.md"));
            std::fs::write(&copy, format!("+++\n{front}+++{body}")).map_err(at(&copy))?;
        }
    }
    Ok(queries)
}

/// Generate into `work`, load, and time `max_queries` single queries; with `reload`, then
/// change one article's file and time the reload.
pub fn measure(
    src: &Path,
    work: &Path,
    scale: usize,
    max_queries: usize,
    reload: bool,
    config: &EngineConfig,
) -> Result<ScaleReport, ScaleError> {
    let mut queries = generate(src, work, scale.max(1))?;
    // Flush the generated files first: otherwise the kernel writes thousands of new files back
    // to disk during the timed load, on the cores the load runs on. A content directory being
    // loaded in production is at rest. (Best effort: without a `sync` the figure only gets
    // noisier.)
    let _ = std::process::Command::new("sync").status();
    if let Some((rss_mb, peak_mb)) = super::process_memory_mb() {
        // what the generator left behind, before the load starts
        tracing::debug!(target: "frontdoor::load", phase = "generated", rss_mb, peak_mb);
    }
    let started = Instant::now();
    let k = Knowledge::load(work, config.clone())?;
    let load_seconds = started.elapsed().as_secs_f64();
    let load_peak_rss_mb = peak_rss_mb();
    // An even spread over the copies, the same every run.
    let step = (queries.len() / max_queries.max(1)).max(1);
    queries = queries
        .into_iter()
        .step_by(step)
        .take(max_queries)
        .collect();
    let (times, top1_accuracy) = ask(&k, &queries);
    let at = |p: f64| {
        times
            .get(((p * times.len() as f64).ceil() as usize).saturating_sub(1))
            .copied()
            .unwrap_or(0.0)
    };
    let reload = if reload {
        Some(change_and_reload(&k, work, scale.max(1), &queries, config)?)
    } else {
        None
    };
    Ok(ScaleReport {
        scale,
        articles: k.articles.len(),
        intents: k.intents.len(),
        load_seconds,
        queries: times.len(),
        p50_us: at(0.50),
        p99_us: at(0.99),
        max_us: times.last().copied().unwrap_or(0.0),
        top1_accuracy,
        model_fingerprint: format!("{:016x}", k.engine.model_fingerprint()),
        load_peak_rss_mb,
        reload,
    })
}

/// Each query's classification time (µs, sorted) and the share answered with its article.
fn ask(k: &Knowledge, queries: &[(String, String)]) -> (Vec<f64>, f64) {
    let mut times = Vec::with_capacity(queries.len());
    let mut right = 0usize;
    for (q, id) in queries {
        let t = Instant::now();
        let c = k.engine.classify(q);
        times.push(t.elapsed().as_secs_f64() * 1e6);
        if c.ranked.first().is_some_and(|r| &r.intent == id) {
            right += 1;
        }
    }
    times.sort_by(f64::total_cmp);
    let top1 = right as f64 / times.len().max(1) as f64;
    (times, top1)
}

/// The question [`change_and_reload`] adds: words no article has, and the copy's code word.
pub const NEW_QUESTION: &str = "how do I requisition a zorblat widget";

/// Add a question to one article's file (a copy in the middle of the range), reload `k`'s
/// content and ask it.
fn change_and_reload(
    k: &Knowledge,
    work: &Path,
    scale: usize,
    queries: &[(String, String)],
    config: &EngineConfig,
) -> Result<ReloadReport, ScaleError> {
    let first = k
        .articles
        .values()
        .find(|a| !a.questions.is_empty())
        .ok_or_else(|| ScaleError::Article {
            file: work.display().to_string(),
            message: "no article with questions".into(),
        })?;
    let (article, question) = if scale > 1 {
        let word = code_word(scale / 2);
        (
            format!("{}-{word}", first.id),
            format!("{NEW_QUESTION} for the {word} unit"),
        )
    } else {
        (first.id.clone(), NEW_QUESTION.to_string())
    };
    let file = k
        .articles
        .get(&article)
        .map(|a| a.file.clone())
        .unwrap_or_else(|| first.file.with_file_name(format!("{article}.md")));
    add_question(&file, &question)?;
    let _ = std::process::Command::new("sync").status();
    let started = Instant::now();
    let k2 = k.reload(work, config.clone())?;
    let seconds = started.elapsed().as_secs_f64();
    let peak_rss_mb = peak_rss_mb();
    let answers_new_question = k2
        .engine
        .classify(&question)
        .ranked
        .first()
        .is_some_and(|r| r.intent == article);
    let (_, top1_accuracy) = ask(&k2, queries);
    Ok(ReloadReport {
        article,
        question,
        seconds,
        engine: k2.engine_build,
        answers_new_question,
        top1_accuracy,
        peak_rss_mb,
    })
}

/// An article's front matter (between `+++` lines) as a table, and the body after it.
fn front_matter<'t>(file: &Path, text: &'t str) -> Result<(toml::Table, &'t str), ScaleError> {
    let bad = |message: &str| ScaleError::Article {
        file: file.display().to_string(),
        message: message.to_string(),
    };
    let rest = text
        .strip_prefix("+++\n")
        .ok_or_else(|| bad("no front matter"))?;
    let end = rest
        .find("\n+++")
        .ok_or_else(|| bad("front matter not closed"))?;
    let table = toml::from_str(&rest[..end + 1]).map_err(|e| bad(&e.to_string()))?;
    Ok((table, &rest[end + 4..]))
}

/// Append `question` to the `questions` of the article in `file` (front matter between
/// `+++` lines; the rest of the file as it was).
pub fn add_question(file: &Path, question: &str) -> Result<(), ScaleError> {
    let text = std::fs::read_to_string(file).map_err(at(file))?;
    let bad = |message: &str| ScaleError::Article {
        file: file.display().to_string(),
        message: message.to_string(),
    };
    let (mut table, body) = front_matter(file, &text)?;
    let questions = table
        .entry("questions")
        .or_insert_with(|| toml::Value::Array(Vec::new()));
    if let toml::Value::Array(a) = questions {
        a.push(question.into());
    }
    let front = toml::to_string(&table).map_err(|e| bad(&e.to_string()))?;
    std::fs::write(file, format!("+++\n{front}+++{body}")).map_err(at(file))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_times_the_content_loads_and_answers_its_copies() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR"));
        let work = tempfile::tempdir().unwrap();
        let shipped = Knowledge::load(src, EngineConfig::default()).unwrap();
        let r = measure(src, work.path(), 3, 300, false, &EngineConfig::default()).unwrap();
        assert_eq!(r.articles, 3 * shipped.articles.len());
        assert_eq!(
            r.intents,
            shipped.intents.len() + 2 * shipped.articles.len()
        );
        // Measured on the shipped content (5 Dec 2026, `frontdoor bench-kb --scale 3 --queries
        // 300`): 201 articles, 226 intents, 201 queries, top-1 96.5%. Floors with room for
        // content changes: more than 100 queries means most copies were asked about, and 80%
        // top-1 means copies with different code words are still told apart (the engine's own
        // accuracy on the shipped paraphrases is about 90%). `p50_us > 0` only checks that
        // timing was recorded; speed belongs to the benchmark, not this test.
        assert!(r.queries > 100 && r.p50_us > 0.0, "{r:?}");
        assert!(r.top1_accuracy > 0.8, "copies are told apart: {r:?}");
        assert_ne!(code_word(1), code_word(2));
    }

    #[test]
    fn content_that_is_not_there_is_named_in_the_error() {
        let work = tempfile::tempdir().unwrap();
        let missing = work.path().join("no-content-here");
        let err = generate(&missing, &work.path().join("copy"), 2).unwrap_err();
        let intents = missing.join("intents").display().to_string();
        assert!(
            matches!(&err, ScaleError::File { path, .. } if *path == intents),
            "{err:?}"
        );
        assert!(err.to_string().starts_with(&intents), "{err}");
    }
}
