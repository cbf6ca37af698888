//! JSON lines through `tracing-subscriber`'s fmt layer, one object per event:
//! `{"timestamp":"2026-11-21T12:00:00.123Z","level":"INFO","message":"…","route":"channel-auth",…}`.
//!
//! The line is written by [`JsonLine`] rather than the fmt layer's JSON
//! formatter because that formatter writes every field as a string, and the
//! Embedded Metric Format block must be an object carrying the line's time
//! (docs/design.md). Spans are not recorded: every request's line carries its
//! own request id.

use std::fmt;
use std::io::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::format::{FormatEvent, FormatFields, Writer};
use tracing_subscriber::fmt::{FmtContext, MakeWriter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;

/// The target prefix of this crate's records (the library and the bootstrap).
const OURS: &str = "pusher_auth";

/// The field whose value [`JsonLine`] writes as the line's CloudWatch
/// Embedded Metric Format block rather than as a string: for a record of this
/// crate, `_aws = "{<rest>"` (a JSON object, see
/// [`crate::support::metrics::Metrics::directive`]) becomes
/// `"_aws":{"Timestamp":<the line's time in ms>,<rest>`. From any other
/// target it is an ordinary string.
pub(crate) const EMF_FIELD: &str = "_aws";

/// Installs the stdout subscriber. The level comes from `AWS_LAMBDA_LOG_LEVEL`
/// or `LOG_LEVEL` (`error`, `warn`, `info`, `debug`, `trace`; default `info`).
pub fn init() {
    let variable = std::env::var("AWS_LAMBDA_LOG_LEVEL").or_else(|_| std::env::var("LOG_LEVEL"));
    let level = variable.ok().and_then(|l| l.trim().parse::<Level>().ok()).unwrap_or(Level::INFO);
    // Only fails if a subscriber is already set, which then stays in charge.
    let _ = tracing::subscriber::set_global_default(subscriber(level, std::io::stdout));
}

/// A subscriber writing JSON lines to `writer`, one `write` per line. Our own
/// records follow `max_level`; those of dependencies (`lambda_runtime`,
/// hyper, rustls) pass only at WARN and ERROR, whatever the level: at DEBUG
/// and TRACE `lambda_runtime` writes each invocation's body, which is the
/// finished answer (signatures, shared secrets, `channel_data`) and, for the
/// raw event, the token and the query string.
pub fn subscriber<W>(max_level: Level, writer: W) -> impl Subscriber + Send + Sync
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let levels = Targets::new().with_default(max_level.min(Level::WARN)).with_target(OURS, max_level);
    let lines = tracing_subscriber::fmt::layer().event_format(JsonLine).with_writer(writer);
    tracing_subscriber::registry().with(lines).with(levels)
}

/// Writes an event as `{"timestamp":…,"level":…,<its fields in order>}`.
struct JsonLine;

impl<S: Subscriber + for<'a> LookupSpan<'a>, N: for<'a> FormatFields<'a> + 'static> FormatEvent<S, N> for JsonLine {
    fn format_event(&self, _: &FmtContext<'_, S, N>, mut out: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let now = SystemTime::now();
        let millis = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
        let emf_millis = event.metadata().target().starts_with(OURS).then_some(millis);
        let mut fields = JsonFields { line: Vec::with_capacity(512), emf_millis };
        let level = event.metadata().level().as_str();
        let time = humantime::format_rfc3339_millis(now);
        let _ = write!(fields.line, r#"{{"timestamp":"{time}","level":"{level}""#);
        event.record(&mut fields);
        fields.line.extend_from_slice(b"}\n");
        out.write_str(std::str::from_utf8(&fields.line).map_err(|_| fmt::Error)?)
    }
}

struct JsonFields {
    line: Vec<u8>,
    /// The line's time in ms, for an [`EMF_FIELD`] of our own records.
    emf_millis: Option<u64>,
}

impl JsonFields {
    /// `,"name":value`; writing into a `Vec` cannot fail.
    fn entry(&mut self, field: &Field, value: &(impl Serialize + ?Sized)) {
        self.line.push(b',');
        let _ = serde_json::to_writer(&mut self.line, field.name());
        self.line.push(b':');
        let _ = serde_json::to_writer(&mut self.line, value);
    }
}

