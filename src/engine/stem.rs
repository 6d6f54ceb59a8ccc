//! A compact Porter (1980) suffix stemmer for English. Works on ASCII
//! lower-case words; anything else (digits, other scripts) is returned as is.

/// Stem one lower-case token.
pub fn stem(word: &str) -> String {
    if word.len() <= 2 || !word.bytes().all(|b| b.is_ascii_lowercase()) {
        return word.to_string();
    }
    let mut w: Vec<u8> = word.as_bytes().to_vec();
    step1a(&mut w);
    step1b(&mut w);
    step1c(&mut w);
    step2(&mut w);
    step3(&mut w);
    step4(&mut w);
    step5(&mut w);
    // all bytes are ASCII lower-case letters, so this never fails
    String::from_utf8(w).unwrap_or_else(|_| word.to_string())
}

/// Light stemming: Porter's step 1 only (plurals, -ed, -ing, -y).
pub fn light_stem(word: &str) -> String {
    if word.len() <= 2 || !word.bytes().all(|b| b.is_ascii_lowercase()) {
        return word.to_string();
    }
    let mut w: Vec<u8> = word.as_bytes().to_vec();
    step1a(&mut w);
    step1b(&mut w);
    step1c(&mut w);
    String::from_utf8(w).unwrap_or_else(|_| word.to_string())
}

fn is_cons(w: &[u8], i: usize) -> bool {
    match w[i] {
        b'a' | b'e' | b'i' | b'o' | b'u' => false,
        b'y' => i == 0 || !is_cons(w, i - 1),
        _ => true,
    }
}

/// Porter's m: number of VC sequences in w[..len].
fn measure(w: &[u8], len: usize) -> usize {
    let mut m = 0;
    let mut i = 0;
    while i < len && is_cons(w, i) {
        i += 1;
    }
    loop {
        while i < len && !is_cons(w, i) {
            i += 1;
        }
        if i >= len {
            return m;
        }
        while i < len && is_cons(w, i) {
            i += 1;
        }
        m += 1;
        if i >= len {
            return m;
        }
    }
}

fn has_vowel(w: &[u8], len: usize) -> bool {
    (0..len).any(|i| !is_cons(w, i))
}

fn ends_double_cons(w: &[u8], len: usize) -> bool {
    len >= 2 && w[len - 1] == w[len - 2] && is_cons(w, len - 1)
}

/// cvc where the last c is not w, x or y.
fn cvc(w: &[u8], len: usize) -> bool {
    len >= 3
        && is_cons(w, len - 3)
        && !is_cons(w, len - 2)
        && is_cons(w, len - 1)
        && !matches!(w[len - 1], b'w' | b'x' | b'y')
}

fn ends(w: &[u8], suf: &str) -> bool {
    w.ends_with(suf.as_bytes())
}

fn set_suffix(w: &mut Vec<u8>, old: &str, new: &str) {
    let l = w.len() - old.len();
    w.truncate(l);
    w.extend_from_slice(new.as_bytes());
}

fn step1a(w: &mut Vec<u8>) {
    if ends(w, "sses") || ends(w, "ies") {
        let l = w.len();
        w.truncate(l - 2);
    } else if ends(w, "ss") {
    } else if ends(w, "s") && w.len() > 3 {
        w.pop();
    }
}

fn step1b(w: &mut Vec<u8>) {
    if ends(w, "eed") {
        if measure(w, w.len() - 3) > 0 {
            w.pop();
        }
        return;
    }
    let stripped = if ends(w, "ed") && has_vowel(w, w.len() - 2) {
        let l = w.len();
        w.truncate(l - 2);
        true
    } else if ends(w, "ing") && has_vowel(w, w.len() - 3) {
        let l = w.len();
        w.truncate(l - 3);
        true
    } else {
        false
    };
    if stripped {
        if ends(w, "at") || ends(w, "bl") || ends(w, "iz") {
            w.push(b'e');
        } else if ends_double_cons(w, w.len()) && !matches!(w[w.len() - 1], b'l' | b's' | b'z') {
            w.pop();
        } else if measure(w, w.len()) == 1 && cvc(w, w.len()) {
            w.push(b'e');
        }
    }
}

fn step1c(w: &mut [u8]) {
    let l = w.len();
    if l > 2 && w[l - 1] == b'y' && has_vowel(w, l - 1) {
        w[l - 1] = b'i';
    }
}

