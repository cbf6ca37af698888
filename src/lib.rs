//! `pusher-auth-lambda`: the authentication endpoint Pusher Channels needs for
//! private, presence and encrypted channels and for user authentication,
//! answering pusher-js over JSONP and AJAX from an AWS Lambda function.
//!
//! The core (names, params, signer, user, config, response, endpoint) knows
//! nothing of AWS; [`aws`] decodes API Gateway events into
//! [`web::request::Request`] and encodes [`web::response::Response`] back.

pub mod aws;
pub mod config;
pub mod endpoint;
pub mod error;
pub mod identity;
pub mod policy;
pub mod pusher;
pub mod secrets;
pub mod support;
pub mod web;
