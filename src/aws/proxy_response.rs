//! The proxy integration response: `{"statusCode","headers","body","isBase64Encoded"}`,
//! plus `"cookies":[]` for the 2.0 shape (HTTP APIs and function URLs; local
//! emulators such as `cargo lambda watch` require the field).

use serde::ser::{SerializeMap, SerializeStruct, Serializer};
use serde::Serialize;

use crate::response::Response;

/// Which proxy payload format to answer in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadFormat {
    /// REST API (payload format 1.0).
    V1,
    /// HTTP API payload 2.0 and function URLs.
    V2,
}

/// A [`Response`] in the proxy integration's JSON form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyResponse {
    /// The answer.
    pub response: Response,
    /// The format of the event it answers.
    pub format: PayloadFormat,
}

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
        let v2 = self.format == PayloadFormat::V2;
        let mut out = serializer.serialize_struct("ProxyResponse", 4 + usize::from(v2))?;
        out.serialize_field("statusCode", &self.response.status)?;
        out.serialize_field("headers", &HeaderMap(&self.response))?;
        out.serialize_field("body", &self.response.body)?;
        out.serialize_field("isBase64Encoded", &false)?;
        if v2 {
            out.serialize_field("cookies", &[(); 0])?;
        }
        out.end()
    }
}
