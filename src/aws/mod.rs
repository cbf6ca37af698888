//! The thin AWS adapter: API Gateway event shapes in, proxy responses out.
//!
//! Only the fields the endpoint reads are decoded; the rest of each event is
//! skipped without being built, which keeps the warm path short.

pub mod event;
pub mod handler;
pub mod json;
pub mod reply;
pub mod secrets_manager;
pub mod sigv4;
