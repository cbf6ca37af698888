//! `pusher-auth-lambda`: the authentication endpoint Pusher Channels needs for
//! private, presence and encrypted channels and for user authentication,
//! answering pusher-js over JSONP and AJAX from an AWS Lambda function.
//!
//! The source is layered, and imports run one way (`tests/it/layers.rs`
//! checks it):
//!
//! `aws → endpoint → {web, secrets, membership} → config → policy → {identity, pusher} → {error, support}`
//!
//! [`Settings`] (`config`) is plain data: the variables, read and checked.
//! The [`Endpoint`] is the one place the long-lived services are built from
//! it (the user validator with its JWKS and token caches, the secret cache
//! with its store, the metrics block), so `config` sits below `secrets`,
//! whose cache it configures, and above the plain types it parses into
//! (`identity`'s claim rules and auth mode, `policy`'s rules).
//!
//! The core knows nothing of AWS: `aws` decodes API Gateway events into the
//! transport-neutral request of `web`, hands it to the [`Endpoint`], and
//! encodes the answer back; the Secrets Manager client is a `SecretStore`
//! that `main` hands to [`Endpoint::with_store`].
//!
//! The public surface is what the bootstrap (`src/main.rs`) wires together, and the
//! questions its `explain` module asks without a request ([`Endpoint::user`],
//! [`Endpoint::decide`]).
//! `testing` (cargo feature `testing`) re-exports internals for the integration tests, benches and
//! fuzz targets only; it is not an API.

// With the `testing` feature (the tests, benches, fuzz targets and `clippy --all-targets`)
// `unreachable_pub` holds every `pub` item to being reachable through the API or `testing`;
// without it, what only `testing` re-exports is unreachable by design.
#![cfg_attr(not(feature = "testing"), allow(unreachable_pub))]

pub(crate) mod aws;
pub(crate) mod config;
pub(crate) mod endpoint;
pub(crate) mod error;
pub(crate) mod identity;
pub(crate) mod membership;
pub(crate) mod policy;
pub(crate) mod pusher;
pub(crate) mod secrets;
pub(crate) mod support;
pub(crate) mod web;

pub use aws::dynamodb::membership_store_from_lookup;
pub use aws::handler::{handle_bytes, run_lambda};
pub use aws::reply::Answer;
pub use aws::secrets_manager::store_from_lookup;
pub use config::{ConfigError, Settings};
pub use endpoint::{Decision, Endpoint};
// What the core's questions (`Endpoint::user`, `Endpoint::decide`) take and answer.
pub use error::Refusal;
pub use identity::jwt::ClaimRules;
pub use identity::user::User;
pub use identity::validators::Credentials;
pub use policy::Miss;
pub use pusher::names::ChannelName;
pub use support::logging;

/// Internals the integration tests, benches and fuzz targets drive directly
/// (cargo feature `testing`, which they turn on). Not an API: no stability promise.
#[cfg(feature = "testing")]
pub mod testing {
    pub use crate::aws::event::ApiEvent;
    pub use crate::aws::reply::{answer, PayloadFormat};
    pub use crate::endpoint::MAX_INPUT_BYTES;
    pub use crate::error::{AuthFailure, Misconfig, Outage, Refusal};
    pub use crate::identity::jwks::{KeySource, RemoteJwks};
    pub use crate::identity::token_cache::{Lookup, TokenCache};
    pub use crate::identity::user::User;
    pub use crate::identity::user_info::{presence_channel_data, UserInfoClaims};
    pub use crate::identity::validators::{Credentials, JwtValidator, UserValidator};
    pub use crate::policy::ChannelPolicy;
    pub use crate::pusher::names::{is_channel_char, ChannelKind, ChannelName, JsonpCallback, SocketId};
    pub use crate::pusher::signer::{AppSecret, MasterKey};
    pub use crate::web::params::{decode_component, ParamCollector, MAX_PARAMS};
    pub use crate::web::request::{Body, Method, Query};
    pub use crate::web::response::{escape_for_script, AuthBody, Response, CHANNEL_DENIAL_HEAD, SIGNIN_DENIAL_HEAD};

    /// Each rule's outcome as `pusher-auth explain` reports it: `None` for a
    /// rule of another kind of channel, else whether it matched.
    pub fn explained_rules(policy: &ChannelPolicy, user: &User, channel: ChannelName<'_>) -> Vec<Option<bool>> {
        policy.explain(user, &channel).into_iter().map(|(_, outcome)| outcome.map(|o| o.is_ok())).collect()
    }

    /// The validator `endpoint`'s settings select.
    pub fn validator(endpoint: &crate::Endpoint) -> &impl UserValidator {
        &endpoint.validator
    }

    /// Token verification, step by step.
    pub mod jwt {
        pub use crate::identity::jwt::{check_head, is_hmac, keys_from_jwks, pick_key, verify, ClaimRules};
    }
}
