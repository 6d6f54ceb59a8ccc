//! Simulated users: what the demo data and the load test have people say. Both draw from the
//! shipped content and answer its forms, so they share how a value is made up for an input
//! (`values`, with `pattern` for reference numbers), how people mistype (`typo`) and how a
//! random choice is drawn (`draw`).
//!
//! - `demo`: the demo data generator, months of realistic traffic played through the real
//!   dialogue into an empty database (`frontdoor demo-data`);
//! - `people`: the people of the shipped clients the demo plays.
//!
//! **Determinism.** The demo's traffic is a fingerprint of its seed (`tests/insight.rs` pins it):
//! every helper here draws from the caller's generator in a fixed order, and a change to what
//! or how often one draws changes every contact after it.

pub mod demo;
pub mod draw;
pub mod pattern;
pub mod people;
pub mod typo;
pub mod values;
