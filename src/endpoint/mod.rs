//! The endpoint itself, free of AWS: a decoded [`Request`] in, a [`Response`]
//! out, and one log line per request (here: routing and the log trace);
//! `transport` reads JSONP, AJAX and preflight requests and writes their
//! answers, `authorize` decides and signs.

use std::sync::Arc;
use std::time::Instant;

use crate::config::{App, AppView, ConfigError, Jwks, JwtOptions, SecretSource, Settings};
use crate::error::Refusal;
use crate::identity::jwks::{KeySource, RemoteJwks, REFETCH_INTERVAL};
use crate::identity::user_info::UserInfoClaims;
use crate::identity::validators::{AuthMode, JwtValidator};
use crate::membership::{Membership, MembershipStore};
use crate::policy::ChannelPolicy;
use crate::secrets::{SecretStore, Secrets};
use crate::support::metrics::{self, Metrics};
use crate::web::request::{Method, Request, Route};
use crate::web::response::Response;

mod api;
mod authorize;
mod transport;

pub use api::Decision;

/// Largest query string or body accepted, in bytes (tokens travel in the query).
pub const MAX_INPUT_BYTES: usize = 16 * 1024;

/// What a request's log line records beside its answer's own outcome.
#[derive(Debug, Default)]
struct Logged {
    /// The channel of a one-channel request, once its name is valid.
    channel: Option<String>,
    /// A batch's decisions, `<channel>:<reason>` separated by spaces (channel
    /// names hold neither); an invalid name is written `-`, never echoed.
    batch: Option<String>,
}

/// The error of `variable`, set where the AWS variables its store needs are not.
fn needs_aws(variable: &'static str) -> ConfigError {
    ConfigError::new(variable, "needs AWS_REGION, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (Lambda sets them)")
}

/// The endpoint: the plain settings it answers with and the long-lived
/// services built from them once per execution environment.
#[derive(Debug)]
pub struct Endpoint {
    /// The app key and allowed origins, which stage variables may override.
    app: App,
    /// The user validator `AUTH_MODE` selects (with the JWKS and verified-token caches).
    pub(crate) validator: AuthMode<JwtValidator>,
    /// The app secret, with the stored-secret cache and its store.
    secrets: Secrets,
    /// `CHANNEL_RULES`.
    policy: ChannelPolicy,
    /// `USER_INFO_CLAIMS`.
    user_info_claims: UserInfoClaims,
    /// `WATCHLIST_CLAIM`.
    watchlist_claim: Option<String>,
    /// `AUTH_TOKEN_PARAM`.
    token_param: String,
    /// The EMF metrics block in each request's log line, if on.
    metrics: Option<Metrics>,
    /// The membership table `?member` rules read, with its cache (see `authorize.rs`).
    membership: Membership,
}

impl Endpoint {
    /// The endpoint `settings` describe, without a secret store (tests,
    /// benches, `pusher-auth explain`): a `PUSHER_SECRET_ID` then refuses
    /// each request that needs a signature (`SecretIdWithoutAws`).
    pub fn new(settings: Settings) -> Self {
        Self::build(settings, None)
    }

    /// The endpoint `settings` describe, reading stored secrets from `store`
    /// (`main` passes the Secrets Manager client, `None` when the AWS
    /// variables are not set, which `PUSHER_SECRET_ID` refuses).
    pub fn with_store(settings: Settings, store: Option<Arc<dyn SecretStore>>) -> Result<Self, ConfigError> {
        if matches!(settings.secrets, SecretSource::Stored(_)) && store.is_none() {
            return Err(needs_aws("PUSHER_SECRET_ID"));
        }
        Ok(Self::build(settings, store))
    }

    /// The endpoint, reading the membership table of `?member` rules from
    /// `store` (`main` passes the DynamoDB client, `None` when the AWS
    /// variables are not set, which a `?member` rule refuses).
    pub fn with_membership_store(mut self, store: Option<Arc<dyn MembershipStore>>) -> Result<Self, ConfigError> {
        if self.policy.has_member_rules() && store.is_none() {
            return Err(needs_aws("MEMBERSHIP_TABLE"));
        }
        self.membership.store = store;
        Ok(self)
    }

