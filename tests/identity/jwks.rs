//! A JWKS served by a small HTTP server on 127.0.0.1 started by the test:
//! lazy fetch, key rotation, the server down, the server slow, and hostile
//! documents (over the size cap, deeply nested, keys that flip on every call).

use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::jwks_server::Server;
use super::tokens;
use crate::identity::jwks::{RemoteJwks, DEFAULT_MAX_STALE, DEFAULT_TTL, REFETCH_INTERVAL};
use crate::identity::jwt::{check_head, ClaimRules};
use serde_json::Value;

fn rules() -> ClaimRules {
    let t = tokens();
    ClaimRules {
        algorithms: vec![jsonwebtoken::Algorithm::RS256, jsonwebtoken::Algorithm::ES256],
        issuer: t["issuer"].as_str().map(String::from),
        audience: t["audience"].as_str().map(String::from),
        leeway: 30,
        user_id_claim: "sub".into(),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// Validates a token from tokens.json against the remote JWKS.
fn check(remote: &RemoteJwks, name: &str) -> Result<String, String> {
    let token = tokens()["tokens"][name].as_str().unwrap().to_owned();
    let head = check_head(&token, &rules()).map_err(|r| r.log_reason().to_owned())?;
    let key = runtime().block_on(remote.key_for(&head)).map_err(|r| r.log_reason().to_owned())?;
    crate::identity::jwt::verify(&token, &head, &key.key, &rules(), jsonwebtoken::get_current_timestamp())
        .map(|v| v.user.id.clone())
        .map_err(|r| r.log_reason().to_owned())
}

#[test]
fn fetched_lazily_and_cached() {
    let server = Server::start(&tokens()["jwks"]);
    let remote = RemoteJwks::new(server.url.parse().unwrap(), Some(DEFAULT_TTL), DEFAULT_MAX_STALE, REFETCH_INTERVAL);
    assert_eq!(server.hits(), 0, "nothing is fetched before the first token");
    assert_eq!(check(&remote, "valid_rs256"), Ok("user-1".into()));
    assert_eq!(check(&remote, "valid_es256"), Ok("user-2".into()));
    assert_eq!(check(&remote, "valid_rs256"), Ok("user-1".into()));
    assert_eq!(server.hits(), 1);
    // Its Debug names the address and the lifetime, never a key.
    let shown = format!("{remote:?}");
    assert!(shown.starts_with("RemoteJwks") && shown.contains(&server.url) && shown.contains("ttl: "), "{shown}");
    assert!(!shown.contains("\"n\"") && !shown.contains("AQAB"), "{shown}");
}

#[test]
fn rotation_brings_a_new_kid_and_refetches_are_rate_limited() {
    let t = tokens();
    let server = Server::start(&t["jwks"]);
    // Default interval: an unknown kid within a minute of the last fetch is refused without a fetch.
    let remote = RemoteJwks::new(server.url.parse().unwrap(), Some(DEFAULT_TTL), DEFAULT_MAX_STALE, REFETCH_INTERVAL);
    assert_eq!(check(&remote, "valid_rs256"), Ok("user-1".into()));
    *server.body.lock().unwrap() = t["jwks_rotated"].to_string();
    assert_eq!(check(&remote, "valid_rs256_rotated_key"), Err("token_unknown_key".into()));
    assert_eq!(server.hits(), 1);
    // With the interval passed (zero here), the unknown kid triggers one fetch that finds it.
    let remote = RemoteJwks::new(server.url.parse().unwrap(), Some(DEFAULT_TTL), DEFAULT_MAX_STALE, Duration::ZERO);
    *server.body.lock().unwrap() = t["jwks"].to_string();
    assert_eq!(check(&remote, "valid_rs256"), Ok("user-1".into()));
    *server.body.lock().unwrap() = t["jwks_rotated"].to_string();
    assert_eq!(check(&remote, "valid_rs256_rotated_key"), Ok("user-4".into()));
    assert_eq!(server.hits(), 3);
}

#[test]
fn server_down_cached_keys_work_unknown_keys_fail_closed() {
    let server = Server::start(&tokens()["jwks"]);
    let remote = RemoteJwks::new(server.url.parse().unwrap(), Some(DEFAULT_TTL), DEFAULT_MAX_STALE, Duration::ZERO);
    assert_eq!(check(&remote, "valid_rs256"), Ok("user-1".into()));
    *server.up.lock().unwrap() = false;
    assert_eq!(check(&remote, "valid_rs256"), Ok("user-1".into()));
    assert_eq!(check(&remote, "valid_rs256_rotated_key"), Err("jwks_unavailable".into()));
    // Nothing listening at all.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let remote = RemoteJwks::new(
        format!("http://127.0.0.1:{closed}/jwks.json").parse().unwrap(),
        Some(DEFAULT_TTL),
        DEFAULT_MAX_STALE,
        REFETCH_INTERVAL,
    );
    assert_eq!(check(&remote, "valid_rs256"), Err("jwks_unavailable".into()));
}

#[test]
fn slow_server_gives_up_within_two_seconds() {
    let server = Server::start(&tokens()["jwks"]);
    let remote = RemoteJwks::new(server.url.parse().unwrap(), Some(DEFAULT_TTL), DEFAULT_MAX_STALE, Duration::ZERO);
    assert_eq!(check(&remote, "valid_rs256"), Ok("user-1".into()));
    *server.delay.lock().unwrap() = Duration::from_secs(5);
    let started = Instant::now();
    assert_eq!(check(&remote, "valid_rs256_rotated_key"), Err("jwks_unavailable".into()));
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(1900) && waited < Duration::from_millis(2600), "{waited:?}");
    assert_eq!(check(&remote, "valid_rs256"), Ok("user-1".into()), "cached keys still work");
}

