//! Warm path in process: raw event bytes in → response bytes out, through the
//! real decoder, endpoint (with its JSON log line formatted) and encoder.
//!
//! Run: `cargo bench --bench warm_path`. Prints the median time per event over
//! many batches for each fixture. Timing goals are reported, never asserted.

mod common;

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use pusher_auth_lambda::handle_bytes;
use pusher_auth_lambda::logging;
use pusher_auth_lambda::{Credentials, Endpoint, Settings};
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use sha2::Sha256;

/// The endpoint never waits in demo mode; poll its future to completion.
/// One invocation as the runtime makes it: the event's JSON in, the answer's bytes out.
fn invoke(endpoint: &Endpoint, event: &[u8]) -> Vec<u8> {
    serde_json::to_vec(&run(handle_bytes(endpoint, event, "bench")).expect("a signed answer")).unwrap()
}

fn run<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
}

fn median_ns(endpoint: &Endpoint, event: &[u8]) -> (f64, f64, f64) {
    // Many short batches: a burst of noise on this shared VM spoils a few
    // batches, not the median.
    median_ns_of(endpoint, event, 100, 3_001)
}

fn median_ns_of(endpoint: &Endpoint, event: &[u8], batch: usize, batches: usize) -> (f64, f64, f64) {
    #[allow(non_snake_case)]
    let (BATCH, BATCHES) = (batch, batches);
    // Warm up and check the answer is a 200 before timing anything.
    let out = String::from_utf8(invoke(endpoint, event)).unwrap();
    // A proxy response, or a mapping-template answer (the body as a JSON string); signed either way.
    assert!(out.starts_with("{\"statusCode\":200") || out.starts_with('"'), "{out}");
    assert!(out.contains("auth\\\":"), "not signed: {out}");
    for _ in 0..20 * BATCH {
        black_box(invoke(endpoint, black_box(event)));
    }
    let mut per_event: Vec<f64> = (0..BATCHES)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..BATCH {
                black_box(invoke(endpoint, black_box(event)));
            }
            start.elapsed().as_nanos() as f64 / BATCH as f64
        })
        .collect();
    per_event.sort_by(|a, b| a.total_cmp(b));
    (per_event[BATCHES / 2], per_event[BATCHES * 9 / 10], per_event[0])
}

