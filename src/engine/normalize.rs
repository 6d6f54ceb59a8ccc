//! Text normalisation: Unicode NFKC, case folding, accent stripping for
//! Latin letters, contraction expansion, punctuation removal and number
//! canonicalisation. The output is a list of lower-case tokens.

use unicode_normalization::UnicodeNormalization;

/// Tokens longer than this (in chars) are cut; protects against pathological input.
const MAX_TOKEN_CHARS: usize = 48;
/// Inputs longer than this (in chars) are truncated before processing.
pub const MAX_INPUT_CHARS: usize = 2000;

/// Normalise `text` and return its tokens.
///
/// * NFKC (full-width forms, ligatures, superscripts become plain characters)
/// * lower-case (Unicode aware) and Latin accents removed ("café" → "cafe")
/// * contractions expanded ("can't" → "can not", "what's" → "what is")
/// * punctuation dropped; currency symbols kept as their own token
/// * numbers canonicalised: thousands separators removed ("1,250.00" → "1250.00")
pub fn tokenize(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    tokenize_into(text, &mut out);
    out
}

/// Same as [`tokenize`] but joined by single spaces; handy for tests and display.
pub fn normalize(text: &str) -> String {
    tokenize(text).join(" ")
}

/// Fold one string: NFKC, lower-case, strip combining accents (U+0300–U+036F).
fn fold(text: &str) -> String {
    // ASCII is already NFKC and has no accents to strip: the same result, without the three
    // Unicode passes (most questions, and most knowledge-base sentences, are ASCII).
    if text.is_ascii() {
        return text
            .bytes()
            .take(MAX_INPUT_CHARS)
            .map(|b| match b {
                b'`' => '\'',
                _ => b.to_ascii_lowercase() as char,
            })
            .collect();
    }
    fold_unicode(text)
}

fn fold_unicode(text: &str) -> String {
    let limited: String = text.chars().take(MAX_INPUT_CHARS).collect();
    let nfkc: String = limited.nfkc().collect();
    let mut lower = String::with_capacity(nfkc.len());
    for c in nfkc.chars() {
        match c {
            // typographic apostrophes and similar marks
            '\u{2019}' | '\u{2018}' | '\u{02BC}' | '`' | '\u{00B4}' => lower.push('\''),
            'ß' => lower.push_str("ss"),
            _ => lower.extend(c.to_lowercase()),
        }
    }
    // strip accents: decompose, drop combining diacritics, recompose
    lower
        .nfd()
        .filter(|c| !('\u{0300}'..='\u{036F}').contains(c))
        .nfc()
        .collect()
}

fn is_currency(c: char) -> bool {
    matches!(
        c,
        '$' | '£' | '€' | '¥' | '₹' | '₩' | '₽' | '¢' | '₺' | '₪' | '₫' | '฿'
    )
}

pub(crate) fn tokenize_into(text: &str, out: &mut Vec<String>) {
    out.clear();
    let folded = fold(text);
    let chars: Vec<char> = folded.chars().collect();
    let n = chars.len();
    let mut i = 0;
    let mut cur = String::new();
    let mut raw: Vec<String> = Vec::new();
    while i < n {
        let c = chars[i];
        if c.is_alphanumeric() {
            cur.push(c);
        } else if c == '\'' && !cur.is_empty() && i + 1 < n && chars[i + 1].is_alphabetic() {
            // apostrophe inside a word: keep for contraction handling
            cur.push(c);
        } else if (c == ',' || c == '.')
            && i + 1 < n
            && chars[i + 1].is_ascii_digit()
            && !cur.is_empty()
            && cur.chars().all(|d| d.is_ascii_digit() || d == '.')
        {
            // number separators: "1,250.00" -> "1250.00"
            if c == '.' {
                cur.push('.');
            }
        } else {
            if !cur.is_empty() {
                raw.push(std::mem::take(&mut cur));
            }
            if is_currency(c) {
                raw.push(c.to_string());
            }
        }
        i += 1;
    }
    if !cur.is_empty() {
        raw.push(cur);
    }
    for tok in raw {
        expand(&tok, out);
    }
}

