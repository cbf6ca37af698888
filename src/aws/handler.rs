//! The Lambda handler: raw event bytes in, response bytes out.
//!
//! `lambda_runtime` decodes each event with `serde_json` into the handler's
//! payload type before the handler runs, which for an API Gateway event costs
//! more than everything the endpoint does. So the endpoint runs in a tower
//! layer ([`DecodeOnceLayer`]) that sees the invocation's raw bytes, decodes
//! only what it needs ([`ApiEvent::from_slice`]) and puts the finished
//! response in their place; the runtime's typed handler ([`pass_through`])
//! then hands those bytes back unchanged as a [`RawValue`]. The runtime still
//! owns everything else: the Runtime API client, retries, error reporting,
//! panics.

use std::task::{Context, Poll};

use lambda_runtime::tower::{Layer, Service};
use lambda_runtime::{BoxFuture, Diagnostic, Error, LambdaEvent, LambdaInvocation};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use crate::aws::event::{ApiEvent, UnsupportedEvent};
use crate::aws::reply::{ApiReply, Outcome, REFUSAL_ERROR_TYPE};
use crate::endpoint::Endpoint;
use crate::support::json_text;

/// Raw event bytes in, the invocation's outcome out: the whole warm path of one request.
pub async fn handle_bytes(endpoint: &Endpoint, event: &[u8], invocation_id: &str) -> Result<Outcome, UnsupportedEvent> {
    let event = ApiEvent::from_slice(event)?;
    let request = event.request(invocation_id)?;
    let response = ApiReply { response: endpoint.handle(&request).await, format: event.format() };
    Ok(response.outcome())
}

/// What the layer leaves for the typed handler when the event is not an HTTP request.
const UNSUPPORTED: &[u8] = b"null";

/// The layer's note for the typed handler: a JSON value to return, `null`
/// for an unsupported event, or `["Refusal","<errorMessage>"]` for a
/// function error (answers are objects or strings, never arrays).
fn prepared_bytes(outcome: Outcome) -> Vec<u8> {
    match outcome {
        Outcome::Payload(json) => json.into_bytes(),
        Outcome::FunctionError(message) => {
            let mut out = String::with_capacity(message.len() + 24);
            out.push('[');
            json_text::push_string(&mut out, REFUSAL_ERROR_TYPE);
            out.push(',');
            json_text::push_string(&mut out, &message);
            out.push(']');
            out.into_bytes()
        }
    }
}

/// What [`DecodeOnceLayer`] prepared, as the typed handler receives it.
#[derive(Debug)]
pub struct Prepared(Result<Box<RawValue>, Diagnostic>);

impl<'de> Deserialize<'de> for Prepared {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        Ok(Prepared(match raw.get().as_bytes().first() {
            Some(b'[') => {
                let (error_type, error_message): (String, String) =
                    serde_json::from_str(raw.get()).map_err(serde::de::Error::custom)?;
                Err(Diagnostic { error_type, error_message })
            }
            Some(b'n') => Err(UnsupportedEvent.into()),
            _ => Ok(raw),
        }))
    }
}

/// Runs the endpoint on each invocation's raw bytes (see the module docs).
#[derive(Clone, Copy)]
pub struct DecodeOnceLayer {
    endpoint: &'static Endpoint,
}

impl DecodeOnceLayer {
    /// A layer answering with `endpoint`.
    pub fn new(endpoint: &'static Endpoint) -> Self {
        Self { endpoint }
    }
}

impl<S> Layer<S> for DecodeOnceLayer {
    type Service = DecodeOnce<S>;

    fn layer(&self, inner: S) -> DecodeOnce<S> {
        DecodeOnce { inner, endpoint: self.endpoint }
    }
}

/// The service [`DecodeOnceLayer`] makes.
#[derive(Clone)]
pub struct DecodeOnce<S> {
    inner: S,
    endpoint: &'static Endpoint,
}

impl<S> Service<LambdaInvocation> for DecodeOnce<S>
where
    S: Service<LambdaInvocation, Response = (), Error = Error> + Clone + Send + 'static,
    S::Future: Send,
{
    type Response = ();
    type Error = Error;
    type Future = BoxFuture<'static, Result<(), Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut invocation: LambdaInvocation) -> Self::Future {
        // The ready inner service goes into the future; a clone stays behind.
        let fresh = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, fresh);
        let endpoint = self.endpoint;
        Box::pin(async move {
            let answer = handle_bytes(endpoint, &invocation.body, &invocation.context.request_id).await;
            invocation.body = match answer {
                Ok(outcome) => prepared_bytes(outcome).into(),
                Err(_) => UNSUPPORTED.into(),
            };
            inner.call(invocation).await
        })
    }
}

/// The runtime's typed handler behind [`DecodeOnceLayer`]: returns the
/// prepared response as it is, or fails the invocation (a mapping-template
/// refusal, or a non-HTTP event).
pub async fn pass_through(event: LambdaEvent<Prepared>) -> Result<Box<RawValue>, Diagnostic> {
    event.payload.0
}

impl From<UnsupportedEvent> for Diagnostic {
    fn from(error: UnsupportedEvent) -> Self {
        Self { error_type: "UnsupportedEvent".into(), error_message: error.to_string() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prepared(outcome: Outcome) -> Result<Box<RawValue>, Diagnostic> {
        serde_json::from_slice::<Prepared>(&prepared_bytes(outcome)).unwrap().0
    }

    #[test]
    fn payloads_pass_through_unchanged() {
        let proxy = r#"{"statusCode":200,"headers":{},"body":"x","isBase64Encoded":false}"#;
        assert_eq!(prepared(Outcome::Payload(proxy.into())).unwrap().get(), proxy);
        let script = r#""/**/typeof Pusher.auth_callbacks['1'] === 'function' && Pusher.auth_callbacks['1']({});""#;
        assert_eq!(prepared(Outcome::Payload(script.into())).unwrap().get(), script);
    }

    #[test]
    fn function_errors_become_the_runtime_error_report() {
        let message = r#"{"error":"invalid_callback","status":400}"#;
        let error = prepared(Outcome::FunctionError(message.into())).unwrap_err();
        assert_eq!(error.error_type, REFUSAL_ERROR_TYPE);
        assert_eq!(error.error_message, message);
        let unsupported = serde_json::from_slice::<Prepared>(UNSUPPORTED).unwrap().0.unwrap_err();
        assert_eq!(unsupported.error_type, "UnsupportedEvent");
    }
}
