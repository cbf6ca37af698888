//! Token header and claims: the fuzzer writes the header and claims JSON
//! (input: one selector byte, header bytes, 0xFF, claims bytes); the target
//! signs them with the HS256 test secret, so the fuzzer reaches past the
//! signature into the header checks, claim checks and identity JSON.
//! Oracles: the validator accepts only a JSON-object header naming HS256 and
//! no key material, with a string `sub` equal to the user id, a numeric
//! `exp` not in the past (30 s leeway) and no `aud`; the user's claims are
//! the claims sent; jsonwebtoken's `decode` with its usual settings accepts
//! every token the validator accepts;
//! through the whole endpoint (JSONP, HTTP API v2), a
//! refused token is never signed for, and every signature covers exactly
//! the `channel_data`/`user_data` returned.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pusher_auth_lambda::Credentials;
use serde_json::{json, Map, Value};

fn now() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64()
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    let (header, claims) = match rest.iter().position(|&b| b == 0xFF) {
        Some(at) => (&rest[..at], &rest[at + 1..]),
        None => (rest, &b"{}"[..]),
    };
    let token = fuzz_support::hs256_token(header, claims);
    let endpoint = fuzz_support::jwt_endpoint();
    let credentials = Credentials { token: Some(&token), ..Credentials::default() };
    let validated = fuzz_support::block_on(endpoint.user(credentials));
    if let Ok(user) = &validated {
        let header: Map<String, Value> = serde_json::from_slice(header).expect("an accepted header is a JSON object");
        assert_eq!(header.get("alg").and_then(Value::as_str), Some("HS256"));
        for named_key in ["jku", "x5u", "jwk", "x5c", "crit"] {
            assert!(!header.contains_key(named_key), "accepted a header with {named_key}");
        }
        let sent: Map<String, Value> = serde_json::from_slice(claims).expect("accepted claims are a JSON object");
        assert_eq!(sent.get("sub").and_then(Value::as_str), Some(user.id.as_str()));
        let exp = sent.get("exp").and_then(Value::as_f64).expect("accepted without a numeric exp");
        assert!(exp + 31.0 >= now(), "accepted an expired token (exp {exp})");
        if let Some(nbf) = sent.get("nbf").and_then(Value::as_f64) {
            assert!(nbf - 31.0 <= now(), "accepted a token not yet valid (nbf {nbf})");
        }
        assert!(!sent.contains_key("aud"), "accepted an audience while none is configured");
        assert_eq!(user.claims, sent);
        // Never more permissive than jsonwebtoken::decode (a leeway 2 s wider than the
        // validator's, so a second ticking between the two calls is no finding).
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
        validation.leeway = 32;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp"]);
        validation.validate_aud = false;
        let key = jsonwebtoken::DecodingKey::from_secret(fuzz_support::JWT_SECRET.as_bytes());
        if let Err(e) = jsonwebtoken::decode::<Map<String, Value>>(&token, &key, &validation) {
            panic!("accepted a token jsonwebtoken::decode refuses: {e:?}");
        }
    }
    // The whole endpoint, on the route and channel the selector picks.
    let org = validated.as_ref().ok().and_then(|u| u.claims.get("org").and_then(Value::as_str).map(String::from));
    let sub = validated.as_ref().ok().map(|u| u.id.clone()).unwrap_or_default();
    let (path, channel) = match selector % 4 {
        0 => ("/pusher/user-auth", None),
        1 => ("/pusher/auth", Some(format!("presence-org-{}-room", org.unwrap_or_default()))),
        2 => ("/pusher/auth", Some(format!("private-user-{sub}"))),
        _ => ("/pusher/auth", Some("private-encrypted-x".to_owned())),
    };
    let mut query = format!("callback=Pusher.auth_callbacks%5B%271%27%5D&socket_id=123.456&token={token}");
    if let Some(channel) = &channel {
        query.push_str("&channel_name=");
        query.push_str(&fuzz_support::encode_component(channel));
    }
    let event = json!({
        "version": "2.0",
        "rawPath": path,
        "rawQueryString": query,
        "headers": {"host": "example.com"},
        "requestContext": {"http": {"method": "GET", "path": path}, "requestId": "fuzz"},
        "isBase64Encoded": false,
    });
    let event = serde_json::to_vec(&event).unwrap();
    let answer = fuzz_support::check_event(endpoint, &event).expect("an HTTP event");
    let body = fuzz_support::check_jsonp(&answer.body, Some("Pusher.auth_callbacks['1']"));
    if validated.is_err() {
        assert!(body.get("auth").is_none(), "signed for a refused token: {body}");
    }
});
