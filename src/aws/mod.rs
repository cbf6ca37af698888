//! The thin AWS adapter: API Gateway event shapes in, proxy responses out.
//!
//! Only the fields the endpoint reads are decoded; the rest of each event is
//! skipped without being built, which keeps the warm path short.

pub(crate) mod event;
pub(crate) mod handler;
pub(crate) mod json;
pub(crate) mod reply;
pub(crate) mod secrets_manager;
pub(crate) mod sigv4;
