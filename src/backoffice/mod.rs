//! The back office: what SSO leads, account managers and client leads read from the store —
//! KPIs of both sides of the SPA, monthly reports, recharge statements, the escalations queue,
//! knowledge gaps, demand spikes, SPA renewal alerts, the monthly report's review by both sides — and who may read what (`access`). Periods
//! are counted in the client's local days (`period`). The demo data that fills it is written
//! by the simulation's demo (`simulation::demo`).

pub mod access;
pub mod charts;
pub mod dashboard;
pub mod demand;
pub mod gaps;
pub mod kpi;
pub mod period;
pub mod queue;
pub mod renewals;
pub mod report;
pub mod review;
pub mod rollout;
pub mod statement;
pub mod users;