#[test]
fn concurrent_requests_wait_for_the_fetch_in_flight() {
    // Concurrent mode: several requests reach the first token (or a rotated kid) together.
    // One fetch serves them all; none is refused because a fetch was "just made".
    let t = tokens();
    let server = Server::start(&t["jwks"]);
    *server.delay.lock().unwrap() = Duration::from_millis(300);
    let remote =
        Arc::new(RemoteJwks::new(server.url.parse().unwrap(), Some(DEFAULT_TTL), DEFAULT_MAX_STALE, REFETCH_INTERVAL));
    let names = ["valid_rs256", "valid_es256", "valid_rs256_other_user", "valid_rs256", "valid_es256", "valid_rs256"];
    let answers = runtime().block_on(async {
        let tasks: Vec<_> = names
            .iter()
            .map(|name| {
                let remote = remote.clone();
                let token = t["tokens"][*name].as_str().unwrap().to_owned();
                tokio::spawn(async move {
                    let head = check_head(&token, &rules()).unwrap();
                    remote.key_for(&head).await.map(|_| ()).map_err(|r| r.log_reason().to_owned())
                })
            })
            .collect();
        let mut answers = Vec::new();
        for task in tasks {
            answers.push(task.await.unwrap());
        }
        answers
    });
    assert!(answers.iter().all(Result::is_ok), "{answers:?}");
    assert_eq!(server.hits(), 1, "one fetch for all of them");
    // A rotated kid while the interval has not passed: still refused, still without a fetch.
    *server.body.lock().unwrap() = t["jwks_rotated"].to_string();
    assert_eq!(check(&remote, "valid_rs256_rotated_key"), Err("token_unknown_key".into()));
    assert_eq!(server.hits(), 1);
}

/// A `jwt` validator (with its verified-token cache) over `remote`.
fn validator(remote: RemoteJwks) -> crate::identity::validators::JwtValidator {
    use crate::identity::{jwks::KeySource, validators::JwtValidator};
    JwtValidator::new(rules(), None, KeySource::Remote(Box::new(remote)))
}

/// The `jwt` validator (with its verified-token cache) over the remote JWKS.
fn validate(v: &crate::identity::validators::JwtValidator, name: &str) -> Result<String, String> {
    use crate::identity::validators::Credentials;
    let token = tokens()["tokens"][name].as_str().unwrap().to_owned();
    let credentials = Credentials { token: Some(&token), ..Default::default() };
    runtime().block_on(v.validate(credentials)).map(|u| u.id.clone()).map_err(|r| r.log_reason().to_owned())
}

