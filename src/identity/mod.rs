//! Who is asking: the [`user::User`] model, the validators that produce it
//! (demo, JWT with its JWKS and verified-token cache, API Gateway authorizer)
//! and the identity written into answers ([`user_info`]).

pub mod authorizer;
pub mod jwks;
pub mod jwt;
pub mod ring_provider;
pub mod token_cache;
pub mod user;
pub mod user_info;
pub mod validators;
