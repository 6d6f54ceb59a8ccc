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

pub mod check;
pub mod live;
mod load;
pub mod model;
pub mod rasa;
pub mod render;
pub mod scale;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

pub use model::*;

use crate::engine::{Engine, EngineConfig, IntentDef};

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
    pub engine: Engine,
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
        for file in files_with_ext(&kb, "md") {
            // README files document the folder; they are not articles.
            if file
                .file_name()
                .is_some_and(|n| n.eq_ignore_ascii_case("README.md"))
            {
                continue;
            }
            loader.load_article(&file);
        }
        for file in files_with_ext(&intents_dir, "toml") {
            if file
                .file_name()
                .is_some_and(|n| n == load::vocabulary::FILE_NAME)
            {
                loader.load_vocabulary(&file);
            } else {
                loader.load_intents(&file);
            }
        }
        phases.done("content files");
        let knowledge = assemble(&mut loader, root, config);
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

/// Training data: each intent's examples and rules; an article's title, tags and body (without
/// its section titles) are its passages (weaker evidence that widens the vocabulary the engine
/// recognises).
fn intent_defs(
    intents: &BTreeMap<String, Intent>,
    articles: &BTreeMap<String, Article>,
) -> Vec<IntentDef> {
    intents
        .values()
        .map(|i| IntentDef {
            name: i.name.clone(),
            examples: i.examples.clone(),
            rules: i.rules.clone(),
            passages: match &i.action {
                Action::Article(a) if a == &i.name => articles
                    .get(a)
                    .map(|a| {
                        vec![
                            a.title.clone(),
                            a.tags.join(", "),
                            render::to_passage_text(&a.body),
                        ]
                    })
                    .unwrap_or_default(),
                _ => Vec::new(),
            },
        })
        .collect()
}

fn default_organisation() -> Organisation {
    let tz = chrono_tz::Europe::London;
    Organisation {
        name: "Shared Services".into(),
        short_name: "Shared Services".into(),
        timezone: tz,
        currency: "GBP".into(),
        coverage: Coverage {
            days: WeekdaySet(0x1f),
            start: chrono::NaiveTime::from_hms_opt(8, 0, 0).unwrap_or_default(),
            end: chrono::NaiveTime::from_hms_opt(18, 0, 0).unwrap_or_default(),
            timezone: tz,
            holidays: Holidays::default(),
        },
        rates: BTreeMap::new(),
        escalation_response_hours: 4,
        urgent_response_hours: 1,
        client_response_hours: 16,
        reopen_window_days: 14,
        review_reminder_days: 5,
    }
}

