//! Promoting a gap's questions: adding them as examples to the content file of an intent.

use crate::knowledge::Knowledge;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PromoteError {
    #[error("intent {0:?} is not in the content")]
    UnknownIntent(String),
    #[error("{file}: no `{list} = [` list to add to")]
    NoList { file: String, list: &'static str },
}

/// Add `questions` as examples of `intent` in its content file's text: an article's
/// `questions = [...]` front matter, or the `examples = [...]` of an `[[intent]]` in
/// `intents/*.toml`. Pure (the caller reads and writes the file, and reloads the content to
/// check it). Returns the new text; questions already there are skipped.
pub fn add_examples(
    text: &str,
    k: &Knowledge,
    intent: &str,
    questions: &[String],
) -> Result<String, PromoteError> {
    let i = k
        .intents
        .get(intent)
        .ok_or_else(|| PromoteError::UnknownIntent(intent.to_string()))?;
    let article_intent = matches!(&i.action, crate::knowledge::Action::Article(a) if a == intent)
        && k.articles.contains_key(intent);
    let (start, list) = if article_intent {
        (text.find("questions = ["), "questions")
    } else {
        let at = text
            .find(&format!("name = \"{intent}\""))
            .and_then(|n| text[n..].find("examples = [").map(|e| n + e));
        (at, "examples")
    };
    let no_list = || PromoteError::NoList {
        file: i.file.display().to_string(),
        list,
    };
    let start = start.ok_or_else(no_list)?;
    // the list's closing bracket: the first `]` outside a string after `[`
    let open = start + text[start..].find('[').ok_or_else(no_list)?;
    let mut in_str = false;
    let mut chars = text[open + 1..].char_indices();
    let mut close = None;
    while let Some((off, ch)) = chars.next() {
        match ch {
            '\\' if in_str => {
                chars.next();
            }
            '"' => in_str = !in_str,
            ']' if !in_str => {
                close = Some(open + 1 + off);
                break;
            }
            _ => {}
        }
    }
    let close = close.ok_or_else(no_list)?;
    let existing = &text[open..close];
    let mut add = String::new();
    for q in questions {
        let quoted = serde_json::to_string(q.trim()).unwrap_or_default();
        if quoted.len() > 2 && !existing.contains(&quoted) && !add.contains(&quoted) {
            add.push_str(&format!("  {quoted},\n"));
        }
    }
    if add.is_empty() {
        return Ok(text.to_string());
    }
    // keep the list's shape: one entry per line, a comma after the last existing entry
    let before = text[..close].trim_end();
    let sep = if before.ends_with('[') || before.ends_with(',') {
        ""
    } else {
        ","
    };
    Ok(format!("{before}{sep}\n{add}{}", &text[close..]))
}
