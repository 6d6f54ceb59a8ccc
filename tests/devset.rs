//! The shipped content measured through the real dialogue on crowd-written questions we did
//! not write (`tests/fixtures/devset.toml`: the public datasets' intents mapped to our
//! articles; the questions are read from the datasets at run time and never copied into the
//! content). The same figures as `frontdoor eval --devset tests/fixtures/devset.toml`.
//!
//! Runs when the datasets are there (`../shared/datasets`, or `FRONTDOOR_DATASETS`), and says
//! loudly when they are not. The floors sit a little under the figures measured when they were
//! last set (2026-12-05, second pass: 80.5% right directly, 92.0% right directly or among the
//! suggestions, 3.0% (64 of 2,149) of out-of-domain questions answered with an article; the
//! first pass measured 74.9 / 86.9 / 4.2), so that a content or engine change that costs real
//! users' questions fails here, while a question or two moving with a retrained model does not.
//! The product's targets are 75 / 90 / 3: the first two floors are at or above them; the
//! third allows half a point over, since the measured 2.98% sits on the target itself.

mod common;

use std::path::PathBuf;

#[test]
fn crowd_written_questions_get_the_right_article() {
    let datasets = std::env::var_os("FRONTDOOR_DATASETS")
        .map(PathBuf::from)
        .unwrap_or_else(|| common::repo_root().join("../shared/datasets"));
    if !datasets.join("clinc150/train.jsonl").exists() {
        eprintln!(
            "\n!!! SKIPPED dev set: no datasets at {} (set FRONTDOOR_DATASETS to the folder holding clinc150/, banking77/, hwu64/) !!!\n",
            datasets.display()
        );
        return;
    }
    let spec = common::repo_root().join("tests/fixtures/devset.toml");
    let rows = frontdoor::dialogue::eval::load_devset(&spec, Some(&datasets))
        .unwrap_or_else(|e| panic!("{e}"));
    let config = frontdoor::app::engine_config(&Default::default());
    let k = frontdoor::knowledge::Knowledge::load(&common::repo_root(), config)
        .unwrap_or_else(|e| panic!("content must load:\n{e}"));
    frontdoor::dialogue::eval::check_targets(&rows, &k, "devset.toml")
        .unwrap_or_else(|e| panic!("{e}"));
    let report = frontdoor::dialogue::eval::evaluate(&k, &Default::default(), &rows);
    eprintln!("{report}");
    assert!(report.in_domain.rows > 2000 && report.out_of_domain.rows > 2000);
    assert!(
        report.direct_pct() >= 79.0,
        "right article directly: {:.1}%",
        report.direct_pct()
    );
    assert!(
        report.direct_or_suggested_pct() >= 90.5,
        "right article directly or among the suggestions: {:.1}%",
        report.direct_or_suggested_pct()
    );
    assert!(
        report.ood_answered_pct() <= 3.5,
        "out-of-domain questions answered with an article: {:.1}%",
        report.ood_answered_pct()
    );
}