#[test]
fn a_key_rotation_clears_the_verified_token_cache() {
    let t = tokens();
    let server = Server::start(&t["jwks"]);
    let remote = RemoteJwks::new(server.url.parse().unwrap(), Some(DEFAULT_TTL), DEFAULT_MAX_STALE, Duration::ZERO);
    let v = validator(remote);
    assert_eq!(validate(&v, "valid_rs256"), Ok("user-1".into()));
    assert_eq!(validate(&v, "valid_es256"), Ok("user-2".into()));
    assert_eq!(validate(&v, "valid_rs256"), Ok("user-1".into()));
    assert_eq!((server.hits(), v.cache.len()), (1, 2), "the second valid_rs256 is a cache hit");
    // Rotation: rsa-1 is withdrawn, rsa-2 comes in. The first token naming rsa-2
    // makes the function fetch the new set, and every cached token goes with the old set.
    let mut rotated = t["jwks_rotated"].clone();
    rotated["keys"].as_array_mut().unwrap().retain(|k| k["kid"] != "rsa-1");
    *server.body.lock().unwrap() = rotated.to_string();
    assert_eq!(validate(&v, "valid_rs256_rotated_key"), Ok("user-4".into()));
    assert_eq!(server.hits(), 2);
    // A token signed with the withdrawn key is no longer accepted, though it was cached.
    assert_eq!(validate(&v, "valid_rs256"), Err("token_unknown_key".into()));
    // ec-1 stayed in the set: verified again in full, then cached again. (With a
    // zero refetch interval every unknown kid refetched, so the set changed again.)
    let fetches = server.hits();
    assert_eq!(validate(&v, "valid_es256"), Ok("user-2".into()));
    assert_eq!(validate(&v, "valid_rs256_rotated_key"), Ok("user-4".into()));
    assert_eq!(validate(&v, "valid_es256"), Ok("user-2".into()));
    assert_eq!((server.hits(), v.cache.len()), (fetches, 2), "both cached, no fetch");
}

#[test]
fn oversized_document_is_refused_and_cached_keys_stay() {
    let t = tokens();
    let server = Server::start(&t["jwks"]);
    let remote = RemoteJwks::new(server.url.parse().unwrap(), Some(DEFAULT_TTL), DEFAULT_MAX_STALE, Duration::ZERO);
    assert_eq!(check(&remote, "valid_rs256"), Ok("user-1".into()));
    // The rotated keys, padded past the 256 KiB cap.
    let mut huge = t["jwks_rotated"].clone();
    huge["padding"] = Value::from("x".repeat(300 * 1024));
    *server.body.lock().unwrap() = huge.to_string();
    assert_eq!(check(&remote, "valid_rs256_rotated_key"), Err("jwks_unavailable".into()));
    assert_eq!(check(&remote, "valid_rs256"), Ok("user-1".into()), "cached keys still work");
    // A large document under the cap (200 KiB) is read in full.
    let mut large = t["jwks_rotated"].clone();
    large["padding"] = Value::from("x".repeat(200 * 1024));
    *server.body.lock().unwrap() = large.to_string();
    assert_eq!(check(&remote, "valid_rs256_rotated_key"), Ok("user-4".into()));
    *server.body.lock().unwrap() = huge.to_string();
    // Nothing cached yet: refused, never partly read.
    let fresh = RemoteJwks::new(server.url.parse().unwrap(), Some(DEFAULT_TTL), DEFAULT_MAX_STALE, REFETCH_INTERVAL);
    assert_eq!(check(&fresh, "valid_rs256"), Err("jwks_unavailable".into()));
}

#[test]
fn deeply_nested_document_is_refused_without_exhausting_the_stack() {
    let server = Server::start(&tokens()["jwks"]);
    let depth = 100_000; // 200 KB, inside the size cap
    *server.body.lock().unwrap() = format!("{{\"keys\":[{}{}]}}", "[".repeat(depth), "]".repeat(depth));
    let remote = RemoteJwks::new(server.url.parse().unwrap(), Some(DEFAULT_TTL), DEFAULT_MAX_STALE, REFETCH_INTERVAL);
    assert_eq!(check(&remote, "valid_rs256"), Err("jwks_unavailable".into()));
    *server.body.lock().unwrap() = format!("{{\"keys\":[{}{}]}}", "{\"a\":".repeat(depth), "}".repeat(depth));
    let remote = RemoteJwks::new(server.url.parse().unwrap(), Some(DEFAULT_TTL), DEFAULT_MAX_STALE, REFETCH_INTERVAL);
    assert_eq!(check(&remote, "valid_rs256"), Err("jwks_unavailable".into()));
    assert_eq!(server.hits(), 2);
}

