//! What channel adapters share: identity tokens, rate limits, and the hub that pushes later
//! messages (an account manager's answer, a survey) to open web chat sockets.

pub mod discord;
pub mod hub;
pub mod identity;
pub mod outlets;
pub mod ratelimit;
pub mod telegram;
