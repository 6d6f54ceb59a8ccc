//! SPA inputs: validating an answer against its input's type, and finding values given up front.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use chrono_tz::Tz;
use regex::Regex;
use std::sync::LazyLock;

use crate::knowledge::{InputKind, InputSpec};

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")
        .expect("static regex")
});
static EMAIL_IN_TEXT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
        .expect("static regex")
});
static AMOUNT_IN_TEXT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)(?:[£$€]\s?\d[\d,]*(?:\.\d{1,2})?|\b\d[\d,]*(?:\.\d{1,2})?\s?(?:gbp|usd|eur)\b)",
    )
    .expect("static regex")
});
static ISO_DATE_IN_TEXT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b\d{4}-\d{2}-\d{2}\b|\b\d{1,2}/\d{1,2}/\d{4}\b").expect("static regex")
});

/// Check an answer; `Ok` is the normalised value to store, `Err` the reason to tell the user.
pub fn validate(
    input: &InputSpec,
    answer: &str,
    now: DateTime<Utc>,
    tz: Tz,
) -> Result<String, String> {
    let answer = answer.trim();
    if answer.is_empty() {
        return Err("I didn't get an answer.".into());
    }
    match &input.kind {
        InputKind::Text => {
            if answer.chars().count() > 500 {
                Err("That's longer than 500 characters; please shorten it.".into())
            } else {
                Ok(answer.to_string())
            }
        }
        InputKind::Email => {
            if EMAIL.is_match(answer) {
                Ok(answer.to_lowercase())
            } else {
                Err(format!(
                    "{answer:?} doesn't look like an email address (name@company.com)."
                ))
            }
        }
        InputKind::Number { min, max } => {
            let n = parse_number(answer).ok_or_else(|| format!("{answer:?} isn't a number."))?;
            check_range(n, *min, *max)?;
            Ok(trim_float(n))
        }
        InputKind::Amount { min, max } => {
            let n = parse_amount(answer).ok_or_else(|| {
                format!("{answer:?} isn't an amount; write it like 1250.00 or £1,250.00.")
            })?;
            if n < 0.0 {
                return Err("An amount can't be negative.".into());
            }
            check_range(n, *min, *max)?;
            Ok(format!("{n:.2}"))
        }
        InputKind::Date { future } => {
            let today = now.with_timezone(&tz).date_naive();
            let d = parse_date(answer, today).ok_or_else(|| {
                format!(
                    "{answer:?} isn't a date I understand; use YYYY-MM-DD, e.g. {}.",
                    today + chrono::Days::new(7)
                )
            })?;
            if *future && d <= today {
                return Err(format!("The date must be in the future (after {today})."));
            }
            Ok(d.to_string())
        }
        InputKind::Choice { choices } => {
            let lower = answer.to_lowercase();
            if let Ok(n) = lower.parse::<usize>()
                && n >= 1
                && n <= choices.len()
            {
                return Ok(choices[n - 1].clone());
            }
            choices
                .iter()
                .find(|c| c.to_lowercase() == lower)
                .or_else(|| {
                    let mut hits = choices
                        .iter()
                        .filter(|c| c.to_lowercase().starts_with(&lower));
                    match (hits.next(), hits.next()) {
                        (Some(one), None) => Some(one),
                        _ => None,
                    }
                })
                .cloned()
                .ok_or_else(|| format!("Please pick one of: {}.", choices.join(", ")))
        }
        InputKind::Reference { pattern, .. } => {
            if pattern.0.is_match(answer) {
                return Ok(answer.to_string());
            }
            // Forgive case and spaces: "gb 123 456 789" for GB123456789.
            let squeezed: String = answer
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect::<String>()
                .to_uppercase();
            if pattern.0.is_match(&squeezed) {
                Ok(squeezed)
            } else {
                Err(format!("{answer:?} isn't in the expected format."))
            }
        }
    }
}

fn check_range(n: f64, min: Option<f64>, max: Option<f64>) -> Result<(), String> {
    if let Some(min) = min
        && n < min
    {
        return Err(format!("It must be at least {}.", trim_float(min)));
    }
    if let Some(max) = max
        && n > max
    {
        return Err(format!("It must be at most {}.", trim_float(max)));
    }
    Ok(())
}

