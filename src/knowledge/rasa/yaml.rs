//! A YAML document as a small tree whose every node knows its line. Rasa files are read through
//! it so that what is imported, skipped or wrong is reported at `file:line` (a serde mapping
//! would lose the lines, and the report is the point of an import).

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A scalar as written (YAML 1.2 core schema types are not resolved: Rasa's fields are
    /// strings, and `version: 3.1` must stay "3.1").
    Scalar {
        text: String,
        plain: bool,
    },
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub value: Value,
    /// 1-based line where the node starts (a block scalar's first content line).
    pub line: usize,
}

impl Node {
    /// The value under `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entries()
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
    }

    /// The line of `key` in a mapping (where a block value under it does not start).
    pub fn key_line(&self, key: &str) -> Option<usize> {
        self.entries()
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(k, _)| k.line)
    }

    /// A mapping's entries (none for other nodes).
    pub fn entries(&self) -> &[(Node, Node)] {
        match &self.value {
            Value::Map(entries) => entries,
            _ => &[],
        }
    }

    /// A sequence's items (none for other nodes).
    pub fn items(&self) -> &[Node] {
        match &self.value {
            Value::Seq(items) => items,
            _ => &[],
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    /// An empty value: `key:` with nothing after it, `~` or `null`.
    pub fn is_null(&self) -> bool {
        matches!(&self.value, Value::Scalar { text, plain: true } if text.is_empty() || text == "~" || text == "null")
    }

    pub fn is_map(&self) -> bool {
        matches!(self.value, Value::Map(_))
    }

    pub fn is_seq(&self) -> bool {
        matches!(self.value, Value::Seq(_))
    }
}

/// A YAML syntax error at a line.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntaxError {
    pub line: usize,
    pub message: String,
}

/// Parse the first document of `text`; `None` for an empty file.
pub fn parse(text: &str) -> Result<Option<Node>, SyntaxError> {
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    parser.load(&mut builder, false).map_err(|e| SyntaxError {
        line: e.marker().line().max(1),
        message: e.info().to_string(),
    })?;
    if let Some(e) = builder.error {
        return Err(e);
    }
    Ok(builder.root)
}

enum Partial {
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>, Option<Node>),
}

#[derive(Default)]
struct Builder {
    /// Open containers: what they hold so far, their line and anchor.
    stack: Vec<(Partial, usize, usize)>,
    root: Option<Node>,
    anchors: HashMap<usize, Node>,
    error: Option<SyntaxError>,
}

impl Builder {
    fn push(&mut self, node: Node, anchor: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => {
                if self.root.is_none() {
                    self.root = Some(node);
                }
            }
            Some((Partial::Seq(items), _, _)) => items.push(node),
            Some((Partial::Map(entries, pending), _, _)) => match pending.take() {
                None => *pending = Some(node),
                Some(key) => entries.push((key, node)),
            },
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        let line = mark.line().max(1);
        match ev {
            Event::Scalar(text, style, anchor, _) => {
                let plain = style == TScalarStyle::Plain;
                self.push(
                    Node {
                        value: Value::Scalar { text, plain },
                        line,
                    },
                    anchor,
                );
            }
            Event::SequenceStart(anchor, _) => {
                self.stack.push((Partial::Seq(Vec::new()), line, anchor));
            }
            Event::MappingStart(anchor, _) => {
                self.stack
                    .push((Partial::Map(Vec::new(), None), line, anchor));
            }
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some((partial, line, anchor)) = self.stack.pop() {
                    let value = match partial {
                        Partial::Seq(items) => Value::Seq(items),
                        Partial::Map(entries, _) => Value::Map(entries),
                    };
                    self.push(Node { value, line }, anchor);
                }
            }
            Event::Alias(id) => match self.anchors.get(&id).cloned() {
                Some(mut node) => {
                    node.line = line;
                    self.push(node, 0);
                }
                None => {
                    self.error = Some(SyntaxError {
                        line,
                        message: "alias to an unknown anchor".into(),
                    })
                }
            },
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart
            | Event::DocumentEnd => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_carry_their_lines_and_block_scalars_start_at_their_first_line() {
        let text =
            "version: \"3.1\"\nnlu:\n- intent: greet\n  examples: |\n    - hi\n    - hello\n";
        let root = parse(text).expect("valid").expect("not empty");
        assert_eq!(root.get("version").and_then(Node::as_str), Some("3.1"));
        let item = &root.get("nlu").expect("nlu").items()[0];
        assert_eq!(item.get("intent").map(|n| n.line), Some(3));
        let examples = item.get("examples").expect("examples");
        assert_eq!(examples.line, 5);
        assert_eq!(examples.as_str(), Some("- hi\n- hello\n"));
    }

    #[test]
    fn a_syntax_error_names_its_line() {
        let err = parse("nlu:\n- intent: a\n  examples: [unclosed\n").expect_err("invalid");
        assert!(err.line >= 3, "{err:?}");
    }

    #[test]
    fn aliases_repeat_their_anchor() {
        let root = parse("a: &x [1, 2]\nb: *x\n")
            .expect("valid")
            .expect("not empty");
        assert_eq!(root.get("b").map(|b| b.items().len()), Some(2));
    }

    #[test]
    fn an_empty_file_is_no_document() {
        assert_eq!(parse("# only a comment\n"), Ok(None));
    }
}
