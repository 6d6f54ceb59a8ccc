//! Knowledge: intents, FAQ articles, the SPA service catalogue, clients and the process directory,
//! loaded from the content directory (`intents/`, `knowledge-base/`) and validated as a whole.
//!
//! Layout of the content directory:
//! - `knowledge-base/sso.toml`: the organisation (time zone, default coverage, rate card);
//! - `knowledge-base/**/*.md`: one article per file, TOML front matter between `+++` lines;
//! - `knowledge-base/services/*.toml`, `clients/*.toml`, `processes/*.toml`;
//! - `intents/*.toml`: intents that are not plain articles.
//!
//! Loading never stops at the first problem: every error is collected as `file:line: message`.

mod assemble;
pub mod check;
pub mod live;
mod load;
pub mod model;
pub mod rasa;
pub mod render;
pub mod scale;
mod small_pages;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use model::*;

use crate::engine::{Engine, EngineConfig, IntentDef};
use assemble::{assemble, intent_defs};

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct ContentError {
    pub file: PathBuf,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for ContentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.message)
    }
}

/// All the problems found in a content directory.
#[derive(Debug, thiserror::Error)]
pub struct ContentErrors(pub Vec<ContentError>);

impl fmt::Display for ContentErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

/// 1-based line of a byte offset.
pub fn line_of_offset(text: &str, offset: usize) -> usize {
    let offset = offset.min(text.len());
    text.as_bytes()[..offset]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// 1-based line where `needle` first appears (1 when it does not).
pub fn line_of(text: &str, needle: &str) -> usize {
    if needle.is_empty() {
        return 1;
    }
    text.find(needle)
        .map(|off| line_of_offset(text, off))
        .unwrap_or(1)
}

/// Values the engine extracts from any message, whatever its intent (request references,
/// invoice numbers, amounts, dates, emails).
pub use crate::engine::builtin_extractors;

pub struct Knowledge {
    pub root: PathBuf,
    pub organisation: Organisation,
    pub articles: BTreeMap<String, Article>,
    /// Every intent the engine knows, article intents included (named after the article id).
    pub intents: BTreeMap<String, Intent>,
    pub services: BTreeMap<String, Service>,
    pub clients: BTreeMap<String, Client>,
    pub processes: BTreeMap<String, Process>,
    /// The content's vocabulary groups (`intents/vocabulary.toml`), as written.
    pub vocabulary: Vec<VocabularyEntry>,
    /// The same groups as the engine was given (scopes resolved to intents), in the same order.
    pub vocabulary_groups: Vec<crate::engine::VocabularyGroup>,
    /// Shared with the knowledge loaded before when a reload changed nothing it is built from.
    pub engine: Arc<Engine>,
    /// How the engine was made.
    pub engine_build: EngineBuild,
}

/// How a load made its engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum EngineBuild {
    /// Built from every intent.
    Built,
    /// A reload: the previous engine with these many changed intents patched in.
    Patched { intents: usize },
    /// A reload that changed nothing the engine is built from: the previous engine.
    Reused,
}

impl fmt::Debug for Knowledge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Knowledge")
            .field("root", &self.root)
            .field("articles", &self.articles.len())
            .field("intents", &self.intents.len())
            .field("services", &self.services.len())
            .field("clients", &self.clients.len())
            .field("processes", &self.processes.len())
            .field("engine_build", &self.engine_build)
            .finish()
    }
}

impl Knowledge {
    /// Load and validate the content directory; any error fails the load.
    pub fn load(root: &Path, config: EngineConfig) -> Result<Knowledge, ContentErrors> {
        let (knowledge, errors) = Self::load_with_report(root, config);
        match knowledge {
            Some(k) if errors.is_empty() => Ok(k),
            _ => Err(ContentErrors(errors)),
        }
    }

    /// Load as much as possible, returning every error found (for `frontdoor check`).
    pub fn load_with_report(
        root: &Path,
        config: EngineConfig,
    ) -> (Option<Knowledge>, Vec<ContentError>) {
        Self::load_after(root, config, None)
    }

    /// Load the content directory again, this knowledge being what was loaded before: every
    /// file is read and checked as in [`Knowledge::load`], and the engine is updated from this
    /// one's (patched when only a few intents changed, see `Engine::update`).
    pub fn reload(&self, root: &Path, config: EngineConfig) -> Result<Knowledge, ContentErrors> {
        let (knowledge, errors) = Self::load_after(root, config, Some(self));
        match knowledge {
            Some(k) if errors.is_empty() => Ok(k),
            _ => Err(ContentErrors(errors)),
        }
    }

