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
//! The hidden `testing` module re-exports the few internals the fuzz targets and the integration
//! tests check directly; it is not an API.

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

/// What the fuzz targets and the integration tests check that the public API
/// cannot show: the input limits, the strict parameter decoder, and the fixed
/// script text of a JSONP denial. Re-exports only: nothing here is compiled
/// for them alone. Not an API: no stability promise.
#[doc(hidden)]
pub mod testing {
    pub use crate::endpoint::MAX_INPUT_BYTES;
    pub use crate::web::params::{decode_component, ParamCollector, MAX_PARAMS};
    pub use crate::web::response::{CHANNEL_DENIAL_HEAD, SIGNIN_DENIAL_HEAD};
}
