//! The content's vocabulary and general English at classify time, and the "did you mean"
//! band between the two thresholds.

use super::*;

#[test]
fn an_unknown_word_of_the_vocabulary_finds_the_intent_its_synonym_is_in() {
    let plain = engine();
    let with = engine_with_vocabulary(EngineConfig::default());
    // "pto" is no word of the fixture: without the vocabulary it is noise
    let without = plain.classify("request pto next week");
    let c = with.classify("request pto next week");
    assert_eq!(intent_of(&c), Some("book_holiday"), "{c:?}");
    assert!(
        c.confidence > without.confidence,
        "{} with the vocabulary, {} without",
        c.confidence,
        without.confidence
    );
    let e = with.explain("request pto next week");
    assert_eq!(e.expansions.len(), 1);
    assert_eq!(e.expansions[0].typed, "pto");
    assert_eq!(e.expansions[0].origin, "vocabulary.toml:1");
    assert!(
        e.expansions[0].added.contains(&"holiday".to_string()),
        "{:?}",
        e.expansions
    );
    assert!(e.to_string().contains("pto → holiday"), "{e}");
}

#[test]
fn a_scoped_group_only_counts_for_its_intents() {
    let e = engine_with_vocabulary(EngineConfig::default());
    // in scope: "passcode" means password here
    let c = e.explain("forgot my passcode");
    assert_eq!(intent_of(&c.classification), Some("reset_password"), "{c}");
    assert_eq!(c.expansions.len(), 1, "{c}");
    // the group's words elsewhere: no expansion survives when the answer is another intent
    let c = e.explain("pin the invoice copy for my order");
    assert!(
        c.expansions.is_empty() || intent_of(&c.classification) == Some("reset_password"),
        "{c}"
    );
}

#[test]
fn unknown_words_are_judged_by_what_they_are() {
    let e = engine_with_vocabulary(EngineConfig::default());
    let x = e.explain("copy of my invoce for Brownsburg on 12 march, my mortgage and weather");
    let class = |w: &str| {
        x.word_classes
            .iter()
            .find(|(t, _)| t == w)
            .map(|(_, c)| *c)
            .unwrap_or_else(|| panic!("no token {w}: {:?}", x.word_classes))
    };
    assert_eq!(class("invoice"), WordClass::Corrected, "a typo repaired");
    assert_eq!(class("copy"), WordClass::Domain);
    assert_eq!(class("brownsburg"), WordClass::Unknown, "a place: neutral");
    assert_eq!(class("12"), WordClass::Number);
    assert_eq!(class("march"), WordClass::Date);
    assert_eq!(class("mortgage"), WordClass::OffTopic);
    assert_eq!(
        class("weather"),
        WordClass::English,
        "a real word the domain lacks"
    );
    assert!(class("weather").is_evidence_against());
    assert!(!class("brownsburg").is_evidence_against());
}

#[test]
fn names_and_places_cost_less_than_real_words_the_domain_lacks() {
    let e = engine_with_vocabulary(EngineConfig::default());
    let place = e.classify("cancel my order from Brownsburg").confidence;
    let english = e.classify("cancel my order from tomato").confidence;
    assert!(place > english, "place {place} vs english word {english}");
}

#[test]
fn an_off_topic_term_counts_against_the_question() {
    let e = engine_with_vocabulary(EngineConfig::default());
    let plain = engine();
    let on = e.classify("check my savings account balance").confidence;
    let off = plain
        .classify("check my savings account balance")
        .confidence;
    assert!(on < off, "off-topic vocabulary {on} vs none {off}");
}

#[test]
fn suggestions_fill_the_band_between_the_two_thresholds() {
    // a question the fixture is unsure about (its confidence leaves room on both sides)
    let e = engine_with_vocabulary(EngineConfig::default());
    let (q, p) = [
        "copy",
        "order",
        "invoice status",
        "my account",
        "status of my order invoice",
        "cancel",
        "holiday invoice",
    ]
    .iter()
    .map(|q| (*q, e.classify(q).confidence))
    .find(|(_, p)| *p > 0.1 && *p < 0.9)
    .expect("a fixture question with a middling confidence");
    let top = match e.classify(q).ranked.first() {
        Some(s) => s.intent.clone(),
        None => panic!("{q}: nothing ranked"),
    };
    let at = |oos: f32, suggest: f32| {
        engine_with_vocabulary(EngineConfig {
            oos_threshold: oos,
            suggest_threshold: suggest,
            ..EngineConfig::default()
        })
        .classify(q)
        .decision
    };
    // just below the answer threshold, at or above the suggest threshold: did you mean
    match at(p + 0.01, p) {
        Decision::Suggest(list) => {
            assert_eq!(list[0], top);
            assert!(list.len() <= 3);
        }
        other => panic!("expected Suggest, got {other:?}"),
    }
    // just below the suggest threshold: no answer
    assert_eq!(at(p + 0.02, p + 0.01), Decision::Fallback);
    // at the answer threshold: the answer
    assert!(
        matches!(at(p, p * 0.5), Decision::Intent(i) | Decision::Clarify(i, _) if i == top),
        "{q}: at the threshold"
    );
    // 0 turns the band off
    assert_eq!(at(p + 0.01, 0.0), Decision::Fallback);
}

#[test]
fn a_suggest_threshold_above_the_answer_threshold_is_refused() {
    let r = Engine::build(
        &fixture(),
        &[],
        EngineConfig {
            oos_threshold: 0.2,
            suggest_threshold: 0.3,
            ..EngineConfig::default()
        },
    );
    assert!(matches!(r, Err(EngineError::InvalidConfig(_))), "{r:?}");
}

#[test]
fn the_vocabulary_report_tells_a_group_that_helps_from_one_that_does_not() {
    let groups = vec![
        vocabulary()[0].clone(),
        VocabularyGroup {
            terms: vec!["invoice".into(), "invoices".into()],
            scope: vec![],
            origin: "vocabulary.toml:10".into(),
            off_topic: false,
        },
        VocabularyGroup {
            terms: vec!["zorblat".into(), "quux".into()],
            scope: vec![],
            origin: "vocabulary.toml:13".into(),
            off_topic: false,
        },
    ];
    let e = Engine::build_with_vocabulary(&fixture(), &[], &groups, EngineConfig::default())
        .expect("builds");
    let report = e.vocabulary_report(&groups);
    assert!(report[0].changes_answers, "{report:?}");
    assert!(report[0].known_terms >= 1);
    assert!(
        !report[1].changes_answers,
        "plural of a known word: {report:?}"
    );
    assert_eq!(report[2].known_terms, 0);
}
