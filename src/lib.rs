//! `pusher-auth-lambda`: the authentication endpoint Pusher Channels needs for
//! private, presence and encrypted channels and for user authentication,
//! answering pusher-js over JSONP and AJAX from an AWS Lambda function.
//!
//! The core (names, params, signer, user, config, response, endpoint) knows
//! nothing of AWS; [`aws`] decodes API Gateway events into
//! [`endpoint::Request`] and encodes [`response::Response`] back.

pub mod authorizer;
pub mod aws;
pub mod clock;
pub mod config;
pub mod endpoint;
pub mod error;
pub mod https;
pub mod json_text;
pub mod jwks;
pub mod jwt;
pub mod logging;
pub mod metrics;
pub mod names;
pub mod params;
pub mod policy;
pub mod response;
pub mod ring_provider;
pub mod secrets;
pub mod signer;
pub mod token_cache;
pub mod user;
