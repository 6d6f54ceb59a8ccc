//! The back office: what SSO leads, account managers and client leads read from the store —
//! KPIs, monthly reports, recharge statements, the escalations queue, knowledge gaps — and who
//! may read what (`access`).

pub mod access;
pub mod charts;
pub mod dashboard;
pub mod kpi;
pub mod report;
pub mod statement;
