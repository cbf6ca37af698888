//! The transports: JSONP (GET), AJAX (POST) and its CORS preflight, each
//! reading its parameters and writing its own answers and refusals.

use std::borrow::Cow;

use base64::Engine as _;

use crate::config::AppView;
use crate::error::Refusal;
use crate::identity::validators::Credentials;
use crate::pusher::names::JsonpCallback;
use crate::web::params::{AuthParams, Collected, ParamCollector};
use crate::web::request::{Body, Query, Request, Route};
use crate::web::response::Response;

use super::{Endpoint, Logged, MAX_INPUT_BYTES};

impl Endpoint {
    /// JSONP: the query, the callback (until it is known sound, refusals are
    /// plain JSON), the authorization, and the script.
    pub(super) async fn jsonp(&self, route: Route, req: &Request<'_>) -> (Response, Logged) {
        let collected = match self.params_from_query(req.query) {
            Ok(collected) => collected,
            Err(refusal) => return (Response::error(refusal), Logged::default()),
        };
        let callback = match collected.params.callback.as_deref() {
            _ if collected.callback_unusable => Err(collected.error.unwrap_or(Refusal::InvalidCallback)),
            callback => callback.ok_or(Refusal::MissingCallback).and_then(JsonpCallback::parse),
        };
        let callback = match callback {
            Ok(callback) => callback,
            Err(refusal) => return (Response::error(refusal), Logged::default()),
        };
        let params = &collected.params;
        let credentials = Credentials { authorizer: req.authorizer, ..Default::default() };
        let (answer, logged) = match (collected.error, self.app(req)) {
            (Some(refusal), _) | (None, Err(refusal)) => (Err(refusal), Logged::default()),
            (None, Ok(app)) => self.authorize(route, app, params, credentials).await,
        };
        let response = match answer {
            Ok(json) => Response::jsonp(callback, &json),
            Err(refusal) => Response::jsonp_refusal(route, callback, params, collected.error.is_none(), refusal),
        };
        (response, logged)
    }

    /// AJAX: once the origin is known to be allowed, every answer (refusals
    /// too) carries the CORS headers, so the page can read the status.
    pub(super) async fn ajax(&self, route: Route, req: &Request<'_>) -> (Response, Logged) {
        let (app, origin) = match self.app(req).and_then(|app| Ok((app, allowed_origin(app, req)?))) {
            Ok(allowed) => allowed,
            Err(refusal) => return (Response::error(refusal), Logged::default()),
        };
        let form = Self::ajax_form(req);
        let credentials =
            Credentials { token: None, authorization: req.headers.authorization, authorizer: req.authorizer };
        let (answer, logged) = match form.as_deref().map_err(|r| *r).and_then(|text| self.form_params(text)) {
            Ok(params) => self.authorize(route, app, &params, credentials).await,
            Err(refusal) => (Err(refusal), Logged::default()),
        };
        (answer.map_or_else(Response::error, Response::json).cors(origin), logged)
    }

    /// The form text of an AJAX request: a form, decoded, within the size limit.
    fn ajax_form<'a>(req: &Request<'a>) -> Result<Cow<'a, str>, Refusal> {
        let is_form = |ct: &str| {
            ct.split(';').next().unwrap_or(ct).trim().eq_ignore_ascii_case("application/x-www-form-urlencoded")
        };
        if !req.headers.content_type.is_some_and(is_form) {
            return Err(Refusal::UnsupportedMediaType);
        }
        let text = match req.body {
            Body::None => Cow::Borrowed(""),
            Body::Text(text) => Cow::Borrowed(text),
            Body::Base64(encoded) => {
                if encoded.len() > MAX_INPUT_BYTES * 4 / 3 + 4 {
                    return Err(Refusal::PayloadTooLarge);
                }
                let bytes = base64::engine::general_purpose::STANDARD.decode(encoded);
                Cow::Owned(bytes.ok().and_then(|b| String::from_utf8(b).ok()).ok_or(Refusal::InvalidEncoding)?)
            }
        };
        if text.len() > MAX_INPUT_BYTES {
            return Err(Refusal::PayloadTooLarge);
        }
        Ok(text)
    }

    /// The parameters of a form; any problem refuses it.
    fn form_params<'t>(&self, text: &'t str) -> Result<AuthParams<'t>, Refusal> {
        let mut collector = ParamCollector::new(&self.token_param);
        collector.push_form(text);
        let collected = collector.finish();
        collected.error.map_or(Ok(collected.params), Err)
    }

    /// CORS preflight: allowed only from an allowed origin.
    pub(super) fn preflight(&self, req: &Request<'_>) -> Result<Response, Refusal> {
        let origin = allowed_origin(self.app(req)?, req)?.ok_or(Refusal::OriginNotAllowed)?;
        Ok(Response::no_content()
            .cors(Some(origin))
            .with_header("Access-Control-Allow-Methods", "POST, OPTIONS")
            .with_header("Access-Control-Allow-Headers", "Authorization, Content-Type")
            .with_header("Access-Control-Max-Age", "600"))
    }

    /// Reads the query; only an oversized one is refused outright.
    fn params_from_query<'a>(&self, query: Query<'a>) -> Result<Collected<'a>, Refusal> {
        let mut collector = ParamCollector::new(&self.token_param);
        match query {
            Query::Raw(raw) => {
                if raw.len() > MAX_INPUT_BYTES {
                    return Err(Refusal::PayloadTooLarge);
                }
                collector.push_form(raw);
            }
            Query::Decoded(pairs) => {
                let size: usize = pairs.iter().map(|(k, vs)| k.len() + vs.iter().map(|v| v.len()).sum::<usize>()).sum();
                if size > MAX_INPUT_BYTES {
                    return Err(Refusal::PayloadTooLarge);
                }
                // One pair per value, as a raw query string would give them, so a
                // parameter given twice is decided the same way from every event shape
                // (the first value is the one kept, the second refuses the request).
                for (key, values) in pairs {
                    for value in values.iter().map(|v| &**v).chain(values.is_empty().then_some("")) {
                        collector.push(Cow::Borrowed(key), Ok(Cow::Borrowed(value)));
                    }
                }
            }
        }
        Ok(collector.finish())
    }
}

/// The request's `Origin`, if it sent one, once `app` allows it.
fn allowed_origin<'r>(app: AppView<'_>, req: &Request<'r>) -> Result<Option<&'r str>, Refusal> {
    match req.headers.origin {
        Some(origin) if !app.origin_allowed(origin) => Err(Refusal::OriginNotAllowed),
        origin => Ok(origin),
    }
}