#[test]
fn keys_that_flip_on_every_call_cost_one_fetch_per_unknown_key() {
    let t = tokens();
    // Two disjoint key sets: `rsa-1` only, and `rsa-2` only.
    let only = |set: &Value, kid: &str| {
        let keys: Vec<Value> = set["keys"].as_array().unwrap().iter().filter(|k| k["kid"] == kid).cloned().collect();
        serde_json::json!({ "keys": keys })
    };
    let server = Server::start(&only(&t["jwks"], "rsa-1"));
    *server.alternate.lock().unwrap() = Some(only(&t["jwks_rotated"], "rsa-2").to_string());
    // Refetches allowed at once: each token whose key the last fetch lacked
    // costs exactly one fetch, and the answer is right.
    let remote = RemoteJwks::new(server.url.parse().unwrap(), Some(DEFAULT_TTL), DEFAULT_MAX_STALE, Duration::ZERO);
    assert_eq!(check(&remote, "valid_rs256"), Ok("user-1".into()));
    assert_eq!(check(&remote, "valid_rs256_rotated_key"), Ok("user-4".into()));
    assert_eq!(check(&remote, "valid_rs256"), Ok("user-1".into()));
    assert_eq!(check(&remote, "valid_rs256"), Ok("user-1".into()), "known keys need no fetch");
    assert_eq!(server.hits(), 3);
    // With the default interval the flipping server is asked once a minute at
    // most: the other key set is refused meanwhile.
    let before = server.hits();
    let remote = RemoteJwks::new(server.url.parse().unwrap(), Some(DEFAULT_TTL), DEFAULT_MAX_STALE, REFETCH_INTERVAL);
    let first = check(&remote, "valid_rs256");
    let second = check(&remote, "valid_rs256_rotated_key");
    assert!(first.is_ok() != second.is_ok(), "{first:?} {second:?}");
    for _ in 0..10 {
        let _ = check(&remote, "valid_rs256");
        let _ = check(&remote, "valid_rs256_rotated_key");
    }
    assert_eq!(server.hits(), before + 1);
}

/// The key set without the key `kid`.
fn without(set: &Value, kid: &str) -> Value {
    let mut set = set.clone();
    set["keys"].as_array_mut().unwrap().retain(|k| k["kid"] != kid);
    set
}

#[test]
fn a_withdrawn_key_stops_verifying_after_the_lifetime() {
    let t = tokens();
    let server = Server::start(&t["jwks"]);
    let remote =
        RemoteJwks::new(server.url.parse().unwrap(), Some(Duration::from_secs(1)), DEFAULT_MAX_STALE, REFETCH_INTERVAL);
    let v = validator(remote);
    assert_eq!(validate(&v, "valid_rs256"), Ok("user-1".into()));
    assert_eq!(validate(&v, "valid_es256"), Ok("user-2".into()));
    assert_eq!((server.hits(), v.cache.len()), (1, 2));
    // The provider withdraws rsa-1 (a leaked key) and adds nothing.
    *server.body.lock().unwrap() = without(&t["jwks"], "rsa-1").to_string();
    // Within the lifetime the set in force still holds it.
    assert_eq!(validate(&v, "valid_rs256"), Ok("user-1".into()));
    assert_eq!(server.hits(), 1);
    std::thread::sleep(Duration::from_millis(1100));
    // The first request past the lifetime fetches the set before it decides:
    // the cached token signed with rsa-1 is refused, and so is a fresh one.
    assert_eq!(validate(&v, "valid_rs256"), Err("token_unknown_key".into()));
    assert_eq!(server.hits(), 2);
    assert_eq!(validate(&v, "valid_rs256_other_user"), Err("token_unknown_key".into()));
    // ec-1 stayed: its cached token is still a hit (no fetch, no verification).
    assert_eq!(v.cache.len(), 1, "only the entry of the withdrawn key went");
    assert_eq!(validate(&v, "valid_es256"), Ok("user-2".into()));
}

