//! Byte-level helpers every layer may use: JSON text, civil time, the HTTPS
//! connector, the log subscriber and the metrics directive it writes.

pub(crate) mod clock;
pub(crate) mod https;
pub(crate) mod json_text;
pub mod logging;
pub(crate) mod metrics;
