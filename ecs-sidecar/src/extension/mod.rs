//! Extensions: `health_check` (status, counters, `/metrics`) and
//! `sigv4auth` (credentials and signing settings for exporters and the X-Ray proxy).

pub mod health;
pub mod sigv4auth;
