//! JSON lines through `tracing`: a small subscriber that writes each event as
//! one JSON object per line, e.g.
//! `{"timestamp":"2026-11-21T12:00:00.123Z","level":"INFO","message":"…","route":"channel-auth",…}`.
//!
//! Why not `tracing-subscriber`'s JSON formatter: on the warm path it cost
//! several microseconds per line here, more than everything else the endpoint
//! does (see docs/benchmarks.md); this writer formats straight into one reused
//! buffer and issues one `write` per line. Spans are not recorded: every
//! request's line carries its own request id.

use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::io::Write as _;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

use crate::support::json_text;

/// Where finished lines go (each call gets one whole line, newline included).
pub(crate) type Sink = Arc<dyn Fn(&[u8]) + Send + Sync>;

/// A `tracing` subscriber writing JSON lines.
pub struct JsonLines {
    max_level: Level,
    sink: Sink,
}

impl JsonLines {
    /// Lines at `max_level` and more severe go to `sink`.
    pub fn new(max_level: Level, sink: Sink) -> Self {
        Self { max_level, sink }
    }

    /// Lines go to standard output (Lambda sends it to CloudWatch Logs).
    pub(crate) fn stdout(max_level: Level) -> Self {
        Self::new(
            max_level,
            Arc::new(|line: &[u8]| {
                // A failed log write must not fail the request.
                let _ = std::io::stdout().lock().write_all(line);
            }),
        )
    }
}

/// Installs the stdout subscriber. The level comes from `AWS_LAMBDA_LOG_LEVEL`
/// or `LOG_LEVEL` (`error`, `warn`, `info`, `debug`, `trace`; default `info`).
pub fn init() {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("LOG_LEVEL"))
        .ok()
        .and_then(|l| l.trim().parse::<Level>().ok())
        .unwrap_or(Level::INFO);
    // Only fails if a subscriber is already set, which then stays in charge.
    let _ = tracing::subscriber::set_global_default(JsonLines::stdout(level));
}

thread_local! {
    static LINE: RefCell<String> = RefCell::new(String::with_capacity(512));
}

/// The field whose value [`JsonLines`] writes as the line's CloudWatch
/// Embedded Metric Format block rather than as a string: for a record of this
/// crate, `_aws = "<rest>"` becomes `"_aws":{"Timestamp":<the line's time in
/// ms>,<rest>`, where `<rest>` is [`crate::support::metrics::Metrics::directive`] (the
/// rest of the object, closing brace included). From any other target it is
/// an ordinary string.
pub(crate) const EMF_FIELD: &str = "_aws";

/// Whether a log record comes from this crate (the library or the bootstrap).
fn is_ours(target: &str) -> bool {
    target.starts_with("pusher_auth")
}

impl Subscriber for JsonLines {
    /// Our own records follow the configured level. Records of dependencies
    /// (`lambda_runtime`, hyper, rustls) pass only at WARN and ERROR,
    /// whatever the level: at DEBUG and TRACE `lambda_runtime` writes each
    /// invocation's body, which behind the AWS adapter's layer (`aws::handler`) is the
    /// finished answer (signatures, shared secrets, `channel_data`) and, for
    /// the raw event, the token and the query string.
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= &self.max_level && (metadata.level() <= &Level::WARN || is_ours(metadata.target()))
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(LevelFilter::from_level(self.max_level))
    }

    fn new_span(&self, _span: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }

    fn record(&self, _span: &Id, _values: &Record<'_>) {}

    fn record_follows_from(&self, _span: &Id, _follows: &Id) {}

    fn event(&self, event: &Event<'_>) {
        LINE.with(|cell| {
            let Ok(mut line) = cell.try_borrow_mut() else { return };
            line.clear();
            line.push_str("{\"timestamp\":\"");
            let now = SystemTime::now();
            write_timestamp(&mut line, now);
            line.push_str("\",\"level\":\"");
            line.push_str(event.metadata().level().as_str());
            line.push('"');
            let emf_millis = is_ours(event.metadata().target())
                .then(|| now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64));
            event.record(&mut JsonFields { line: &mut line, scratch: String::new(), emf_millis });
            line.push_str("}\n");
            (self.sink)(line.as_bytes());
        });
    }

    fn enter(&self, _span: &Id) {}

    fn exit(&self, _span: &Id) {}
}

struct JsonFields<'a> {
    line: &'a mut String,
    scratch: String,
    /// The line's time in ms, for an [`EMF_FIELD`] of our own records.
    emf_millis: Option<u64>,
}

