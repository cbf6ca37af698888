//! Helpers shared by the integration tests: the fixtures and the demo app,
//! an endpoint from a list of variables, one event through the real handler
//! with its log captured, the HMAC a signature must equal, and the environment
//! Lambda gives a bootstrap (run against the Runtime API stand-in of
//! `perf/runtime-stub`).

pub(crate) mod jwks_server;

use pusher_auth_lambda::handle_bytes;
use pusher_auth_lambda::store_from_lookup;
use pusher_auth_lambda::testing::CHANNEL_DENIAL_HEAD;
use pusher_auth_lambda::Endpoint;
use pusher_auth_lambda::Settings;

use std::process::Command;
use std::sync::{Arc, Mutex};

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

/// The app key of the demo app the fixtures are signed for.
pub(crate) const KEY: &str = "3e294278b9dd9a0ab486";
/// Its secret.
pub(crate) const SECRET: &str = "5b31d8b6ca557775afc4";
/// Its encryption master key (base64 of 32 bytes).
pub(crate) const MASTER_KEY: &str = "bmsybDV1aHF1b2s0dm16dm91aWR2c3FrcWMxaGU0dnc=";

/// `tests/fixtures/events/<name>.json`, as bytes.
pub(crate) fn fixture_bytes(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/fixtures/events/{name}.json", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// `tests/fixtures/events/<name>.json`, parsed.
pub(crate) fn fixture(name: &str) -> Value {
    serde_json::from_slice(&fixture_bytes(name)).unwrap()
}

/// `tests/fixtures/tokens.json` (minted by `tests/tools/mint_tokens.py`).
pub(crate) fn tokens() -> Value {
    serde_json::from_str(include_str!("../../fixtures/tokens.json")).unwrap()
}

/// The fixture token `name`.
pub(crate) fn token(name: &str) -> String {
    tokens()["tokens"][name].as_str().unwrap_or_else(|| panic!("no token {name}")).to_owned()
}

/// `tests/fixtures/pusher-auth-vectors.json`.
pub(crate) fn vectors() -> Value {
    serde_json::from_str(include_str!("../../fixtures/pusher-auth-vectors.json")).unwrap()
}

/// Hex HMAC-SHA256 of `message` under `secret`: what a signature must hold.
pub(crate) fn hmac_hex(secret: &str, message: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(message.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// An endpoint configured by `vars`, as the environment would: a later entry
/// wins over an earlier one of the same name, and an empty value is unset.
pub(crate) fn endpoint_from<K: AsRef<str>, V: AsRef<str>>(vars: &[(K, V)]) -> Endpoint {
    let lookup = |name: &str| {
        vars.iter()
            .rev()
            .find(|(k, _)| k.as_ref() == name)
            .map(|(_, v)| v.as_ref().to_owned())
            .filter(|v| !v.is_empty())
    };
    Endpoint::with_store(Settings::from_lookup(lookup).unwrap(), store_from_lookup(&lookup).unwrap()).unwrap()
}

/// Clears `command`'s environment and sets what Lambda gives every bootstrap (the Runtime API
/// at `address`, the function's name, memory, version and log level) plus the demo app's key
/// and secret; each test adds its own configuration after this.
pub(crate) fn lambda_environment<'c>(command: &'c mut Command, address: &str, level: &str) -> &'c mut Command {
    command
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", address)
        .env("AWS_LAMBDA_FUNCTION_NAME", "pusher-auth")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_LEVEL", level)
        .env("PUSHER_KEY", KEY)
        .env("PUSHER_SECRET", SECRET)
}

/// Log lines collected in memory, for the tests that read what was logged.
#[derive(Clone, Default)]
pub(crate) struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    /// The function's log subscriber at `level`, writing into this buffer.
    pub(crate) fn subscriber(&self, level: tracing::Level) -> impl tracing::Subscriber + Send + Sync {
        let captured = self.clone();
        pusher_auth_lambda::logging::subscriber(level, move || captured.clone())
    }

    /// Everything logged so far.
    pub(crate) fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).expect("lines are UTF-8")
    }
}

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs one event through the handler, capturing the log at `level`; returns
/// the invocation's payload (or function-error message) and the log text.
pub(crate) fn handle_logged(
    endpoint: &Endpoint,
    event: &[u8],
    level: tracing::Level,
) -> (Result<String, String>, String) {
    let captured = Captured::default();
    let outcome = tracing::subscriber::with_default(captured.subscriber(level), || {
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(handle_bytes(
            endpoint,
            event,
            "invocation-1",
        ))
    });
    let outcome = match outcome {
        Ok(answer) => Ok(serde_json::to_string(&answer).unwrap()),
        Err(error) if error.error_type == "Refusal" => Err(error.error_message),
        Err(error) => panic!("not an HTTP event: {error:?}"),
    };
    (outcome, captured.text())
}

