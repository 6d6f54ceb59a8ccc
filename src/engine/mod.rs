//! TEMPORARY minimal engine (token overlap) with the final API; replaced by the real engine.

use serde::{Deserialize, Serialize};

pub mod eval;

pub struct IntentDef {
    pub name: String,
    pub examples: Vec<String>,
    pub rules: Vec<String>,
}

pub struct Extractor {
    pub name: String,
    pub pattern: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EngineConfig {
    pub oos_threshold: f32,
    pub clarify_margin: f32,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            oos_threshold: 0.3,
            clarify_margin: 0.05,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("intent {intent}: rule {index} is not a valid regex: {message}")]
    InvalidRule {
        intent: String,
        index: usize,
        message: String,
    },
    #[error("duplicate intent {0}")]
    DuplicateIntent(String),
    #[error("no intents")]
    Empty,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub enum Decision {
    Intent(String),
    Clarify(String, String),
    Fallback,
}

#[derive(Clone, Debug, Serialize)]
pub struct Scored {
    pub intent: String,
    pub confidence: f32,
}

#[derive(Clone, Debug, Serialize)]
pub struct Entity {
    pub name: String,
    pub value: String,
    pub start: usize,
    pub end: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct Classification {
    pub decision: Decision,
    pub confidence: f32,
    pub ranked: Vec<Scored>,
    pub rule: Option<String>,
    pub entities: Vec<Entity>,
}

pub struct Explanation(pub Classification);

impl std::fmt::Display for Explanation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

pub struct Engine {
    intents: Vec<(String, Vec<Vec<String>>, Vec<regex::Regex>)>,
    extractors: Vec<regex::Regex>,
    config: EngineConfig,
}

fn tokens(s: &str) -> Vec<String> {
    s.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(String::from)
        .collect()
}

impl Engine {
    pub fn build(
        intents: &[IntentDef],
        extractors: &[Extractor],
        config: EngineConfig,
    ) -> Result<Engine, EngineError> {
        if intents.is_empty() {
            return Err(EngineError::Empty);
        }
        let mut out = Vec::new();
        for i in intents {
            let mut rules = Vec::new();
            for (index, r) in i.rules.iter().enumerate() {
                rules.push(regex::Regex::new(r).map_err(|e| EngineError::InvalidRule {
                    intent: i.name.clone(),
                    index,
                    message: e.to_string(),
                })?);
            }
            out.push((
                i.name.clone(),
                i.examples.iter().map(|e| tokens(e)).collect(),
                rules,
            ));
        }
        let extractors = extractors
            .iter()
            .filter_map(|e| regex::Regex::new(&e.pattern).ok())
            .collect();
        Ok(Engine {
            intents: out,
            extractors,
            config,
        })
    }

    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    pub fn intent_names(&self) -> impl Iterator<Item = &str> {
        self.intents.iter().map(|i| i.0.as_str())
    }

    pub fn classify(&self, text: &str) -> Classification {
        let mut entities = Vec::new();
        for r in &self.extractors {
            for caps in r.captures_iter(text) {
                for name in r.capture_names().flatten() {
                    if let Some(m) = caps.name(name) {
                        entities.push(Entity {
                            name: name.into(),
                            value: m.as_str().into(),
                            start: m.start(),
                            end: m.end(),
                        });
                    }
                }
            }
        }
        for (name, _, rules) in &self.intents {
            if let Some(idx) = rules.iter().position(|r| r.is_match(text)) {
                return Classification {
                    decision: Decision::Intent(name.clone()),
                    confidence: 1.0,
                    ranked: vec![Scored {
                        intent: name.clone(),
                        confidence: 1.0,
                    }],
                    rule: Some(format!("{name}#{idx}")),
                    entities,
                };
            }
        }
        let q = tokens(text);
        let mut ranked: Vec<Scored> = self
            .intents
            .iter()
            .map(|(name, exs, _)| {
                let best = exs
                    .iter()
                    .map(|e| {
                        let inter = q.iter().filter(|t| e.contains(t)).count() as f32;
                        let union = (q.len() + e.len()) as f32 - inter;
                        if union == 0.0 { 0.0 } else { inter / union }
                    })
                    .fold(0.0f32, f32::max);
                Scored {
                    intent: name.clone(),
                    confidence: best,
                }
            })
            .collect();
        ranked.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
        ranked.truncate(5);
        let top = ranked.first().map(|s| s.confidence).unwrap_or(0.0);
        let decision = if top < self.config.oos_threshold {
            Decision::Fallback
        } else if ranked.len() > 1 && top - ranked[1].confidence < self.config.clarify_margin {
            Decision::Clarify(ranked[0].intent.clone(), ranked[1].intent.clone())
        } else {
            Decision::Intent(ranked[0].intent.clone())
        };
        Classification {
            decision,
            confidence: top,
            ranked,
            rule: None,
            entities,
        }
    }

    pub fn explain(&self, text: &str) -> Explanation {
        Explanation(self.classify(text))
    }
}
