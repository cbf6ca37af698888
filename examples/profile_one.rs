//! The warm path driven directly: one event file through `handle_bytes` N
//! times, with the demo configuration and the real log subscriber (its lines
//! go to a sink), and no Runtime API. It is what a profiler runs, e.g.
//! `valgrind --tool=callgrind` (docs/benchmarks.md has the command).
//!
//! Usage: `profile_one EVENT N`; `NO_LOG=1` leaves the log subscriber out,
//! `METRICS=off` the metrics block.

#[path = "../benches/common/mod.rs"]
mod common;
use pusher_auth_lambda::handle_bytes;
use pusher_auth_lambda::logging;
use pusher_auth_lambda::Endpoint;
use pusher_auth_lambda::Settings;
use std::future::Future;
use std::hint::black_box;
fn main() {
    if std::env::var_os("NO_LOG").is_none() {
        tracing::subscriber::set_global_default(logging::subscriber(tracing::Level::INFO, std::io::sink)).unwrap();
    }
    let env = |n: &str| -> Option<String> {
        match n {
            // METRICS=off in the environment: the warm path without the EMF block.
            "METRICS" => std::env::var("METRICS").ok(),
            // The demo configuration (scripts/demo.env).
            _ => common::demo_env(n),
        }
    };
    let endpoint = Endpoint::new(Settings::from_lookup(env).unwrap());
    let ev = std::fs::read(std::env::args().nth(1).unwrap()).unwrap();
    let n: usize = std::env::args().nth(2).unwrap().parse().unwrap();
    let waker = std::task::Waker::noop();
    for _ in 0..n {
        let mut f = std::pin::pin!(handle_bytes(&endpoint, black_box(&ev), "x"));
        let std::task::Poll::Ready(out) = f.as_mut().poll(&mut std::task::Context::from_waker(waker)) else { panic!() };
        black_box(serde_json::to_vec(&out.unwrap()).unwrap());
    }
}
