//! The transports: JSONP (GET), AJAX (POST) and its CORS preflight, each
//! reading its parameters and writing its own answers and refusals.

use std::borrow::Cow;

use base64::Engine as _;

use crate::config::AppView;
use crate::error::Refusal;
use crate::identity::validators::Credentials;
use crate::pusher::names::{ChannelKind, ChannelName, JsonpCallback, SocketId};
use crate::web::params::{Collected, ParamCollector};
use crate::web::request::{Body, Query, Request, Route};
use crate::web::response::Response;

use super::authorize::Answer;
use super::{Endpoint, Trace, MAX_INPUT_BYTES};

impl Endpoint {
    pub(super) async fn jsonp(&self, route: Route, req: &Request<'_>, trace: &mut Trace) -> Response {
        let collected = match self.params_from_query(req.query) {
            Ok(collected) => collected,
            Err(refusal) => return Response::error(refusal),
        };
        // Until the callback is known to be sound, refusals are plain JSON.
        let callback = match collected.params.callback.as_deref().map(JsonpCallback::parse) {
            _ if collected.callback_unusable => Err(collected.error.unwrap_or(Refusal::InvalidCallback)),
            None => Err(Refusal::MissingCallback),
            Some(parsed) => parsed,
        };
        let callback = match callback {
            Ok(callback) => callback,
            Err(refusal) => return Response::error(refusal),
        };
        let params = &collected.params;
        let outcome = match (collected.error, self.app(req)) {
            (Some(refusal), _) | (None, Err(refusal)) => Err(refusal),
            (None, Ok(app)) => {
                let credentials =
                    Credentials { token: params.token.as_deref(), authorization: None, authorizer: req.authorizer };
                self.authorize(route, app, params, credentials, trace).await
            }
        };
        match outcome {
            Ok(Answer::One(body)) => Response::jsonp(callback, &body),
            Ok(Answer::Batch(json)) => Response::jsonp_json(callback, &json),
            Err(refusal) => {
                // Which denial depends on the route, on whether the request is one
                // pusher-js sends (read without error, one channel, not a batch)
                // with a socket id and channel name that pass validation (only then
                // are they written into the script, to reach that channel), and on
                // the channel prefix (README, "Answers to refusals"). A signin denial names
                // the socket id when it is valid (to tell that connection), never anything else.
                let presence = params.channel_name.as_deref().and_then(ChannelKind::of) == Some(ChannelKind::Presence);
                let target = match (params.socket_id.as_deref(), params.channel_name.as_deref()) {
                    (Some(socket_id), Some(channel)) if collected.error.is_none() && params.batch.is_empty() => {
                        SocketId::parse(socket_id).ok().zip(ChannelName::parse(channel).ok())
                    }
                    _ => None,
                };
                let signin_target = params.socket_id.as_deref().filter(|_| collected.error.is_none());
                match (route, target) {
                    (Route::UserAuth, _) => match signin_target.map(SocketId::parse) {
                        Some(Ok(socket_id)) => Response::jsonp_signin_denial(callback, socket_id, refusal),
                        _ => Response::jsonp_user_auth_denial(refusal),
                    },
                    (Route::ChannelAuth, Some((socket_id, channel))) => {
                        Response::jsonp_channel_denial(callback, socket_id, channel, refusal)
                    }
                    (Route::ChannelAuth, None) if presence => Response::jsonp_presence_denial(callback, refusal),
                    (Route::ChannelAuth, None) => Response::jsonp_denial(callback, refusal),
                }
            }
        }
    }

    /// AJAX: once the origin is known to be allowed, every answer (refusals
    /// too) carries the CORS headers, so the page can read the status.
    pub(super) async fn ajax(&self, route: Route, req: &Request<'_>, trace: &mut Trace) -> Response {
        let (app, allowed_origin) = match self.app(req) {
            Err(refusal) => return Response::error(refusal),
            Ok(app) => match req.headers.origin {
                Some(origin) if app.origin_allowed(origin) => (app, Some(origin)),
                Some(_) => return Response::error(Refusal::OriginNotAllowed),
                None => (app, None),
            },
        };
        let response = match self.ajax_signed(route, app, req, trace).await {
            Ok(Answer::One(body)) => Response::json(&body),
            Ok(Answer::Batch(json)) => Response::json_text(json),
            Err(refusal) => match refusal.bearer_challenge() {
                Some(challenge) => Response::error(refusal).with_header("WWW-Authenticate", challenge),
                None => Response::error(refusal),
            },
        };
        let response = response.with_header("Vary", "Origin");
        match allowed_origin {
            Some(origin) => response.with_header("Access-Control-Allow-Origin", origin.to_owned()),
            None => response,
        }
    }

    async fn ajax_signed(
        &self,
        route: Route,
        app: AppView<'_>,
        req: &Request<'_>,
        trace: &mut Trace,
    ) -> Result<Answer, Refusal> {
        let is_form = req.headers.content_type.is_some_and(|ct| {
            ct.split(';')
                .next()
                .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"))
        });
        if !is_form {
            return Err(Refusal::UnsupportedMediaType);
        }
        let decoded;
        let text = match req.body {
            Body::None => "",
            Body::Text(text) => text,
            Body::Base64(encoded) => {
                if encoded.len() > MAX_INPUT_BYTES * 4 / 3 + 4 {
                    return Err(Refusal::PayloadTooLarge);
                }
                let bytes =
                    base64::engine::general_purpose::STANDARD.decode(encoded).map_err(|_| Refusal::InvalidEncoding)?;
                decoded = String::from_utf8(bytes).map_err(|_| Refusal::InvalidEncoding)?;
                &decoded
            }
        };
        if text.len() > MAX_INPUT_BYTES {
            return Err(Refusal::PayloadTooLarge);
        }
        let mut collector = ParamCollector::new(&self.token_param);
        collector.push_form(text);
        let collected = collector.finish();
        if let Some(refusal) = collected.error {
            return Err(refusal);
        }
        let params = collected.params;
        let credentials = Credentials {
            token: params.token.as_deref(),
            authorization: req.headers.authorization,
            authorizer: req.authorizer,
        };
        self.authorize(route, app, &params, credentials, trace).await
    }

    pub(super) fn preflight(&self, req: &Request<'_>) -> Result<Response, Refusal> {
        let app = self.app(req)?;
        match req.headers.origin {
            Some(origin) if app.origin_allowed(origin) => Ok(Response::no_content()
                .with_header("Vary", "Origin")
                .with_header("Access-Control-Allow-Origin", origin.to_owned())
                .with_header("Access-Control-Allow-Methods", "POST, OPTIONS")
                .with_header("Access-Control-Allow-Headers", "Authorization, Content-Type")
                .with_header("Access-Control-Max-Age", "600")),
            _ => Err(Refusal::OriginNotAllowed),
        }
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
                    if values.is_empty() {
                        collector.push(Cow::Borrowed(&**key), Ok(Cow::Borrowed("")));
                    }
                    for value in values {
                        collector.push(Cow::Borrowed(&**key), Ok(Cow::Borrowed(&**value)));
                    }
                }
            }
        }
        Ok(collector.finish())
    }
}
