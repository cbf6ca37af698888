//! API Gateway proxy events: REST API (payload 1.0), HTTP API (payload 2.0)
//! and Lambda function URLs (2.0 shape), decoded into one struct.

use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::aws::proxy_response::PayloadFormat;
use crate::config::StageVariables;
use crate::endpoint::{Body, Headers, Method, Query, Request};

/// The fields of a proxy event the endpoint needs, from any of the three shapes.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ProxyEvent {
    /// `"2.0"` for HTTP API and function URLs, absent or `"1.0"` for REST.
    pub version: Option<String>,
    /// REST: the method.
    pub http_method: Option<String>,
    /// REST: the path (behind a custom domain, with its base path).
    pub path: Option<String>,
    /// 2.0: the path, with the stage prefix for named stages.
    pub raw_path: Option<String>,
    /// 2.0: the query string as sent.
    pub raw_query_string: Option<String>,
    /// REST: decoded query parameters, every value of each.
    #[serde(deserialize_with = "multi_value_params")]
    pub multi_value_query_string_parameters: Vec<(String, Vec<String>)>,
    /// The headers the endpoint reads.
    pub headers: SelectedHeaders,
    /// The body, possibly base64.
    pub body: Option<String>,
    /// Whether `body` is base64.
    pub is_base64_encoded: bool,
    /// Stage variables.
    #[serde(deserialize_with = "null_as_default")]
    pub stage_variables: StageVariables,
    /// The request context.
    pub request_context: RequestContext,
}

/// `requestContext`, reduced to what the endpoint reads.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RequestContext {
    /// API Gateway's request id.
    pub request_id: Option<String>,
    /// The stage name.
    pub stage: Option<String>,
    /// 2.0: `http.method` and friends.
    pub http: Option<HttpContext>,
    /// The identity an authorizer verified, unparsed.
    pub authorizer: Option<Box<RawValue>>,
}

/// `requestContext.http` of the 2.0 shape.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct HttpContext {
    /// The HTTP method.
    pub method: Option<String>,
}

/// The three headers the endpoint reads, matched case-insensitively (REST
/// events keep the client's case; 2.0 events are lowercase).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SelectedHeaders {
    /// `Origin`.
    pub origin: Option<String>,
    /// `Authorization`.
    pub authorization: Option<String>,
    /// `Content-Type`.
    pub content_type: Option<String>,
}

impl<'de> Deserialize<'de> for SelectedHeaders {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct HeaderVisitor;
        impl<'de> Visitor<'de> for HeaderVisitor {
            type Value = SelectedHeaders;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of header names to strings, or null")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(SelectedHeaders::default())
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(SelectedHeaders::default())
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                d.deserialize_map(self)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut headers = SelectedHeaders::default();
                while let Some(name) = map.next_key::<HeaderName>()? {
                    let slot = match name {
                        HeaderName::Origin => &mut headers.origin,
                        HeaderName::Authorization => &mut headers.authorization,
                        HeaderName::ContentType => &mut headers.content_type,
                        HeaderName::Other => {
                            map.next_value::<IgnoredAny>()?;
                            continue;
                        }
                    };
                    *slot = map.next_value::<Option<String>>()?;
                }
                Ok(headers)
            }
        }
        deserializer.deserialize_option(HeaderVisitor)
    }
}

/// A header name, classified without allocating.
enum HeaderName {
    Origin,
    Authorization,
    ContentType,
    Other,
}

impl<'de> Deserialize<'de> for HeaderName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NameVisitor;
        impl Visitor<'_> for NameVisitor {
            type Value = HeaderName;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a header name")
            }
            fn visit_str<E: de::Error>(self, name: &str) -> Result<HeaderName, E> {
                Ok(if name.eq_ignore_ascii_case("origin") {
                    HeaderName::Origin
                } else if name.eq_ignore_ascii_case("authorization") {
                    HeaderName::Authorization
                } else if name.eq_ignore_ascii_case("content-type") {
                    HeaderName::ContentType
                } else {
                    HeaderName::Other
                })
            }
        }
        deserializer.deserialize_str(NameVisitor)
    }
}

fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// `{"name": ["v1", "v2"], …}` or null, kept in order as pairs.
fn multi_value_params<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<(String, Vec<String>)>, D::Error> {
    struct PairsVisitor;
    impl<'de> Visitor<'de> for PairsVisitor {
        type Value = Vec<(String, Vec<String>)>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a map of names to lists of strings, or null")
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_map(self)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut pairs = Vec::with_capacity(map.size_hint().unwrap_or(4));
            while let Some(name) = map.next_key::<String>()? {
                pairs.push((name, map.next_value::<Values>()?.0));
            }
            Ok(pairs)
        }
    }
    deserializer.deserialize_option(PairsVisitor)
}

/// A list of strings (null items count as empty strings).
struct Values(Vec<String>);

impl<'de> Deserialize<'de> for Values {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ValuesVisitor;
        impl<'de> Visitor<'de> for ValuesVisitor {
            type Value = Values;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of strings")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Values, A::Error> {
                let mut values = Vec::with_capacity(seq.size_hint().unwrap_or(1));
                while let Some(value) = seq.next_element::<Option<String>>()? {
                    values.push(value.unwrap_or_default());
                }
                Ok(Values(values))
            }
        }
        deserializer.deserialize_seq(ValuesVisitor)
    }
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

impl ProxyEvent {
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
    pub fn request<'a>(&'a self, fallback_request_id: &'a str) -> Result<Request<'a>, UnsupportedEvent> {
        let is_v2 = self.format() == PayloadFormat::V2;
        let (method, path, query) = if is_v2 {
            let method = self.request_context.http.as_ref().and_then(|h| h.method.as_deref());
            (method, self.raw_path.as_deref(), Query::Raw(self.raw_query_string.as_deref().unwrap_or("")))
        } else {
            (
                self.http_method.as_deref(),
                self.path.as_deref(),
                Query::Decoded(&self.multi_value_query_string_parameters),
            )
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
            request_id: self.request_context.request_id.as_deref().unwrap_or(fallback_request_id),
            method: Method::parse(method),
            path,
            query,
            body,
            headers: Headers {
                origin: self.headers.origin.as_deref(),
                authorization: self.headers.authorization.as_deref(),
                content_type: self.headers.content_type.as_deref(),
            },
            stage_variables: &self.stage_variables,
            authorizer: self.request_context.authorizer.as_deref(),
        })
    }
}