/// Cross-file validation, then the engine.
fn assemble(loader: &mut load::Loader, root: &Path, mut config: EngineConfig) -> Option<Knowledge> {
    let mut phases = crate::engine::Phases::start();
    let raw = std::mem::take(&mut loader.raw);
    loader.raw.texts = raw.texts;
    let organisation = raw.organisation.unwrap_or_else(default_organisation);

    let mut articles = BTreeMap::new();
    for a in raw.articles {
        if let Some(first) = articles.get(&a.id) {
            let first: &Article = first;
            let msg = format!(
                "duplicate article id {:?} (also in {})",
                a.id,
                first.file.display()
            );
            loader.err_at(&a.file, &a.id, msg);
            continue;
        }
        articles.insert(a.id.clone(), a);
    }
    let mut services = BTreeMap::new();
    for s in raw.services {
        if services.contains_key(&s.id) {
            loader.err_at(
                &root.join("knowledge-base/services"),
                &s.id,
                format!("duplicate service id {:?}", s.id),
            );
            continue;
        }
        services.insert(s.id.clone(), s);
    }
    let mut clients = BTreeMap::new();
    for c in raw.clients {
        if clients.contains_key(&c.code) {
            loader.err_at(
                &root.join("knowledge-base/clients"),
                &c.code,
                format!("duplicate client code {:?}", c.code),
            );
            continue;
        }
        clients.insert(c.code.clone(), c);
    }
    let mut processes = BTreeMap::new();
    for p in raw.processes {
        if processes.contains_key(&p.id) {
            loader.err_at(
                &root.join("knowledge-base/processes"),
                &p.id,
                format!("duplicate process id {:?}", p.id),
            );
            continue;
        }
        processes.insert(p.id.clone(), p);
    }

    // Cross references. Files are found again by id to point at the right line.
    let service_file = |id: &str| root.join(format!("knowledge-base/services/{id}.toml"));
    for a in articles.values() {
        if let Some(p) = &a.process
            && !processes.contains_key(p)
        {
            loader.err_at(
                &a.file,
                p,
                format!("article {}: unknown process {p:?}", a.id),
            );
        }
        if let Some(s) = &a.service
            && !services.contains_key(s)
        {
            loader.err_at(
                &a.file,
                s,
                format!("article {}: unknown service {s:?}", a.id),
            );
        }
        if let Visibility::Clients(list) = &a.visibility {
            for c in list {
                if !clients.contains_key(c) {
                    loader.err_at(
                        &a.file,
                        c,
                        format!("article {}: unknown client {c:?} in visibility", a.id),
                    );
                }
            }
        }
    }
    let sso_toml = root.join("knowledge-base/sso.toml");
    for k in organisation.rates.keys() {
        if let Some((_, service)) = k.split_once('.')
            && !services.contains_key(service)
        {
            loader.err_at(
                &sso_toml,
                service,
                format!("rate {k:?} names an unknown service"),
            );
        }
    }
    for s in services.values() {
        // Found only when there is an error to place: it searches every file's text.
        let file = |texts: &HashMap<PathBuf, String>| {
            find_file_for(texts, &s.id).unwrap_or_else(|| service_file(&s.id))
        };
        if let Some(p) = &s.process
            && !processes.contains_key(p)
        {
            let file = file(&loader.raw.texts);
            loader.err_at(&file, p, format!("service {}: unknown process {p:?}", s.id));
        }
        if !organisation.rates.is_empty() && !organisation.rates.contains_key(&s.interaction) {
            let file = file(&loader.raw.texts);
            loader.err_at(
                &file,
                &s.interaction,
                format!(
                    "service {}: interaction {:?} has no rate in knowledge-base/sso.toml",
                    s.id, s.interaction
                ),
            );
        }
    }
    for c in clients.values() {
        let file = |texts: &HashMap<PathBuf, String>| {
            find_file_for(texts, &format!("code = \"{}\"", c.code))
                .unwrap_or_else(|| root.join("knowledge-base/clients"))
        };
        for s in c.spa.services.iter().flatten() {
            if !services.contains_key(s) {
                let file = file(&loader.raw.texts);
                loader.err_at(
                    &file,
                    s,
                    format!("client {}: unknown service {s:?}", c.code),
                );
            }
        }
        for k in c.rates.keys() {
            // A per-service price is on the card when its base is, in any form.
            let base = k.split_once('.').map(|(b, _)| b).unwrap_or(k);
            let on_card = organisation
                .rates
                .keys()
                .any(|r| r == base || r.split_once('.').is_some_and(|(b, _)| b == base));
            if !on_card {
                let file = file(&loader.raw.texts);
                loader.err_at(
                    &file,
                    base,
                    format!("client {}: rate {base:?} is not on the rate card", c.code),
                );
            }
            if let Some((_, service)) = k.split_once('.')
                && !services.contains_key(service)
            {
                let file = file(&loader.raw.texts);
                loader.err_at(
                    &file,
                    service,
                    format!("client {}: rate {k:?} names an unknown service", c.code),
                );
            }
        }
    }
    for p in processes.values() {
        let file = |texts: &HashMap<PathBuf, String>| {
            find_file_for(texts, &format!("id = \"{}\"", p.id))
                .unwrap_or_else(|| root.join("knowledge-base/processes"))
        };
        for s in &p.services {
            if !services.contains_key(s) {
                let file = file(&loader.raw.texts);
                loader.err_at(&file, s, format!("process {}: unknown service {s:?}", p.id));
            }
        }
        for a in &p.articles {
            if !articles.contains_key(a) {
                let file = file(&loader.raw.texts);
                loader.err_at(&file, a, format!("process {}: unknown article {a:?}", p.id));
            }
        }
    }

    // Intents: one per article with questions, then the intents files.
    let mut intents: BTreeMap<String, Intent> = BTreeMap::new();
    for a in articles.values().filter(|a| !a.questions.is_empty()) {
        intents.insert(
            a.id.clone(),
            Intent {
                name: a.id.clone(),
                description: a.title.clone(),
                action: Action::Article(a.id.clone()),
                examples: a.questions.clone(),
                rules: Vec::new(),
                replies: Vec::new(),
                file: a.file.clone(),
            },
        );
    }
    for i in raw.intents {
        match &i.action {
            Action::Article(a) if !articles.contains_key(a) => {
                loader.err_at(
                    &i.file,
                    a,
                    format!("intent {}: unknown article {a:?}", i.name),
                );
            }
            Action::Service(s) if !services.contains_key(s) => {
                loader.err_at(
                    &i.file,
                    s,
                    format!("intent {}: unknown service {s:?}", i.name),
                );
            }
            _ => {}
        }
        if let Some(existing) = intents.get_mut(&i.name) {
            // An intent named after an article adds examples and rules to the article's intent;
            // likewise for the out-of-scope intent (say, a file of off-topic queries taken from the
            // knowledge-gap list).
            if existing.action == i.action
                && matches!(i.action, Action::Article(_) | Action::OutOfScope)
            {
                existing.examples.extend(i.examples);
                existing.rules.extend(i.rules);
                continue;
            }
            let msg = format!(
                "duplicate intent name {:?} (also in {})",
                i.name,
                existing.file.display()
            );
            loader.err_at(&i.file, &i.name, msg);
            continue;
        }
        if i.action == Action::OutOfScope
            && let Some(other) = intents.values().find(|o| o.action == Action::OutOfScope)
        {
            let msg = format!(
                "intent {}: only one intent may be out_of_scope (also {} in {}); add examples to it instead",
                i.name,
                other.name,
                other.file.display()
            );
            loader.err_at(&i.file, &i.name, msg);
            continue;
        }
        intents.insert(i.name.clone(), i);
    }

    // A pilot names intents that exist, and domains some article or service is in.
    for c in clients.values() {
        let file = find_file_for(&loader.raw.texts, &format!("code = \"{}\"", c.code))
            .unwrap_or_else(|| root.join("knowledge-base/clients"));
        for i in &c.rollout.pilot.intents {
            if !intents.contains_key(i) {
                loader.err_at(
                    &file,
                    i,
                    format!(
                        "client {}: rollout.pilot_intents names an unknown intent {i:?}",
                        c.code
                    ),
                );
            }
        }
        for d in &c.rollout.pilot.domains {
            let known = articles
                .values()
                .any(|a| a.category.eq_ignore_ascii_case(d))
                || services.values().any(|s| s.team.eq_ignore_ascii_case(d));
            if !known {
                loader.err_at(
                    &file,
                    d,
                    format!(
                        "client {}: rollout.pilot_domains names {d:?}, which is no article category or service team",
                        c.code
                    ),
                );
            }
        }
    }

    // The same example in two intents makes the engine guess.
    let mut seen: HashMap<String, (String, PathBuf)> = HashMap::new();
    for intent in intents.values() {
        for ex in &intent.examples {
            let key = ex.trim().to_lowercase();
            match seen.get(&key) {
                Some((other, _)) if other != &intent.name => {
                    let msg = format!(
                        "example {ex:?} of intent {} is also an example of intent {other}",
                        intent.name
                    );
                    loader.err_at(&intent.file, ex, msg);
                }
                Some(_) => {}
                None => {
                    seen.insert(key, (intent.name.clone(), intent.file.clone()));
                }
            }
        }
    }

    if intents.is_empty() {
        loader.err_at(
            &root.join("intents"),
            "",
            "no intents: add articles with `questions` or intents/*.toml",
        );
        return None;
    }
    phases.done("cross-checks");
    // The engine's out-of-scope intent is the content's, whatever the configuration says: an
    // article that happened to be called "oos" must not become one.
    config.out_of_scope_intent = intents
        .values()
        .find(|i| i.action == Action::OutOfScope)
        .map(|i| i.name.clone())
        .unwrap_or_default();
    let groups = load::vocabulary::resolve(loader, root, &raw.vocabulary, &articles, &intents);
    let engine = match Engine::build_with_vocabulary(
        &intent_defs(&intents, &articles),
        &builtin_extractors(),
        &groups,
        config,
    ) {
        Ok(e) => e,
        Err(e) => {
            loader.err_at(&root.join("intents"), "", format!("engine: {e}"));
            return None;
        }
    };
    Some(Knowledge {
        root: root.to_path_buf(),
        organisation,
        articles,
        intents,
        services,
        clients,
        processes,
        vocabulary: raw.vocabulary,
        vocabulary_groups: groups,
        engine,
    })
}

/// The file whose text contains `needle` (to point an error found after parsing).
fn find_file_for(texts: &HashMap<PathBuf, String>, needle: &str) -> Option<PathBuf> {
    let mut hits: Vec<&PathBuf> = texts
        .iter()
        .filter(|(_, t)| t.contains(needle))
        .map(|(p, _)| p)
        .collect();
    hits.sort();
    hits.first().map(|p| (*p).clone())
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
