//! Reading a Rasa project (a folder: `data/**/*.yml`, `domain.yml` or a `domain/` folder,
//! `tests/`) or a single training data file into a [`Project`]. Every file is recognised by its
//! top-level keys, as Rasa does, so the layout may differ from the template's. What is read and
//! not used is recorded in `skipped` with its line.

use std::path::{Path, PathBuf};

use super::RasaError;
use super::annotations;
use super::model::*;
use super::yaml::{self, Node};

/// Folders that never hold training data (trained models, virtual environments, caches).
const SKIP_DIRS: &[&str] = &["models", "results", "node_modules", "venv", "__pycache__"];

/// Files with channel and endpoint settings: they may hold secrets, so they are not even read.
const SETTINGS_FILES: &[&str] = &[
    "credentials.yml",
    "credentials.yaml",
    "endpoints.yml",
    "endpoints.yaml",
];

/// Read a project folder or one file.
pub fn read(path: &Path) -> Result<Project, RasaError> {
    let mut project = Project::default();
    if path.is_dir() {
        for file in project_files(path) {
            read_file(&file, &mut project)?;
        }
    } else if path.is_file() {
        read_file(path, &mut project)?;
    } else {
        return Err(RasaError::Io {
            file: path.to_path_buf(),
            message: "no such file or folder".into(),
        });
    }
    if project.intents.is_empty() {
        return Err(RasaError::NoTrainingData {
            path: path.to_path_buf(),
        });
    }
    Ok(project)
}

/// Training data files of interest under a folder, in a stable order.
fn project_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().to_string();
            if path.is_dir() {
                if !name.starts_with('.') && !SKIP_DIRS.contains(&name.as_str()) {
                    stack.push(path);
                }
            } else if is_yaml(&path) || is_rasa_1x(&path) {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn is_yaml(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("yml") || e.eq_ignore_ascii_case("yaml"))
}

/// Rasa 1.x training data: Markdown or JSON under a `data` folder.
fn is_rasa_1x(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "md" || e == "json")
        && path.components().any(|c| c.as_os_str() == "data")
}

fn read_file(file: &Path, project: &mut Project) -> Result<(), RasaError> {
    let at = |line| Loc {
        file: file.to_path_buf(),
        line,
    };
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    if SETTINGS_FILES.contains(&name.as_str()) {
        project.skip(
            at(1),
            name,
            "channel and endpoint settings (not read: they may hold secrets); Frontdoor's channels are set in its own configuration",
        );
        return Ok(());
    }
    if !is_yaml(file) {
        project.skip(
            at(1),
            "Rasa 1.x training data",
            "only YAML (Rasa 2.x and 3.x) is read; convert it first with `rasa data convert nlu -f yaml`",
        );
        return Ok(());
    }
    let text = std::fs::read_to_string(file).map_err(|e| RasaError::Io {
        file: file.to_path_buf(),
        message: e.to_string(),
    })?;
    let root = yaml::parse(&text).map_err(|e| RasaError::Yaml {
        file: file.to_path_buf(),
        line: e.line,
        message: e.message,
    })?;
    let Some(root) = root else {
        return Ok(());
    };
    if !root.is_map() {
        return Err(RasaError::Yaml {
            file: file.to_path_buf(),
            line: root.line,
            message: "a Rasa file is a mapping of keys (version, nlu, responses, stories, …)"
                .into(),
        });
    }
    let mut reader = FileReader { file, project };
    for (key, value) in root.entries() {
        reader.top_level(key.as_str().unwrap_or_default(), key.line, value)?;
    }
    Ok(())
}

struct FileReader<'a> {
    file: &'a Path,
    project: &'a mut Project,
}

