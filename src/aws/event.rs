//! API Gateway events: REST API proxy (payload 1.0), HTTP API (payload 2.0),
//! Lambda function URLs (2.0 shape) and the REST API non-proxy integration's
//! mapping-template event (`mapping-templates/request.vtl`), decoded by serde
//! into one struct that borrows the event's text (a string is copied only when
//! it has escapes); members the endpoint does not read are skipped.
//!
//! The mapping-template event has the shape of the console's "Method Request
//! passthrough" template, recognised by its `context.resource-path`:
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

use lambda_runtime::Diagnostic;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::aws::reply::PayloadFormat;
use crate::web::request::{Body, Headers, Method, Query, Request};

/// An object's members: names with their values, in order.
type Members<'a, V> = Vec<(Cow<'a, str>, V)>;
/// Decoded query parameters: each name with all its values.
type MultiValueParams<'a> = Members<'a, Vec<Cow<'a, str>>>;

/// The members the endpoint reads, from any of the four shapes.
#[derive(Debug, Default, Deserialize)]
// Every member is optional; every `'a` borrows from the event's text.
#[serde(rename_all = "camelCase", default, bound = "'de: 'a")]
pub(crate) struct ApiEvent<'a> {
    /// `"2.0"` for HTTP API and function URLs, absent or `"1.0"` for REST.
    version: Option<Text<'a>>,
    /// REST: the method and the path (behind a custom domain, with its base path).
    http_method: Option<Text<'a>>,
    path: Option<Text<'a>>,
    /// 2.0: the path (with the stage prefix for named stages) and the query as sent.
    raw_path: Option<Text<'a>>,
    raw_query_string: Option<Text<'a>>,
    /// REST: decoded query parameters, every value of each (a null value reads as "").
    #[serde(deserialize_with = "multi_values")]
    multi_value_query_string_parameters: MultiValueParams<'a>,
    #[serde(deserialize_with = "headers")]
    headers: Members<'a, Option<Text<'a>>>,
    body: Option<Text<'a>>,
    is_base64_encoded: Option<bool>,
    /// The stage variables as sent, in order, with no knowledge of the names
    /// (which ones the endpoint reads is `config`'s business); a null value is
    /// left out, as if unset.
    #[serde(alias = "stage-variables", deserialize_with = "pairs")]
    pub stage_variables: Members<'a, Cow<'a, str>>,
    /// `requestContext`, or the mapping template's `context`.
    #[serde(alias = "context", deserialize_with = "or_default")]
    request_context: Context<'a>,
    /// Mapping template: the query (one value per name) and the headers.
    #[serde(deserialize_with = "or_default")]
    params: Params<'a>,
    /// Mapping template: the authorizer it passed, in the REST authorizer's shape.
    #[serde(skip)]
    mapped_authorizer: Option<Box<RawValue>>,
}

/// The members named in kebab case are the mapping template's; the others,
/// one word, are the proxy events' (`requestId` too).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", default, bound = "'de: 'a")]
struct Context<'a> {
    #[serde(alias = "requestId")]
    request_id: Option<Text<'a>>,
    stage: Option<Text<'a>>,
    http: Option<Http<'a>>,
    authorizer: Option<&'a RawValue>,
    http_method: Option<Text<'a>>,
    resource_path: Option<Text<'a>>,
    authorizer_principal_id: Option<Text<'a>>,
    authorizer_claims: Option<&'a RawValue>,
}

#[derive(Debug, Deserialize)]
#[serde(bound = "'de: 'a")]
struct Http<'a> {
    method: Option<Text<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, bound = "'de: 'a")]
struct Params<'a> {
    #[serde(deserialize_with = "single_values")]
    querystring: MultiValueParams<'a>,
    #[serde(deserialize_with = "headers")]
    header: Members<'a, Option<Text<'a>>>,
}

