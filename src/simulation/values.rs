//! Values a simulated person types into a service request's form, for each kind of input.
//! Two voices: [`realistic`] (the demo: plausible, varied values drawn from its generator; and
//! [`refused`], the wrong answers that make the form ask again) and [`plain`] (the load test:
//! the same simple value for the same `n`, no randomness).

use chrono::{DateTime, Duration, Utc};
use rand::Rng;

use super::draw::{pick, pick_text};
use super::pattern::{Plain, Varied, sample};
use super::people::Person;
use crate::knowledge::{InputKind, InputSpec};

/// A valid answer to an input, or `None` when the demo cannot make one up.
pub fn realistic<R: Rng + ?Sized>(
    rng: &mut R,
    input: &InputSpec,
    person: &Person,
    now: DateTime<Utc>,
) -> Option<String> {
    let name = input.name.as_str();
    Some(match &input.kind {
        InputKind::Text => {
            let options: &[&str] = if name.contains("vendor") || name.contains("supplier") {
                &[
                    "Brightwell Office Supplies Ltd",
                    "Harbour Logistics Ltd",
                    "Kestrel Facilities plc",
                ]
            } else if name.contains("holder") || name.contains("starter") {
                &[person.name.as_str()]
            } else if name.contains("software") {
                &["Tableau Desktop", "Visio Professional", "Adobe Acrobat Pro"]
            } else if name.contains("address") {
                &[
                    "Unit 4, Riverside Park, Leeds LS1 4AB",
                    "Head office, 2nd floor",
                ]
            } else if name.contains("addressee") {
                &["Nationwide Building Society", "Lettings Direct Ltd"]
            } else {
                &[
                    "Quarterly maintenance for the packing line",
                    "Posted to the wrong cost centre in October",
                    "Needed for the new regional reporting team",
                ]
            };
            pick_text(rng, options)
        }
        InputKind::Number { min, max } => {
            let lo = min.unwrap_or(1.0).max(1.0) as i64;
            let hi = max.unwrap_or(10.0).min(lo as f64 + 9.0) as i64;
            rng.random_range(lo..=hi.max(lo)).to_string()
        }
        InputKind::Amount { min, max } => {
            let lo = min.unwrap_or(10.0).max(10.0);
            let hi = max.unwrap_or(5000.0).min(5000.0).max(lo);
            format!("{:.2}", rng.random_range(lo..=hi))
        }
        InputKind::Date { .. } => (now + Duration::days(rng.random_range(5..40)))
            .date_naive()
            .format("%Y-%m-%d")
            .to_string(),
        InputKind::Email => person.email.clone(),
        InputKind::Choice { choices } => pick(rng, choices)?.clone(),
        InputKind::Reference { pattern, .. } => sample(pattern, &mut Varied(rng))?,
    })
}

/// An answer the form refuses, for the re-prompt KPIs; `None` when any text is accepted.
pub fn refused(input: &InputSpec) -> Option<&'static str> {
    match &input.kind {
        InputKind::Reference { .. } => Some("not sure, hang on"),
        InputKind::Email => Some("john at the office"),
        InputKind::Date { .. } => Some("sometime soon-ish"),
        InputKind::Number { .. } => Some("a few"),
        InputKind::Amount { .. } => Some("about that much"),
        _ => None,
    }
}

/// A valid answer to an input (`n` varies it), or `None` when the load test cannot make one.
pub fn plain(input: &InputSpec, n: u64) -> Option<String> {
    Some(match &input.kind {
        InputKind::Text => format!("Loadtest Example {} Ltd", n % 1000),
        InputKind::Email => format!("loadtest.{}@example.com", n % 1000),
        InputKind::Number { min, max } => {
            let v = min.unwrap_or(1.0).max(1.0);
            let v = max.map_or(v, |m| v.min(m));
            format!("{}", v.ceil() as i64)
        }
        InputKind::Amount { min, max } => {
            let v = min.unwrap_or(0.0).max(125.0);
            let v = max.map_or(v, |m| v.min(m));
            format!("{v:.2}")
        }
        InputKind::Date { .. } => (chrono::Utc::now().date_naive() + chrono::Days::new(45))
            .format("%Y-%m-%d")
            .to_string(),
        InputKind::Choice { choices } => choices.first()?.clone(),
        InputKind::Reference { pattern, .. } => sample(pattern, &mut Plain)?,
    })
}