#[test]
fn a_key_replaced_under_the_same_kid_is_followed_after_the_lifetime() {
    let t = tokens();
    // rsa-2's key published as rsa-1: tokens signed with the old rsa-1 must
    // stop verifying, and tokens signed with the new key under "rsa-1" start.
    let mut replaced = without(&t["jwks"], "rsa-1");
    let mut new_key =
        t["jwks_rotated"]["keys"].as_array().unwrap().iter().find(|k| k["kid"] == "rsa-2").unwrap().clone();
    new_key["kid"] = Value::from("rsa-1");
    replaced["keys"].as_array_mut().unwrap().push(new_key);
    let server = Server::start(&t["jwks"]);
    let remote =
        RemoteJwks::new(server.url.parse().unwrap(), Some(Duration::from_secs(1)), DEFAULT_MAX_STALE, REFETCH_INTERVAL);
    let v = validator(remote);
    assert_eq!(validate(&v, "valid_rs256"), Ok("user-1".into()));
    *server.body.lock().unwrap() = replaced.to_string();
    std::thread::sleep(Duration::from_millis(1100));
    // Signed with the old key under the same kid: the signature no longer verifies.
    assert_eq!(validate(&v, "valid_rs256"), Err("token_bad_signature".into()));
    assert_eq!(v.cache.len(), 0);
    assert_eq!(server.hits(), 2);
}

#[test]
fn a_random_kid_forces_a_fetch_but_flushes_nothing() {
    let t = tokens();
    let server = Server::start(&t["jwks"]);
    let remote = RemoteJwks::new(server.url.parse().unwrap(), Some(DEFAULT_TTL), DEFAULT_MAX_STALE, Duration::ZERO);
    let v = validator(remote);
    assert_eq!(validate(&v, "valid_rs256"), Ok("user-1".into()));
    assert_eq!(validate(&v, "valid_es256"), Ok("user-2".into()));
    // An unknown kid forces a fetch; the set did not change, so the cache keeps its entries.
    assert_eq!(validate(&v, "valid_rs256_rotated_key"), Err("token_unknown_key".into()));
    assert_eq!((server.hits(), v.cache.len()), (2, 2));
}

#[test]
fn a_refresh_that_fails_keeps_the_set_in_force() {
    let t = tokens();
    let server = Server::start(&t["jwks"]);
    let remote =
        RemoteJwks::new(server.url.parse().unwrap(), Some(Duration::from_secs(1)), DEFAULT_MAX_STALE, REFETCH_INTERVAL);
    let v = validator(remote);
    assert_eq!(validate(&v, "valid_rs256"), Ok("user-1".into()));
    // The endpoint goes down and the set outlives its lifetime: the cached set stays in use.
    *server.up.lock().unwrap() = false;
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(validate(&v, "valid_rs256"), Ok("user-1".into()));
    assert_eq!(validate(&v, "valid_rs256_other_user"), Ok("user-5".into()));
    assert_eq!(server.hits(), 2, "one attempt, then the set in force until the next try (one lifetime later)");
    // Back up: the next refresh brings the change.
    *server.up.lock().unwrap() = true;
    *server.body.lock().unwrap() = without(&t["jwks"], "rsa-1").to_string();
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(validate(&v, "valid_rs256"), Err("token_unknown_key".into()));
    assert_eq!(server.hits(), 3);
}

/// A JWKS server and a validator over it with a 1 s lifetime and a 2 s stale
/// limit, its set fetched (and `valid_rs256` cached) at the start.
fn stale_limited() -> (Server, crate::identity::validators::JwtValidator) {
    let server = Server::start(&tokens()["jwks"]);
    let remote = RemoteJwks::new(
        server.url.parse().unwrap(),
        Some(Duration::from_secs(1)),
        Duration::from_secs(2),
        REFETCH_INTERVAL,
    );
    let v = validator(remote);
    assert_eq!(validate(&v, "valid_rs256"), Ok("user-1".into()));
    (server, v)
}

/// During an outage the cached set stays in force for at most
/// `JWT_JWKS_MAX_STALE_SECONDS` after the fetch that brought it; then every
/// RSA/EC token is refused, a cached one too, until a fetch succeeds.
#[test]
fn a_set_no_fetch_confirms_is_dropped_after_the_stale_limit() {
    let (server, v) = stale_limited();
    *server.up.lock().unwrap() = false;
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(validate(&v, "valid_rs256"), Ok("user-1".into()), "within the limit the set stays in force");
    std::thread::sleep(Duration::from_millis(1000));
    assert_eq!(validate(&v, "valid_rs256"), Err("jwks_unavailable".into()), "the cached token too");
    assert_eq!(validate(&v, "valid_es256"), Err("jwks_unavailable".into()));
    *server.up.lock().unwrap() = true;
    assert_eq!(validate(&v, "valid_rs256"), Ok("user-1".into()), "the next successful fetch ends it");
}

