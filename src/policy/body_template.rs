//! A JSON body with `{{placeholders}}`: how a deployment shapes what its case system receives.
//!
//! The template is JSON text. Where a placeholder stands decides how its value goes in:
//!
//! - **inside a JSON string** (`"summary": "{{reference}} {{service_name}}"`): as text, escaped
//!   for a JSON string (quotes, backslashes, newlines, control characters), so whatever a client
//!   typed cannot break the body; `null` becomes the empty string, an object its JSON text;
//! - **as a value of its own** (`"inputs": {{inputs}}`): as JSON (`"text"` with its quotes, a
//!   number, `null`, an object).
//!
//! `{{ name }}` may have spaces inside the braces. A name the renderer does not know is an error
//! when the template is compiled (at start), never a surprise at delivery.

use std::collections::BTreeMap;

use serde_json::Value;

/// A compiled template.
#[derive(Clone, Debug, PartialEq)]
pub struct BodyTemplate {
    parts: Vec<Part>,
}

#[derive(Clone, Debug, PartialEq)]
enum Part {
    Text(String),
    /// A placeholder, and whether it stands inside a JSON string.
    Value {
        name: String,
        in_string: bool,
    },
}

impl BodyTemplate {
    /// Compile `text`, knowing only the placeholders in `known`.
    pub fn compile(text: &str, known: &[&str]) -> Result<BodyTemplate, String> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut in_string = false;
        let mut escaped = false;
        let mut rest = text;
        while let Some(c) = rest.chars().next() {
            if rest.starts_with("{{") {
                let end = rest.find("}}").ok_or_else(|| {
                    format!(
                        "line {}: `{{{{` without its closing `}}}}`",
                        line_of(text, rest)
                    )
                })?;
                let name = rest[2..end].trim();
                if !known.contains(&name) {
                    return Err(format!(
                        "line {}: unknown placeholder {{{{{name}}}}}; known: {}",
                        line_of(text, rest),
                        known.join(", ")
                    ));
                }
                if !literal.is_empty() {
                    parts.push(Part::Text(std::mem::take(&mut literal)));
                }
                parts.push(Part::Value {
                    name: name.to_string(),
                    in_string,
                });
                rest = &rest[end + 2..];
                escaped = false;
                continue;
            }
            if in_string {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == '"' {
                    in_string = false;
                }
            } else if c == '"' {
                in_string = true;
            }
            literal.push(c);
            rest = &rest[c.len_utf8()..];
        }
        if !literal.is_empty() {
            parts.push(Part::Text(literal));
        }
        Ok(BodyTemplate { parts })
    }

    /// The body with `values` put in (a name missing from `values` renders as `null`).
    pub fn render(&self, values: &BTreeMap<&str, Value>) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Value { name, in_string } => {
                    let value = values.get(name.as_str()).unwrap_or(&Value::Null);
                    if *in_string {
                        let text = match value {
                            Value::Null => String::new(),
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        };
                        let quoted = Value::String(text).to_string();
                        out.push_str(&quoted[1..quoted.len() - 1]);
                    } else {
                        out.push_str(&value.to_string());
                    }
                }
            }
        }
        out
    }

    /// The placeholders it uses, in order.
    pub fn placeholders(&self) -> Vec<&str> {
        self.parts
            .iter()
            .filter_map(|p| match p {
                Part::Value { name, .. } => Some(name.as_str()),
                Part::Text(_) => None,
            })
            .collect()
    }
}

/// The 1-based line of `rest` (a suffix of `text`).
fn line_of(text: &str, rest: &str) -> usize {
    text[..text.len() - rest.len()].matches('\n').count() + 1
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn values(pairs: &[(&'static str, Value)]) -> BTreeMap<&'static str, Value> {
        pairs.iter().cloned().collect()
    }

    #[test]
    fn placeholders_are_escaped_inside_strings_and_json_outside() {
        let t = BodyTemplate::compile(
            r#"{"summary": "{{ name }} \"{{name}}\" ({{n}})", "raw": {{name}}, "n": {{n}}, "obj": {{obj}}, "objtext": "{{obj}}", "none": {{missing}}, "nonetext": "<{{missing}}>"}"#,
            &["name", "n", "obj", "missing"],
        )
        .unwrap();
        let typed = "Ann \"the boss\" O'Neil\nline two\ttab \\ back — ünïcødé 🚀 \u{1}";
        let body = t.render(&values(&[
            ("name", json!(typed)),
            ("n", json!(3)),
            ("obj", json!({"a": "b\"c"})),
        ]));
        let v: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
        assert_eq!(v["summary"], format!("{typed} \"{typed}\" (3)"));
        assert_eq!(v["raw"], typed);
        assert_eq!(v["n"], 3);
        assert_eq!(v["obj"], json!({"a": "b\"c"}));
        assert_eq!(v["objtext"], r#"{"a":"b\"c"}"#);
        assert_eq!(v["none"], Value::Null);
        assert_eq!(v["nonetext"], "<>");
    }

    #[test]
    fn an_escaped_quote_does_not_end_the_string() {
        let t = BodyTemplate::compile(r#"{"a": "say \"{{x}}\" \\", "b": {{x}}}"#, &["x"]).unwrap();
        let body = t.render(&values(&[("x", json!("q\""))]));
        let v: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
        assert_eq!(v["a"], "say \"q\"\" \\");
        assert_eq!(v["b"], "q\"");
    }

    #[test]
    fn unknown_and_unclosed_placeholders_are_refused_with_their_line() {
        let err = BodyTemplate::compile("{\n\"a\": \"{{nope}}\"}", &["x"]).unwrap_err();
        assert!(
            err.starts_with("line 2: unknown placeholder {{nope}}"),
            "{err}"
        );
        assert!(err.contains("known: x"), "{err}");
        let err = BodyTemplate::compile("{\"a\": \"{{x\"}", &["x"]).unwrap_err();
        assert!(err.contains("without its closing"), "{err}");
    }

    #[test]
    fn text_without_placeholders_is_kept_byte_for_byte() {
        let text = "{ \"a\" : [1, 2],\n  \"é\": \"{ not a placeholder }\" }";
        let t = BodyTemplate::compile(text, &[]).unwrap();
        assert_eq!(t.render(&BTreeMap::new()), text);
        assert!(t.placeholders().is_empty());
    }
}