/// The units CloudWatch accepts in an EMF `MetricDefinition`.
const EMF_UNITS: &[&str] = &[
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

/// Checks a log line against the CloudWatch Embedded Metric Format
/// specification (AWS's "Specification: Embedded metric format"): `_aws` with
/// an integer `Timestamp` in ms, directives with a valid `Namespace`, dimension
/// sets of at most 30 names each naming a top-level string member, at most 100
/// metric definitions each naming a top-level number, units from the allowed
/// list. Returns the directive (this function writes exactly one).
#[track_caller]
pub(crate) fn assert_emf(line: &serde_json::Value) -> &serde_json::Value {
    let context = line.to_string();
    let aws = line["_aws"].as_object().unwrap_or_else(|| panic!("no _aws object: {context}"));
    let millis = aws["Timestamp"].as_u64().unwrap_or_else(|| panic!("Timestamp is not an integer: {context}"));
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64;
    assert!(millis <= now && now - millis < 3_600_000, "Timestamp is not the time in ms: {context}");
    let directives = aws["CloudWatchMetrics"].as_array().unwrap_or_else(|| panic!("no CloudWatchMetrics: {context}"));
    assert_eq!(directives.len(), 1, "{context}");
    for directive in directives {
        let namespace = directive["Namespace"].as_str().unwrap_or_else(|| panic!("no Namespace: {context}"));
        assert!((1..=255).contains(&namespace.len()) && !namespace.starts_with("AWS/"), "{context}");
        let sets = directive["Dimensions"].as_array().unwrap_or_else(|| panic!("no Dimensions: {context}"));
        assert!(!sets.is_empty(), "{context}");
        for set in sets {
            let names = set.as_array().unwrap_or_else(|| panic!("a dimension set is not an array: {context}"));
            assert!((1..=30).contains(&names.len()), "{context}");
            for name in names {
                let name = name.as_str().unwrap_or_else(|| panic!("a dimension name is not a string: {context}"));
                let value =
                    line[name].as_str().unwrap_or_else(|| panic!("dimension {name} is not a string member: {context}"));
                assert!(
                    (1..=1024).contains(&value.len()) && value.is_ascii() && !value.trim().is_empty(),
                    "dimension {name}: {context}"
                );
            }
        }
        let metrics = directive["Metrics"].as_array().unwrap_or_else(|| panic!("no Metrics: {context}"));
        assert!((1..=100).contains(&metrics.len()), "{context}");
        for metric in metrics {
            let name = metric["Name"].as_str().unwrap_or_else(|| panic!("a metric without a Name: {context}"));
            assert!((1..=255).contains(&name.len()), "{context}");
            assert!(line[name].is_number(), "metric {name} is not a number member: {context}");
            if let Some(unit) = metric.get("Unit") {
                assert!(EMF_UNITS.contains(&unit.as_str().unwrap_or("")), "unit of {name}: {context}");
            }
            for key in metric.as_object().unwrap().keys() {
                assert!(["Name", "Unit", "StorageResolution"].contains(&key.as_str()), "{key}: {context}");
            }
        }
    }
    &directives[0]
}

/// The JSONP denial of one channel (README, "Answers to refusals"): the fixed
/// script reaching `channel` on the connection `socket_id`, with callback
/// number `callback` and the error object `error` (JSON text) as arguments.
pub(crate) fn channel_denial(socket_id: &str, channel: &str, callback: &str, error: &str) -> String {
    let args = [Value::from(socket_id), Value::from(channel), Value::from(callback)].map(|v| v.to_string()).join(",");
    format!("{CHANNEL_DENIAL_HEAD}{args},{error});")
}

/// The value a JSONP body hands over: the argument of its callback call, or
/// the error object of a channel denial (whose other arguments must be the
/// socket id, channel and callback number given).
pub(crate) fn jsonp_value(body: &str, socket_id: &str, channel: &str) -> Value {
    let prefix = "/**/typeof Pusher.auth_callbacks['1'] === 'function' && Pusher.auth_callbacks['1'](";
    if let Some(json) = body.strip_prefix(prefix).and_then(|b| b.strip_suffix(");")) {
        return serde_json::from_str(json).unwrap();
    }
    let args = body.strip_prefix(CHANNEL_DENIAL_HEAD).and_then(|b| b.strip_suffix(");"));
    let args: Value =
        serde_json::from_str(&format!("[{}]", args.unwrap_or_else(|| panic!("not JSONP: {body}")))).unwrap();
    assert_eq!(args.as_array().map(Vec::len), Some(4), "{body}");
    assert_eq!((&args[0], &args[1], &args[2]), (&Value::from(socket_id), &Value::from(channel), &Value::from("1")));
    args[3].clone()
}