impl FileReader<'_> {
    fn at(&self, line: usize) -> Loc {
        Loc {
            file: self.file.to_path_buf(),
            line,
        }
    }

    fn invalid(&self, line: usize, message: impl Into<String>) -> RasaError {
        RasaError::Yaml {
            file: self.file.to_path_buf(),
            line,
            message: message.into(),
        }
    }

    fn top_level(&mut self, key: &str, line: usize, value: &Node) -> Result<(), RasaError> {
        match key {
            "version" => {
                let v = value.as_str().unwrap_or_default();
                if !(v.starts_with('2') || v.starts_with('3')) {
                    self.project.skip(
                        self.at(line),
                        format!("version {v:?}"),
                        "not a Rasa 2.x/3.x version; read as 3.x",
                    );
                }
            }
            "nlu" => {
                for item in value.items() {
                    self.nlu_item(item)?;
                }
            }
            "responses" => {
                for (name, variations) in value.entries() {
                    self.response(name, variations);
                }
            }
            "stories" | "rules" => {
                for item in value.items() {
                    self.story(key, item);
                }
            }
            "intents" => {
                for item in value.items() {
                    let (name, extra) = match item.as_str() {
                        Some(n) => (n.to_string(), false),
                        None => match item.entries().first() {
                            Some((k, _)) => (k.as_str().unwrap_or_default().to_string(), true),
                            None => continue,
                        },
                    };
                    if extra {
                        self.project.skip(
                            self.at(item.line),
                            format!("intent {name}: use_entities/ignore_entities"),
                            "entity featurisation settings have no Frontdoor counterpart",
                        );
                    }
                    self.project.domain_intents.push((name, self.at(item.line)));
                }
            }
            "entities" => {
                for item in value.items() {
                    let name = item
                        .as_str()
                        .map(str::to_string)
                        .or_else(|| item.entries().first().and_then(|(k, _)| k.as_str().map(str::to_string)))
                        .unwrap_or_default();
                    self.project.skip(
                        self.at(item.line),
                        format!("entity {name}"),
                        entity_reason(&name),
                    );
                }
            }
            "slots" => self.each_entry(value, "slot", "a slot fills a form or steers stories; Frontdoor's inputs belong to a service in knowledge-base/services/ (none is created)"),
            "forms" => self.each_entry(value, "form", "a form is a Frontdoor service (its required slots are the service's inputs) but Rasa has no SPA commitment or turnaround to import: write knowledge-base/services/<id>.toml"),
            "actions" => {
                for item in value.items() {
                    let name = item.as_str().unwrap_or_default();
                    self.project.skip(
                        self.at(item.line),
                        format!("action {name}"),
                        "custom action code (Python) is not imported",
                    );
                }
            }
            "session_config" | "config" | "e2e_actions" => self.project.skip(
                self.at(line),
                key.to_string(),
                "Rasa runtime settings have no Frontdoor counterpart",
            ),
            "language" | "pipeline" | "policies" | "recipe" | "assistant_id" | "importers" => {
                self.project.skip(
                    self.at(line),
                    key.to_string(),
                    "model configuration: Frontdoor's engine has its own",
                )
            }
            other => self.project.skip(
                self.at(line),
                format!("key {other:?}"),
                "not a Rasa training data or domain key",
            ),
        }
        Ok(())
    }

    fn each_entry(&mut self, value: &Node, what: &str, reason: &str) {
        for (name, _) in value.entries() {
            self.project.skip(
                self.at(name.line),
                format!("{what} {}", name.as_str().unwrap_or_default()),
                reason,
            );
        }
    }

    fn nlu_item(&mut self, item: &Node) -> Result<(), RasaError> {
        let Some((kind, name)) = item.entries().first() else {
            return Err(self.invalid(item.line, "an nlu item is a mapping (`- intent: name`)"));
        };
        let name_text = name.as_str().unwrap_or_default().trim().to_string();
        let kind = kind.as_str().unwrap_or_default();
        if name_text.is_empty() {
            return Err(self.invalid(name.line, format!("`{kind}:` needs a name")));
        }
        let loc = self.at(name.line);
        if kind == "lookup"
            && let Some(file) = item.get("examples").and_then(Node::as_str)
            && !file.trim_start().starts_with('-')
        {
            self.project.skip(
                loc,
                format!("lookup {name_text}"),
                "a lookup table kept in a separate file is not read; list its values in the YAML",
            );
            return Ok(());
        }
        let examples = match item.get("examples") {
            Some(e) => self.examples(e)?,
            None => Vec::new(),
        };
        match kind {
            "intent" => {
                let hints = item.get("metadata").and_then(|m| {
                    let line = item.key_line("metadata").unwrap_or(m.line);
                    self.metadata(m, line, &name_text)
                });
                let intent = self.project.intent_mut(&name_text, &loc);
                if intent.frontdoor.is_none() {
                    intent.frontdoor = hints;
                }
                intent.examples.extend(examples);
            }
            "synonym" => self.project.synonyms.push(Synonym {
                canonical: name_text,
                terms: examples.into_iter().map(|e| e.text).collect(),
                loc,
            }),
            "regex" => self.project.regexes.push(Pattern {
                name: name_text,
                patterns: examples.into_iter().map(|e| (e.text, e.line)).collect(),
                loc,
            }),
            "lookup" => self.project.lookups.push(Lookup {
                name: name_text,
                values: examples.into_iter().map(|e| e.text).collect(),
                loc,
            }),
            other => self.project.skip(
                loc,
                format!("nlu item {other:?}"),
                "not intent, synonym, regex or lookup",
            ),
        }
        Ok(())
    }

    /// Our hints in an intent's metadata; other metadata is noted as not imported.
    fn metadata(&mut self, m: &Node, line: usize, intent: &str) -> Option<FrontdoorHints> {
        let Some(ours) = m.get("frontdoor") else {
            self.project.skip(
                self.at(line),
                format!("intent {intent}: metadata"),
                "intent metadata has no Frontdoor counterpart",
            );
            return None;
        };
        let field = |k: &str| ours.get(k).and_then(Node::as_str).map(str::to_string);
        Some(FrontdoorHints {
            action: field("action").unwrap_or_default(),
            title: field("title"),
            category: field("category"),
            owner: field("owner"),
        })
    }

    /// `examples: |` (a block of `- ` lines) or a list (of strings or `text:` mappings).
    fn examples(&mut self, node: &Node) -> Result<Vec<Example>, RasaError> {
        let mut out = Vec::new();
        if let Some(block) = node.as_str() {
            for (i, raw) in block.lines().enumerate() {
                let line = node.line + i;
                let trimmed = raw.trim();
                if trimmed.is_empty() {
                    continue;
                }
                let Some(text) = trimmed.strip_prefix('-') else {
                    return Err(self.invalid(
                        line,
                        format!("an example line starts with `- `, not {trimmed:?}"),
                    ));
                };
                out.push(example(text, line));
            }
            return Ok(out);
        }
        for item in node.items() {
            match (item.as_str(), item.get("text")) {
                (Some(text), _) => out.push(example(text, item.line)),
                (None, Some(text)) => {
                    if let Some(line) = item.key_line("metadata") {
                        self.project.skip(
                            self.at(line),
                            "example metadata",
                            "example metadata has no Frontdoor counterpart",
                        );
                    }
                    out.push(example(text.as_str().unwrap_or_default(), text.line));
                }
                (None, None) => {
                    return Err(self.invalid(item.line, "an example is a string or has `text:`"));
                }
            }
        }
        if !node.is_seq() && !node.is_null() {
            return Err(self.invalid(node.line, "`examples` is a block of `- ` lines or a list"));
        }
        Ok(out)
    }

    fn response(&mut self, name: &Node, variations: &Node) {
        let mut response = Response {
            name: name.as_str().unwrap_or_default().to_string(),
            loc: self.at(name.line),
            variations: Vec::new(),
        };
        for v in variations.items() {
            let text = v.get("text").and_then(Node::as_str).map(str::to_string);
            let extras = v
                .entries()
                .iter()
                .filter_map(|(k, _)| k.as_str())
                .filter(|k| *k != "text")
                .map(str::to_string)
                .collect();
            response.variations.push(Variation {
                text,
                line: v.line,
                extras,
            });
        }
        self.project.responses.push(response);
    }

    /// A story or rule: a pairing when it only answers intents with responses; else skipped.
    fn story(&mut self, kind: &str, item: &Node) {
        let singular = if kind == "stories" { "story" } else { "rule" };
        let name = item
            .get(singular)
            .and_then(Node::as_str)
            .unwrap_or_default()
            .to_string();
        let loc = self.at(item.get(singular).map_or(item.line, |n| n.line));
        match pairing(item) {
            Some((intents, responses)) => self.project.pairings.push(Pairing {
                what: format!("{singular} {name:?}"),
                intents,
                responses,
                loc,
            }),
            None => self.project.skip(
                loc,
                format!("{singular} {name:?}"),
                "a multi-turn flow (forms, custom actions, conditions or several user turns): Frontdoor's dialogue is not driven by stories",
            ),
        }
    }
}

