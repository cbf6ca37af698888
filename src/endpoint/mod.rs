//! The endpoint itself, free of AWS: a decoded [`Request`] in, a [`Response`]
//! out, and one log line per request.

use std::borrow::Cow;
use std::time::Instant;

use base64::Engine as _;

use crate::config::{AppView, Settings};
use crate::error::Refusal;
use crate::identity::user::User;
use crate::identity::user_info::{presence_channel_data, signin_user_data};
use crate::identity::validators::{Credentials, UserValidator};
use crate::pusher::names::{ChannelKind, ChannelName, JsonpCallback, SocketId};
use crate::secrets::AppSecrets;
use crate::support::json_text;
use crate::support::metrics;
use crate::web::params::{AuthParams, Collected, ParamCollector};
use crate::web::request::{Body, Method, Query, Request, Route};
use crate::web::response::{AuthBody, Response};

/// Largest query string or body accepted, in bytes (tokens travel in the query).
pub const MAX_INPUT_BYTES: usize = 16 * 1024;

/// What the log line records about a request.
#[derive(Debug, Default)]
struct Trace {
    route: Option<Route>,
    transport: &'static str,
    channel: Option<String>,
    /// A batch's decisions, `<channel>:<reason>` separated by spaces (channel
    /// names hold neither); an invalid name is written `-`, never echoed.
    batch: Option<String>,
    /// The status the outcome stands for (a JSONP denial is sent as 200).
    status: u16,
    reason: &'static str,
}

/// The endpoint: settings plus the user validator they select.
#[derive(Debug)]
pub struct Endpoint {
    settings: Settings,
}

impl Endpoint {
    /// An endpoint serving with these settings.
    pub fn new(settings: Settings) -> Self {
        Self { settings }
    }

    /// The settings in use.
    pub(crate) fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Answers one request and writes its log line.
    pub async fn handle(&self, req: &Request<'_>) -> Response {
        let started = Instant::now();
        let mut trace = Trace { transport: "none", ..Trace::default() };
        let response = self.answer(req, &mut trace).await;
        let decision = if trace.status == 200 || trace.status == 204 { "allowed" } else { "refused" };
        let duration_us = started.elapsed().as_micros() as u64;
        // A dimension value only when it is a stage name (bounded, the operator's).
        let stage = req.stage_variables.stage_name.as_deref().filter(|s| metrics::valid_stage_name(s));
        let emf = self.settings.metrics.as_ref().map(|m| m.directive(stage.is_some()));
        let (requests, duration) = if emf.is_some() { (Some(1u64), Some(duration_us)) } else { (None, None) };
        tracing::info!(
            request_id = req.request_id,
            route = trace.route.map_or("none", Route::as_str),
            transport = trace.transport,
            channel = trace.channel.as_deref(),
            batch = trace.batch.as_deref(),
            decision,
            reason = trace.reason,
            status = trace.status,
            stage,
            duration_us,
            _aws = emf,
            Requests = requests,
            Duration = duration,
        );
        response
    }

    async fn answer(&self, req: &Request<'_>, trace: &mut Trace) -> Response {
        let result = match Route::of(req.path) {
            None => Err(Refusal::NotFound),
            Some(route) => {
                trace.route = Some(route);
                match req.method {
                    Method::Get => {
                        trace.transport = "jsonp";
                        return self.jsonp(route, req, trace).await;
                    }
                    Method::Post => {
                        trace.transport = "ajax";
                        return self.ajax(route, req, trace).await;
                    }
                    Method::Options => {
                        trace.transport = "preflight";
                        self.preflight(req)
                    }
                    Method::Other => Err(Refusal::MethodNotAllowed),
                }
            }
        };
        match result {
            Ok(response) => {
                trace.status = response.status;
                trace.reason = "ok";
                response
            }
            Err(refusal) => {
                trace.status = refusal.status();
                trace.reason = refusal.log_reason();
                let response = Response::error(refusal);
                if refusal == Refusal::MethodNotAllowed {
                    response.with_header("Allow", "GET, POST, OPTIONS")
                } else {
                    response
                }
            }
        }
    }

