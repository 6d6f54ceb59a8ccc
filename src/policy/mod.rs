//! The service centre's rules, pure and below the dialogue: business time (coverage hours, due
//! times), and the escalation policy — where a manager's pings go and in which order, who is
//! on duty at each rung of the re-ping ladder, what a ping says, when the next one is due —
//! and a service request's lifecycle with its two-way SLA clocks.
//!
//! Both the dialogue (which writes an escalation's first ping with the turn) and the escalation
//! worker (which climbs the ladder) follow these rules, so they live here rather than in either:
//! the dialogue must not import the layer above it.

pub mod body_template;
pub mod calendar;
pub mod ladder;
pub mod lifecycle;
pub mod ping;
pub mod request_hook;
pub mod routes;
