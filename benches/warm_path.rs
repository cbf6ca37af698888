//! Warm path in process: raw event bytes in → response bytes out, through the
//! real decoder, endpoint (with its JSON log line formatted) and encoder.
//!
//! Run: `cargo bench --bench warm_path`. Prints the median time per event over
//! many batches for each fixture. Timing goals are reported, never asserted.

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use pusher_auth_lambda::aws::handler::handle_bytes;
use pusher_auth_lambda::config::Settings;
use pusher_auth_lambda::endpoint::Endpoint;
use pusher_auth_lambda::logging::JsonLines;

/// The endpoint never waits in demo mode; poll its future to completion.
fn run<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
}

fn median_ns(endpoint: &Endpoint, event: &[u8]) -> (f64, f64) {
    const BATCH: usize = 2_000;
    const BATCHES: usize = 101;
    // Warm up and check the answer is a 200 before timing anything.
    let out = run(handle_bytes(endpoint, event, "bench")).expect("fixture decodes");
    assert!(out.starts_with(b"{\"statusCode\":200"), "{}", String::from_utf8_lossy(&out));
    for _ in 0..BATCH {
        black_box(run(handle_bytes(endpoint, black_box(event), "bench")).unwrap());
    }
    let mut per_event: Vec<f64> = (0..BATCHES)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..BATCH {
                black_box(run(handle_bytes(endpoint, black_box(event), "bench")).unwrap());
            }
            start.elapsed().as_nanos() as f64 / BATCH as f64
        })
        .collect();
    per_event.sort_by(|a, b| a.total_cmp(b));
    (per_event[BATCHES / 2], per_event[BATCHES * 9 / 10])
}

fn main() {
    // The real log subscriber, writing to a sink: formatting is measured, the
    // write to stdout (a pipe on Lambda) is not.
    if std::env::var_os("NO_LOG").is_none() {
        let sink = std::sync::Arc::new(|line: &[u8]| {
            black_box(line);
        });
        tracing::subscriber::set_global_default(JsonLines::new(tracing::Level::INFO, sink)).unwrap();
    }
    let vectors: serde_json::Value =
        serde_json::from_str(include_str!("../tests/fixtures/pusher-auth-vectors.json")).unwrap();
    let app = &vectors["app"];
    let env = |name: &str| -> Option<String> {
        Some(match name {
            "PUSHER_KEY" => app["key"].as_str()?.into(),
            "PUSHER_SECRET" => app["secret"].as_str()?.into(),
            "PUSHER_ENCRYPTION_MASTER_KEY_BASE64" => app["encryption_master_key_base64"].as_str()?.into(),
            "ALLOWED_ORIGINS" => "https://app.example.com".into(),
            "AUTH_MODE" => "demo".into(),
            _ => return None,
        })
    };
    let endpoint = Endpoint::new(Settings::from_lookup(env).unwrap());
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/events/");
    println!("{:<44} {:>7} {:>11} {:>8}", "event (raw bytes → response bytes)", "bytes", "median µs", "p90 µs");
    for name in [
        "apigw-v2-jsonp-private",
        "function-url-jsonp-private",
        "apigw-v1-jsonp-private",
        "apigw-v2-jsonp-presence",
        "apigw-v2-jsonp-encrypted",
        "apigw-v2-ajax-private",
        "apigw-v1-ajax-private",
    ] {
        let event = std::fs::read(format!("{dir}{name}.json")).unwrap();
        let (median, p90) = median_ns(&endpoint, &event);
        println!("{name:<44} {:>7} {:>11.2} {:>8.2}", event.len(), median / 1000.0, p90 / 1000.0);
    }
}
