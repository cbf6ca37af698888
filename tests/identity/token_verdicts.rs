//! Every token of tests/fixtures/tokens.json (minted by PyJWT) has one
//! verdict here, checked through the `jwt` validator twice: the first time
//! through the full verification (ring), the second time through the
//! verified-token cache, which must give the same answer. Also: RSA keys ring
//! cannot use are left out of a JWKS with a warning, never accepted, never a
//! crash; a refused token is never cached; a JWKS rotation clears the cache.

use std::collections::BTreeSet;

use super::{token, tokens};
use crate::identity::jwks::KeySource;
use crate::identity::jwt::{keys_from_jwks, ClaimRules};
use crate::identity::validators::{Credentials, JwtValidator};
use crate::support::logging::captured::Captured;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::Value;

const WEAK: &str = include_str!("../fixtures/weak-rsa.json");

/// The verdict of each fixture token with the full configuration (RS256, ES256
/// and HS256; JWKS, secret, issuer and audience set): the user id, or the
/// refusal reason.
const VERDICTS: &[(&str, Result<&str, &str>)] = &[
    ("valid_rs256", Ok("user-1")),
    ("valid_es256", Ok("user-2")),
    ("valid_hs256", Ok("user-3")),
    ("valid_rs256_other_user", Ok("user-5")),
    ("audience_list_with_ours", Ok("user-6")),
    ("cognito_id_token", Ok("user-7")),
    ("cognito_access_token", Ok("user-8")),
    ("hs256_with_audience", Ok("user-9")),
    ("org_acme_corp", Ok("user-10")),
    ("org_a_sub_b_c", Ok("b-c")),
    ("org_a_b_sub_c", Ok("c")),
    // USER_ID_CLAIM is `sub` here: the username and watchlist claims play no part.
    ("cognito_username", Ok("0d6e2f4a-7b1c-4e5f-9a8b-3c2d1e0f9a8b")),
    ("username_with_control_character", Ok("user-1")),
    ("username_too_long", Ok("user-1")),
    ("with_watchlist", Ok("user-11")),
    ("watchlist_too_long", Ok("user-12")),
    ("watchlist_not_strings", Ok("user-13")),
    ("watchlist_bad_id", Ok("user-14")),
    ("watchlist_not_a_list", Ok("user-15")),
    ("valid_rs256_rotated_key", Err("token_unknown_key")),
    ("expired", Err("token_expired")),
    ("not_yet_valid", Err("token_not_yet_valid")),
    ("exp_as_string", Err("token_bad_claims")),
    ("nbf_as_string", Err("token_bad_claims")),
    ("no_exp", Err("token_bad_claims")),
    ("no_sub", Err("token_without_subject")),
    ("sub_too_long", Err("token_subject_too_long")),
    ("wrong_issuer", Err("token_wrong_issuer")),
    ("wrong_audience", Err("token_wrong_audience")),
    ("alg_none", Err("token_bad_header")),
    ("alg_not_allowed", Err("token_algorithm_not_allowed")),
    ("hs_rs_confusion", Err("token_bad_signature")),
    ("jku_header", Err("token_names_its_key")),
    ("x5u_header", Err("token_names_its_key")),
    ("jwk_header", Err("token_names_its_key")),
    ("bad_signature", Err("token_bad_signature")),
    ("malformed", Err("token_malformed")),
    ("too_large", Err("token_too_large")),
    ("hs256_wrong_secret", Err("token_bad_signature")),
    ("no_issuer", Err("token_without_issuer")),
    ("issuer_null", Err("token_without_issuer")),
    ("issuer_as_list", Err("token_wrong_issuer")),
    ("no_audience", Err("token_without_audience")),
    ("audience_null", Err("token_without_audience")),
    ("audience_list_without_ours", Err("token_wrong_audience")),
    ("audience_list_not_strings", Err("token_wrong_audience")),
    ("audience_number", Err("token_wrong_audience")),
    ("access_token_other_client", Err("token_without_audience")),
    ("access_token_without_client_id", Err("token_without_audience")),
    ("id_token_without_audience", Err("token_without_audience")),
    ("client_id_without_token_use", Err("token_without_audience")),
    ("token_use_refresh", Err("token_wrong_use")),
    ("token_use_not_a_string", Err("token_wrong_use")),
    ("crit_header", Err("token_critical_header")),
    ("crit_header_b64", Err("token_critical_header")),
    ("hs256_without_audience", Err("token_without_audience")),
];

fn rules(algorithms: Vec<Algorithm>, with_issuer_and_audience: bool) -> ClaimRules {
    let t = tokens();
    ClaimRules {
        algorithms,
        issuer: with_issuer_and_audience.then(|| t["issuer"].as_str().unwrap().to_owned()),
        audience: with_issuer_and_audience.then(|| t["audience"].as_str().unwrap().to_owned()),
        leeway: 30,
        user_id_claim: "sub".into(),
    }
}

fn validator(keys: KeySource) -> JwtValidator {
    let secret = DecodingKey::from_secret(tokens()["hs_secret"].as_str().unwrap().as_bytes());
    JwtValidator::new(rules(vec![Algorithm::RS256, Algorithm::ES256, Algorithm::HS256], true), Some(secret), keys)
}

fn inline(jwks: &Value) -> KeySource {
    KeySource::Inline(keys_from_jwks(&jwks.to_string()).unwrap().into())
}

