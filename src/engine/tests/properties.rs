//! Property tests (proptest): any Unicode text, including the inputs that have broken text
//! handling elsewhere. `PROPTEST_CASES=N` runs more (the README's 10-minute run); a failure
//! is shrunk and saved under `proptest-regressions/`, which is committed and replayed first.

use super::*;
use proptest::prelude::*;
use std::sync::OnceLock;

fn shared() -> &'static Engine {
    static E: OnceLock<Engine> = OnceLock::new();
    E.get_or_init(engine)
}

/// The fixture trained the way many intents are (sampled, word-level features, no
/// character n-grams), with an out-of-scope intent.
fn shared_sampled() -> &'static Engine {
    static E: OnceLock<Engine> = OnceLock::new();
    E.get_or_init(|| {
        let mut intents = fixture();
        intents.push(def(
            "oos",
            &["what is the weather tomorrow", "tell me a joke"],
            &[],
        ));
        let config = EngineConfig {
            dense_max_classes: 2,
            ..EngineConfig::default()
        };
        Engine::build(&intents, &builtin_extractors(), config).expect("fixture builds")
    })
}

/// Text that looks like what people type, mixed with what they should not.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "\\PC{0,200}",
        proptest::collection::vec(
            prop_oneof![
                Just("password".to_string()),
                Just("invoice".to_string()),
                Just("vacation".to_string()),
                Just("time off".to_string()),
                Just("savings account".to_string()),
                Just("REQ-1042".to_string()),
                Just("£1,250.00".to_string()),
                Just("can't".to_string()),
                Just("İstanbul".to_string()),
                Just("\u{200f}\u{202e}".to_string()),
                Just("👩‍👩‍👧".to_string()),
                Just("e\u{301}\u{301}\u{301}".to_string()),
                Just("\u{0}".to_string()),
                "[a-zA-Z]{1,12}",
                "[0-9./-]{1,12}",
                "\\PC{1,3}",
            ],
            0..40,
        )
        .prop_map(|w| w.join(" ")),
    ]
}

/// The fixture with a vocabulary (synonyms, a phrase, a scoped group, an off-topic group)
/// and general English on.
fn shared_vocabulary() -> &'static Engine {
    static E: OnceLock<Engine> = OnceLock::new();
    E.get_or_init(|| {
        Engine::build_with_vocabulary(
            &fixture(),
            &builtin_extractors(),
            &vocabulary(),
            EngineConfig {
                suggest_threshold: 0.05,
                ..EngineConfig::default()
            },
        )
        .expect("fixture builds")
    })
}

fn check(s: &str) {
    check_with(shared(), s);
    check_with(shared_sampled(), s);
    check_with(shared_vocabulary(), s);
}

fn check_with(e: &Engine, s: &str) {
    let c = e.classify(s);
    assert!(
        (0.0..=1.0).contains(&c.confidence),
        "{s:?}: {}",
        c.confidence
    );
    assert!(
        c.ranked
            .iter()
            .all(|r| r.confidence.is_finite() && (0.0..=1.0).contains(&r.confidence))
    );
    assert!(
        c.ranked
            .windows(2)
            .all(|w| w[0].confidence >= w[1].confidence),
        "{s:?}: ranked best first"
    );
    for ent in &c.entities {
        assert!(ent.start <= ent.end && ent.end <= s.len(), "{s:?}: {ent:?}");
        assert!(s.is_char_boundary(ent.start) && s.is_char_boundary(ent.end));
    }
    // Deterministic: the same text, the same answer.
    let again = e.classify(s);
    assert_eq!(
        format!("{:?}", c.decision),
        format!("{:?}", again.decision),
        "{s:?}"
    );
    assert_eq!(c.confidence.to_bits(), again.confidence.to_bits(), "{s:?}");
    let _ = e.explain(s).to_string();
    for t in normalize::tokenize(s) {
        assert!(!t.is_empty(), "{s:?}: empty token");
        let _ = stem::stem(&t);
    }
}

/// The ASCII shortcut for character n-grams hashes exactly what the char-by-char way does.
fn char_ngrams_match_the_char_path(e: &Engine, text: &str) -> Result<(), TestCaseError> {
    let a = e.analyzer.analyze(text, None);
    let mut raw = Vec::new();
    e.analyzer.features(&a, &mut raw, None);
    let got: Vec<u64> = raw
        .iter()
        .filter(|f| f.block == index::BLOCK_CHAR)
        .map(|f| f.hash)
        .collect();
    let p = &e.analyzer.params;
    let mut want = Vec::new();
    for tok in &a.original {
        if normalize::is_number(tok) {
            continue; // numbers have no n-grams
        }
        let chars: Vec<char> = std::iter::once('<')
            .chain(tok.chars())
            .chain(std::iter::once('>'))
            .collect();
        for n in p.char_min..=p.char_max {
            for w in chars.windows(n) {
                let gram: String = w.iter().collect();
                want.push(sparse::fnv1a(b'0' + n as u8, gram.as_bytes()));
            }
        }
    }
    prop_assert_eq!(got, want, "{:?}", text);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn ascii_char_ngrams_hash_like_chars(s in "[a-zA-Z0-9' -]{0,40}( [a-zé]{1,8}){0,2}") {
        char_ngrams_match_the_char_path(shared(), &s)?;
    }

    #[test]
    fn classification_is_total_bounded_and_deterministic(s in text()) {
        check(&s);
    }

    #[test]
    fn normalisation_never_grows_without_bound(s in text()) {
        let n = normalize::normalize(&s);
        // Expansions (contractions, NFKC ligatures) are bounded: no blow-up on any input.
        prop_assert!(n.chars().count() <= 8 * s.chars().count() + 16, "{:?} -> {:?}", s, n);
    }
}

/// Inputs kept from earlier runs and from other projects' bug reports: replayed every time.
#[test]
fn corpus_of_awkward_inputs() {
    for s in [
        "",
        " ",
        "\u{0}",
        "\u{feff}password",
        "ﬁ ﬂ ﬀ ligatures",
        "ǅ ǈ titlecase",
        "İ ı ß ẞ case folding",
        "\u{202e}drowssap\u{202c}",
        "e\u{301}\u{301}\u{301}\u{301}\u{301}",
        "👩‍👩‍👧‍👦 invoice 🧾",
        "REQ-99999999999999999999999999",
        "£999999999999999999999999.99",
        "ｐａｓｓｗｏｒｄ ｒｅｓｅｔ",
        "can't won't shan't y'all'd've",
        "a\u{0}b\u{7}c\u{1b}[31m",
        "%s%n%x{0}{{}}",
        "'; DROP TABLE messages; --",
        "<script>alert(1)</script>",
        "\u{10ffff}\u{e000}\u{fdd0}",
    ] {
        check(s);
    }
    check(&"password ".repeat(2_000));
    check(&"é".repeat(10_000));
}