fn main() {
    // The real log subscriber, writing to a sink: formatting is measured, the
    // write to stdout (a pipe on Lambda) is not.
    if std::env::var_os("NO_LOG").is_none() {
        tracing::subscriber::set_global_default(logging::subscriber(tracing::Level::INFO, std::io::sink)).unwrap();
    }
    let vectors: serde_json::Value =
        serde_json::from_str(include_str!("../tests/fixtures/pusher-auth-vectors.json")).unwrap();
    let app = &vectors["app"];
    let env = |name: &str| -> Option<String> {
        Some(match name {
            "PUSHER_KEY" => app["key"].as_str()?.into(),
            "PUSHER_SECRET" => app["secret"].as_str()?.into(),
            "PUSHER_ENCRYPTION_MASTER_KEY_BASE64" => app["encryption_master_key_base64"].as_str()?.into(),
            "ALLOWED_ORIGINS" => "https://app.example.com".into(),
            // The rest of the demo configuration (scripts/demo.env); the official vectors' app
            // above, so every answer can be checked against them.
            other => common::demo_env(other)?,
        })
    };
    let endpoint = Endpoint::new(Settings::from_lookup(env).unwrap());
    // Calibration: the guide's reference for this machine is ~0.3 µs for one
    // HMAC-SHA256 of a signature string; this machine's speed drifts, so the
    // same run prints it next to the figures.
    let secret = Hmac::<Sha256>::new_from_slice(b"5b31d8b6ca557775afc4").unwrap();
    let auth = |key: &str, message: &str| {
        let mut mac = secret.clone();
        mac.update(message.as_bytes());
        format!("{key}:{}", hex::encode(mac.finalize().into_bytes()))
    };
    let mut hmac_ns: Vec<f64> = (0..301)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..1000 {
                black_box(auth(
                    black_box("3e294278b9dd9a0ab486"),
                    black_box("932210922.248691558:private-BRUpnQat10DzJru6tPe8VEm5tpF1zaDh"),
                ));
            }
            start.elapsed().as_nanos() as f64 / 1000.0
        })
        .collect();
    hmac_ns.sort_by(|a, b| a.total_cmp(b));
    println!(
        "calibration: one HMAC-SHA256 auth string, median {:.3} µs, min {:.3} µs",
        hmac_ns[150] / 1000.0,
        hmac_ns[0] / 1000.0
    );
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/events/");
    println!(
        "{:<44} {:>7} {:>11} {:>8} {:>8}",
        "event (raw bytes → response bytes)", "bytes", "median µs", "p90 µs", "min µs"
    );
    for name in [
        "apigw-v2-jsonp-private",
        "function-url-jsonp-private",
        "apigw-v1-jsonp-private",
        "apigw-v2-jsonp-presence",
        "apigw-v2-jsonp-encrypted",
        "apigw-v2-ajax-private",
        "apigw-v1-ajax-private",
        "rest-mapping-jsonp-private",
    ] {
        let event = std::fs::read(format!("{dir}{name}.json")).unwrap();
        let (median, p90, min) = median_ns(&endpoint, &event);
        row(name, event.len(), (median, p90, min));
    }

    // The EMF metrics block (on by default, as above) against METRICS=off, back to
    // back and twice over, so the difference is not the VM's drift.
    let off_env = |name: &str| if name == "METRICS" { Some("off".into()) } else { env(name) };
    let metrics_off = Endpoint::new(Settings::from_lookup(off_env).unwrap());
    let event = std::fs::read(format!("{dir}apigw-v2-jsonp-private.json")).unwrap();
    for (label, endpoint) in [("on", &endpoint), ("off", &metrics_off), ("on", &endpoint), ("off", &metrics_off)] {
        let (median, p90, min) = median_ns(endpoint, &event);
        let name = format!("apigw-v2-jsonp-private, metrics {label}");
        row(&name, event.len(), (median, p90, min));
    }

    // AUTH_MODE=jwt: the same JSONP request carrying a real token (tests/fixtures/tokens.json,
    // minted by PyJWT; keys inline as JWT_JWKS, so no fetch). Fewer, shorter batches: a
    // signature verification costs far more than the rest of the path.
    let tokens: serde_json::Value = serde_json::from_str(include_str!("../tests/fixtures/tokens.json")).unwrap();
    let jwt_env = |name: &str| -> Option<String> {
        Some(match name {
            "AUTH_MODE" => "jwt".into(),
            "JWT_ALGORITHMS" => "RS256,ES256,HS256".into(),
            "JWT_JWKS" => tokens["jwks"].to_string(),
            "JWT_SECRET" => tokens["hs_secret"].as_str()?.into(),
            "JWT_ISSUER" => tokens["issuer"].as_str()?.into(),
            "JWT_AUDIENCE" => tokens["audience"].as_str()?.into(),
            other => return env(other),
        })
    };
    let jwt_endpoint = Endpoint::new(Settings::from_lookup(jwt_env).unwrap());
    let template = std::fs::read_to_string(format!("{dir}apigw-v2-jsonp-private.json")).unwrap();
    // The same token on every request: after the first, a verified-token cache hit.
    for token in ["valid_hs256", "valid_rs256", "valid_es256"] {
        let event =
            template.replace("token=demo-token", &format!("token={}", tokens["tokens"][token].as_str().unwrap()));
        assert_ne!(event, template);
        let (median, p90, min) = median_ns_of(&jwt_endpoint, event.as_bytes(), 100, 1001);
        let name = format!("apigw-v2-jsonp-private, jwt {}, cache hit", &token[6..]);
        row(&name, event.len(), (median, p90, min));
    }
    // A different HS256 token on every request (minted here): the whole path with a full verification.
    let hs_secret = tokens["hs_secret"].as_str().unwrap();
    let events: Vec<String> = (0..20_000)
        .map(|i| {
            let claims = serde_json::json!({"sub": format!("user-{i}"), "iss": tokens["issuer"], "aud": tokens["audience"], "exp": 4102444800u64});
            let token = hs256_token(hs_secret, &claims);
            template.replace("token=demo-token", &format!("token={token}"))
        })
        .collect();
    let mut next = 0;
    let (median, p90, min) = timed(200, 10, || {
        next = (next + 1) % events.len();
        black_box(invoke(&jwt_endpoint, black_box(events[next].as_bytes())));
    });
    let name = "apigw-v2-jsonp-private, jwt hs256, distinct";
    row(name, events[0].len(), (median, p90, min));

    // A token the verified-token cache has not seen, through `Endpoint::user` (header checks,
    // key choice, signature, claims, the cache's miss and insertion): what such a token costs
    // on top of the cache-hit rows above. HS256 with the fixture secret; ES256 with a key made
    // here (no private key of the fixtures is kept), so each call gets a new token.
    println!(
        "{:<44} {:>7} {:>11} {:>8} {:>8}",
        "a new token, Endpoint::user (ring)", "bytes", "median µs", "p90 µs", "min µs"
    );
    let (es_jwk, es_tokens) = es256_tokens(&tokens, 5_000);
    let mut jwks = tokens["jwks"].clone();
    jwks["keys"].as_array_mut().unwrap().push(es_jwk);
    let new_tokens_env = |name: &str| if name == "JWT_JWKS" { Some(jwks.to_string()) } else { jwt_env(name) };
    let fresh = Endpoint::new(Settings::from_lookup(new_tokens_env).unwrap());
    let hs_tokens: Vec<String> = (0..5_000)
        .map(|i| {
            let claims = serde_json::json!({"sub": format!("user-{i}"), "iss": tokens["issuer"], "aud": tokens["audience"], "exp": 4102444800u64});
            hs256_token(hs_secret, &claims)
        })
        .collect();
    for (name, minted) in [("hs256", &hs_tokens), ("es256", &es_tokens)] {
        let mut next = 0;
        // 4,100 calls (with the warm-up) of 5,000 tokens: none twice.
        let (median, p90, min) = timed(400, 10, || {
            let credentials = Credentials { token: Some(&minted[next % minted.len()]), ..Credentials::default() };
            next += 1;
            black_box(run(fresh.user(black_box(credentials))).unwrap());
        });
        row(&format!("verify {name}"), minted[0].len(), (median, p90, min));
    }
    // The bare signature check, ring alone with the key parsed once: the crypto floor a
    // token the cache has not seen cannot go under (the budget's "limit" adds it to the
    // echo floor).
    let b64 = |s: &str| base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, s).unwrap();
    let jwk = |kid: &str| tokens["jwks"]["keys"].as_array().unwrap().iter().find(|k| k["kid"] == kid).unwrap().clone();
    let rsa = jwk("rsa-1");
    let rsa = ring::signature::RsaPublicKeyComponents {
        n: b64(rsa["n"].as_str().unwrap()),
        e: b64(rsa["e"].as_str().unwrap()),
    };
    let ec = jwk("ec-1");
    let point = [vec![4u8], b64(ec["x"].as_str().unwrap()), b64(ec["y"].as_str().unwrap())].concat();
    let ec = ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_FIXED, point);
    for name in ["valid_rs256", "valid_es256"] {
        let token = tokens["tokens"][name].as_str().unwrap();
        let (message, signature) = token.rsplit_once('.').unwrap();
        let signature = b64(signature);
        let (median, p90, min) = timed(300, 10, || {
            let ok = if name.ends_with("rs256") {
                rsa.verify(&ring::signature::RSA_PKCS1_2048_8192_SHA256, black_box(message.as_bytes()), &signature)
            } else {
                ec.verify(black_box(message.as_bytes()), &signature)
            };
            assert!(ok.is_ok());
        });
        let label = format!("ring signature check alone, {}", &name[6..]);
        row(&label, token.len(), (median, p90, min));
    }
    // A verified-token cache hit through `Endpoint::user` (SHA-256 of the token, the lookup
    // under the mutex, the time checks), for the RS256 token.
    let token = tokens["tokens"]["valid_rs256"].as_str().unwrap();
    let credentials = Credentials { token: Some(token), ..Credentials::default() };
    run(jwt_endpoint.user(credentials)).unwrap();
    let (median, p90, min) = timed(1001, 100, || {
        black_box(run(jwt_endpoint.user(black_box(credentials))).unwrap());
    });
    let label = "token cache hit, Endpoint::user (rs256)";
    row(label, token.len(), (median, p90, min));
}

