//! The proxy integration response: `{"statusCode","headers","body","isBase64Encoded"}`,
//! understood alike by REST APIs, HTTP APIs and function URLs.

use serde::ser::{SerializeMap, SerializeStruct, Serializer};
use serde::Serialize;

use crate::response::Response;

/// A [`Response`] in the proxy integration's JSON form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyResponse(pub Response);

impl Serialize for ProxyResponse {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        struct HeaderMap<'a>(&'a Response);
        impl Serialize for HeaderMap<'_> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let mut map = serializer.serialize_map(Some(self.0.headers.len()))?;
                for (name, value) in &self.0.headers {
                    map.serialize_entry(name, value)?;
                }
                map.end()
            }
        }
        let mut out = serializer.serialize_struct("ProxyResponse", 4)?;
        out.serialize_field("statusCode", &self.0.status)?;
        out.serialize_field("headers", &HeaderMap(&self.0))?;
        out.serialize_field("body", &self.0.body)?;
        out.serialize_field("isBase64Encoded", &false)?;
        out.end()
    }
}
