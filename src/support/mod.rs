//! Helpers every layer may use: the HTTPS client, the log
//! subscriber and the metrics directive it writes, and the one refreshing
//! single-flight value the secret cache and the JWKS share.

pub(crate) mod https;
pub mod logging;
pub(crate) mod metrics;
pub(crate) mod refresh;
