//! What the function returns to API Gateway.
//!
//! - Proxy integrations: `{"statusCode","headers","body","isBase64Encoded"}`,
//!   plus `"cookies":[]` for the 2.0 shape (HTTP APIs and function URLs; local
//!   emulators such as `cargo lambda watch` require the field).
//! - The mapping-template (non-proxy) integration: a success is the body as a
//!   JSON string, which the response template `$input.path('$')` writes out
//!   unescaped; any other status fails the invocation (error type `Refusal`)
//!   with the error body (`{"error":…,"status":…}`) as `errorMessage`, which
//!   the integration response's selection patterns map to that status.

use std::borrow::Cow;

use lambda_runtime::Diagnostic;
use serde::{Serialize, Serializer};

use crate::web::response::Response;

/// Which payload format to answer in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PayloadFormat {
    /// REST API (payload format 1.0).
    V1,
    /// HTTP API payload 2.0 and function URLs.
    V2,
    /// REST API non-proxy integration through the mapping templates.
    Mapping,
}

/// What a successful invocation returns, written by serde.
#[derive(Debug, Serialize)]
#[serde(untagged, rename_all_fields = "camelCase")]
pub enum Answer {
    /// A proxy integration's response.
    Proxy {
        /// HTTP status.
        status_code: u16,
        /// Headers, in the order they are sent.
        #[serde(serialize_with = "object")]
        headers: Vec<(&'static str, Cow<'static, str>)>,
        /// The body.
        body: String,
        /// Always false: every answer is text.
        is_base64_encoded: bool,
        /// 2.0 only.
        #[serde(skip_serializing_if = "Option::is_none")]
        cookies: Option<[(); 0]>,
    },
    /// A mapping-template success: the body, as a JSON string.
    Body(String),
}

/// The invocation's result for `response` to an event of `format`.
pub(crate) fn answer(response: Response, format: PayloadFormat) -> Result<Answer, Diagnostic> {
    match format {
        PayloadFormat::Mapping if (200..300).contains(&response.status) => Ok(Answer::Body(response.body)),
        PayloadFormat::Mapping => Err(Diagnostic { error_type: "Refusal".into(), error_message: response.body }),
        PayloadFormat::V1 | PayloadFormat::V2 => Ok(Answer::Proxy {
            status_code: response.status,
            headers: response.headers,
            body: response.body,
            is_base64_encoded: false,
            cookies: (format == PayloadFormat::V2).then_some([]),
        }),
    }
}

fn object<S: Serializer>(headers: &[(&str, Cow<'_, str>)], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_map(headers.iter().map(|(name, value)| (name, value)))
}
