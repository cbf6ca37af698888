//! The Lambda bootstrap: configuration, logging and the runtime, nothing else.
//!
//! One invocation at a time (classic Lambda): a current-thread tokio runtime
//! and `lambda_runtime`'s sequential loop, as cheap as it gets. On Lambda
//! Managed Instances, where one execution environment takes several
//! invocations at once (`AWS_LAMBDA_MAX_CONCURRENCY` above 1), a multi-thread
//! runtime (one worker per CPU) and `lambda_runtime`'s concurrent mode: that
//! many long-polling workers, each answering its own invocation.

use std::process::ExitCode;

use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use pusher_auth_lambda::logging;
use pusher_auth_lambda::run_lambda;
use pusher_auth_lambda::{membership_store_from_lookup, store_from_lookup};
use pusher_auth_lambda::{ConfigError, Endpoint, Settings};

#[cfg(feature = "explain")]
mod explain;

const USAGE: &str = "usage: pusher-auth                 the Lambda function (AWS Lambda or cargo lambda runs it)
       pusher-auth --check-config  checks the configuration in the environment, as a cold start does
       pusher-auth explain --help  why a channel or signin is allowed or refused (local builds only)";

fn main() -> ExitCode {
    match std::env::args().nth(1).as_deref() {
        Some("--check-config") => return check_config(),
        Some("--help" | "-h") => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        #[cfg(feature = "explain")]
        Some("explain") => return explain::run(),
        #[cfg(not(feature = "explain"))]
        Some("explain") => {
            eprintln!("pusher-auth explain is a local tool, left out of this build: run it from the repository");
            return ExitCode::from(2);
        }
        _ => {}
    }
    // `AWS_LAMBDA_MAX_CONCURRENCY` read as `lambda_runtime` reads it (anything
    // but a positive whole number counts as 1).
    let concurrency = std::env::var("AWS_LAMBDA_MAX_CONCURRENCY").ok().and_then(|v| v.parse::<u32>().ok());
    let mut runtime = match concurrency {
        Some(2..) => tokio::runtime::Builder::new_multi_thread(),
        _ => tokio::runtime::Builder::new_current_thread(),
    };
    match runtime.enable_all().build() {
        Ok(runtime) => runtime.block_on(serve()),
        Err(error) => {
            eprintln!("cannot start the tokio runtime: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Local runs only: every invocation is answered with a 500 whose body is the
/// configuration error (it names the variable, never a value), in the proxy
/// shape a function URL, an HTTP API or a REST proxy route understands.
async fn answer_every_request_with(error: &ConfigError) -> ExitCode {
    let answer = serde_json::json!({
        "statusCode": 500,
        "headers": {"content-type": "text/plain; charset=utf-8", "x-content-type-options": "nosniff"},
        "body": format!("{error}\n"),
        "isBase64Encoded": false,
        // cargo-lambda reads the HTTP API answer with `cookies` required.
        "cookies": [],
    });
    let handler = service_fn(move |_: LambdaEvent<serde::de::IgnoredAny>| {
        std::future::ready(Ok::<_, Diagnostic>(answer.clone()))
    });
    stopped(lambda_runtime::run(handler).await.map(|()| ExitCode::FAILURE))
}

/// `pusher-auth --check-config`: the cold start's configuration check alone,
/// with the function's own parser. Prints the error (which names the
/// variable, never a value) and exits 1, or prints a line and exits 0.
fn check_config() -> ExitCode {
    let Err(error) = endpoint_from_env() else {
        println!("configuration OK");
        return ExitCode::SUCCESS;
    };
    eprintln!("{error}");
    ExitCode::FAILURE
}

/// The wiring: the environment's settings, then the endpoint that builds its
/// services from them, reading stored secrets from Secrets Manager and
/// `?member` rules' table from DynamoDB.
fn endpoint_from_env() -> Result<Endpoint, ConfigError> {
    let env = |name: &str| std::env::var(name).ok();
    let settings = Settings::from_lookup(env)?;
    Endpoint::with_store(settings, store_from_lookup(&env)?)?.with_membership_store(membership_store_from_lookup(&env)?)
}

async fn serve() -> ExitCode {
    logging::init();
    match endpoint_from_env() {
        Ok(endpoint) => stopped(run_lambda(endpoint).await.map(|()| ExitCode::SUCCESS)),
        Err(error) => {
            tracing::error!(variable = error.variable, "{error}");
            // Under `cargo lambda watch` (which starts the function with `cargo
            // run`) a failed cold start leaves every local request hanging:
            // answer each with the error instead. On AWS, which sets the
            // reserved AWS_LAMBDA_INITIALIZATION_TYPE, the init fails.
            let local = std::env::var_os("AWS_LAMBDA_INITIALIZATION_TYPE").is_none();
            if local && std::env::var_os("CARGO_MANIFEST_DIR").is_some() {
                return answer_every_request_with(&error).await;
            }
            ExitCode::FAILURE
        }
    }
}

/// The exit code of a runtime that stopped: the one given, or a failure logged.
fn stopped(outcome: Result<ExitCode, lambda_runtime::Error>) -> ExitCode {
    outcome.unwrap_or_else(|error| {
        tracing::error!("runtime error: {error}");
        ExitCode::FAILURE
    })
}