/// The function error for an event that is not an HTTP request from API
/// Gateway or a function URL.
pub(crate) fn unsupported() -> Diagnostic {
    let message = "unsupported event: not an API Gateway proxy or function URL request";
    Diagnostic { error_type: "UnsupportedEvent".into(), error_message: message.into() }
}

impl<'a> ApiEvent<'a> {
    /// Decodes the members the endpoint reads from the event's text.
    pub(crate) fn decode(text: &'a [u8]) -> Result<Self, Diagnostic> {
        let mut event: Self = serde_json::from_slice(text).map_err(|_| unsupported())?;
        event.mapped_authorizer = mapped_authorizer(&event.request_context);
        Ok(event)
    }

    /// The payload format, which the answer must follow.
    pub(crate) fn format(&self) -> PayloadFormat {
        match (&self.request_context.resource_path, self.version.as_deref()) {
            (Some(_), _) => PayloadFormat::Mapping,
            (None, Some("2.0")) => PayloadFormat::V2,
            _ => PayloadFormat::V1,
        }
    }

    /// The request this event carries; `fallback_request_id` (the Lambda
    /// invocation's) is used when the event has none.
    pub(crate) fn request(&'a self, fallback_request_id: &'a str) -> Result<Request<'a>, Diagnostic> {
        let context = &self.request_context;
        let (method, path, query) = match self.format() {
            PayloadFormat::V2 => (
                context.http.as_ref().and_then(|http| http.method.as_deref()),
                self.raw_path.as_deref(),
                Query::Raw(self.raw_query_string.as_deref().unwrap_or("")),
            ),
            PayloadFormat::V1 => (
                self.http_method.as_deref(),
                self.path.as_deref(),
                Query::Decoded(&self.multi_value_query_string_parameters),
            ),
            PayloadFormat::Mapping => (
                context.http_method.as_deref(),
                context.resource_path.as_deref(),
                Query::Decoded(&self.params.querystring),
            ),
        };
        let (Some(method), Some(path)) = (method, path) else { return Err(unsupported()) };
        Ok(Request {
            request_id: context.request_id.as_deref().unwrap_or(fallback_request_id),
            method: Method::parse(method),
            path,
            query,
            body: match self.body.as_deref() {
                None => Body::None,
                Some(b) if self.is_base64_encoded == Some(true) => Body::Base64(b),
                Some(b) => Body::Text(b),
            },
            headers: Headers {
                origin: self.header("origin"),
                authorization: self.header("authorization"),
                content_type: self.header("content-type"),
            },
            stage: context.stage.as_deref(),
            stage_variables: &self.stage_variables,
            authorizer: context.authorizer.or(self.mapped_authorizer.as_deref()),
        })
    }

    /// A header, matched case-insensitively (REST events keep the client's
    /// case; 2.0 events are lowercase); of a name given twice, the last.
    fn header(&self, name: &str) -> Option<&str> {
        let all = self.headers.iter().chain(&self.params.header);
        all.rev().find(|(n, _)| n.eq_ignore_ascii_case(name))?.1.as_deref()
    }
}

