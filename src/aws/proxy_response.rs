//! The proxy integration response: `{"statusCode","headers","body","isBase64Encoded"}`,
//! plus `"cookies":[]` for the 2.0 shape (HTTP APIs and function URLs; local
//! emulators such as `cargo lambda watch` require the field).

use crate::json_text;
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

impl ProxyResponse {
    /// The JSON text Lambda returns to API Gateway.
    pub fn to_json(&self) -> String {
        let r = &self.response;
        let mut out = String::with_capacity(r.body.len() + 64 * (r.headers.len() + 2));
        out.push_str("{\"statusCode\":");
        out.push_str(itoa::Buffer::new().format(r.status));
        out.push_str(",\"headers\":{");
        for (i, (name, value)) in r.headers.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            json_text::push_string(&mut out, name);
            out.push(':');
            json_text::push_string(&mut out, value);
        }
        out.push_str("},\"body\":");
        json_text::push_string(&mut out, &r.body);
        out.push_str(",\"isBase64Encoded\":false");
        if self.format == PayloadFormat::V2 {
            out.push_str(",\"cookies\":[]");
        }
        out.push('}');
        out
    }
}
