//! Reloading a large knowledge base after one article changed: the engine is patched (the
//! changed intent retrained, the rest kept), answers the article's new question with it, and
//! keeps answering the other articles' questions as before. Small scale and a low
//! `dense_max_classes`, so the sampled model a large knowledge base uses is the one patched;
//! how fast a reload is belongs to `frontdoor bench-kb`, not here.

use std::path::Path;

use frontdoor::engine::EngineConfig;
use frontdoor::knowledge::scale::{NEW_QUESTION, add_question, generate};
use frontdoor::knowledge::{EngineBuild, Knowledge};

/// The sampled model at this small size (the shipped content twice has about 160 intents).
fn sampled() -> EngineConfig {
    EngineConfig {
        dense_max_classes: 50,
        ..EngineConfig::default()
    }
}

/// Every article question with the intent ranked first for it.
fn answers(k: &Knowledge) -> Vec<(String, String, Option<String>)> {
    k.articles
        .values()
        .flat_map(|a| a.questions.iter().map(move |q| (a.id.clone(), q.clone())))
        .map(|(id, q)| {
            let top = k
                .engine
                .classify(&q)
                .ranked
                .first()
                .map(|r| r.intent.clone());
            (id, q, top)
        })
        .collect()
}

fn top(k: &Knowledge, q: &str) -> Option<String> {
    k.engine
        .classify(q)
        .ranked
        .first()
        .map(|r| r.intent.clone())
}

#[test]
fn one_changed_article_is_patched_in_and_the_others_keep_their_answers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"));
    let work = tempfile::tempdir().unwrap();
    generate(src, work.path(), 2).unwrap();
    let k = Knowledge::load(work.path(), sampled()).unwrap();
    assert_eq!(k.engine_build, EngineBuild::Built);
    let before = answers(&k);

    // Nothing changed: the same engine is kept.
    let same = k.reload(work.path(), sampled()).unwrap();
    assert_eq!(same.engine_build, EngineBuild::Reused);
    assert!(std::sync::Arc::ptr_eq(&same.engine, &k.engine));

    // An editor adds a question in words no article has.
    let article = k
        .articles
        .values()
        .find(|a| a.questions.len() >= 2)
        .unwrap()
        .clone();
    assert_ne!(top(&k, NEW_QUESTION).as_deref(), Some(article.id.as_str()));
    add_question(&article.file, NEW_QUESTION).unwrap();
    let k2 = k.reload(work.path(), sampled()).unwrap();
    assert_eq!(k2.engine_build, EngineBuild::Patched { intents: 1 });
    assert_eq!(top(&k2, NEW_QUESTION).as_deref(), Some(article.id.as_str()));
    assert_eq!(
        top(&k2, "requisition a zorblat widget").as_deref(),
        Some(article.id.as_str()),
        "a paraphrase of the new question"
    );
    // Its old questions are still its own, and every other question answered right before
    // is answered the same way after.
    let after: std::collections::HashMap<(String, String), Option<String>> = answers(&k2)
        .into_iter()
        .map(|(id, q, top)| ((id, q), top))
        .collect();
    let mut kept = 0;
    let mut lost = Vec::new();
    for (id, q, was) in before {
        if was.as_deref() == Some(id.as_str()) {
            let now = &after[&(id.clone(), q.clone())];
            if *now == was {
                kept += 1;
            } else {
                lost.push((q, id, now.clone()));
            }
        }
    }
    assert!(kept > 300, "{kept} questions were answered right before");
    assert!(
        lost.is_empty(),
        "answered differently after the patch: {lost:?}"
    );
    // A full load of the changed content agrees on the new question.
    let full = Knowledge::load(work.path(), sampled()).unwrap();
    assert_eq!(
        top(&full, NEW_QUESTION).as_deref(),
        Some(article.id.as_str())
    );
}

#[test]
fn changes_a_patch_does_not_cover_build_afresh() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"));
    let work = tempfile::tempdir().unwrap();
    generate(src, work.path(), 1).unwrap();
    // The shipped content's size trains over every intent at once: always built afresh.
    let k = Knowledge::load(work.path(), EngineConfig::default()).unwrap();
    let article = k
        .articles
        .values()
        .find(|a| !a.questions.is_empty())
        .unwrap()
        .clone();
    add_question(&article.file, NEW_QUESTION).unwrap();
    let k2 = k.reload(work.path(), EngineConfig::default()).unwrap();
    assert_eq!(k2.engine_build, EngineBuild::Built);
    assert_eq!(top(&k2, NEW_QUESTION).as_deref(), Some(article.id.as_str()));

    // The sampled model, and a new article (a new intent): built afresh.
    let k3 = Knowledge::load(work.path(), sampled()).unwrap();
    let text = std::fs::read_to_string(&article.file).unwrap();
    let copy = text
        .replacen(
            &format!("id = \"{}\"", article.id),
            "id = \"zz-new-article\"",
            1,
        )
        .replace(NEW_QUESTION, "how do I order a frobnicated sprocket");
    assert_ne!(copy, text);
    // (its other questions would be shared with the original: keep only the new one)
    let front_end = copy.find("\n+++").unwrap();
    let (front, body) = copy.split_at(front_end);
    let front: String = front
        .lines()
        .map(|l| {
            if l.starts_with("questions") {
                "questions = [\"how do I order a frobnicated sprocket\"]".to_string()
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(
        article.file.with_file_name("zz-new-article.md"),
        format!("{front}{body}"),
    )
    .unwrap();
    let k4 = k3.reload(work.path(), sampled()).unwrap();
    assert_eq!(k4.engine_build, EngineBuild::Built);
    assert_eq!(
        top(&k4, "how do I order a frobnicated sprocket").as_deref(),
        Some("zz-new-article")
    );
}
