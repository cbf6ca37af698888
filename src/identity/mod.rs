//! Who is asking: the [`user::User`] model, the validators that produce it
//! (demo, JWT with its JWKS and verified-token cache, API Gateway authorizer)
//! and the identity written into answers ([`user_info`]).

pub(crate) mod authorizer;
pub(crate) mod jwks;
pub(crate) mod jwt;
pub(crate) mod ring_provider;
pub(crate) mod token_cache;
pub(crate) mod user;
pub(crate) mod user_info;
pub(crate) mod validators;

#[cfg(test)]
#[path = "../../tests/identity/mod.rs"]
mod tests;
