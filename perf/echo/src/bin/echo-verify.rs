//! The floor plus one signature check: `echo`, and before answering, one ring
//! verification of the JWT in the event's `token` query parameter with the key
//! of `ECHO_JWKS` its `kid` names (RS256 or ES256, the key parsed per token as
//! a JWKS key is). `perf/run-jwt-bench.sh` measures it beside `pusher-auth`
//! with the same events: the budget's limit for a token the cache has not
//! seen, taken in a process like ours rather than in a hot loop.
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use serde_json::Value;

fn b64(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(text).expect("base64url")
}

fn check(jwks: &Value, event: &Value) {
    let query = event["rawQueryString"].as_str().expect("rawQueryString");
    let token = query.split('&').find_map(|p| p.strip_prefix("token=")).expect("a token");
    let (message, sig) = token.rsplit_once('.').expect("a JWT");
    let header: Value = serde_json::from_slice(&b64(message.split('.').next().unwrap())).expect("a header");
    let key = jwks["keys"].as_array().unwrap().iter().find(|k| k["kid"] == header["kid"]).expect("its key");
    let ok =
        match header["alg"].as_str() {
            Some("RS256") => {
                RsaPublicKeyComponents { n: b64(key["n"].as_str().unwrap()), e: b64(key["e"].as_str().unwrap()) }
                    .verify(&signature::RSA_PKCS1_2048_8192_SHA256, message.as_bytes(), &b64(sig))
            }
            Some("ES256") => {
                let point = [vec![4], b64(key["x"].as_str().unwrap()), b64(key["y"].as_str().unwrap())].concat();
                UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point).verify(message.as_bytes(), &b64(sig))
            }
            other => panic!("alg {other:?}"),
        };
    ok.expect("a good signature");
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let jwks: &'static Value =
        Box::leak(Box::new(serde_json::from_str(&std::env::var("ECHO_JWKS").expect("ECHO_JWKS")).expect("JSON")));
    lambda_runtime::run(service_fn(move |e: LambdaEvent<Value>| async move {
        check(jwks, &e.payload);
        Ok::<_, Error>(e.payload)
    }))
    .await
}
