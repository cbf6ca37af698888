//! Byte-level helpers every layer may use: JSON text, civil time, the HTTPS
//! connector, the log subscriber and the metrics directive it writes.

pub mod clock;
pub mod https;
pub mod json_text;
pub mod logging;
pub mod metrics;