fn replace_if_m(w: &mut Vec<u8>, rules: &[(&str, &str)], min_m: usize) -> bool {
    for (old, new) in rules {
        if ends(w, old) {
            if measure(w, w.len() - old.len()) > min_m {
                set_suffix(w, old, new);
            }
            return true;
        }
    }
    false
}

fn step2(w: &mut Vec<u8>) {
    const R: [(&str, &str); 20] = [
        ("ational", "ate"),
        ("tional", "tion"),
        ("enci", "ence"),
        ("anci", "ance"),
        ("izer", "ize"),
        ("abli", "able"),
        ("alli", "al"),
        ("entli", "ent"),
        ("eli", "e"),
        ("ousli", "ous"),
        ("ization", "ize"),
        ("ation", "ate"),
        ("ator", "ate"),
        ("alism", "al"),
        ("iveness", "ive"),
        ("fulness", "ful"),
        ("ousness", "ous"),
        ("aliti", "al"),
        ("iviti", "ive"),
        ("biliti", "ble"),
    ];
    replace_if_m(w, &R, 0);
}

fn step3(w: &mut Vec<u8>) {
    const R: [(&str, &str); 7] = [
        ("icate", "ic"),
        ("ative", ""),
        ("alize", "al"),
        ("iciti", "ic"),
        ("ical", "ic"),
        ("ful", ""),
        ("ness", ""),
    ];
    replace_if_m(w, &R, 0);
}

fn step4(w: &mut Vec<u8>) {
    const S: [&str; 19] = [
        "al", "ance", "ence", "er", "ic", "able", "ible", "ant", "ement", "ment", "ent", "ion",
        "ou", "ism", "ate", "iti", "ous", "ive", "ize",
    ];
    // longest match first among those that end the word
    let mut best: Option<&str> = None;
    for s in S {
        if ends(w, s) && best.is_none_or(|b| s.len() > b.len()) {
            best = Some(s);
        }
    }
    if let Some(s) = best {
        let base = w.len() - s.len();
        if measure(w, base) > 1 {
            if s == "ion" {
                if base > 0 && matches!(w[base - 1], b's' | b't') {
                    w.truncate(base);
                }
            } else {
                w.truncate(base);
            }
        }
    }
}

fn step5(w: &mut Vec<u8>) {
    let l = w.len();
    if w[l - 1] == b'e' {
        let m = measure(w, l - 1);
        if m > 1 || (m == 1 && !cvc(w, l - 1)) {
            w.pop();
        }
    }
    let l = w.len();
    if l > 1 && w[l - 1] == b'l' && ends_double_cons(w, l) && measure(w, l) > 1 {
        w.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::stem;

    #[test]
    fn porter_examples() {
        let cases = [
            ("caresses", "caress"),
            ("ponies", "poni"),
            ("cats", "cat"),
            ("cards", "card"),
            ("running", "run"),
            ("hopping", "hop"),
            ("hoping", "hope"),
            ("agreed", "agre"),
            ("relational", "relat"),
            ("payments", "payment"),
            ("payment", "payment"),
            ("cancelled", "cancel"),
            ("cancelling", "cancel"),
            ("happiness", "happi"),
            ("transferred", "transfer"),
            ("transfers", "transfer"),
            ("invoices", "invoic"),
            ("invoice", "invoic"),
            ("activation", "activ"),
            ("activate", "activ"),
        ];
        for (w, s) in cases {
            assert_eq!(stem(w), s, "stem({w})");
        }
    }

    #[test]
    fn never_panics_or_empties() {
        // every word of up to 5 letters over an alphabet rich in suffix letters
        let alphabet = b"aeiysdngl";
        let mut words = vec![String::new()];
        for _ in 0..5 {
            let mut next = Vec::new();
            for w in &words {
                for &c in alphabet {
                    let mut x = w.clone();
                    x.push(c as char);
                    next.push(x);
                }
            }
            for w in &next {
                assert!(!stem(w).is_empty(), "stem({w}) is empty");
                assert!(!super::light_stem(w).is_empty());
            }
            words = next;
        }
        for w in [
            "ies", "sses", "eed", "ing", "ed", "yyyyy", "ational", "ization",
        ] {
            assert!(!stem(w).is_empty());
        }
    }

    #[test]
    fn leaves_other_tokens() {
        assert_eq!(stem("is"), "is");
        assert_eq!(stem("401k"), "401k");
        assert_eq!(stem("日本語"), "日本語");
        assert_eq!(stem("café"), "café");
    }
}