/// A JWT of `claims`, signed HS256 with `secret`.
fn hs256_token(secret: &str, claims: &serde_json::Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"JWT"}"#);
    let input = format!("{header}.{}", URL_SAFE_NO_PAD.encode(claims.to_string()));
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
}

/// An ES256 key made here, as a JWK, and `count` tokens it signed, each for another user
/// (the fixtures' issuer and audience).
fn es256_tokens(fixtures: &serde_json::Value, count: usize) -> (serde_json::Value, Vec<String>) {
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();
    let point = pair.public_key().as_ref();
    let (x, y) = (URL_SAFE_NO_PAD.encode(&point[1..33]), URL_SAFE_NO_PAD.encode(&point[33..]));
    let jwk = serde_json::json!({"kty": "EC", "crv": "P-256", "x": x, "y": y, "kid": "bench-es", "alg": "ES256", "use": "sig"});
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"ES256","typ":"JWT","kid":"bench-es"}"#);
    let tokens = (0..count)
        .map(|i| {
            let claims = serde_json::json!({"sub": format!("user-{i}"), "iss": fixtures["issuer"], "aud": fixtures["audience"], "exp": 4102444800u64});
            let input = format!("{header}.{}", URL_SAFE_NO_PAD.encode(claims.to_string()));
            let signature = pair.sign(&rng, input.as_bytes()).unwrap();
            format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()))
        })
        .collect();
    (jwk, tokens)
}

/// One line of the table: label, bytes, then median, p90 and minimum in µs (given in ns).
fn row(label: &str, bytes: usize, (median, p90, min): (f64, f64, f64)) {
    println!("{label:<44} {bytes:>7} {:>11.2} {:>8.2} {:>8.2}", median / 1000.0, p90 / 1000.0, min / 1000.0);
}

/// Median, p90 and minimum over `batches` batches of `batch` calls, in ns per call.
fn timed(batches: usize, batch: usize, mut f: impl FnMut()) -> (f64, f64, f64) {
    for _ in 0..batch * 10 {
        f();
    }
    let mut per_call: Vec<f64> = (0..batches)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..batch {
                f();
            }
            start.elapsed().as_nanos() as f64 / batch as f64
        })
        .collect();
    per_call.sort_by(|a, b| a.total_cmp(b));
    (per_call[batches / 2], per_call[batches * 9 / 10], per_call[0])
}
