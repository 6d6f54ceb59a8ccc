//! The back office: what SSO leads, account managers and client leads read from the store.
//! So far the recharge statement; KPIs, reports and the dashboard follow (issue #9).

pub mod kpi;
pub mod report;
pub mod statement;
