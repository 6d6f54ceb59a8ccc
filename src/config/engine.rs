//! The engine configuration the settings stand for: the engine's tuned defaults for our
//! content, with the configured overrides.

use super::{ConfigError, EngineSettings};
use crate::engine::EngineConfig;

/// The content's answer threshold: below it the bot offers "did you mean" instead of an
/// answer. Chosen on the development set (`frontdoor eval --devset tests/fixtures/devset.toml`,
/// figures in the README): 0.2 (the engine's default) answered 78.6% right and 6.7% of
/// out-of-domain questions wrongly; 0.3 answers 75.5% right, offers the right article among
/// the suggestions for another 10%, and answers 4.4% of out-of-domain questions; 0.4 costs
/// four more points of direct answers for 1.4 fewer wrong out-of-domain answers.
pub const DEFAULT_ANSWER_THRESHOLD: f32 = 0.3;
/// The "did you mean" band starts at this confidence; later suggestions need
/// `DEFAULT_SUGGEST_RATIO` of the first one's. On the development set 0.02 / 0.1 put the right
/// article among the suggestions for 0.4 points more questions than 0.05 / 0.25.
pub const DEFAULT_SUGGEST_THRESHOLD: f32 = 0.02;
pub const DEFAULT_SUGGEST_RATIO: f32 = 0.1;

/// The engine configuration: its tuned defaults with the configured overrides.
pub fn engine_config(settings: &EngineSettings) -> EngineConfig {
    let mut c = EngineConfig {
        oos_threshold: DEFAULT_ANSWER_THRESHOLD,
        suggest_threshold: settings
            .suggest_threshold
            .unwrap_or(DEFAULT_SUGGEST_THRESHOLD),
        suggest_ratio: DEFAULT_SUGGEST_RATIO,
        ..EngineConfig::default()
    };
    if let Some(t) = settings.oos_threshold {
        c.oos_threshold = t;
    }
    if let Some(m) = settings.clarify_margin {
        c.clarify_margin = m;
    }
    // the band lies under the answer threshold, whatever the two settings say
    c.suggest_threshold = c.suggest_threshold.min(c.oos_threshold);
    c
}

/// The engine's own defaults with only the settings given explicitly: for measuring the
/// engine on a dataset (`frontdoor eval --train`), whose confidences are not our content's.
pub fn dataset_engine_config(settings: &EngineSettings) -> EngineConfig {
    let mut c = EngineConfig::default();
    if let Some(t) = settings.oos_threshold {
        c.oos_threshold = t;
    }
    if let Some(m) = settings.clarify_margin {
        c.clarify_margin = m;
    }
    c
}

/// The engine's defaults with `KEY=VALUE` overrides applied (the value in TOML), as the
/// measuring commands take them (`bench-kb --set`, `paraphrase_eval --set`). A key the engine
/// does not have is refused by name: [`EngineConfig`] reads leniently (`serde(default)`), so a
/// typo would otherwise measure the defaults under another name.
pub fn engine_overrides(sets: &[String]) -> Result<EngineConfig, ConfigError> {
    let invalid = |message: String| ConfigError::Invalid {
        name: "--set".into(),
        message,
    };
    let mut toml_text = String::new();
    for set in sets {
        if !set.contains('=') || set.contains('\n') {
            return Err(invalid(format!("{set:?}: expected KEY=VALUE on one line")));
        }
        toml_text.push_str(set);
        toml_text.push('\n');
    }
    let given: toml::Table =
        toml::from_str(&toml_text).map_err(|e| invalid(format!("not TOML: {sets:?}: {e}")))?;
    let known = toml::Table::try_from(EngineConfig::default())
        .map_err(|e| invalid(format!("the engine's settings: {e}")))?;
    if let Some(key) = given.keys().find(|k| !known.contains_key(*k)) {
        return Err(invalid(format!("{key}: the engine has no such setting")));
    }
    given
        .try_into()
        .map_err(|e| invalid(format!("invalid engine setting in {sets:?}: {e}")))
}

#[cfg(test)]
mod overrides {
    use super::*;

    fn sets(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn no_set_measures_the_defaults() {
        assert_eq!(engine_overrides(&[]).unwrap(), EngineConfig::default());
    }

    #[test]
    fn a_set_changes_that_setting_only() {
        let c = engine_overrides(&sets(&["train_candidates=12", "sparse_epochs = 2"])).unwrap();
        assert_eq!(c.train_candidates, 12);
        assert_eq!(c.sparse_epochs, 2);
        let back = EngineConfig {
            train_candidates: EngineConfig::default().train_candidates,
            sparse_epochs: EngineConfig::default().sparse_epochs,
            ..c
        };
        assert_eq!(back, EngineConfig::default());
    }

    #[test]
    fn a_misspelt_or_malformed_set_is_refused_by_name() {
        let err = engine_overrides(&sets(&["train_candidate=12"])).unwrap_err();
        assert!(err.to_string().contains("train_candidate"), "{err:#}");
        let err = engine_overrides(&sets(&["train_candidates=\"many\""])).unwrap_err();
        assert!(format!("{err:#}").contains("train_candidates"), "{err:#}");
        assert!(engine_overrides(&sets(&["train_candidates"])).is_err());
    }
}
