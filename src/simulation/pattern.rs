//! Sample strings for the simple anchored patterns of the service catalogue (`^E\d{6}$`,
//! `^(INV|JNL|EXP)-\d{6}$`, `^CC\d{4}$`, `^\\\\nw-files0[12]\\.+`, ...): literals, escapes
//! (`\d`), `[..]` (its first character), `(a|b)`, `{n}`, `+`, `*`, `?` and `.`. Every sample is
//! checked against the pattern itself, so a pattern this cannot follow gives `None`, never a
//! wrong value.
//!
//! One walk through the pattern; what it puts where the pattern leaves a choice is the caller's
//! [`Choices`]: [`Varied`] draws (the demo: realistic, different every time, reproducible from
//! its seed), [`Plain`] does not (the load test: the same value for the same pattern).

use rand::Rng;

use super::draw::pick;
use crate::knowledge::model::Pattern;

/// What a sample puts where the pattern leaves a choice.
pub trait Choices {
    /// What the escape `\c` stands for; `None` for the character `c` itself.
    fn class(&mut self, c: char) -> Option<String>;
    /// One of a group's alternatives `(a|b)`.
    fn alternative(&mut self, alternatives: &[&str]) -> Option<String>;
    /// The next copy of the last atom under `{n}`.
    fn again(&mut self, last: &str) -> String;
    /// What `.` stands for (one character), and what `.+` or `.*` stands for.
    fn any(&self) -> (&'static str, &'static str);
}

/// Drawn from `rng`: random digits (each repeat of `\d` too, so `\d{6}` is not "777777"), a
/// random alternative, and a plausible path for `.+`.
pub struct Varied<'a, R: ?Sized>(pub &'a mut R);

impl<R: Rng + ?Sized> Choices for Varied<'_, R> {
    fn class(&mut self, c: char) -> Option<String> {
        (c == 'd').then(|| self.0.random_range(0..10_i32).to_string())
    }

    fn alternative(&mut self, alternatives: &[&str]) -> Option<String> {
        pick(self.0, alternatives).map(|a| a.to_string())
    }

    fn again(&mut self, last: &str) -> String {
        // Regenerate digits so "\d{6}" is not "777777".
        if last.chars().all(|x| x.is_ascii_digit()) && !last.is_empty() {
            self.0.random_range(0..10_i32).to_string()
        } else {
            last.to_string()
        }
    }

    fn any(&self) -> (&'static str, &'static str) {
        (".", "finance\\budgets")
    }
}

/// No randomness: 7 for a digit, `a` for a word character, the first alternative, `x` for any.
pub struct Plain;

impl Choices for Plain {
    fn class(&mut self, c: char) -> Option<String> {
        match c {
            'd' => Some("7".into()),
            'w' => Some("a".into()),
            's' => Some(" ".into()),
            _ => None,
        }
    }

    fn alternative(&mut self, alternatives: &[&str]) -> Option<String> {
        alternatives.first().map(|a| a.to_string())
    }

    fn again(&mut self, last: &str) -> String {
        last.to_string()
    }

    fn any(&self) -> (&'static str, &'static str) {
        ("x", "x")
    }
}

/// A string matching `pattern`, or `None` when the walk could not make one.
pub fn sample(pattern: &Pattern, choices: &mut impl Choices) -> Option<String> {
    let out = fill(pattern.0.as_str(), choices);
    pattern.0.is_match(&out).then_some(out)
}

/// The walk, unchecked. It always goes to the end of the pattern, so a [`Varied`] caller's
/// generator is drawn from the same number of times whether or not the sample fits.
fn fill(pattern: &str, choices: &mut impl Choices) -> String {
    let (any, any_run) = choices.any();
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    // The last atom, to repeat for a quantifier.
    let mut last = String::new();
    while i < chars.len() {
        let c = chars[i];
        let atom: Option<String> = match c {
            '^' | '$' => None,
            '\\' => {
                i += 1;
                chars
                    .get(i)
                    .map(|e| choices.class(*e).unwrap_or_else(|| e.to_string()))
            }
            '[' => {
                let end = chars[i..].iter().position(|x| *x == ']').map(|p| p + i);
                let set: Vec<char> = match end {
                    Some(e) => chars[i + 1..e].to_vec(),
                    None => vec![],
                };
                i = end.unwrap_or(i);
                set.first().map(|x| x.to_string())
            }
            '(' => {
                let end = chars[i..].iter().position(|x| *x == ')').map(|p| p + i);
                let inner: String = match end {
                    Some(e) => chars[i + 1..e].iter().collect(),
                    None => String::new(),
                };
                i = end.unwrap_or(i);
                let alts: Vec<&str> = inner.split('|').collect();
                choices.alternative(&alts)
            }
            '{' => {
                let end = chars[i..].iter().position(|x| *x == '}').map(|p| p + i);
                let inner: String = match end {
                    Some(e) => chars[i + 1..e].iter().collect(),
                    None => String::new(),
                };
                i = end.unwrap_or(i);
                let n: usize = inner
                    .split(',')
                    .next()
                    .and_then(|x| x.trim().parse().ok())
                    .unwrap_or(1);
                for _ in 1..n {
                    let next = choices.again(&last);
                    out.push_str(&next);
                }
                None
            }
            '+' | '*' => {
                if last == any {
                    out.pop();
                    out.push_str(any_run);
                }
                None
            }
            '?' => None,
            '.' => Some(any.to_string()),
            other => Some(other.to_string()),
        };
        if let Some(a) = atom {
            out.push_str(&a);
            last = a;
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    const SHIPPED: [&str; 6] = [
        r"^E\d{6}$",
        r"^\d{2}-\d{2}-\d{2}$",
        r"^(INV|JNL|EXP)-\d{6}$",
        r"^CC\d{4}$",
        r"^GB\d{9}$",
        r"^\\\\nw-files0[12]\\.+",
    ];

    fn pattern(src: &str) -> Pattern {
        Pattern(regex::Regex::new(src).unwrap())
    }

    #[test]
    fn varied_samples_match_the_catalogue_patterns() {
        let mut rng = StdRng::seed_from_u64(1);
        for p in SHIPPED {
            let s = sample(&pattern(p), &mut Varied(&mut rng));
            assert!(s.is_some(), "{p} -> {s:?}");
        }
    }

    #[test]
    fn plain_samples_match_and_do_not_vary() {
        for p in SHIPPED {
            let s = sample(&pattern(p), &mut Plain).unwrap_or_else(|| panic!("no sample for {p}"));
            assert_eq!(sample(&pattern(p), &mut Plain), Some(s));
        }
        assert_eq!(
            sample(&pattern(r"^(INV|JNL)-\d{3}$"), &mut Plain).as_deref(),
            Some("INV-777")
        );
        assert_eq!(
            sample(&pattern(r"^\\\\nw-files0[12]\\.+"), &mut Plain).as_deref(),
            Some(r"\\nw-files01\x")
        );
    }
}
