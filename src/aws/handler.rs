//! The Lambda handler: a typed `lambda_runtime` handler over the event's raw
//! JSON, which it decodes with borrowed fields ([`ApiEvent::decode`]) and
//! answers with a typed [`Answer`]. The runtime owns everything else: the
//! Runtime API client, error reports, panics.
//!
//! The runtime hands the handler the event's JSON text ([`RawEvent`]) rather
//! than a decoded struct, because its payload type must own its data and the
//! runtime decodes it through `serde_path_to_error`, which copies every key it
//! meets (docs/design.md).

use std::sync::Arc;

use lambda_runtime::{service_fn, Diagnostic, LambdaEvent, Runtime};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use crate::aws::event::{unsupported, ApiEvent};
use crate::aws::reply::{answer, Answer};
use crate::endpoint::Endpoint;

/// One invocation: the event's JSON in, the answer (or the function error
/// Lambda reports) out. The whole warm path of one request.
pub async fn handle_bytes(endpoint: &Endpoint, event: &[u8], invocation_id: &str) -> Result<Answer, Diagnostic> {
    let event = ApiEvent::decode(event)?;
    let response = endpoint.handle(&event.request(invocation_id)?).await;
    answer(response, event.format())
}

/// Serves invocations until the runtime fails: one at a time, or as many at
/// once as `AWS_LAMBDA_MAX_CONCURRENCY` says.
pub async fn run_lambda(endpoint: Endpoint) -> Result<(), lambda_runtime::Error> {
    let endpoint = Arc::new(endpoint);
    let handler = service_fn(move |event: LambdaEvent<RawEvent>| {
        let endpoint = Arc::clone(&endpoint);
        async move {
            let json = event.payload.0.ok_or_else(unsupported)?;
            handle_bytes(&endpoint, json.get().as_bytes(), &event.context.request_id).await
        }
    });
    Runtime::new(handler).run_concurrent().await
}

/// The event's JSON text; `None` when it is not JSON, which the handler then
/// reports as it reports any other event that is not an HTTP request.
struct RawEvent(Option<Box<RawValue>>);

impl<'de> Deserialize<'de> for RawEvent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Self(Box::<RawValue>::deserialize(deserializer).ok()))
    }
}
