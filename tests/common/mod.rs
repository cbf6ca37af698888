//! Helpers shared by the integration tests: an endpoint from a list of
//! variables, and one event through the real handler with its log captured.

#![allow(dead_code)] // each test file uses its own subset

pub mod runtime_api;

use pusher_auth_lambda::aws::handler::handle_bytes;
use pusher_auth_lambda::config::Settings;
use pusher_auth_lambda::endpoint::Endpoint;
use pusher_auth_lambda::logging::Captured;

/// An endpoint configured by `vars`, as the environment would: a later entry
/// wins over an earlier one of the same name, and an empty value is unset.
pub fn endpoint_from<K: AsRef<str>, V: AsRef<str>>(vars: &[(K, V)]) -> Endpoint {
    let lookup = |name: &str| {
        vars.iter()
            .rev()
            .find(|(k, _)| k.as_ref() == name)
            .map(|(_, v)| v.as_ref().to_owned())
            .filter(|v| !v.is_empty())
    };
    Endpoint::new(Settings::from_lookup(lookup).unwrap())
}

/// Runs one event through the handler, capturing the log at `level`; returns
/// the invocation's payload (or function-error message) and the log text.
pub fn handle_logged(endpoint: &Endpoint, event: &[u8], level: tracing::Level) -> (Result<String, String>, String) {
    let captured = Captured::default();
    let outcome = tracing::subscriber::with_default(captured.subscriber(level), || {
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(handle_bytes(
            endpoint,
            event,
            "invocation-1",
        ))
    });
    (outcome.expect("an HTTP event").into_result(), captured.text())
}
