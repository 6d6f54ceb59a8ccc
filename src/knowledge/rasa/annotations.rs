//! Entity annotations in Rasa examples, stripped to the words a user types:
//! `[text](entity)`, `[text](entity:value)` (Rasa 1.x/2.x shorthand) and
//! `[text]{"entity": "e", "value": "v", "role": …, "group": …}`. Brackets that are not an
//! annotation stay as written.

use super::model::Annotation;

/// The example's plain text and its annotations.
pub fn strip(example: &str) -> (String, Vec<Annotation>) {
    let mut out = String::with_capacity(example.len());
    let mut found = Vec::new();
    let mut rest = example;
    while let Some(open) = rest.find('[') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match annotation(after) {
            Some((text, entity, value, used)) => {
                out.push_str(text);
                found.push(Annotation {
                    text: text.to_string(),
                    entity,
                    value,
                });
                rest = &after[used..];
            }
            None => {
                out.push('[');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    (out, found)
}

/// After a `[`: the text, entity, value and how many bytes the annotation took.
fn annotation(s: &str) -> Option<(&str, String, Option<String>, usize)> {
    let close = s.find(']')?;
    let text = &s[..close];
    if text.contains('[') {
        return None;
    }
    let tail = &s[close + 1..];
    if let Some(paren) = tail.strip_prefix('(') {
        let end = paren.find(')')?;
        let inner = paren[..end].trim();
        let (entity, value) = match inner.split_once(':') {
            Some((e, v)) => (e.trim(), Some(v.trim().to_string())),
            None => (inner, None),
        };
        if entity.is_empty() || entity.contains(char::is_whitespace) {
            return None;
        }
        return Some((text, entity.to_string(), value, close + 2 + end + 1));
    }
    if tail.starts_with('{') {
        let end = json_object_end(tail)?;
        let v: serde_json::Value = serde_json::from_str(&tail[..end]).ok()?;
        let entity = v.get("entity")?.as_str()?.to_string();
        let value = v.get("value").and_then(|x| match x {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Null => None,
            other => Some(other.to_string()),
        });
        return Some((text, entity, value, close + 1 + end));
    }
    None
}

/// Byte length of the JSON object at the start of `s` (braces outside strings balanced).
fn json_object_end(s: &str) -> Option<usize> {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for (i, c) in s.char_indices() {
        if in_string {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '{' => depth += 1,
            '}' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_annotation_form_is_stripped_to_its_text() {
        let (text, entities) = strip(
            r#"it should be a [low](priority) ticket for [escalated]{"entity": "priority", "value": "high"} and [NYC](city:New York)"#,
        );
        assert_eq!(text, "it should be a low ticket for escalated and NYC");
        assert_eq!(entities.len(), 3);
        assert_eq!(entities[0].entity, "priority");
        assert_eq!(entities[0].value, None);
        assert_eq!(entities[1].value.as_deref(), Some("high"));
        assert_eq!(entities[2].value.as_deref(), Some("New York"));
    }

    #[test]
    fn brackets_that_are_not_annotations_stay() {
        for s in [
            "see [the docs] later",
            "a [link]( to nowhere",
            "[x]{not json}",
            "x] and [y",
        ] {
            assert_eq!(strip(s).0, s);
            assert!(strip(s).1.is_empty(), "{s}");
        }
    }
}