/// A refresh that outlasts the stale limit (a JWKS that answers too slowly)
/// does not stretch it: the set is not used past the limit.
#[test]
fn a_slow_refresh_does_not_stretch_the_stale_limit() {
    let (server, v) = stale_limited();
    // From here every fetch times out (2 s): the refresh at 1.1 s ends past the 2 s limit.
    *server.delay.lock().unwrap() = Duration::from_secs(3);
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(validate(&v, "valid_rs256"), Err("jwks_unavailable".into()), "a cached token too");
    assert_eq!(validate(&v, "valid_rs256_other_user"), Err("jwks_unavailable".into()));
}

#[test]
fn a_zero_lifetime_fetches_once() {
    let t = tokens();
    let server = Server::start(&t["jwks"]);
    let remote = RemoteJwks::new(server.url.parse().unwrap(), None, DEFAULT_MAX_STALE, REFETCH_INTERVAL);
    let v = validator(remote);
    assert_eq!(validate(&v, "valid_rs256"), Ok("user-1".into()));
    *server.body.lock().unwrap() = without(&t["jwks"], "rsa-1").to_string();
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(validate(&v, "valid_rs256_other_user"), Ok("user-5".into()));
    assert_eq!(server.hits(), 1);
}

#[test]
fn an_unknown_kid_is_fetched_once_the_interval_has_passed() {
    let t = tokens();
    let server = Server::start(&t["jwks"]);
    let remote =
        RemoteJwks::new(server.url.parse().unwrap(), Some(DEFAULT_TTL), DEFAULT_MAX_STALE, Duration::from_millis(1500));
    let v = validator(remote);
    assert_eq!(validate(&v, "valid_rs256"), Ok("user-1".into()));
    *server.body.lock().unwrap() = t["jwks_rotated"].to_string();
    assert_eq!(
        validate(&v, "valid_rs256_rotated_key"),
        Err("token_unknown_key".into()),
        "too soon after the first fetch"
    );
    assert_eq!(server.hits(), 1);
    std::thread::sleep(Duration::from_millis(1600));
    assert_eq!(validate(&v, "valid_rs256_rotated_key"), Ok("user-4".into()));
    assert_eq!(server.hits(), 2);
}

/// A verified token is a cache hit while its key is in the set in force: the
/// lookup the validator makes with the set `current` gives finds it.
#[test]
fn a_token_verified_with_a_jwks_key_is_a_cache_hit() {
    use crate::identity::jwks::KeySource;
    let t = tokens();
    let server = Server::start(&t["jwks"]);
    let v =
        validator(RemoteJwks::new(server.url.parse().unwrap(), Some(DEFAULT_TTL), DEFAULT_MAX_STALE, REFETCH_INTERVAL));
    let rt = runtime();
    assert!(rt.block_on(v.keys.current()).is_none(), "nothing loaded before the first token");
    assert_eq!(validate(&v, "valid_rs256"), Ok("user-1".into()));
    let token = t["tokens"]["valid_rs256"].as_str().unwrap();
    let now = jsonwebtoken::get_current_timestamp();
    let keys = rt.block_on(v.keys.current()).expect("the set in force");
    assert_eq!(keys.len(), 2);
    assert!(matches!(
        v.cache.lookup(&crate::identity::token_cache::digest(token), now, &rules(), Some(&keys)),
        Ok(Some(_))
    ));
    // The same for keys given inline.
    let inline = crate::identity::jwt::keys_from_jwks(&t["jwks"].to_string()).unwrap();
    let v = crate::identity::validators::JwtValidator::new(rules(), None, KeySource::Inline(inline.into()));
    assert_eq!(validate(&v, "valid_es256"), Ok("user-2".into()));
    let keys = rt.block_on(v.keys.current()).expect("inline keys are always in force");
    assert_eq!(keys.len(), 2);
    let token = t["tokens"]["valid_es256"].as_str().unwrap();
    assert!(matches!(
        v.cache.lookup(&crate::identity::token_cache::digest(token), now, &rules(), Some(&keys)),
        Ok(Some(_))
    ));
}

