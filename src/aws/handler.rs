//! The Lambda handler: raw event bytes in, response bytes out.
//!
//! `lambda_runtime` decodes each event with `serde_json` into the handler's
//! payload type before the handler runs, which for an API Gateway event costs
//! more than everything the endpoint does. So the endpoint runs in a tower
//! layer ([`DecodeOnceLayer`]) that sees the invocation's raw bytes, decodes
//! only what it needs ([`ProxyEvent::from_slice`]) and puts the finished
//! response in their place; the runtime's typed handler ([`pass_through`])
//! then hands those bytes back unchanged as a [`RawValue`]. The runtime still
//! owns everything else: the Runtime API client, retries, error reporting,
//! panics.

use std::task::{Context, Poll};

use lambda_runtime::tower::{Layer, Service};
use lambda_runtime::{BoxFuture, Diagnostic, Error, LambdaEvent, LambdaInvocation};
use serde_json::value::RawValue;

use crate::aws::event::{ProxyEvent, UnsupportedEvent};
use crate::aws::proxy_response::ProxyResponse;
use crate::endpoint::Endpoint;

/// Raw event bytes in, response bytes out: the whole warm path of one request.
pub async fn handle_bytes(endpoint: &Endpoint, event: &[u8], invocation_id: &str) -> Result<Vec<u8>, UnsupportedEvent> {
    let event = ProxyEvent::from_slice(event)?;
    let request = event.request(invocation_id)?;
    let response = ProxyResponse { response: endpoint.handle(&request).await, format: event.format() };
    Ok(response.to_json().into_bytes())
}

/// What the layer leaves for the typed handler when the event is not an HTTP request.
const UNSUPPORTED: &[u8] = b"null";

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
                Ok(bytes) => bytes.into(),
                Err(_) => UNSUPPORTED.into(),
            };
            inner.call(invocation).await
        })
    }
}

/// The runtime's typed handler behind [`DecodeOnceLayer`]: returns the
/// prepared response as it is, or the invocation error for a non-HTTP event.
pub async fn pass_through(event: LambdaEvent<Option<Box<RawValue>>>) -> Result<Box<RawValue>, UnsupportedEvent> {
    event.payload.ok_or(UnsupportedEvent)
}

impl From<UnsupportedEvent> for Diagnostic {
    fn from(error: UnsupportedEvent) -> Self {
        Self { error_type: "UnsupportedEvent".into(), error_message: error.to_string() }
    }
}