    async fn jsonp(&self, route: Route, req: &Request<'_>, trace: &mut Trace) -> Response {
        let collected = match self.params_from_query(req.query) {
            Ok(collected) => collected,
            Err(refusal) => return refuse_plain(refusal, trace),
        };
        // Until the callback is known to be sound, refusals are plain JSON.
        let callback = match collected.params.callback.as_deref().map(JsonpCallback::parse) {
            _ if collected.callback_unusable => Err(collected.error.unwrap_or(Refusal::InvalidCallback)),
            None => Err(Refusal::MissingCallback),
            Some(parsed) => parsed,
        };
        let callback = match callback {
            Ok(callback) => callback,
            Err(refusal) => return refuse_plain(refusal, trace),
        };
        let params = &collected.params;
        let outcome = match (collected.error, self.settings.resolve(req.stage_variables)) {
            (Some(refusal), _) | (None, Err(refusal)) => Err(refusal),
            (None, Ok(app)) => {
                let credentials =
                    Credentials { token: params.token.as_deref(), authorization: None, authorizer: req.authorizer };
                self.authorize(route, app, params, credentials, trace).await
            }
        };
        match outcome {
            Ok(Answer::One(body)) => {
                trace.status = 200;
                trace.reason = "ok";
                Response::jsonp(callback, &body)
            }
            Ok(Answer::Batch(json)) => {
                trace.status = 200;
                trace.reason = "ok";
                Response::jsonp_json(callback, &json)
            }
            Err(refusal) => {
                trace.status = refusal.status();
                trace.reason = refusal.log_reason();
                // Which denial depends only on the route and the channel prefix
                // pusher-js asked for; the body is fixed text either way (README,
                // "Answers to refusals").
                let presence = params.channel_name.as_deref().is_some_and(|name| name.starts_with("presence-"));
                match route {
                    Route::UserAuth => Response::jsonp_user_auth_denial(refusal),
                    Route::ChannelAuth if presence => Response::jsonp_presence_denial(callback, refusal),
                    Route::ChannelAuth => Response::jsonp_denial(callback, refusal),
                }
            }
        }
    }

