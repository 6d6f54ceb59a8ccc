//! The engine configuration the settings stand for: the engine's tuned defaults for our
//! content, with the configured overrides.

use super::EngineSettings;
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
