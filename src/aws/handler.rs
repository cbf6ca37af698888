//! The Lambda handler: decode the event, run the endpoint, encode the answer.

use lambda_runtime::LambdaEvent;

use crate::aws::event::{ProxyEvent, UnsupportedEvent};
use crate::aws::proxy_response::ProxyResponse;
use crate::endpoint::Endpoint;

/// Answers one proxy event. Non-HTTP events are an invocation error.
pub async fn handle(endpoint: &Endpoint, event: LambdaEvent<ProxyEvent>) -> Result<ProxyResponse, UnsupportedEvent> {
    let request = event.payload.request(&event.context.request_id)?;
    Ok(ProxyResponse { response: endpoint.handle(&request).await, format: event.payload.format() })
}

/// Raw event bytes in, response bytes out: the whole warm path without the
/// runtime's HTTP exchange (used by the benchmark and by fixture tests).
pub async fn handle_bytes(endpoint: &Endpoint, event: &[u8], invocation_id: &str) -> Result<Vec<u8>, UnsupportedEvent> {
    let event: ProxyEvent = serde_json::from_slice(event).map_err(|_| UnsupportedEvent)?;
    let request = event.request(invocation_id)?;
    let response = ProxyResponse { response: endpoint.handle(&request).await, format: event.format() };
    Ok(serde_json::to_vec(&response).expect("responses serialize"))
}

impl From<UnsupportedEvent> for lambda_runtime::Diagnostic {
    fn from(error: UnsupportedEvent) -> Self {
        Self { error_type: "UnsupportedEvent".into(), error_message: error.to_string() }
    }
}
