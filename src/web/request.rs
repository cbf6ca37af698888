//! The transport-neutral request: what every event shape is decoded into
//! before the endpoint sees it.

use std::borrow::Cow;

use serde_json::value::RawValue;

/// The HTTP method, as far as the endpoint cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    /// JSONP.
    Get,
    /// AJAX.
    Post,
    /// CORS preflight.
    Options,
    /// Anything else: 405.
    Other,
}

impl Method {
    /// Parses a method name (case-sensitive, as HTTP defines).
    pub(crate) fn parse(name: &str) -> Self {
        match name {
            "GET" => Self::Get,
            "POST" => Self::Post,
            "OPTIONS" => Self::Options,
            _ => Self::Other,
        }
    }
}

/// The query string in whichever form the integration delivered it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Query<'a> {
    /// Still encoded, as in `rawQueryString` (HTTP API, function URLs).
    Raw(&'a str),
    /// Already decoded, one list of values per name, as in REST API
    /// `multiValueQueryStringParameters`.
    Decoded(&'a [(Cow<'a, str>, Vec<Cow<'a, str>>)]),
}

/// The request body.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Body<'a> {
    /// No body.
    None,
    /// Text as sent.
    Text(&'a str),
    /// Base64 of the bytes sent (`isBase64Encoded: true`).
    Base64(&'a str),
}

/// The headers the endpoint reads.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Headers<'a> {
    /// `Origin`.
    pub(crate) origin: Option<&'a str>,
    /// `Authorization`.
    pub(crate) authorization: Option<&'a str>,
    /// `Content-Type`.
    pub(crate) content_type: Option<&'a str>,
}

/// A request, decoded from whatever event shape carried it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Request<'a> {
    /// API Gateway's request id, for the log.
    pub(crate) request_id: &'a str,
    /// HTTP method.
    pub method: Method,
    /// Full path, possibly behind a stage or other prefix.
    pub(crate) path: &'a str,
    /// Query string.
    pub query: Query<'a>,
    /// Body.
    pub body: Body<'a>,
    /// Selected headers.
    pub(crate) headers: Headers<'a>,
    /// The API Gateway stage the request came through.
    pub(crate) stage: Option<&'a str>,
    /// The stage's variables as sent, name and value (which ones override
    /// the configuration is the configuration's business).
    pub(crate) stage_variables: &'a [(Cow<'a, str>, Cow<'a, str>)],
    /// `requestContext.authorizer`, unparsed.
    pub(crate) authorizer: Option<&'a RawValue>,
}

/// The two routes, matched as path suffixes behind any prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    /// `…/pusher/auth`: channel authorization.
    ChannelAuth,
    /// `…/pusher/user-auth`: user authentication (`pusher.signin()`).
    UserAuth,
}

impl Route {
    /// Finds the route a path ends in.
    pub(crate) fn of(path: &str) -> Option<Self> {
        match path.strip_suffix('/').unwrap_or(path).rsplit_once("/pusher/")?.1 {
            "auth" => Some(Self::ChannelAuth),
            "user-auth" => Some(Self::UserAuth),
            _ => None,
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::ChannelAuth => "channel-auth",
            Self::UserAuth => "user-auth",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_path_suffixes_behind_any_prefix() {
        for (path, route) in [
            ("/pusher/auth", Some(Route::ChannelAuth)),
            ("/prod/pusher/auth/", Some(Route::ChannelAuth)),
            ("/a/pusher/pusher/auth", Some(Route::ChannelAuth)),
            ("/pusher/user-auth", Some(Route::UserAuth)),
            ("/v1/pusher/user-auth/", Some(Route::UserAuth)),
            ("/pusher/auth//", None),
            ("/pusher/authx", None),
            ("/pusher/auth/x", None),
            ("/x-pusher/auth", None),
            ("pusher/auth", None),
            ("/pusher/user-auth-x", None),
            ("/", None),
            ("", None),
        ] {
            assert_eq!(Route::of(path), route, "{path}");
        }
    }
}
