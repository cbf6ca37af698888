//! Bare-minimum `lambda_runtime` function used as the baseline in `perf/`.
//!
//! It echoes the event payload back as the response, so whatever the
//! benchmark measures for it is the cost of the runtime itself (HTTP client,
//! event deserialisation, response serialisation), not of any handler logic.
use lambda_runtime::{service_fn, Error, LambdaEvent};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|e: LambdaEvent<serde_json::Value>| async { Ok::<_, Error>(e.payload) })).await
}