fn trim_float(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

fn parse_number(s: &str) -> Option<f64> {
    let cleaned: String = s
        .chars()
        .filter(|c| *c != ',' && !c.is_whitespace())
        .collect();
    cleaned.parse::<f64>().ok().filter(|n| n.is_finite())
}

fn parse_amount(s: &str) -> Option<f64> {
    let lower = s.to_lowercase();
    let cleaned = lower
        .trim()
        .trim_start_matches(['£', '$', '€'])
        .trim_end_matches("gbp")
        .trim_end_matches("usd")
        .trim_end_matches("eur")
        .trim();
    let cleaned = cleaned.trim_start_matches(['£', '$', '€']).trim();
    let n = parse_number(cleaned)?;
    // At most two decimals: 12.345 is a typo, not an amount.
    match cleaned.split_once('.') {
        Some((_, dec)) if dec.len() > 2 => None,
        _ => Some(n),
    }
}

/// YYYY-MM-DD, DD/MM/YYYY (UK order), "today", "tomorrow", "1 December 2026", "Dec 1 2026".
pub fn parse_date(s: &str, today: NaiveDate) -> Option<NaiveDate> {
    let s = s.trim().trim_end_matches('.').to_lowercase();
    match s.as_str() {
        "today" => return Some(today),
        "tomorrow" => return today.succ_opt(),
        _ => {}
    }
    for fmt in [
        "%Y-%m-%d",
        "%d/%m/%Y",
        "%d %B %Y",
        "%d %b %Y",
        "%B %d %Y",
        "%b %d %Y",
        "%B %d, %Y",
        "%b %d, %Y",
    ] {
        if let Ok(d) = NaiveDate::parse_from_str(&s, fmt) {
            return Some(d);
        }
    }
    // "1 december" without a year: the next such date.
    for fmt in ["%d %B %Y", "%d %b %Y"] {
        if let Ok(d) = NaiveDate::parse_from_str(&format!("{s} {}", today.year()), fmt) {
            return Some(if d < today {
                d.with_year(today.year() + 1).unwrap_or(d)
            } else {
                d
            });
        }
    }
    None
}

/// Find a value for `input` in a free-text message, already validated. Only inputs whose value
/// can be recognised without asking are filled: references by their pattern, emails, amounts,
/// dates, choices named in the text, and text inputs with an `extract` pattern.
pub fn extract(input: &InputSpec, text: &str, now: DateTime<Utc>, tz: Tz) -> Option<String> {
    let candidate: Option<String> = if let Some(p) = &input.extract {
        p.0.captures(text).and_then(|c| {
            c.name("value")
                .or_else(|| c.get(0))
                .map(|m| m.as_str().trim().to_string())
        })
    } else {
        match &input.kind {
            InputKind::Reference { in_text, .. } => {
                in_text.0.find(text).map(|m| m.as_str().to_string())
            }
            InputKind::Email => EMAIL_IN_TEXT.find(text).map(|m| m.as_str().to_string()),
            InputKind::Amount { .. } => AMOUNT_IN_TEXT.find(text).map(|m| m.as_str().to_string()),
            InputKind::Date { .. } => ISO_DATE_IN_TEXT.find(text).map(|m| m.as_str().to_string()),
            InputKind::Choice { choices } => {
                let lower = text.to_lowercase();
                let mut hits = choices.iter().filter(|c| {
                    let c = c.to_lowercase();
                    lower
                        .match_indices(&c)
                        .any(|(i, _)| word_boundary(&lower, i, i + c.len()))
                });
                match (hits.next(), hits.next()) {
                    (Some(one), None) => Some(one.clone()),
                    _ => None,
                }
            }
            InputKind::Text | InputKind::Number { .. } => None,
        }
    };
    candidate.and_then(|c| validate(input, &c, now, tz).ok())
}

fn word_boundary(s: &str, start: usize, end: usize) -> bool {
    let before = s[..start]
        .chars()
        .next_back()
        .is_none_or(|c| !c.is_alphanumeric());
    let after = s[end..].chars().next().is_none_or(|c| !c.is_alphanumeric());
    before && after
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knowledge::Pattern;

    fn input(kind: InputKind) -> InputSpec {
        InputSpec {
            name: "x".into(),
            prompt: "?".into(),
            kind,
            required: true,
            help: None,
            extract: None,
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-24T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    const TZ: Tz = chrono_tz::Europe::London;

    #[test]
    fn types_validate_and_normalise() {
        let amount = input(InputKind::Amount {
            min: None,
            max: Some(10_000.0),
        });
        assert_eq!(validate(&amount, "£1,250", now(), TZ).unwrap(), "1250.00");
        assert!(validate(&amount, "12.345", now(), TZ).is_err());
        assert!(
            validate(&amount, "20000", now(), TZ)
                .unwrap_err()
                .contains("at most 10000")
        );
        let date = input(InputKind::Date { future: true });
        assert_eq!(
            validate(&date, "2026-12-01", now(), TZ).unwrap(),
            "2026-12-01"
        );
        assert_eq!(
            validate(&date, "01/12/2026", now(), TZ).unwrap(),
            "2026-12-01"
        );
        assert!(
            validate(&date, "2026-11-01", now(), TZ)
                .unwrap_err()
                .contains("future")
        );
        assert!(validate(&date, "someday", now(), TZ).is_err());
        let email = input(InputKind::Email);
        assert_eq!(
            validate(&email, "Ann@Acme.example", now(), TZ).unwrap(),
            "ann@acme.example"
        );
        assert!(validate(&email, "ann@", now(), TZ).is_err());
        let choice = input(InputKind::Choice {
            choices: vec!["Goods".into(), "Services".into()],
        });
        assert_eq!(
            validate(&choice, "services", now(), TZ).unwrap(),
            "Services"
        );
        assert_eq!(validate(&choice, "1", now(), TZ).unwrap(), "Goods");
        assert!(validate(&choice, "Both", now(), TZ).is_err());
        let vat = input(InputKind::reference(r"^GB\d{9}$").unwrap());
        assert_eq!(
            validate(&vat, "gb 123 456 789", now(), TZ).unwrap(),
            "GB123456789"
        );
        assert!(validate(&vat, "GB12", now(), TZ).is_err());
    }

    #[test]
    fn values_found_up_front() {
        let vat = input(InputKind::reference(r"^GB\d{9}$").unwrap());
        let text = "I need a new vendor, Acme Ltd, VAT GB123456789, contact ap@acme.example";
        assert_eq!(
            extract(&vat, text, now(), TZ).as_deref(),
            Some("GB123456789")
        );
        assert_eq!(
            extract(&input(InputKind::Email), text, now(), TZ).as_deref(),
            Some("ap@acme.example")
        );
        let mut name = input(InputKind::Text);
        name.extract = Some(Pattern(
            Regex::new(r"(?P<value>[A-Z][\w&]*(?: [A-Z][\w&]*)* (?:Ltd|Limited|plc))").unwrap(),
        ));
        assert_eq!(extract(&name, text, now(), TZ).as_deref(), Some("Acme Ltd"));
        assert_eq!(extract(&input(InputKind::Text), text, now(), TZ), None);
    }
}
