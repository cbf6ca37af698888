//! Candidate A of the event-decoding comparison (docs/benchmarks.md, "Event decoding: the
//! lazy reader against serde"): serde derive structs that borrow (strings without escapes are
//! slices of the event; members nobody reads are skipped, serde's default for unknown fields;
//! the authorizer stays a borrowed `RawValue`), decoding the four shapes (REST proxy 1.0, HTTP
//! API and function URL 2.0, the mapping-template event) into the `ApiEvent` the crate's reader
//! (`src/aws/json.rs`, `src/aws/event.rs`) produces. Stage variables are decoded as raw
//! name/value pairs, then read into the crate's `StageVariables`.
//!
//! Shared by `benches/decode` and `tests/it/decoders.rs` (the two decoders agree on every
//! fixture and on the edge cases listed there).

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use pusher_auth_lambda::testing::ApiEvent;
use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

/// Decoded query parameters: each name with all its values.
type MultiValueParams<'a> = Vec<(Cow<'a, str>, Vec<Cow<'a, str>>)>;

/// The event is not JSON of any of the four shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Unsupported;

/// Decodes the fields the endpoint reads, as `ApiEvent::from_slice` does.
pub(crate) fn from_slice(bytes: &[u8]) -> Result<ApiEvent<'_>, Unsupported> {
    let wire = serde_json::from_slice::<Option<Event<'_>>>(bytes).map_err(|_| Unsupported)?;
    let Some(wire) = wire else { return Ok(ApiEvent::default()) };
    let headers = wire.headers.unwrap_or_default();
    let mut event = ApiEvent {
        version: text(wire.version),
        http_method: text(wire.http_method),
        path: text(wire.path),
        raw_path: text(wire.raw_path),
        raw_query_string: text(wire.raw_query_string),
        multi_value_query: wire.multi_value_query_string_parameters.unwrap_or_default().0,
        origin: headers.origin,
        authorization: headers.authorization,
        content_type: headers.content_type,
        body: text(wire.body),
        is_base64_encoded: wire.is_base64_encoded.unwrap_or(false),
        ..ApiEvent::default()
    };
    let mut stage = None;
    if let Some(context) = wire.request_context {
        event.request_id = text(context.request_id);
        stage = text(context.stage);
        event.context_method = context.http.and_then(|http| text(http.method));
        event.authorizer = context.authorizer;
    }
    let mut stage_variables = wire.stage_variables.unwrap_or_default().0;
    // The mapping template's members; in an event that also has the proxy members, theirs win
    // where they have a value.
    if let Some(params) = wire.params {
        event.mapping = true;
        if let Some(query) = params.querystring {
            event.multi_value_query = query.0;
        }
        let headers = params.header.unwrap_or_default();
        event.origin = headers.origin.or(event.origin.take());
        event.authorization = headers.authorization.or(event.authorization.take());
        event.content_type = headers.content_type.or(event.content_type.take());
    }
    if let Some(vars) = wire.mapping_stage_variables {
        event.mapping = true;
        stage_variables.extend(vars.0);
    }
    if let Some(context) = wire.context {
        event.mapping = true;
        event.context_method = text(context.http_method).or(event.context_method.take());
        event.resource_path = text(context.resource_path);
        stage = text(context.stage).or(stage);
        event.request_id = text(context.request_id).or(event.request_id.take());
        let principal = text(context.authorizer_principal_id);
        event.mapped_authorizer = mapped_authorizer(principal.as_deref(), context.authorizer_claims.map(RawValue::get));
    }
    event.stage_variables = stage_variables;
    event.stage = stage;
    Ok(event)
}

/// The authorizer a mapping template passed, in the REST authorizer's shape (as the crate's
/// `mapped_authorizer`): `{"claims":{…}}` for non-empty claims, else `{"principalId":"…"}`
/// for a non-empty principal, else none.
fn mapped_authorizer(principal: Option<&str>, claims: Option<&str>) -> Option<Box<RawValue>> {
    let claims = claims.filter(|raw| {
        let inner = raw.trim();
        inner.starts_with('{') && !inner[1..inner.len() - 1].trim().is_empty()
    });
    let text = match (claims, principal) {
        (Some(claims), _) => format!("{{\"claims\":{claims}}}"),
        (None, Some(id)) if !id.is_empty() => format!("{{\"principalId\":{}}}", serde_json::to_string(id).ok()?),
        _ => return None,
    };
    RawValue::from_string(text).ok()
}

/// A JSON string, borrowed from the event when it has no escapes.
#[derive(Debug, Default)]
struct Text<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(TextVisitor)
    }
}

fn text(value: Option<Text<'_>>) -> Option<Cow<'_, str>> {
    value.map(|t| t.0)
}

/// Any of the four event shapes; every member optional.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Event<'a> {
    #[serde(borrow)]
    version: Option<Text<'a>>,
    #[serde(borrow)]
    http_method: Option<Text<'a>>,
    #[serde(borrow)]
    path: Option<Text<'a>>,
    #[serde(borrow)]
    raw_path: Option<Text<'a>>,
    #[serde(borrow)]
    raw_query_string: Option<Text<'a>>,
    #[serde(borrow)]
    multi_value_query_string_parameters: Option<MultiValues<'a>>,
    #[serde(borrow)]
    headers: Option<Headers<'a>>,
    #[serde(borrow)]
    body: Option<Text<'a>>,
    is_base64_encoded: Option<bool>,
    #[serde(borrow)]
    stage_variables: Option<Pairs<'a>>,
    #[serde(borrow)]
    request_context: Option<RequestContext<'a>>,
    // The mapping template's members: present (even as null) marks the shape.
    #[serde(borrow, default, deserialize_with = "present")]
    params: Option<Params<'a>>,
    #[serde(borrow, default, deserialize_with = "present", rename = "stage-variables")]
    mapping_stage_variables: Option<Pairs<'a>>,
    #[serde(borrow, default, deserialize_with = "present")]
    context: Option<Context<'a>>,
}

