//! What the function returns to API Gateway.
//!
//! - Proxy integrations: `{"statusCode","headers","body","isBase64Encoded"}`,
//!   plus `"cookies":[]` for the 2.0 shape (HTTP APIs and function URLs; local
//!   emulators such as `cargo lambda watch` require the field).
//! - The mapping-template (non-proxy) integration: a success is the body as a
//!   JSON string, which the response template `$input.path('$')` writes out
//!   unescaped; any other status fails the invocation with the error body
//!   (`{"error":…,"status":…}`) as `errorMessage`, which the integration
//!   response's selection patterns map to that status.

use crate::support::json_text;
use crate::web::response::Response;

/// Which proxy payload format to answer in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadFormat {
    /// REST API (payload format 1.0).
    V1,
    /// HTTP API payload 2.0 and function URLs.
    V2,
    /// REST API non-proxy integration through the mapping templates.
    Mapping,
}

/// The invocation's outcome as Lambda sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A successful invocation returning this JSON text.
    Payload(String),
    /// A failed invocation (a "function error") with this `errorMessage`.
    FunctionError(String),
}

impl Outcome {
    /// The payload of a successful invocation, or the `errorMessage` of a failed one.
    pub fn into_result(self) -> Result<String, String> {
        match self {
            Self::Payload(json) => Ok(json),
            Self::FunctionError(message) => Err(message),
        }
    }
}

/// The `errorType` of a mapping-template refusal.
pub(crate) const REFUSAL_ERROR_TYPE: &str = "Refusal";

/// A [`Response`] in the proxy integration's JSON form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiReply {
    /// The answer.
    pub response: Response,
    /// The format of the event it answers.
    pub format: PayloadFormat,
}

impl ApiReply {
    /// What the invocation returns for this response.
    pub fn outcome(&self) -> Outcome {
        match self.format {
            PayloadFormat::Mapping if (200..300).contains(&self.response.status) => {
                let mut out = String::with_capacity(self.response.body.len() + 16);
                json_text::push_string(&mut out, &self.response.body);
                Outcome::Payload(out)
            }
            PayloadFormat::Mapping => Outcome::FunctionError(self.response.body.clone()),
            PayloadFormat::V1 | PayloadFormat::V2 => Outcome::Payload(self.to_json()),
        }
    }

    /// The proxy integration's JSON text for this response.
    pub(crate) fn to_json(&self) -> String {
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