    fn load_after(
        root: &Path,
        config: EngineConfig,
        previous: Option<&Knowledge>,
    ) -> (Option<Knowledge>, Vec<ContentError>) {
        crate::engine::set_process_probe(process_sample);
        let _small_pages = small_pages::SmallPages::during_load();
        if config.lexicon {
            crate::engine::lexicon::Lexicon::prepare();
        }
        let mut phases = crate::engine::Phases::start();
        let mut loader = load::Loader::new();
        let kb = root.join("knowledge-base");
        let intents_dir = root.join("intents");
        if !kb.is_dir() {
            loader.errors.push(ContentError {
                file: kb.clone(),
                line: 1,
                message:
                    "no knowledge-base/ folder here (set --content to the folder that holds it)"
                        .into(),
            });
            return (None, loader.errors);
        }
        let sso = kb.join("sso.toml");
        if sso.exists() {
            loader.load_organisation(&sso);
        }
        for file in files_with_ext(&kb.join("services"), "toml") {
            loader.load_service(&file);
        }
        for file in files_with_ext(&kb.join("clients"), "toml") {
            loader.load_client(&file);
        }
        for file in files_with_ext(&kb.join("processes"), "toml") {
            loader.load_process(&file);
        }
        // README files document the folder; they are not articles.
        let articles: Vec<PathBuf> = files_with_ext(&kb, "md")
            .into_iter()
            .filter(|f| {
                !f.file_name()
                    .is_some_and(|n| n.eq_ignore_ascii_case("README.md"))
            })
            .collect();
        loader.load_each(&articles, load::Loader::load_article);
        let (vocabulary, intents): (Vec<PathBuf>, Vec<PathBuf>) =
            files_with_ext(&intents_dir, "toml")
                .into_iter()
                .partition(|f| {
                    f.file_name()
                        .is_some_and(|n| n == load::vocabulary::FILE_NAME)
                });
        for file in &vocabulary {
            loader.load_vocabulary(file);
        }
        loader.load_each(&intents, load::Loader::load_intents);
        phases.done("content files");
        let knowledge = assemble(&mut loader, root, config, previous);
        phases.done("assembled");
        let mut errors = loader.errors;
        errors.sort();
        errors.dedup();
        (knowledge, errors)
    }

    /// Articles a client may see, in id order.
    pub fn article_visible(&self, id: &str, client: Option<&str>) -> Option<&Article> {
        self.articles
            .get(id)
            .filter(|a| a.visibility.allows(client))
    }

    /// The coverage hours that apply to a client (their SPA's, else the organisation's).
    pub fn coverage_for<'a>(
        &'a self,
        client: Option<&str>,
        service: Option<&'a Service>,
    ) -> &'a Coverage {
        client
            .and_then(|c| self.clients.get(c))
            .and_then(|c| c.spa.coverage.as_ref())
            .or_else(|| service.and_then(|s| s.coverage.as_ref()))
            .unwrap_or(&self.organisation.coverage)
    }

    /// The unit price of an interaction type for a client (SPA override, else the rate card).
    /// A per-service type (`completed_request.vendor-setup`) falls back to its base
    /// (`completed_request`): the client's SPA first — its price for the service, then its
    /// price for any service — then the rate card's, in the same order.
    pub fn rate(&self, client: Option<&str>, interaction: &str) -> Option<f64> {
        let base = interaction.split_once('.').map(|(b, _)| b);
        let card = |rates: &BTreeMap<String, f64>| {
            rates
                .get(interaction)
                .or_else(|| base.and_then(|b| rates.get(b)))
                .copied()
        };
        client
            .and_then(|c| self.clients.get(c))
            .and_then(|c| card(&c.rates))
            .or_else(|| card(&self.organisation.rates))
    }

    /// What a request's first completion is recharged as for this client and service, if the
    /// rate card prices it: the ledger's interaction type (see [`COMPLETED_REQUEST`]).
    pub fn completed_request_charge(&self, client: Option<&str>, service: &str) -> Option<String> {
        let kind = format!("{COMPLETED_REQUEST}.{service}");
        self.rate(client, &kind).map(|_| kind)
    }

    /// Training data for the engine, as used to build it.
    pub fn intent_defs(&self) -> Vec<IntentDef> {
        intent_defs(&self.intents, &self.articles)
    }
}

/// The process's CPU time and memory, for the load's phase log.
fn process_sample() -> crate::engine::ProcessSample {
    crate::engine::ProcessSample {
        cpu_ms: process_cpu_ms(),
        memory_mb: process_memory_mb(),
    }
}

/// CPU time of the whole process so far, ms (`CLOCK_PROCESS_CPUTIME_ID`: every thread, user
/// and system time, to the nanosecond where `/proc/self/stat` counts 10 ms ticks).
fn process_cpu_ms() -> Option<f64> {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid, writable timespec; the call only writes it.
    let ok = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut t) } == 0;
    ok.then(|| t.tv_sec as f64 * 1e3 + t.tv_nsec as f64 / 1e6)
}

/// The process's resident and peak resident memory in MB (`VmRSS`, `VmHWM` of
/// `/proc/self/status`; None where there is none): the load's phase log reports them.
pub fn process_memory_mb() -> Option<(f64, f64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let mb = |key: &str| -> Option<f64> {
        let line = status.lines().find(|l| l.starts_with(key))?;
        let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb / 1024.0)
    };
    Some((mb("VmRSS:")?, mb("VmHWM:")?))
}

/// Files with an extension under a folder, recursively, in a stable order.
fn files_with_ext(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == ext) {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}