/// Expand contractions of one raw token and push the resulting tokens.
fn expand(tok: &str, out: &mut Vec<String>) {
    let tok: String = tok.chars().take(MAX_TOKEN_CHARS).collect();
    if let Some(full) = bare_contraction(&tok) {
        out.extend(full.split(' ').map(str::to_string));
        return;
    }
    if !tok.contains('\'') {
        out.push(tok);
        return;
    }
    let special = match tok.as_str() {
        "can't" | "cannot" => Some("can not"),
        "won't" => Some("will not"),
        "shan't" => Some("shall not"),
        "ain't" => Some("is not"),
        "let's" => Some("let us"),
        "y'all" => Some("you all"),
        "o'clock" => Some("oclock"),
        _ => None,
    };
    if let Some(s) = special {
        out.extend(s.split(' ').map(str::to_string));
        return;
    }
    let suffixes: [(&str, &str); 7] = [
        ("n't", "not"),
        ("'re", "are"),
        ("'ve", "have"),
        ("'ll", "will"),
        ("'d", "would"),
        ("'m", "am"),
        ("'s", ""),
    ];
    for (suf, rep) in suffixes {
        if let Some(stem) = tok.strip_suffix(suf)
            && !stem.is_empty()
        {
            let stem = stem.replace('\'', "");
            let rep = if suf == "'s" {
                if matches!(
                    stem.as_str(),
                    "what"
                        | "it"
                        | "that"
                        | "there"
                        | "he"
                        | "she"
                        | "who"
                        | "where"
                        | "how"
                        | "here"
                        | "when"
                        | "why"
                        | "which"
                ) {
                    "is"
                } else {
                    ""
                }
            } else {
                rep
            };
            if !stem.is_empty() {
                out.push(stem);
            }
            if !rep.is_empty() {
                out.push(rep.to_string());
            }
            return;
        }
    }
    let cleaned = tok.replace('\'', "");
    if !cleaned.is_empty() {
        out.push(cleaned);
    }
}

/// Contractions typed without the apostrophe, common in chat.
fn bare_contraction(tok: &str) -> Option<&'static str> {
    Some(match tok {
        "cant" | "cannot" => "can not",
        "dont" => "do not",
        "didnt" => "did not",
        "doesnt" => "does not",
        "isnt" => "is not",
        "arent" => "are not",
        "wasnt" => "was not",
        "werent" => "were not",
        "havent" => "have not",
        "hasnt" => "has not",
        "hadnt" => "had not",
        "couldnt" => "could not",
        "shouldnt" => "should not",
        "wouldnt" => "would not",
        "wont" => "will not",
        "whats" => "what is",
        "im" => "i am",
        "ive" => "i have",
        "youre" => "you are",
        "thats" => "that is",
        _ => return None,
    })
}

/// True when the token is a number ("42", "1250.00").
pub fn is_number(tok: &str) -> bool {
    tok.chars().any(|c| c.is_ascii_digit()) && tok.chars().all(|c| c.is_ascii_digit() || c == '.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nfkc_and_case() {
        // full-width letters, ligature, upper case
        assert_eq!(normalize("ＨＥＬＬＯ Wörld ﬁle"), "hello world file");
        assert_eq!(normalize("CAFÉ"), "cafe");
        assert_eq!(normalize("Straße"), "strasse");
    }

    #[test]
    fn contractions() {
        assert_eq!(normalize("I can't log in"), "i can not log in");
        assert_eq!(normalize("I can’t log in"), "i can not log in");
        assert_eq!(normalize("what's my balance"), "what is my balance");
        assert_eq!(
            normalize("I won't, they'd, we're, I've, I'll, I'm"),
            "i will not they would we are i have i will i am"
        );
        assert_eq!(normalize("dont cancel"), "do not cancel");
        assert_eq!(normalize("my card's PIN"), "my card pin");
        assert_eq!(normalize("doesn't work"), "does not work");
    }

    #[test]
    fn punctuation() {
        assert_eq!(normalize("hello!!! how are you??"), "hello how are you");
        assert_eq!(
            normalize("re-order (now), please..."),
            "re order now please"
        );
        assert_eq!(normalize("   "), "");
        assert_eq!(normalize("'quoted' words"), "quoted words");
    }

    #[test]
    fn numbers() {
        assert_eq!(normalize("pay £1,250.00 now"), "pay £ 1250.00 now");
        assert_eq!(normalize("wait 2 weeks."), "wait 2 weeks");
        assert_eq!(normalize("12,5"), "125");
        assert!(is_number("1250.00"));
        assert!(is_number("42"));
        assert!(!is_number("401k"));
        assert!(!is_number("."));
        // superscript two folds to a digit under NFKC
        assert_eq!(normalize("x²"), "x2");
    }

    proptest::proptest! {
        /// The ASCII shortcut gives exactly what the full Unicode folding gives.
        #[test]
        fn ascii_shortcut_is_the_full_fold(text in "[\\x00-\\x7f]{0,300}") {
            proptest::prop_assert_eq!(fold(&text), fold_unicode(&text));
        }
    }
}