impl Visit for JsonFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match (self.emf_millis, value.strip_prefix('{')) {
            (Some(millis), Some(rest)) if field.name() == EMF_FIELD => {
                let _ = write!(self.line, r#","{EMF_FIELD}":{{"Timestamp":{millis},{rest}"#);
            }
            _ => self.entry(field, value),
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.entry(field, &value);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.entry(field, &value);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.entry(field, &value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.entry(field, &format_args!("{value:?}"));
    }
}

/// Lines collected in memory, for the unit tests that read what was logged
/// (the integration tests have their own in `tests/it/helpers`).
#[cfg(test)]
pub(crate) mod captured {
    use super::*;

    /// Collects lines in memory; for tests that read what was logged.
    #[derive(Clone, Default)]
    pub(crate) struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl Captured {
        /// A subscriber writing into this buffer.
        pub(crate) fn subscriber(&self, max_level: Level) -> impl Subscriber + Send + Sync {
            let captured = self.clone();
            subscriber(max_level, move || captured.clone())
        }

        /// Everything logged so far.
        pub(crate) fn text(&self) -> String {
            String::from_utf8(self.0.lock().expect("log buffer").clone()).expect("lines are UTF-8")
        }
    }

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("log buffer").extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::captured::Captured;
    use super::*;
    use std::time::Duration;

    #[test]
    fn dependencies_log_only_warnings_and_errors() {
        let captured = Captured::default();
        tracing::subscriber::with_default(captured.subscriber(Level::TRACE), || {
            tracing::trace!(target: "lambda_runtime::layers::api_response", body = "secret", "raw JSON event");
            tracing::debug!(target: "hyper_util::client", "connecting");
            tracing::info!(target: "lambda_runtime", "info");
            tracing::warn!(target: "lambda_runtime", "warned");
            tracing::trace!("ours at trace");
        });
        let text = captured.text();
        assert!(!text.contains("secret") && !text.contains("connecting") && !text.contains("\"info\""), "{text}");
        assert!(text.contains("warned") && text.contains("ours at trace"), "{text}");
        // At ERROR, a dependency's warning is left out too.
        let captured = Captured::default();
        tracing::subscriber::with_default(captured.subscriber(Level::ERROR), || {
            tracing::warn!(target: "lambda_runtime", "warned");
            tracing::warn!("ours warned");
            tracing::error!(target: "lambda_runtime", "failed");
        });
        let text = captured.text();
        assert!(!text.contains("warned") && text.contains("failed"), "{text}");
    }

    #[test]
    fn emf_blocks_carry_the_line_time_and_only_for_our_records() {
        let metrics = crate::support::metrics::Metrics::new("NS");
        let captured = Captured::default();
        tracing::subscriber::with_default(captured.subscriber(Level::INFO), || {
            tracing::info!(_aws = metrics.directive(false), Requests = 1u64, note = "{not a block", "ours");
            tracing::warn!(target: "lambda_runtime", _aws = "{\"x\":1}", "theirs");
        });
        let text = captured.text();
        let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len(), 2, "{text}");
        let millis = lines[0]["_aws"]["Timestamp"].as_u64().unwrap();
        let stamp = lines[0]["timestamp"].as_str().unwrap();
        assert_eq!(stamp, humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_millis(millis)).to_string());
        assert_eq!(lines[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"], "NS");
        assert_eq!(lines[0]["Requests"], 1);
        assert_eq!(lines[0]["note"], "{not a block", "only the EMF field is written as an object");
        assert_eq!(lines[1]["_aws"], "{\"x\":1}", "a dependency's field stays a string");
    }

    #[test]
    fn lines_are_json_with_escaped_fields() {
        let captured = Captured::default();
        tracing::subscriber::with_default(captured.subscriber(Level::INFO), || {
            tracing::info!(route = "a\"b\\c\n\u{1}", n = 5u64, ok = true, neg = -3i64, "hello {}", "world");
            tracing::debug!("filtered out");
        });
        let text = captured.text();
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(text.starts_with("{\"timestamp\":\"") && text.ends_with("}\n"), "{text}");
        let line: serde_json::Value = serde_json::from_str(text.trim_end()).unwrap();
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["message"], "hello world");
        assert_eq!(line["route"], "a\"b\\c\n\u{1}");
        assert_eq!(line["n"], 5);
        assert_eq!(line["ok"], true);
        assert_eq!(line["neg"], -3);
        // RFC 3339, UTC, milliseconds.
        let stamp = line["timestamp"].as_str().unwrap();
        assert!(stamp.len() == 24 && stamp.ends_with('Z') && stamp.as_bytes()[19] == b'.', "{stamp}");
    }
}
