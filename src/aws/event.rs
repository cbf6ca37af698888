//! API Gateway events: REST API proxy (payload 1.0), HTTP API (payload 2.0),
//! Lambda function URLs (2.0 shape) and the REST API non-proxy integration's
//! mapping-template event (`mapping-templates/request.vtl`), decoded lazily
//! into one struct that borrows the event's bytes.
//!
//! The mapping-template event has the shape of the console's "Method Request
//! passthrough" template:
//!
//! ```json
//! {"body": "…",
//!  "params": {"path": {…}, "querystring": {"callback": "…", …}, "header": {"Origin": "…", …}},
//!  "stage-variables": {"PUSHER_KEY": "…", …},
//!  "context": {"http-method": "GET", "resource-path": "/pusher/auth", "stage": "staging",
//!              "request-id": "…", "source-ip": "…",
//!              "authorizer-principal-id": "…", "authorizer-claims": {"sub": "…", …}}}
//! ```

use std::borrow::Cow;
use std::fmt;

use serde_json::value::RawValue;

use crate::aws::json::{key_str, JsonError, Reader};
use crate::aws::reply::PayloadFormat;
use crate::web::request::{Body, Headers, Method, Query, Request};

/// Decoded query parameters: each name with all its values.
pub(crate) type MultiValueParams<'a> = Vec<(Cow<'a, str>, Vec<Cow<'a, str>>)>;

/// The fields of a proxy event the endpoint needs, from any of the three shapes.
#[derive(Debug, Default)]
pub struct ApiEvent<'a> {
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
    /// The stage variables as sent (`stageVariables`, or a mapping
    /// template's `stage-variables`), each name with its value, in order.
    pub stage_variables: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    /// The API Gateway stage (`requestContext.stage`, or a mapping template's
    /// `context.stage`); not a stage variable.
    pub stage: Option<Cow<'a, str>>,
    /// `requestContext.requestId`.
    pub request_id: Option<Cow<'a, str>>,
    /// `requestContext.http.method` (2.0).
    pub context_method: Option<Cow<'a, str>>,
    /// `requestContext.authorizer`, unparsed.
    pub authorizer: Option<&'a RawValue>,
    /// Whether this is a mapping-template event (it has `params`, `context`
    /// or `stage-variables`).
    pub mapping: bool,
    /// Mapping template: `context.resource-path`.
    pub resource_path: Option<Cow<'a, str>>,
    /// Mapping template: the authorizer built from `context.authorizer-claims`
    /// or `context.authorizer-principal-id`, in the REST authorizer's shape.
    pub mapped_authorizer: Option<Box<RawValue>>,
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