fn check(v: &JwtValidator, token: &str) -> Result<String, String> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let credentials = Credentials { token: Some(token), ..Default::default() };
    rt.block_on(v.validate(credentials)).map(|u| u.id.clone()).map_err(|r| r.log_reason().to_owned())
}

#[test]
fn every_fixture_token_keeps_its_verdict_verified_and_cached() {
    let fixture_names: BTreeSet<String> = tokens()["tokens"].as_object().unwrap().keys().cloned().collect();
    let listed: BTreeSet<String> = VERDICTS.iter().map(|(n, _)| n.to_string()).collect();
    assert_eq!(listed.len(), VERDICTS.len(), "a token is listed twice");
    assert_eq!(fixture_names, listed, "every fixture token has exactly one verdict here");

    let v = validator(inline(&tokens()["jwks"]));
    let expected = |want: &Result<&str, &str>| want.map(String::from).map_err(String::from);
    for (name, want) in VERDICTS {
        assert_eq!(check(&v, &token(name)), expected(want), "{name}, first time (full verification)");
    }
    let valid = VERDICTS.iter().filter(|(_, w)| w.is_ok()).count();
    assert_eq!(v.cache.len(), valid, "exactly the accepted tokens are cached");
    for (name, want) in VERDICTS {
        assert_eq!(check(&v, &token(name)), expected(want), "{name}, second time (cache)");
    }
    assert_eq!(v.cache.len(), valid);
}

#[test]
fn hmac_only_verdicts() {
    let secret = DecodingKey::from_secret(tokens()["hs_secret"].as_str().unwrap().as_bytes());
    let v =
        JwtValidator::new(rules(vec![Algorithm::HS256], false), Some(secret), KeySource::Inline(Default::default()));
    for _ in 0..2 {
        assert_eq!(check(&v, &token("hs256_with_audience")), Err("token_unexpected_audience".into()));
        assert_eq!(check(&v, &token("hs256_without_audience")), Ok("user-9".into()));
        assert_eq!(check(&v, &token("valid_rs256")), Err("token_algorithm_not_allowed".into()));
    }
    assert_eq!(v.cache.len(), 1);
}

#[test]
fn a_refused_token_is_never_cached() {
    let v = validator(inline(&tokens()["jwks"]));
    for name in ["bad_signature", "expired", "wrong_audience", "hs256_wrong_secret", "valid_rs256_rotated_key"] {
        for _ in 0..3 {
            assert!(check(&v, &token(name)).is_err(), "{name}");
        }
    }
    assert!(v.cache.is_empty());
    // The valid token that `bad_signature` was cut from: its own signature only.
    assert_eq!(check(&v, &token("valid_rs256")), Ok("user-1".into()));
    assert_eq!(check(&v, &token("bad_signature")), Err("token_bad_signature".into()));
    assert_eq!(v.cache.len(), 1);
}

/// Collects the JSON log lines written while `f` runs on this thread.
fn logged<T>(f: impl FnOnce() -> T) -> (T, String) {
    let captured = Captured::default();
    let value = tracing::subscriber::with_default(captured.subscriber(tracing::Level::INFO), f);
    (value, captured.text())
}

#[test]
fn a_1024_bit_rsa_key_is_left_out_with_a_warning() {
    let weak: Value = serde_json::from_str(WEAK).unwrap();
    let weak_key = weak["jwks"]["keys"][0].clone();
    // Alone: no usable key (the configuration then fails the cold start, naming JWT_JWKS).
    let (keys, log) = logged(|| keys_from_jwks(&weak["jwks"].to_string()).unwrap());
    assert!(keys.is_empty());
    assert!(log.contains("JWKS RSA key left out") && log.contains("rsa-1024"), "{log}");
    assert!(log.contains("\"level\":\"WARN\""), "{log}");
    // Beside good keys: the good ones stay, tokens signed with the weak one are refused.
    let mut jwks = tokens()["jwks"].clone();
    jwks["keys"].as_array_mut().unwrap().push(weak_key);
    let (keys, _) = logged(|| keys_from_jwks(&jwks.to_string()).unwrap());
    assert_eq!(keys.len(), 2);
    let v = validator(KeySource::Inline(keys.into()));
    assert_eq!(check(&v, weak["token"].as_str().unwrap()), Err("token_unknown_key".into()));
    assert_eq!(check(&v, &token("valid_rs256")), Ok("user-1".into()));
    assert_eq!(check(&v, &token("valid_es256")), Ok("user-2".into()));
    // And through the configuration: a JWKS of only weak keys is a cold-start error.
    let vars = [
        ("PUSHER_KEY", "3e294278b9dd9a0ab486".to_owned()),
        ("PUSHER_SECRET", "5b31d8b6ca557775afc4".to_owned()),
        ("AUTH_MODE", "jwt".to_owned()),
        ("JWT_ALGORITHMS", "RS256".to_owned()),
        ("JWT_JWKS", weak["jwks"].to_string()),
        ("JWT_ISSUER", "https://issuer.example".to_owned()),
        ("JWT_AUDIENCE", "app".to_owned()),
    ];
    let lookup = |name: &str| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone());
    let error = crate::Settings::from_lookup(lookup).unwrap_err();
    assert_eq!(error.variable, "JWT_JWKS");
}