/// An outage of the JWKS endpoint is logged once, however many refreshes fail,
/// and its end once.
#[test]
fn an_outage_is_logged_once() {
    use crate::support::logging::captured::Captured;
    let t = tokens();
    let server = Server::start(&t["jwks"]);
    let v = validator(RemoteJwks::new(
        server.url.parse().unwrap(),
        Some(Duration::from_millis(300)),
        DEFAULT_MAX_STALE,
        REFETCH_INTERVAL,
    ));
    let captured = Captured::default();
    tracing::subscriber::with_default(captured.subscriber(tracing::Level::INFO), || {
        assert_eq!(validate(&v, "valid_rs256"), Ok("user-1".into()));
        *server.up.lock().unwrap() = false;
        for _ in 0..3 {
            std::thread::sleep(Duration::from_millis(350));
            assert_eq!(validate(&v, "valid_rs256"), Ok("user-1".into()), "the cached set stays in force");
        }
        *server.up.lock().unwrap() = true;
        std::thread::sleep(Duration::from_millis(350));
        assert_eq!(validate(&v, "valid_rs256"), Ok("user-1".into()));
    });
    let log = captured.text();
    assert_eq!(server.hits(), 5, "{log}");
    assert_eq!(log.matches("JWKS fetch failed").count(), 1, "{log}");
    assert_eq!(log.matches("the endpoint answers again").count(), 1, "{log}");
    assert!(log.contains("\"JWKS fetched\""), "{log}");
}

/// `JWT_JWKS_TTL_SECONDS=0` (fetched once) is warned at cold start: a
/// withdrawn key then verifies for the environment's life.
/// `JWT_JWKS_MAX_STALE_SECONDS` is checked like the lifetime.
#[test]
fn a_zero_lifetime_is_warned_and_the_stale_limit_checked() {
    use crate::support::logging::captured::Captured;
    use crate::Settings;
    let vars = |ttl: &'static str, stale: &'static str| {
        let t = tokens();
        vec![
            ("PUSHER_KEY", "k".to_owned()),
            ("PUSHER_SECRET", "s".to_owned()),
            ("JWT_ALGORITHMS", "RS256".to_owned()),
            ("JWT_JWKS_URL", "https://idp.example.com/jwks.json".to_owned()),
            ("JWT_ISSUER", t["issuer"].as_str().unwrap().to_owned()),
            ("JWT_AUDIENCE", "app".to_owned()),
            ("CHANNEL_RULES", "private-*".to_owned()),
            ("JWT_JWKS_TTL_SECONDS", ttl.to_owned()),
            ("JWT_JWKS_MAX_STALE_SECONDS", stale.to_owned()),
        ]
    };
    let log = |ttl| {
        let captured = Captured::default();
        tracing::subscriber::with_default(captured.subscriber(tracing::Level::INFO), || {
            let v = vars(ttl, "");
            let lookup =
                |name: &str| v.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone()).filter(|v| !v.is_empty());
            crate::Endpoint::new(Settings::from_lookup(lookup).unwrap());
        });
        captured.text()
    };
    assert!(log("0").contains("JWT_JWKS_TTL_SECONDS"), "{}", log("0"));
    assert!(!log("300").contains("JWT_JWKS_TTL_SECONDS"));
    for bad in ["0", "-1", "86401", "1h"] {
        let v = vars("300", bad);
        let lookup = |name: &str| v.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone()).filter(|v| !v.is_empty());
        let error = Settings::from_lookup(lookup).unwrap_err();
        assert_eq!(error.variable, "JWT_JWKS_MAX_STALE_SECONDS", "{bad}");
    }
}

/// An unknown `kid` is logged cut to 64 characters: it is unverified input.
#[test]
fn an_unknown_kid_is_logged_capped() {
    use crate::identity::validators::Credentials;
    use crate::support::logging::captured::Captured;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let server = Server::start(&tokens()["jwks"]);
    let v =
        validator(RemoteJwks::new(server.url.parse().unwrap(), Some(DEFAULT_TTL), DEFAULT_MAX_STALE, REFETCH_INTERVAL));
    let kid = "k".repeat(2000);
    let token = format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"RS256","kid":"{kid}"}}"#)),
        URL_SAFE_NO_PAD.encode(r#"{"sub":"u"}"#),
        URL_SAFE_NO_PAD.encode([7u8; 256])
    );
    let captured = Captured::default();
    let refusal = tracing::subscriber::with_default(captured.subscriber(tracing::Level::INFO), || {
        let credentials = Credentials { token: Some(&token), ..Default::default() };
        runtime().block_on(v.validate(credentials)).unwrap_err()
    });
    let log = captured.text();
    assert_eq!(refusal.log_reason(), "token_unknown_key", "{log}");
    assert!(log.contains(&"k".repeat(64)) && !log.contains(&"k".repeat(65)), "{log}");
}