impl<'a> ApiEvent<'a> {
    /// Decodes the fields the endpoint reads from the event's bytes.
    pub fn from_slice(bytes: &'a [u8]) -> Result<Self, UnsupportedEvent> {
        let mut event = ApiEvent::default();
        let mut r = Reader::new(bytes);
        r.object(|key, r| {
            match &*key {
                b"version" => event.version = r.opt_string()?,
                b"httpMethod" => event.http_method = r.opt_string()?,
                b"path" => event.path = r.opt_string()?,
                b"rawPath" => event.raw_path = r.opt_string()?,
                b"rawQueryString" => event.raw_query_string = r.opt_string()?,
                b"multiValueQueryStringParameters" => event.multi_value_query = multi_value_params(r)?,
                b"headers" => read_headers(&mut event, r)?,
                b"body" => event.body = r.opt_string()?,
                b"isBase64Encoded" => event.is_base64_encoded = r.bool()?,
                b"stageVariables" => read_stage_variables(&mut event.stage_variables, r)?,
                b"params" => {
                    event.mapping = true;
                    r.object(|name, r| {
                        match &*name {
                            b"querystring" => event.multi_value_query = single_value_params(r)?,
                            b"header" => read_headers(&mut event, r)?,
                            _ => r.skip()?,
                        }
                        Ok(())
                    })?
                }
                b"stage-variables" => {
                    event.mapping = true;
                    read_stage_variables(&mut event.stage_variables, r)?
                }
                b"context" => {
                    event.mapping = true;
                    let (mut principal, mut claims) = (None, None);
                    r.object(|name, r| {
                        match &*name {
                            b"http-method" => event.context_method = r.opt_string()?,
                            b"resource-path" => event.resource_path = r.opt_string()?,
                            b"stage" => event.stage = r.opt_string()?,
                            b"request-id" => event.request_id = r.opt_string()?,
                            b"authorizer-principal-id" => principal = r.opt_string()?,
                            b"authorizer-claims" => claims = Some(r.raw()?),
                            _ => r.skip()?,
                        }
                        Ok(())
                    })?;
                    event.mapped_authorizer = mapped_authorizer(principal.as_deref(), claims)?;
                }
                b"requestContext" => r.object(|name, r| {
                    match &*name {
                        b"requestId" => event.request_id = r.opt_string()?,
                        b"stage" => event.stage = r.opt_string()?,
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
    pub(crate) fn format(&self) -> PayloadFormat {
        if self.mapping {
            PayloadFormat::Mapping
        } else if self.version.as_deref() == Some("2.0") {
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
            PayloadFormat::Mapping => {
                (self.context_method.as_deref(), self.resource_path.as_deref(), Query::Decoded(&self.multi_value_query))
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
            stage: self.stage.as_deref(),
            stage_variables: &self.stage_variables,
            authorizer: self.authorizer.or(self.mapped_authorizer.as_deref()),
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

/// `Origin`, `Authorization` and `Content-Type` from a header object, matched
/// case-insensitively (REST events keep the client's case; 2.0 events are lowercase).
fn read_headers<'a>(event: &mut ApiEvent<'a>, r: &mut Reader<'a>) -> Result<(), JsonError> {
    r.object(|name, r| {
        let slot = if name.eq_ignore_ascii_case(b"origin") {
            &mut event.origin
        } else if name.eq_ignore_ascii_case(b"authorization") {
            &mut event.authorization
        } else if name.eq_ignore_ascii_case(b"content-type") {
            &mut event.content_type
        } else {
            return r.skip();
        };
        *slot = r.opt_string()?;
        Ok(())
    })
}

/// `{"NAME": "value", …}` or null, kept in order, with no knowledge of the
/// names (which ones the endpoint reads, and which it ignores, is
/// `config`'s business). A null value is left out, as if unset.
fn read_stage_variables<'a>(
    pairs: &mut Vec<(Cow<'a, str>, Cow<'a, str>)>,
    r: &mut Reader<'a>,
) -> Result<(), JsonError> {
    r.object(|name, r| {
        if let Some(value) = r.opt_string()? {
            pairs.push((key_str(name)?, value));
        }
        Ok(())
    })
}

/// `{"name": "value", …}` (a mapping template's `params.querystring`: API
/// Gateway keeps one value per name) as one-value lists.
fn single_value_params<'a>(r: &mut Reader<'a>) -> Result<MultiValueParams<'a>, JsonError> {
    let mut pairs = Vec::new();
    r.object(|name, r| {
        pairs.push((key_str(name)?, vec![r.opt_string()?.unwrap_or_default()]));
        Ok(())
    })?;
    Ok(pairs)
}

/// The authorizer a mapping template passed, in the REST authorizer's shape:
/// `{"claims":{…}}` when it passed claims (Cognito), else `{"principalId":"…"}`
/// (Lambda authorizer), else none. Templates render absent values as `""`.
fn mapped_authorizer(principal: Option<&str>, claims: Option<&str>) -> Result<Option<Box<RawValue>>, JsonError> {
    let claims = claims.filter(|raw| {
        let inner = raw.trim();
        inner.starts_with('{') && !inner[1..inner.len() - 1].trim().is_empty()
    });
    let text = match (claims, principal) {
        (Some(claims), _) => format!("{{\"claims\":{claims}}}"),
        (None, Some(id)) if !id.is_empty() => {
            let mut text = String::from("{\"principalId\":");
            crate::support::json_text::push_string(&mut text, id);
            text.push('}');
            text
        }
        _ => return Ok(None),
    };
    RawValue::from_string(text).map(Some).map_err(|_| JsonError)
}

/// Wraps already-skipped JSON text as a `RawValue` without copying.
fn raw_value(raw: &str) -> Result<&RawValue, JsonError> {
    // A borrowed RawValue checks the text is one JSON value; the authorizer is
    // small and present only behind an authorizer.
    serde_json::from_str::<&RawValue>(raw).map_err(|_| JsonError)
}
