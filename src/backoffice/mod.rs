//! The back office: what SSO leads, account managers and client leads read from the store.
//! The recharge statement, KPIs of both sides of the SPA, monthly reports, knowledge gaps,
//! demand spikes, SPA renewal alerts and the demo data generator (issue #9).

pub mod demand;
pub mod demo;
pub mod gaps;
pub mod kpi;
pub mod renewals;
pub mod report;
pub mod statement;