    /// The composition root: every service, from the plain settings.
    fn build(settings: Settings, store: Option<Arc<dyn SecretStore>>) -> Self {
        let validator = match settings.auth {
            AuthMode::Demo => AuthMode::Demo,
            AuthMode::Authorizer { user_id_claim, audience } => AuthMode::Authorizer { user_id_claim, audience },
            AuthMode::Jwt(jwt) => {
                let JwtOptions { rules, secret, keys } = *jwt;
                let keys = match keys {
                    Jwks::None => KeySource::Inline(Default::default()),
                    Jwks::Inline(keys) => KeySource::Inline(keys),
                    Jwks::Url { url, ttl, max_stale } => {
                        if ttl.is_none() {
                            tracing::warn!(
                                variable = "JWT_JWKS_TTL_SECONDS",
                                "is 0: the JWKS is fetched once, so a key the provider withdraws keeps verifying for the life of this execution environment"
                            );
                        }
                        KeySource::Remote(Box::new(RemoteJwks::new(url, ttl, max_stale, REFETCH_INTERVAL)))
                    }
                };
                AuthMode::Jwt(Box::new(JwtValidator::new(rules, secret, keys)))
            }
        };
        Self {
            app: settings.app,
            validator,
            secrets: Secrets::new(settings.secrets, settings.secret_ttl, store),
            policy: settings.policy,
            user_info_claims: settings.user_info_claims,
            watchlist_claim: settings.watchlist_claim,
            token_param: settings.token_param,
            metrics: settings.metrics_namespace.as_deref().map(Metrics::new),
            membership: Membership::new(settings.membership, None),
        }
    }

    /// The app settings in force for `req`, its stage variables applied.
    fn app<'a>(&'a self, req: &Request<'a>) -> Result<AppView<'a>, Refusal> {
        self.app.resolve(matches!(self.validator, AuthMode::Demo), req.stage, req.stage_variables)
    }

    /// Answers one request and writes its log line: route, then the
    /// transport's reading, authorization and answer (`transport.rs`, which
    /// calls `authorize.rs`: user, decide, sign), then one log line from
    /// what came back.
    pub(crate) async fn handle(&self, req: &Request<'_>) -> Response {
        let started = Instant::now();
        let route = Route::of(req.path);
        let (response, logged) = match route {
            None => (Response::error(Refusal::NotFound), Logged::default()),
            Some(route) => self.route(route, req).await,
        };
        self.log(req, route, &response, &logged, started);
        response
    }

    /// The transport the method selects.
    async fn route(&self, route: Route, req: &Request<'_>) -> (Response, Logged) {
        match req.method {
            Method::Get => self.jsonp(route, req).await,
            Method::Post => self.ajax(route, req).await,
            Method::Options => (self.preflight(req).unwrap_or_else(Response::error), Logged::default()),
            Method::Other => {
                let response = Response::error(Refusal::MethodNotAllowed).with_header("Allow", "GET, POST, OPTIONS");
                (response, Logged::default())
            }
        }
    }

    /// The request's one log line (and EMF metrics, when on).
    fn log(&self, req: &Request<'_>, route: Option<Route>, response: &Response, logged: &Logged, started: Instant) {
        let transport = match (route, req.method) {
            (Some(_), Method::Get) => "jsonp",
            (Some(_), Method::Post) => "ajax",
            (Some(_), Method::Options) => "preflight",
            _ => "none",
        };
        // The outcome is the response's own (see `Response::refusal`).
        let refusal = response.refusal;
        let duration_us = started.elapsed().as_micros() as u64;
        // A dimension value only when it is a stage name (bounded, the operator's).
        let stage = req.stage.filter(|s| metrics::valid_stage_name(s));
        let emf = self.metrics.as_ref().map(|m| m.directive(stage.is_some()));
        tracing::info!(
            request_id = req.request_id,
            route = route.map_or("none", Route::as_str),
            transport,
            channel = logged.channel.as_deref(),
            batch = logged.batch.as_deref(),
            decision = if refusal.is_none() { "allowed" } else { "refused" },
            reason = refusal.map_or("ok", Refusal::log_reason),
            status = refusal.map_or(response.status, Refusal::status),
            stage,
            duration_us,
            _aws = emf,
            Requests = emf.map(|_| 1u64),
            Duration = emf.map(|_| duration_us),
        );
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_stored_secret_needs_a_store() {
        let vars = [("PUSHER_KEY", "key1"), ("PUSHER_SECRET_ID", "pusher/staging"), ("AUTH_MODE", "demo")];
        let settings = || {
            Settings::from_lookup(|name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())).unwrap()
        };
        let error = Endpoint::with_store(settings(), None).unwrap_err();
        assert_eq!(
            error.to_string(),
            "configuration error: PUSHER_SECRET_ID needs AWS_REGION, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (Lambda sets them)"
        );
        // Without a store, each request that needs the secret is refused instead.
        let refusal = Endpoint::new(settings()).secrets.get(None).await.unwrap_err();
        assert_eq!(refusal, Refusal::Misconfigured(crate::error::Misconfig::SecretIdWithoutAws));
    }
}
