//! The back office: what SSO leads, account managers and client leads read from the store —
//! KPIs of both sides of the SPA, monthly reports, recharge statements, the escalations queue,
//! knowledge gaps, demand spikes, SPA renewal alerts, the demo data generator — and who may read
//! what (`access`).

pub mod access;
pub mod charts;
pub mod dashboard;
pub mod demand;
pub mod demo;
pub mod gaps;
pub mod kpi;
pub mod renewals;
pub mod report;
pub mod statement;
pub mod users;
