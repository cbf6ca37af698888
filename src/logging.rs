//! JSON log lines through `tracing`, one per request.

use tracing::level_filters::LevelFilter;

/// Installs the JSON subscriber writing to stdout. The level comes from
/// `AWS_LAMBDA_LOG_LEVEL` or `LOG_LEVEL` (default `info`).
pub fn init() {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("LOG_LEVEL"))
        .ok()
        .and_then(|l| l.parse::<LevelFilter>().ok())
        .unwrap_or(LevelFilter::INFO);
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_target(false)
        .with_max_level(level)
        .with_writer(std::io::stdout)
        .init();
}
