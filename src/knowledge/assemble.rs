//! Putting the parsed files together: cross-file validation, the intents, then the engine —
//! built afresh, or updated from the previous knowledge's on a reload.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::*;
use crate::engine::index::HashedKey;
use crate::engine::{Engine, EngineConfig, IntentDef, Updated};

/// Training data: each intent's examples and rules; an article's title, tags and body (without
/// its section titles) are its passages (weaker evidence that widens the vocabulary the engine
/// recognises).
pub(super) fn intent_defs(
    intents: &BTreeMap<String, Intent>,
    articles: &BTreeMap<String, Article>,
) -> Vec<IntentDef> {
    // (on every core: rendering 6,700 articles' bodies to passage text at 100× the content
    // was a one-core phase of 80 ms)
    let intents: Vec<&Intent> = intents.values().collect();
    crate::engine::parallel::par_map(intents.len(), &|n| intent_def(intents[n], articles))
}

fn intent_def(i: &Intent, articles: &BTreeMap<String, Article>) -> IntentDef {
    IntentDef {
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
    }
}

/// The engine for these intents: built afresh, or, given the knowledge loaded before, updated
/// from its engine (see `Engine::update`: patched when a few intents changed).
fn engine_for(
    defs: Vec<IntentDef>,
    groups: &[crate::engine::VocabularyGroup],
    config: EngineConfig,
    previous: Option<&Knowledge>,
) -> Result<(Arc<Engine>, EngineBuild), crate::engine::EngineError> {
    let extractors = builtin_extractors();
    let Some(p) = previous else {
        let e = Engine::build_owned(defs, &extractors, groups, config)?;
        return Ok((Arc::new(e), EngineBuild::Built));
    };
    let defs = &defs[..];
    // Intent c of the previous knowledge, as its engine was built from it.
    let before = |c: usize| {
        p.intents
            .values()
            .nth(c)
            .map(|i| intent_def(i, &p.articles))
    };
    Ok(
        match p
            .engine
            .update(defs, &before, &extractors, groups, config)?
        {
            Updated::Unchanged => (p.engine.clone(), EngineBuild::Reused),
            Updated::Patched(e, intents) => (Arc::new(e), EngineBuild::Patched { intents }),
            Updated::Rebuilt(e) => (Arc::new(e), EngineBuild::Built),
        },
    )
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
pub(super) fn assemble(
    loader: &mut load::Loader,
    root: &Path,
    mut config: EngineConfig,
    previous: Option<&Knowledge>,
) -> Option<Knowledge> {
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

    // The same example in two intents makes the engine guess. At 100× the content there are
    // 129,000 examples: their keys are made on every core, the map (with a multiply-rotate
    // hash instead of SipHash, for text the content's authors wrote) is filled in order, and
    // the intent's name is borrowed, not copied per example. The first intent to use an
    // example keeps it, as one pass in order.
    let examples: Vec<(&Intent, &String)> = intents
        .values()
        .flat_map(|i| i.examples.iter().map(move |ex| (i, ex)))
        .collect();
    let keys: Vec<String> =
        crate::engine::parallel::par_map(examples.len(), &|n| examples[n].1.trim().to_lowercase());
    let mut seen: HashMap<&str, &str, HashedKey> =
        HashMap::with_capacity_and_hasher(keys.len(), HashedKey);
    let mut duplicates = Vec::new();
    for (&(intent, ex), key) in examples.iter().zip(&keys) {
        match seen.get(key.as_str()) {
            Some(&other) if other != intent.name => {
                let msg = format!(
                    "example {ex:?} of intent {} is also an example of intent {other}",
                    intent.name
                );
                duplicates.push((&intent.file, ex, msg));
            }
            Some(_) => {}
            None => {
                seen.insert(key, &intent.name);
            }
        }
    }
    drop(seen);
    drop(keys);
    for (file, ex, msg) in duplicates {
        loader.err_at(file, ex, msg);
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
    // Every error that points into a file's text has been found: the texts (one per file,
    // the whole content) need not be held while the engine builds.
    loader.raw.texts = HashMap::new();
    let defs = intent_defs(&intents, &articles);
    phases.done("intent definitions");
    let (engine, engine_build) = match engine_for(defs, &groups, config, previous) {
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
        engine_build,
    })
}

/// The file whose text contains `needle` (to point an error found after parsing).
pub(super) fn find_file_for(texts: &HashMap<PathBuf, String>, needle: &str) -> Option<PathBuf> {
    let mut hits: Vec<&PathBuf> = texts
        .iter()
        .filter(|(_, t)| t.contains(needle))
        .map(|(p, _)| p)
        .collect();
    hits.sort();
    hits.first().map(|p| (*p).clone())
}
