//! API Gateway proxy events: REST API (payload 1.0), HTTP API (payload 2.0)
//! and Lambda function URLs (2.0 shape), decoded lazily into one struct that
//! borrows the event's bytes.

use std::borrow::Cow;
use std::fmt;

use serde_json::value::RawValue;

use crate::aws::json::{key_str, JsonError, Reader};
use crate::aws::proxy_response::PayloadFormat;
use crate::config::StageVariables;
use crate::endpoint::{Body, Headers, Method, Query, Request};

/// Decoded query parameters: each name with all its values.
pub type MultiValueParams<'a> = Vec<(Cow<'a, str>, Vec<Cow<'a, str>>)>;

/// The fields of a proxy event the endpoint needs, from any of the three shapes.
#[derive(Debug, Default)]
pub struct ProxyEvent<'a> {
    /// `"2.0"` for HTTP API and function URLs, absent or `"1.0"` for REST.
    pub version: Option<Cow<'a, str>>,
    /// REST: the method.
    pub http_method: Option<Cow<'a, str>>,
    /// REST: the path (behind a custom domain, with its base path).
    pub path: Option<Cow<'a, str>>,
    /// 2.0: the path, with the stage prefix for named stages.
    pub raw_path: Option<Cow<'a, str>>,
    /// 2.0: the query string as sent.
    pub raw_query_string: Option<Cow<'a, str>>,
    /// REST: decoded query parameters, every value of each.
    pub multi_value_query: MultiValueParams<'a>,
    /// `Origin`, `Authorization` and `Content-Type`, matched case-insensitively
    /// (REST events keep the client's case; 2.0 events are lowercase).
    pub origin: Option<Cow<'a, str>>,
    /// The `Authorization` header.
    pub authorization: Option<Cow<'a, str>>,
    /// The `Content-Type` header.
    pub content_type: Option<Cow<'a, str>>,
    /// The body, possibly base64.
    pub body: Option<Cow<'a, str>>,
    /// Whether `body` is base64.
    pub is_base64_encoded: bool,
    /// Stage variables the endpoint reads.
    pub stage_variables: StageVariables,
    /// `requestContext.requestId`.
    pub request_id: Option<Cow<'a, str>>,
    /// `requestContext.http.method` (2.0).
    pub context_method: Option<Cow<'a, str>>,
    /// `requestContext.authorizer`, unparsed.
    pub authorizer: Option<&'a RawValue>,
}

/// An event that is not an HTTP request from API Gateway or a function URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnsupportedEvent;

impl fmt::Display for UnsupportedEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("unsupported event: not an API Gateway proxy or function URL request")
    }
}

impl std::error::Error for UnsupportedEvent {}

impl From<JsonError> for UnsupportedEvent {
    fn from(_: JsonError) -> Self {
        Self
    }
}

fn owned(value: Option<Cow<'_, str>>) -> Option<String> {
    value.map(Cow::into_owned)
}

