//! Tests of the JWT validator's internals against real tokens (minted by PyJWT,
//! `tests/fixtures/tokens.json`) and a real JWKS server on 127.0.0.1: the
//! `identity` module's unit tests (`src/identity/mod.rs` includes this file),
//! kept in files of their own for their length.

#[path = "../it/helpers/jwks_server.rs"]
mod jwks_server;

#[path = "jwks.rs"]
mod jwks;
#[path = "token_verdicts.rs"]
mod token_verdicts;

use serde_json::Value;

/// `tests/fixtures/tokens.json` (minted by `tests/tools/mint_tokens.py`).
fn tokens() -> Value {
    serde_json::from_str(include_str!("../fixtures/tokens.json")).unwrap()
}

/// The fixture token `name`.
fn token(name: &str) -> String {
    tokens()["tokens"][name].as_str().unwrap_or_else(|| panic!("no token {name}")).to_owned()
}
