//! The Lambda bootstrap: configuration, logging and the runtime, nothing else.

use std::process::ExitCode;

use lambda_runtime::{service_fn, Runtime};
use pusher_auth_lambda::aws::handler::{pass_through, DecodeOnceLayer};
use pusher_auth_lambda::config::Settings;
use pusher_auth_lambda::endpoint::Endpoint;
use pusher_auth_lambda::logging;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    logging::init();
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(error) => {
            tracing::error!(variable = error.variable, "{error}");
            return ExitCode::FAILURE;
        }
    };
    let endpoint: &'static Endpoint = Box::leak(Box::new(Endpoint::new(settings)));
    let runtime = Runtime::new(service_fn(pass_through)).layer(DecodeOnceLayer::new(endpoint));
    match runtime.run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("runtime error: {error}");
            ExitCode::FAILURE
        }
    }
}