impl<'a> ProxyEvent<'a> {
    /// Decodes the fields the endpoint reads from the event's bytes.
    pub fn from_slice(bytes: &'a [u8]) -> Result<Self, UnsupportedEvent> {
        let mut event = ProxyEvent::default();
        let mut r = Reader::new(bytes);
        r.object(|key, r| {
            match &*key {
                b"version" => event.version = r.opt_string()?,
                b"httpMethod" => event.http_method = r.opt_string()?,
                b"path" => event.path = r.opt_string()?,
                b"rawPath" => event.raw_path = r.opt_string()?,
                b"rawQueryString" => event.raw_query_string = r.opt_string()?,
                b"multiValueQueryStringParameters" => event.multi_value_query = multi_value_params(r)?,
                b"headers" => r.object(|name, r| {
                    let slot = if name.eq_ignore_ascii_case(b"origin") {
                        &mut event.origin
                    } else if name.eq_ignore_ascii_case(b"authorization") {
                        &mut event.authorization
                    } else if name.eq_ignore_ascii_case(b"content-type") {
                        &mut event.content_type
                    } else {
                        r.skip()?;
                        return Ok(());
                    };
                    *slot = r.opt_string()?;
                    Ok(())
                })?,
                b"body" => event.body = r.opt_string()?,
                b"isBase64Encoded" => event.is_base64_encoded = r.bool()?,
                b"stageVariables" => r.object(|name, r| {
                    let vars = &mut event.stage_variables;
                    match &*name {
                        b"PUSHER_APP_ID" => vars.pusher_app_id = owned(r.opt_string()?),
                        b"PUSHER_KEY" => vars.pusher_key = owned(r.opt_string()?),
                        b"PUSHER_CLUSTER" => vars.pusher_cluster = owned(r.opt_string()?),
                        b"ALLOWED_ORIGINS" => vars.allowed_origins = owned(r.opt_string()?),
                        // Secrets are never read from stage variables: note the attempt, drop the value.
                        b"PUSHER_SECRET" => {
                            r.skip()?;
                            vars.pusher_secret = Some(serde::de::IgnoredAny);
                        }
                        b"PUSHER_ENCRYPTION_MASTER_KEY_BASE64" => {
                            r.skip()?;
                            vars.master_key = Some(serde::de::IgnoredAny);
                        }
                        _ => {
                            r.skip()?;
                        }
                    }
                    Ok(())
                })?,
                b"requestContext" => r.object(|name, r| {
                    match &*name {
                        b"requestId" => event.request_id = r.opt_string()?,
                        b"stage" => event.stage_variables.stage_name = owned(r.opt_string()?),
                        b"http" => r.object(|name, r| {
                            if *name == *b"method" {
                                event.context_method = r.opt_string()?;
                            } else {
                                r.skip()?;
                            }
                            Ok(())
                        })?,
                        b"authorizer" => {
                            let raw = r.raw()?;
                            if raw != "null" {
                                event.authorizer = Some(raw_value(raw)?);
                            }
                        }
                        _ => {
                            r.skip()?;
                        }
                    }
                    Ok(())
                })?,
                _ => {
                    r.skip()?;
                }
            }
            Ok(())
        })?;
        if !r.at_end() {
            return Err(UnsupportedEvent);
        }
        Ok(event)
    }

    /// The payload format, which the answer must follow.
    pub fn format(&self) -> PayloadFormat {
        if self.version.as_deref() == Some("2.0") {
            PayloadFormat::V2
        } else {
            PayloadFormat::V1
        }
    }

    /// The request this event carries; `fallback_request_id` (the Lambda
    /// invocation id) is used when the event has none.
    pub fn request(&'a self, fallback_request_id: &'a str) -> Result<Request<'a>, UnsupportedEvent> {
        let (method, path, query) = match self.format() {
            PayloadFormat::V2 => (
                self.context_method.as_deref(),
                self.raw_path.as_deref(),
                Query::Raw(self.raw_query_string.as_deref().unwrap_or("")),
            ),
            PayloadFormat::V1 => {
                (self.http_method.as_deref(), self.path.as_deref(), Query::Decoded(&self.multi_value_query))
            }
        };
        let (Some(method), Some(path)) = (method, path) else {
            return Err(UnsupportedEvent);
        };
        let body = match self.body.as_deref() {
            None => Body::None,
            Some(b) if self.is_base64_encoded => Body::Base64(b),
            Some(b) => Body::Text(b),
        };
        Ok(Request {
            request_id: self.request_id.as_deref().unwrap_or(fallback_request_id),
            method: Method::parse(method),
            path,
            query,
            body,
            headers: Headers {
                origin: self.origin.as_deref(),
                authorization: self.authorization.as_deref(),
                content_type: self.content_type.as_deref(),
            },
            stage_variables: &self.stage_variables,
            authorizer: self.authorizer,
        })
    }
}

/// `{"name": ["v1", "v2"], …}` or null, kept in order.
fn multi_value_params<'a>(r: &mut Reader<'a>) -> Result<MultiValueParams<'a>, JsonError> {
    let mut pairs = Vec::new();
    r.object(|name, r| {
        let mut values = Vec::with_capacity(1);
        r.array(|r| {
            values.push(r.opt_string()?.unwrap_or_default());
            Ok(())
        })?;
        pairs.push((key_str(name)?, values));
        Ok(())
    })?;
    Ok(pairs)
}

/// Wraps already-skipped JSON text as a `RawValue` without copying.
fn raw_value(raw: &str) -> Result<&RawValue, JsonError> {
    // A borrowed RawValue checks the text is one JSON value; the authorizer is
    // small and present only behind an authorizer.
    serde_json::from_str::<&RawValue>(raw).map_err(|_| JsonError)
}