impl JsonFields<'_> {
    fn key(&mut self, field: &Field) {
        self.line.push(',');
        json_text::push_string(self.line, field.name());
        self.line.push(':');
    }
}

impl Visit for JsonFields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.key(field);
        match self.emf_millis {
            Some(millis) if field.name() == EMF_FIELD => {
                self.line.push_str("{\"Timestamp\":");
                self.line.push_str(itoa::Buffer::new().format(millis));
                self.line.push(',');
                self.line.push_str(value);
            }
            _ => json_text::push_string(self.line, value),
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.key(field);
        self.line.push_str(itoa::Buffer::new().format(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.key(field);
        self.line.push_str(itoa::Buffer::new().format(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.key(field);
        self.line.push_str(if value { "true" } else { "false" });
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.key(field);
        self.scratch.clear();
        let _ = write!(self.scratch, "{value:?}");
        json_text::push_string(self.line, &self.scratch);
    }
}

/// RFC 3339 UTC with milliseconds, e.g. `2026-11-21T12:00:00.123Z`.
fn write_timestamp(out: &mut String, now: SystemTime) {
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = crate::support::clock::civil_from_days(days as i64);
    json_text::push_padded(out, year.max(0) as u64, 4);
    out.push('-');
    json_text::push_padded(out, month.into(), 2);
    out.push('-');
    json_text::push_padded(out, day.into(), 2);
    out.push('T');
    json_text::push_padded(out, rem / 3600, 2);
    out.push(':');
    json_text::push_padded(out, rem % 3600 / 60, 2);
    out.push(':');
    json_text::push_padded(out, rem % 60, 2);
    out.push('.');
    json_text::push_padded(out, since.subsec_millis().into(), 3);
    out.push('Z');
}

/// Collects lines in memory; for tests that read what was logged.
#[derive(Clone, Default)]
pub struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

impl Captured {
    /// A subscriber writing into this buffer.
    pub fn subscriber(&self, max_level: Level) -> JsonLines {
        let buffer = self.0.clone();
        JsonLines::new(
            max_level,
            Arc::new(move |line: &[u8]| buffer.lock().expect("log buffer").extend_from_slice(line)),
        )
    }

    /// Everything logged so far.
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().expect("log buffer").clone()).expect("lines are UTF-8")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps() {
        let mut s = String::new();
        write_timestamp(&mut s, UNIX_EPOCH);
        assert_eq!(s, "1970-01-01T00:00:00.000Z");
        s.clear();
        // 2024-02-29T23:59:59.999Z (a leap day) = 1709251199.999
        write_timestamp(&mut s, UNIX_EPOCH + Duration::from_millis(1_709_251_199_999));
        assert_eq!(s, "2024-02-29T23:59:59.999Z");
        s.clear();
        write_timestamp(&mut s, UNIX_EPOCH + Duration::from_secs(4_102_444_800));
        assert_eq!(s, "2100-01-01T00:00:00.000Z");
    }

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
    }

    #[test]
    fn emf_blocks_carry_the_line_time_and_only_for_our_records() {
        let metrics = crate::support::metrics::Metrics::new("NS");
        let captured = Captured::default();
        tracing::subscriber::with_default(captured.subscriber(Level::INFO), || {
            tracing::info!(_aws = metrics.directive(false), Requests = 1u64, "ours");
            tracing::warn!(target: "lambda_runtime", _aws = "\"x\":1}", "theirs");
        });
        let text = captured.text();
        let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len(), 2, "{text}");
        let millis = lines[0]["_aws"]["Timestamp"].as_u64().unwrap();
        let stamp = lines[0]["timestamp"].as_str().unwrap();
        let mut expected = String::new();
        write_timestamp(&mut expected, UNIX_EPOCH + Duration::from_millis(millis));
        assert_eq!(stamp, expected);
        assert_eq!(lines[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"], "NS");
        assert_eq!(lines[1]["_aws"], "\"x\":1}", "a dependency's field stays a string");
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
        let line: serde_json::Value = serde_json::from_str(text.trim_end()).unwrap();
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["message"], "hello world");
        assert_eq!(line["route"], "a\"b\\c\n\u{1}");
        assert_eq!(line["n"], 5);
        assert_eq!(line["ok"], true);
        assert_eq!(line["neg"], -3);
        assert!(line["timestamp"].as_str().unwrap().ends_with('Z'));
    }
}
