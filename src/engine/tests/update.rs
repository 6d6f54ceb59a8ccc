//! [`Engine::update`]: a changed intent of the sampled model is patched in and answers its
//! new examples while the others keep theirs; what a patch does not cover is built afresh.

use super::*;

fn sampled() -> EngineConfig {
    EngineConfig {
        dense_max_classes: 2,
        ..EngineConfig::default()
    }
}

fn update(e: &Engine, before: &[IntentDef], after: &[IntentDef], config: EngineConfig) -> Updated {
    e.update(
        after,
        &|c| before.get(c).cloned(),
        &builtin_extractors(),
        &[],
        config,
    )
    .expect("updates")
}

#[test]
fn a_changed_intent_is_patched_in_and_the_others_keep_their_answers() {
    let before = fixture();
    let e = Engine::build(&before, &builtin_extractors(), sampled()).expect("builds");
    assert!(matches!(
        update(&e, &before, &before, sampled()),
        Updated::Unchanged
    ));
    let mut after = before.clone();
    let c = after
        .iter()
        .position(|d| d.name == "book_holiday")
        .expect("fixture intent");
    after[c]
        .examples
        .push("I want to requisition a zorblat sabbatical".into());
    after[c]
        .passages
        .push("Sabbaticals are zorblat leave.".into());
    let Updated::Patched(p, 1) = update(&e, &before, &after, sampled()) else {
        panic!("one changed intent of the sampled model is patched");
    };
    let c = p.classify("requisition a zorblat sabbatical");
    assert_eq!(intent_of(&c), Some("book_holiday"), "{c:?}");
    assert!(
        p.feature_count() > e.feature_count(),
        "new words join the dictionary"
    );
    for (q, want) in [
        ("I forgot my password again", "reset_password"),
        ("where is my invoice?", "invoice_copy"),
        ("book a holiday for me", "book_holiday"),
        ("what's my balance", "check_balance"),
        ("cancel the order", "cancel_order"),
        ("any update on my request", "request_status"),
        ("i forgot my pasword", "reset_password"),
        ("requisition a zorblot sabbatical", "book_holiday"),
    ] {
        let c = p.classify(q);
        assert_eq!(intent_of(&c), Some(want), "query {q:?}: {c:?}");
    }
    // Patching again from the patched engine, back to the first definitions.
    let Updated::Patched(back, 1) = update(&p, &after, &before, sampled()) else {
        panic!("patched back");
    };
    assert_ne!(
        intent_of(&back.classify("requisition a zorblat sabbatical")),
        Some("book_holiday")
    );
}

#[test]
fn what_a_patch_does_not_cover_is_built_afresh() {
    let before = fixture();
    let sparse = Engine::build(&before, &builtin_extractors(), sampled()).expect("builds");
    let mut renamed = before.clone();
    renamed[0].name = "renamed".into();
    assert!(matches!(
        update(&sparse, &before, &renamed, sampled()),
        Updated::Rebuilt(_)
    ));
    let other = EngineConfig {
        seed: 7,
        ..sampled()
    };
    assert!(matches!(
        update(&sparse, &before, &before, other),
        Updated::Rebuilt(_)
    ));
    // A previous definition that is not the one built from: no patch on a wrong base.
    let mut after = before.clone();
    after[1].examples.push("one more".into());
    let e = sparse.update(
        &after,
        &|c| after.get(c).cloned(),
        &builtin_extractors(),
        &[],
        sampled(),
    );
    assert!(matches!(e, Ok(Updated::Rebuilt(_))));
    // The dense model trains every intent at once: built afresh.
    let dense = engine();
    assert!(matches!(
        update(&dense, &before, &after, EngineConfig::default()),
        Updated::Rebuilt(_)
    ));
}