    /// AJAX: once the origin is known to be allowed, every answer (refusals
    /// too) carries the CORS headers, so the page can read the status.
    async fn ajax(&self, route: Route, req: &Request<'_>, trace: &mut Trace) -> Response {
        let (app, allowed_origin) = match self.settings.resolve(req.stage_variables) {
            Err(refusal) => return refuse_plain(refusal, trace),
            Ok(app) => match req.headers.origin {
                Some(origin) if app.origin_allowed(origin) => (app, Some(origin)),
                Some(_) => return refuse_plain(Refusal::OriginNotAllowed, trace),
                None => (app, None),
            },
        };
        let response = match self.ajax_signed(route, app, req, trace).await {
            Ok(Answer::One(body)) => {
                trace.status = 200;
                trace.reason = "ok";
                Response::json(&body)
            }
            Ok(Answer::Batch(json)) => {
                trace.status = 200;
                trace.reason = "ok";
                Response::json_text(json)
            }
            Err(refusal) => match refusal.bearer_challenge() {
                Some(challenge) => refuse_plain(refusal, trace).with_header("WWW-Authenticate", challenge),
                None => refuse_plain(refusal, trace),
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
        let mut collector = ParamCollector::new(&self.settings.token_param);
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

    fn preflight(&self, req: &Request<'_>) -> Result<Response, Refusal> {
        let app = self.settings.resolve(req.stage_variables)?;
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
        let mut collector = ParamCollector::new(&self.settings.token_param);
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
                for (key, values) in pairs {
                    let value = match values.as_slice() {
                        [value] => Ok(Cow::Borrowed(&**value)),
                        [] => Ok(Cow::Borrowed("")),
                        _ => Err(Refusal::DuplicateParameter),
                    };
                    collector.push(Cow::Borrowed(&**key), value);
                }
            }
        }
        Ok(collector.finish())
    }

    /// Validation, user and signing, shared by JSONP and AJAX.
    async fn authorize(
        &self,
        route: Route,
        app: AppView<'_>,
        params: &AuthParams<'_>,
        credentials: Credentials<'_>,
        trace: &mut Trace,
    ) -> Result<Answer, Refusal> {
        let socket_id = SocketId::parse(params.socket_id.as_deref().ok_or(Refusal::MissingSocketId)?)?;
        let secrets = &self.settings.secrets;
        match route {
            Route::ChannelAuth if !params.batch.is_empty() => {
                if params.channel_name.is_some() {
                    return Err(Refusal::DuplicateParameter);
                }
                self.authorize_batch(app, socket_id, &params.batch, credentials, trace).await.map(Answer::Batch)
            }
            Route::ChannelAuth => {
                let channel = ChannelName::parse(params.channel_name.as_deref().ok_or(Refusal::MissingChannelName)?)?;
                trace.channel = Some(channel.as_str().to_owned());
                // Known before any user check when the secret is fixed.
                if channel.kind() == ChannelKind::Encrypted
                    && secrets.fixed_secrets().is_some_and(|s| s.master_key.is_none())
                    && app.secret_id.is_none()
                {
                    return Err(Refusal::EncryptionNotConfigured);
                }
                let user = self.settings.validator.validate(credentials).await?;
                if !self.settings.policy.allows(&user, channel) {
                    return Err(Refusal::Forbidden);
                }
                let keys = secrets.get(app.secret_id).await?;
                self.sign_channel(app, socket_id, channel, &user, &keys).map(Answer::One)
            }
            Route::UserAuth => {
                let user = self.settings.validator.validate(credentials).await?;
                let user_data =
                    signin_user_data(&user, &self.settings.user_info_claims, self.settings.watchlist_claim.as_deref())?;
                let keys = secrets.get(app.secret_id).await?;
                Ok(Answer::One(AuthBody {
                    auth: keys.secret.user_auth(app.key, socket_id, &user_data),
                    user_data: Some(user_data),
                    ..AuthBody::default()
                }))
            }
        }
    }

    /// Signs one channel the policy allowed.
    fn sign_channel(
        &self,
        app: AppView<'_>,
        socket_id: SocketId<'_>,
        channel: ChannelName<'_>,
        user: &User,
        keys: &AppSecrets,
    ) -> Result<AuthBody, Refusal> {
        let secret = &keys.secret;
        Ok(match channel.kind() {
            ChannelKind::Private => {
                AuthBody { auth: secret.channel_auth(app.key, socket_id, channel), ..AuthBody::default() }
            }
            ChannelKind::Encrypted => {
                let master_key = keys.master_key.as_ref().ok_or(Refusal::EncryptionNotConfigured)?;
                AuthBody {
                    auth: secret.channel_auth(app.key, socket_id, channel),
                    shared_secret: Some(master_key.shared_secret(channel)),
                    ..AuthBody::default()
                }
            }
            ChannelKind::Presence => {
                let channel_data = presence_channel_data(user, &self.settings.user_info_claims)?;
                AuthBody {
                    auth: secret.presence_auth(app.key, socket_id, channel, &channel_data),
                    channel_data: Some(channel_data),
                    ..AuthBody::default()
                }
            }
        })
    }

    /// A batch (the pusher-js-auth format): one user check for the batch,
    /// then each channel validated, policy-checked and signed on its own, so
    /// one refused channel refuses only itself. The answer is one JSON object
    /// keyed by channel name: `{"status":200,"data":{…}}` or
    /// `{"status":<refusal status>}`. A name that is not a valid channel name
    /// is left out of the answer (it is never echoed) and logged as `-`.
    /// Only a failure of the whole batch (socket id, user, secret) refuses it.
    async fn authorize_batch(
        &self,
        app: AppView<'_>,
        socket_id: SocketId<'_>,
        batch: &[(u8, Cow<'_, str>)],
        credentials: Credentials<'_>,
        trace: &mut Trace,
    ) -> Result<String, Refusal> {
        let user = self.settings.validator.validate(credentials).await?;
        let mut order: Vec<&(u8, Cow<'_, str>)> = batch.iter().collect();
        order.sort_by_key(|(index, _)| *index);
        let mut keys = None;
        let mut json = String::with_capacity(64 + 160 * batch.len());
        let mut log = String::with_capacity(48 * batch.len());
        json.push('{');
        let mut answered: Vec<&str> = Vec::with_capacity(batch.len());
        for (_, name) in order {
            if !log.is_empty() {
                log.push(' ');
            }
            let channel = match ChannelName::parse(name) {
                Ok(channel) => channel,
                Err(refusal) => {
                    log.push_str("-:");
                    log.push_str(refusal.log_reason());
                    continue;
                }
            };
            log.push_str(channel.as_str());
            log.push(':');
            if answered.contains(&channel.as_str()) {
                log.push_str("repeated");
                continue;
            }
            answered.push(channel.as_str());
            let signed = if self.settings.policy.allows(&user, channel) {
                if keys.is_none() {
                    keys = Some(self.settings.secrets.get(app.secret_id).await?);
                }
                let keys = keys.as_deref().unwrap_or_else(|| unreachable!("fetched above"));
                self.sign_channel(app, socket_id, channel, &user, keys)
            } else {
                Err(Refusal::Forbidden)
            };
            if json.len() > 1 {
                json.push(',');
            }
            json_text::push_string(&mut json, channel.as_str());
            match signed {
                Ok(body) => {
                    log.push_str("ok");
                    json.push_str(":{\"status\":200,\"data\":");
                    json.push_str(&body.to_json());
                    json.push('}');
                }
                Err(refusal) => {
                    log.push_str(refusal.log_reason());
                    json.push_str(":{\"status\":");
                    json.push_str(itoa::Buffer::new().format(refusal.status()));
                    json.push('}');
                }
            }
        }
        json.push('}');
        trace.batch = Some(log);
        Ok(json)
    }
}

/// What an authorization produced: one answer, or a batch's JSON object.
enum Answer {
    One(AuthBody),
    Batch(String),
}

fn refuse_plain(refusal: Refusal, trace: &mut Trace) -> Response {
    trace.status = refusal.status();
    trace.reason = refusal.log_reason();
    Response::error(refusal)
}