/// The authorizer a mapping template passed, in the REST authorizer's shape:
/// `{"claims":{…}}` when it passed claims (Cognito), else `{"principalId":"…"}`
/// (Lambda authorizer), else none. Templates render absent values as `""`.
fn mapped_authorizer(context: &Context<'_>) -> Option<Box<RawValue>> {
    let claims =
        context.authorizer_claims.filter(|raw| raw.get().strip_prefix('{').is_some_and(|r| r.trim_start() != "}"));
    let mapped = match (claims, context.authorizer_principal_id.as_deref()) {
        (Some(claims), _) => format!(r#"{{"claims":{claims}}}"#),
        (None, Some(id)) if !id.is_empty() => format!(r#"{{"principalId":{}}}"#, serde_json::to_string(id).ok()?),
        _ => return None,
    };
    RawValue::from_string(mapped).ok()
}

/// A JSON string, borrowed from the event when it has no escapes.
#[derive(Debug, Default, Deserialize)]
#[serde(transparent)]
struct Text<'a>(#[serde(borrow)] Cow<'a, str>);

impl std::ops::Deref for Text<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

/// An object's members in order (`null` has none), each value read as `V`
/// and kept as `each` makes it (`None`: left out).
fn members<'de, D: Deserializer<'de>, V: Deserialize<'de>, T>(
    d: D,
    each: fn(Cow<'de, str>, V) -> Option<T>,
) -> Result<Vec<T>, D::Error> {
    struct Walk<'de, V, T>(fn(Cow<'de, str>, V) -> Option<T>);
    impl<'de, V: Deserialize<'de>, T> Visitor<'de> for Walk<'de, V, T> {
        type Value = Vec<T>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object or null")
        }
        fn visit_unit<E>(self) -> Result<Vec<T>, E> {
            Ok(Vec::new())
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<T>, A::Error> {
            let mut members = Vec::new();
            while let Some((Text(name), value)) = map.next_entry()? {
                members.extend((self.0)(name, value));
            }
            Ok(members)
        }
    }
    d.deserialize_any(Walk(each))
}

/// A member that may be null, as if absent.
fn or_default<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(d: D) -> Result<T, D::Error> {
    Ok(Option::deserialize(d)?.unwrap_or_default())
}

/// `{"name": ["v1", "v2"], …}` (a null list has no values, a null value reads as "").
fn multi_values<'de, D: Deserializer<'de>>(d: D) -> Result<MultiValueParams<'de>, D::Error> {
    members(d, |name, values: Option<Vec<Option<Text<'de>>>>| {
        Some((name, values.unwrap_or_default().into_iter().map(|value| value.unwrap_or_default().0).collect()))
    })
}

/// `{"name": "value", …}` (a mapping template's `params.querystring`: API
/// Gateway keeps one value per name) as one-value lists.
fn single_values<'de, D: Deserializer<'de>>(d: D) -> Result<MultiValueParams<'de>, D::Error> {
    members(d, |name, value: Option<Text<'de>>| Some((name, vec![value.unwrap_or_default().0])))
}