/// A member that is there, null reading as empty.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(d: D) -> Result<Option<T>, D::Error> {
    Ok(Some(Option::<T>::deserialize(d)?.unwrap_or_default()))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RequestContext<'a> {
    #[serde(borrow)]
    request_id: Option<Text<'a>>,
    #[serde(borrow)]
    stage: Option<Text<'a>>,
    #[serde(borrow)]
    http: Option<Http<'a>>,
    #[serde(borrow)]
    authorizer: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct Http<'a> {
    #[serde(borrow)]
    method: Option<Text<'a>>,
}

#[derive(Deserialize, Default)]
struct Params<'a> {
    #[serde(borrow)]
    querystring: Option<SingleValues<'a>>,
    #[serde(borrow)]
    header: Option<Headers<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
struct Context<'a> {
    #[serde(borrow)]
    http_method: Option<Text<'a>>,
    #[serde(borrow)]
    resource_path: Option<Text<'a>>,
    #[serde(borrow)]
    stage: Option<Text<'a>>,
    #[serde(borrow)]
    request_id: Option<Text<'a>>,
    #[serde(borrow)]
    authorizer_principal_id: Option<Text<'a>>,
    #[serde(borrow)]
    authorizer_claims: Option<&'a RawValue>,
}

/// An object read member by member, in order, by a visitor of its own.
trait Members<'de>: Default {
    /// Reads the value of the member named `key` (or skips it).
    fn member<A: MapAccess<'de>>(&mut self, key: Cow<'de, str>, map: &mut A) -> Result<(), A::Error>;
}

struct ObjectVisitor<T>(PhantomData<T>);

impl<'de, T: Members<'de>> Visitor<'de> for ObjectVisitor<T> {
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
        let mut out = T::default();
        while let Some(Text(key)) = map.next_key()? {
            out.member(key, &mut map)?;
        }
        Ok(out)
    }
}

macro_rules! deserialize_members {
    ($($name:ident),*) => {$(
        impl<'de: 'a, 'a> Deserialize<'de> for $name<'a> {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                deserializer.deserialize_map(ObjectVisitor::<$name<'de>>(PhantomData))
            }
        }
    )*};
}
deserialize_members!(Headers, MultiValues, SingleValues, Pairs);

/// `Origin`, `Authorization` and `Content-Type`, matched case-insensitively
/// (REST events keep the client's case; 2.0 events are lowercase); of a name
/// given twice, the last.
#[derive(Default)]
struct Headers<'a> {
    origin: Option<Cow<'a, str>>,
    authorization: Option<Cow<'a, str>>,
    content_type: Option<Cow<'a, str>>,
}

impl<'de> Members<'de> for Headers<'de> {
    fn member<A: MapAccess<'de>>(&mut self, key: Cow<'de, str>, map: &mut A) -> Result<(), A::Error> {
        let slot = if key.eq_ignore_ascii_case("origin") {
            &mut self.origin
        } else if key.eq_ignore_ascii_case("authorization") {
            &mut self.authorization
        } else if key.eq_ignore_ascii_case("content-type") {
            &mut self.content_type
        } else {
            return map.next_value::<IgnoredAny>().map(drop);
        };
        *slot = text(map.next_value()?);
        Ok(())
    }
}

/// `{"name": ["v1", "v2"], …}`, kept in order (a null value is an empty
/// string; a null list, no values).
#[derive(Default)]
struct MultiValues<'a>(MultiValueParams<'a>);

impl<'de> Members<'de> for MultiValues<'de> {
    fn member<A: MapAccess<'de>>(&mut self, key: Cow<'de, str>, map: &mut A) -> Result<(), A::Error> {
        let values: Option<Vec<Option<Text<'de>>>> = map.next_value()?;
        let values = values.unwrap_or_default().into_iter().map(|v| text(v).unwrap_or_default()).collect();
        self.0.push((key, values));
        Ok(())
    }
}

/// `{"name": "value", …}` (a mapping template's `params.querystring`: API
/// Gateway keeps one value per name) as one-value lists.
#[derive(Default)]
struct SingleValues<'a>(MultiValueParams<'a>);

impl<'de> Members<'de> for SingleValues<'de> {
    fn member<A: MapAccess<'de>>(&mut self, key: Cow<'de, str>, map: &mut A) -> Result<(), A::Error> {
        let value = text(map.next_value()?).unwrap_or_default();
        self.0.push((key, vec![value]));
        Ok(())
    }
}

/// Stage variables as sent: each name with its value, in order. A null value
/// is left out, as if unset.
#[derive(Default)]
struct Pairs<'a>(Vec<(Cow<'a, str>, Cow<'a, str>)>);

impl<'de> Members<'de> for Pairs<'de> {
    fn member<A: MapAccess<'de>>(&mut self, key: Cow<'de, str>, map: &mut A) -> Result<(), A::Error> {
        if let Some(Text(value)) = map.next_value()? {
            self.0.push((key, value));
        }
        Ok(())
    }
}
