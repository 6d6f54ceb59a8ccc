//! Rasa's YAML training data and domain (2.x and 3.x), in and out: what most bot teams already
//! have. A leaf below the commands: it reads and writes files and nothing else.
//!
//! - [`read`]: a project folder or one file → [`Project`] (every piece with its `file:line`,
//!   what is not used listed with the reason);
//! - [`import::to_content`]: a project → our content files (the mapping is in its doc);
//! - [`export::from_knowledge`] and [`write_project`]: our content → `data/nlu.yml`,
//!   `data/rules.yml`, `domain.yml`;
//! - [`labelled_rows`]: a project's examples as `(text, intent)` rows for `eval --train`.

pub mod annotations;
pub mod export;
pub mod import;
pub mod model;
mod read;
pub mod vocabulary;
pub mod write;
pub mod yaml;

use std::fmt;
use std::path::{Path, PathBuf};

pub use model::{Loc, Project, Skipped};
pub use read::read;

/// What stops a Rasa file from being read or written.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RasaError {
    /// Invalid YAML, or YAML that is not Rasa's shape, at a line.
    Yaml {
        file: PathBuf,
        line: usize,
        message: String,
    },
    Io {
        file: PathBuf,
        message: String,
    },
    NoTrainingData {
        path: PathBuf,
    },
}

impl fmt::Display for RasaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RasaError::Yaml {
                file,
                line,
                message,
            } => write!(f, "{}:{line}: {message}", file.display()),
            RasaError::Io { file, message } => write!(f, "{}: {message}", file.display()),
            RasaError::NoTrainingData { path } => write!(
                f,
                "{}: no Rasa intents with examples here (looked for `nlu:` in YAML files)",
                path.display()
            ),
        }
    }
}

/// The label `eval` uses for out-of-scope rows.
const OOS: &str = "oos";

/// Every example as `(text, intent)`, in file order; Rasa's `out_of_scope` and `nlu_fallback`
/// are labelled `oos`, as `eval` expects.
pub fn labelled_rows(path: &Path) -> Result<Vec<(String, String)>, RasaError> {
    let project = read(path)?;
    Ok(project
        .intents
        .iter()
        .flat_map(|i| {
            let label = if model::is_out_of_scope_name(&i.name) {
                OOS.to_string()
            } else {
                i.name.clone()
            };
            i.examples
                .iter()
                .filter(|e| !e.text.is_empty())
                .map(move |e| (e.text.clone(), label.clone()))
        })
        .collect())
}

/// Write a project as Rasa 3.x files under `dir`; the paths written.
pub fn write_project(dir: &Path, project: &Project) -> Result<Vec<PathBuf>, RasaError> {
    let files = [
        (dir.join("data/nlu.yml"), write::nlu_yaml(project)),
        (dir.join("data/rules.yml"), write::rules_yaml(project)),
        (dir.join("domain.yml"), write::domain_yaml(project)),
    ];
    for (path, text) in &files {
        write_file(path, text)?;
    }
    Ok(files.into_iter().map(|(p, _)| p).collect())
}

/// Write a file, creating its folder.
pub fn write_file(path: &Path, text: &str) -> Result<(), RasaError> {
    let io = |e: std::io::Error| RasaError::Io {
        file: path.to_path_buf(),
        message: e.to_string(),
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    std::fs::write(path, text).map_err(io)
}