/// `{"NAME": "value", …}`, a null value left out.
fn pairs<'de, D: Deserializer<'de>>(d: D) -> Result<Members<'de, Cow<'de, str>>, D::Error> {
    members(d, |name, value: Option<Text<'de>>| Some((name, value?.0)))
}

/// `{"Name": "value", …}`, a null value kept as none.
fn headers<'de, D: Deserializer<'de>>(d: D) -> Result<Members<'de, Option<Text<'de>>>, D::Error> {
    members(d, |name, value| Some((name, value)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded(json: &str) -> ApiEvent<'_> {
        ApiEvent::decode(json.as_bytes()).unwrap_or_else(|_| panic!("refused: {json}"))
    }

    /// A 2.0 event with these members of `requestContext` and of the event.
    fn v2(context: &str, members: &str) -> String {
        format!(
            r#"{{"version":"2.0","rawPath":"/a","requestContext":{{"http":{{"method":"GET"}}{context}}}{members}}}"#
        )
    }

    #[test]
    fn every_fixture_is_a_request_in_its_format() {
        let mut seen = 0;
        for dir in ["tests/fixtures/events", "perf/events"] {
            for entry in std::fs::read_dir(format!("{}/{dir}", env!("CARGO_MANIFEST_DIR"))).unwrap() {
                let path = entry.unwrap().path();
                if path.extension().is_none_or(|e| e != "json") {
                    continue;
                }
                let text = std::fs::read(&path).unwrap();
                let event = ApiEvent::decode(&text).unwrap();
                let request = event.request("fallback").unwrap();
                let name = path.file_name().unwrap().to_str().unwrap();
                let format = match name.split('-').next().unwrap() {
                    "apigw" if name.starts_with("apigw-v1") => PayloadFormat::V1,
                    "rest" => PayloadFormat::Mapping,
                    _ => PayloadFormat::V2,
                };
                assert_eq!(event.format(), format, "{name}");
                assert_ne!(request.request_id, "fallback", "{name}");
                assert!(request.path.contains("/pusher/") || name.contains("not-found"), "{name}");
                seen += 1;
            }
        }
        assert!(seen >= 27, "{seen} fixtures");
    }

    #[test]
    fn strings_are_unescaped_and_borrowed_when_they_have_no_escapes() {
        let text = r#"{"version":"2.0","raw\u0050ath":"\/pusher\/auth","rawQueryString":"a=\u00e9&b=\"","body":"x\ny","requestContext":{"http":{"method":"GET"}}}"#;
        let event = decoded(text);
        let request = event.request("r").unwrap();
        assert_eq!((request.path, request.method), ("/pusher/auth", Method::Get));
        assert!(matches!(request.query, Query::Raw("a=\u{e9}&b=\"")));
        assert!(matches!(request.body, Body::Text("x\ny")));
        assert!(matches!(event.version, Some(Text(Cow::Borrowed("2.0")))));
    }

    #[test]
    fn headers_match_in_any_case_the_last_of_a_name_winning() {
        let text =
            v2("", r#","headers":{"ORIGIN":"a","Content-Type":"b","AuThOrIzAtIoN":"c","x-other":"1","origin":"d"}"#);
        let event = decoded(&text);
        let headers = event.request("r").unwrap().headers;
        assert_eq!((headers.origin, headers.content_type, headers.authorization), (Some("d"), Some("b"), Some("c")));
        let text = v2("", r#","headers":{"Origin":"a","origin":null}"#);
        assert_eq!(decoded(&text).request("r").unwrap().headers.origin, None);
    }

    #[test]
    fn rest_query_parameters_keep_every_value_in_order() {
        let text = r#"{"httpMethod":"GET","path":"/p","multiValueQueryStringParameters":{"a":["1","2"],"b":null,"c":[null,"x"],"a":["3"]}}"#;
        let event = decoded(text);
        let Query::Decoded(pairs) = event.request("r").unwrap().query else { panic!("decoded") };
        let pairs: Vec<(&str, Vec<&str>)> =
            pairs.iter().map(|(k, v)| (&**k, v.iter().map(|v| &**v).collect())).collect();
        assert_eq!(pairs, [("a", vec!["1", "2"]), ("b", vec![]), ("c", vec!["", "x"]), ("a", vec!["3"])]);
    }

    #[test]
    fn nulls_read_as_absent() {
        let text = r#"{"httpMethod":"POST","path":"/p","headers":null,"multiValueQueryStringParameters":null,"stageVariables":null,"body":null,"isBase64Encoded":null,"params":null}"#;
        let event = decoded(text);
        let request = event.request("fallback").unwrap();
        assert!(matches!(request.body, Body::None));
        assert_eq!((request.request_id, request.stage_variables.len()), ("fallback", 0));
        assert!(decoded(r#"{"requestContext":null}"#).request("r").is_err());
    }

    #[test]
    fn base64_bodies_are_marked() {
        let event = decoded(r#"{"httpMethod":"POST","path":"/p","body":"c29ja2V0","isBase64Encoded":true}"#);
        assert!(matches!(event.request("r").unwrap().body, Body::Base64("c29ja2V0")));
    }

    #[test]
    fn the_authorizer_stays_raw_json() {
        let text = v2(r#","authorizer":{"claims":{"sub":"u","n":[1,{"a":null}]}}"#, "");
        let event = decoded(&text);
        let raw = event.request("r").unwrap().authorizer.unwrap().get();
        assert_eq!(raw, r#"{"claims":{"sub":"u","n":[1,{"a":null}]}}"#);
        assert!(decoded(&v2(r#","authorizer":null"#, "")).request("r").unwrap().authorizer.is_none());
    }

    /// The event's stage variables reach the endpoint as sent, names it reads
    /// or not, in order; the stage's name travels beside them.
    #[test]
    fn stage_variables_are_decoded_as_sent() {
        let text =
            v2(r#","stage":"prod""#, r#","stageVariables":{"ZED":"1","PUSHER_KEY":"k\u0031","GONE":null,"stage":"x"}"#);
        let event = decoded(&text);
        let request = event.request("r").unwrap();
        let pairs: Vec<(&str, &str)> = request.stage_variables.iter().map(|(n, v)| (&**n, &**v)).collect();
        assert_eq!(pairs, [("ZED", "1"), ("PUSHER_KEY", "k1"), ("stage", "x")]);
        assert_eq!(request.stage, Some("prod"));
    }

    fn mapping(context: &str) -> String {
        format!(
            r#"{{"body":"","params":{{"querystring":{{"a":"1","b":"x\"y"}},"header":{{"Origin":"o"}}}},"stage-variables":{{"K":"v"}},"context":{{"http-method":"GET","resource-path":"/pusher/auth","stage":"s","request-id":"id",{context}}}}}"#
        )
    }

    #[test]
    fn the_mapping_template_event_is_read_with_its_own_names() {
        let text = mapping(r#""authorizer-principal-id":"""#);
        let event = decoded(&text);
        let request = event.request("r").unwrap();
        assert_eq!(event.format(), PayloadFormat::Mapping);
        assert_eq!(
            (request.method, request.path, request.stage, request.request_id),
            (Method::Get, "/pusher/auth", Some("s"), "id")
        );
        let Query::Decoded(pairs) = request.query else { panic!("decoded") };
        assert_eq!(format!("{pairs:?}"), r#"[("a", ["1"]), ("b", ["x\"y"])]"#);
        assert_eq!((request.headers.origin, &*request.stage_variables[0].1), (Some("o"), "v"));
        assert!(request.authorizer.is_none());
    }

    #[test]
    fn a_mapping_template_authorizer_takes_the_rest_authorizer_shape() {
        for (context, expected) in [
            (r#""authorizer-claims":{"sub":"u"},"authorizer-principal-id":"p""#, Some(r#"{"claims":{"sub":"u"}}"#)),
            (r#""authorizer-claims":{ },"authorizer-principal-id":"p\"q""#, Some(r#"{"principalId":"p\"q"}"#)),
            (r#""authorizer-claims":{},"authorizer-principal-id":"""#, None),
            (r#""authorizer-claims":"x""#, None),
        ] {
            let text = mapping(context);
            let event = decoded(&text);
            assert_eq!(event.request("r").unwrap().authorizer.map(RawValue::get), expected, "{context}");
        }
    }

    #[test]
    fn anything_else_is_refused() {
        for json in [
            "",
            "not json",
            "\"x\"",
            "{",
            "{\"a\":1,}",
            r#"{"body":1}"#,
            r#"{"isBase64Encoded":"true"}"#,
            r#"{"headers":"x"}"#,
            r#"{"headers":{"origin":1}}"#,
            r#"{"multiValueQueryStringParameters":{"a":"x"}}"#,
            r#"{"requestContext":{"http":{"method":true}}}"#,
            r#"{"params":{"querystring":{"a":["x"]}}}"#,
            r#"{"stageVariables":{"PUSHER_KEY":5}}"#,
            "{\"body\":\"\\ud800\"}",
        ] {
            assert!(ApiEvent::decode(json.as_bytes()).is_err(), "{json}");
        }
        for json in ["{}", "[]", "null", r#"{"Records":[]}"#, r#"{"version":"2.0","rawPath":"/p"}"#] {
            assert!(ApiEvent::decode(json.as_bytes()).and_then(|e| e.request("r").map(drop)).is_err(), "{json}");
        }
    }
}