/// `intent: x` (or `or:` intents) then only `action: utter_…` steps, with no condition.
fn pairing(item: &Node) -> Option<(Vec<String>, Vec<String>)> {
    if item.get("condition").is_some() {
        return None;
    }
    let steps = item.get("steps")?.items();
    let (first, rest) = steps.split_first()?;
    let intent_of = |step: &Node| -> Option<String> {
        if step.entries().len() != 1 {
            return None; // entities or user text: a conditional answer
        }
        step.get("intent")
            .and_then(Node::as_str)
            .map(str::to_string)
    };
    let intents: Vec<String> = match first.get("or") {
        Some(alternatives) => alternatives
            .items()
            .iter()
            .map(intent_of)
            .collect::<Option<_>>()?,
        None => vec![intent_of(first)?],
    };
    let responses: Vec<String> = rest
        .iter()
        .map(|s| {
            s.get("action")
                .and_then(Node::as_str)
                .filter(|a| a.starts_with("utter_") && s.entries().len() == 1)
                .map(str::to_string)
        })
        .collect::<Option<_>>()?;
    (!intents.is_empty() && !responses.is_empty()).then_some((intents, responses))
}

fn example(text: &str, line: usize) -> Example {
    let (text, entities) = annotations::strip(text.trim());
    Example {
        text: text.trim().to_string(),
        line,
        entities,
    }
}

/// Why an entity is not imported, and what covers it when something does.
fn entity_reason(name: &str) -> String {
    const BUILT_IN: &[&str] = &["email", "amount", "date", "invoice", "request"];
    if BUILT_IN.contains(&name) {
        format!(
            "Frontdoor extracts {name} from any message with its built-in `{name}` extractor; annotations are stripped to their text"
        )
    } else {
        "an entity fills a slot; Frontdoor's inputs belong to services (none is created), so annotations are stripped to their text".into()
    }
}
