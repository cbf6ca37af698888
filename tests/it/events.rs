//! Real API Gateway events (tests/fixtures/events, see its README) through the
//! real handler: status, headers and body byte for byte, and one test per
//! rejection rule. Expected signatures come from the official vectors or from
//! an HMAC computed here, never from the crate's own signer.

use crate::helpers::{channel_denial, fixture, fixture_bytes, hmac_hex, vectors};
use pusher_auth_lambda::handle_bytes;
use pusher_auth_lambda::testing::decode_component;
use pusher_auth_lambda::Endpoint;
use serde_json::Value;

const JS: &str = r#"{"Content-Type":"application/javascript; charset=utf-8","X-Content-Type-Options":"nosniff","Cache-Control":"no-store, private"}"#;
const JSON: &str = r#"{"Content-Type":"application/json; charset=utf-8","X-Content-Type-Options":"nosniff","Cache-Control":"no-store, private"}"#;
const CORS_JSON: &str = r#"{"Content-Type":"application/json; charset=utf-8","X-Content-Type-Options":"nosniff","Cache-Control":"no-store, private","Vary":"Origin","Access-Control-Allow-Origin":"https://app.example.com"}"#;
const DEMO_USER: &str = r#"{"user_id":"demo-user","user_info":{"name":"Demo User"}}"#;
const DEMO_SIGNIN: &str = r#"{"id":"demo-user","user_info":{"name":"Demo User"}}"#;

/// The first vector case of a kind.
fn case(kind: &str) -> Value {
    vectors()["cases"].as_array().unwrap().iter().find(|c| c["kind"] == kind).unwrap().clone()
}

fn auth_of(kind: &str) -> String {
    case(kind)["expect"]["auth"].as_str().unwrap().to_owned()
}

fn app(name: &str) -> String {
    vectors()["app"][name].as_str().unwrap().to_owned()
}

fn endpoint_with(extra: &[(&str, &str)]) -> Endpoint {
    let vars: Vec<(String, String)> = [
        ("PUSHER_KEY", app("key")),
        ("PUSHER_SECRET", app("secret")),
        ("PUSHER_ENCRYPTION_MASTER_KEY_BASE64", app("encryption_master_key_base64")),
        ("ALLOWED_ORIGINS", "https://app.example.com".to_owned()),
        ("AUTH_MODE", "demo".to_owned()),
        ("CHANNEL_RULES", "private-* presence-* private-encrypted-*".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .chain(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    .collect();
    crate::helpers::endpoint_from(&vars)
}

fn endpoint() -> Endpoint {
    endpoint_with(&[])
}

/// Runs the handler on raw bytes, capturing the log; returns (response, log).
fn run_logged(endpoint: &Endpoint, event: &[u8]) -> (String, String) {
    let (out, log) = crate::helpers::handle_logged(endpoint, event, tracing::Level::TRACE);
    (out.expect("a proxy answer"), log)
}

fn run(endpoint: &Endpoint, event: &[u8]) -> String {
    run_logged(endpoint, event).0
}

/// `apigw-v1` for REST events, anything else for 2.0 ones (see [`assert_answer`]).
fn event_name(event: &Value) -> String {
    if event["version"] == "2.0" {
        "v2".into()
    } else {
        "apigw-v1".into()
    }
}

fn run_value(endpoint: &Endpoint, event: &Value) -> String {
    run(endpoint, &serde_json::to_vec(event).unwrap())
}

fn proxy(status: u16, headers: &str, body: &str) -> String {
    format!(
        r#"{{"statusCode":{status},"headers":{headers},"body":{},"isBase64Encoded":false}}"#,
        serde_json::to_string(body).unwrap()
    )
}

/// Compares an answer with the 1.0 form, or for 2.0 events with the 1.0 form
/// plus the `"cookies":[]` the 2.0 format carries.
#[track_caller]
fn assert_answer(name: &str, got: &str, expected_v1: &str) {
    if name.starts_with("apigw-v1") {
        assert_eq!(got, expected_v1, "{name}");
    } else {
        let v2 = format!("{},\"cookies\":[]}}", &expected_v1[..expected_v1.len() - 1]);
        assert_eq!(got, v2, "{name}");
    }
}

fn script(json: &str) -> String {
    format!("/**/typeof Pusher.auth_callbacks['1'] === 'function' && Pusher.auth_callbacks['1']({json});")
}

fn jsonp_ok(json: &str) -> String {
    proxy(200, JS, &script(json))
}

fn jsonp_denial(code: &str, status: u16) -> String {
    proxy(200, JS, &script(&format!(r#"{{"error":"{code}","status":{status}}}"#)))
}

/// A query parameter of a JSONP event, decoded: REST proxy
/// (`queryStringParameters`), mapping template (`params.querystring`) or HTTP
/// API (`rawQueryString`).
fn query_param(event: &Value, name: &str) -> String {
    let decoded = [&event["queryStringParameters"][name], &event["params"]["querystring"][name]];
    if let Some(value) = decoded.into_iter().find_map(Value::as_str) {
        return value.to_owned();
    }
    let raw = event["rawQueryString"].as_str().unwrap();
    let value = raw.split('&').find_map(|pair| pair.strip_prefix(name).and_then(|v| v.strip_prefix('=')));
    decode_component(value.unwrap()).unwrap().into_owned()
}

/// The JSONP denial of the one channel `event` asks for (README, "Answers to
/// refusals"), as its script body: it reaches that channel on that socket.
fn channel_denial_script(event: &Value, error: &str) -> String {
    channel_denial(&query_param(event, "socket_id"), &query_param(event, "channel_name"), "1", error)
}

/// [`channel_denial_script`] as the proxy answer.
fn jsonp_channel_denial(event: &Value, code: &str, status: u16) -> String {
    proxy(200, JS, &channel_denial_script(event, &format!(r#"{{"error":"{code}","status":{status}}}"#)))
}

fn plain_error(code: &str, status: u16) -> String {
    proxy(status, JSON, &format!(r#"{{"error":"{code}","status":{status}}}"#))
}

/// An AJAX refusal to an allowed origin: with the CORS headers, so the page can read it.
fn cors_error(code: &str, status: u16) -> String {
    proxy(status, CORS_JSON, &format!(r#"{{"error":"{code}","status":{status}}}"#))
}

/// The JSONP body escapes `<`, `>`, `&`, U+2028 and U+2029 inside strings.
fn script_escape(json: &str) -> String {
    json.replace('<', "\\u003c").replace('>', "\\u003e").replace('&', "\\u0026")
}

#[test]
fn jsonp_private_in_every_event_shape() {
    let expected = jsonp_ok(&format!(r#"{{"auth":"{}"}}"#, auth_of("private")));
    for name in [
        "apigw-v1-jsonp-private",
        "apigw-v2-jsonp-private",
        "apigw-v2-jsonp-staging-prefix",
        "apigw-v2-jsonp-private-literal-quote",
        "function-url-jsonp-private",
        "cargo-lambda-watch-jsonp-private",
    ] {
        assert_answer(name, &run(&endpoint(), &fixture_bytes(name)), &expected);
    }
}

#[test]
fn jsonp_encrypted_in_v1_and_v2() {
    let c = case("encrypted");
    let json = format!(
        r#"{{"auth":"{}","shared_secret":"{}"}}"#,
        c["expect"]["auth"].as_str().unwrap(),
        c["expect"]["shared_secret"].as_str().unwrap()
    );
    for name in ["apigw-v1-jsonp-encrypted", "apigw-v2-jsonp-encrypted"] {
        assert_answer(name, &run(&endpoint(), &fixture_bytes(name)), &jsonp_ok(&json));
    }
}

#[test]
fn jsonp_presence_signs_the_validated_user_not_client_params() {
    let c = case("presence");
    let message = format!("{}:{}:{}", c["socket_id"].as_str().unwrap(), c["channel_name"].as_str().unwrap(), DEMO_USER);
    let auth = format!("{}:{}", app("key"), hmac_hex(&app("secret"), &message));
    let json = serde_json::to_string(&serde_json::json!({"auth": auth, "channel_data": DEMO_USER})).unwrap();
    for name in ["apigw-v1-jsonp-presence", "apigw-v2-jsonp-presence"] {
        assert_answer(name, &run(&endpoint(), &fixture_bytes(name)), &jsonp_ok(&script_escape(&json)));
    }
    // A client-sent user_id / user_info changes nothing.
    let mut event = fixture("apigw-v2-jsonp-presence");
    let raw = event["rawQueryString"].as_str().unwrap().to_owned();
    event["rawQueryString"] = Value::from(format!("{raw}&user_id=admin&user_info=%7B%22name%22%3A%22x%22%7D"));
    assert_answer(&event_name(&event), &run_value(&endpoint(), &event), &jsonp_ok(&script_escape(&json)));
}

#[test]
fn jsonp_user_authentication() {
    let socket = case("signin")["socket_id"].as_str().unwrap().to_owned();
    let auth = format!("{}:{}", app("key"), hmac_hex(&app("secret"), &format!("{socket}::user::{DEMO_SIGNIN}")));
    let json = serde_json::to_string(&serde_json::json!({"auth": auth, "user_data": DEMO_SIGNIN})).unwrap();
    assert_answer(
        "apigw-v1-jsonp-user-auth",
        &run(&endpoint(), &fixture_bytes("apigw-v1-jsonp-user-auth")),
        &jsonp_ok(&json),
    );
}

#[test]
fn ajax_private_from_an_allowed_origin() {
    let expected = proxy(200, CORS_JSON, &format!(r#"{{"auth":"{}"}}"#, auth_of("private")));
    for name in ["apigw-v1-ajax-private", "apigw-v2-ajax-private", "function-url-ajax-private"] {
        assert_answer(name, &run(&endpoint(), &fixture_bytes(name)), &expected);
    }
}

#[test]
fn ajax_user_authentication() {
    let socket = case("signin")["socket_id"].as_str().unwrap().to_owned();
    let auth = format!("{}:{}", app("key"), hmac_hex(&app("secret"), &format!("{socket}::user::{DEMO_SIGNIN}")));
    let json = serde_json::to_string(&serde_json::json!({"auth": auth, "user_data": DEMO_SIGNIN})).unwrap();
    assert_answer(
        "apigw-v2-ajax-user-auth",
        &run(&endpoint(), &fixture_bytes("apigw-v2-ajax-user-auth")),
        &proxy(200, CORS_JSON, &json),
    );
}

#[test]
fn preflight_from_an_allowed_origin() {
    let headers = r#"{"X-Content-Type-Options":"nosniff","Cache-Control":"no-store, private","Vary":"Origin","Access-Control-Allow-Origin":"https://app.example.com","Access-Control-Allow-Methods":"POST, OPTIONS","Access-Control-Allow-Headers":"Authorization, Content-Type","Access-Control-Max-Age":"600"}"#;
    assert_answer(
        "apigw-v1-options-preflight",
        &run(&endpoint(), &fixture_bytes("apigw-v1-options-preflight")),
        &proxy(204, headers, ""),
    );
}

#[test]
fn cors_is_closed_by_default_and_to_other_origins() {
    let closed = endpoint_with(&[("ALLOWED_ORIGINS", "")]);
    assert_answer(
        "apigw-v1-options-preflight",
        &run(&closed, &fixture_bytes("apigw-v1-options-preflight")),
        &plain_error("origin_not_allowed", 403),
    );
    assert_answer(
        "apigw-v2-ajax-private",
        &run(&closed, &fixture_bytes("apigw-v2-ajax-private")),
        &plain_error("origin_not_allowed", 403),
    );
    let mut event = fixture("apigw-v2-ajax-private");
    event["headers"]["origin"] = Value::from("https://evil.example");
    assert_answer(&event_name(&event), &run_value(&endpoint(), &event), &plain_error("origin_not_allowed", 403));
    // A stage variable can open CORS for its stage.
    let mut event = fixture("apigw-v1-ajax-private");
    event["stageVariables"]["ALLOWED_ORIGINS"] = Value::from("https://app.example.com");
    assert!(run_value(&closed, &event).starts_with(r#"{"statusCode":200"#));
    // Without an Origin header (server-side callers) AJAX works.
    let mut event = fixture("apigw-v2-ajax-private");
    event["headers"].as_object_mut().unwrap().remove("origin");
    let expected =
        proxy(200, &JSON.replace('}', r#","Vary":"Origin"}"#), &format!(r#"{{"auth":"{}"}}"#, auth_of("private")));
    assert_answer(&event_name(&event), &run_value(&closed, &event), &expected);
}

#[test]
fn rejection_unknown_path_and_method() {
    assert_answer(
        "apigw-v2-not-found",
        &run(&endpoint(), &fixture_bytes("apigw-v2-not-found")),
        &plain_error("not_found", 404),
    );
    let expected = proxy(
        405,
        &JSON.replace('}', r#","Allow":"GET, POST, OPTIONS"}"#),
        r#"{"error":"method_not_allowed","status":405}"#,
    );
    assert_answer("apigw-v2-delete", &run(&endpoint(), &fixture_bytes("apigw-v2-delete")), &expected);
    // A look-alike path is not a route.
    let mut event = fixture("apigw-v2-jsonp-private");
    event["rawPath"] = Value::from("/xpusher/auth");
    assert_answer(&event_name(&event), &run_value(&endpoint(), &event), &plain_error("not_found", 404));
}

#[test]
fn rejection_bad_or_missing_callback_is_plain_json() {
    assert_answer(
        "apigw-v2-jsonp-bad-callback",
        &run(&endpoint(), &fixture_bytes("apigw-v2-jsonp-bad-callback")),
        &plain_error("invalid_callback", 400),
    );
    let mut event = fixture("apigw-v2-jsonp-private");
    let raw = event["rawQueryString"].as_str().unwrap().to_owned();
    event["rawQueryString"] = Value::from(raw.split_once('&').unwrap().1);
    assert_answer(&event_name(&event), &run_value(&endpoint(), &event), &plain_error("missing_callback", 400));
    event["rawQueryString"] = Value::from(format!("{raw}&callback=Pusher.auth_callbacks%5B%272%27%5D"));
    assert_answer(&event_name(&event), &run_value(&endpoint(), &event), &plain_error("duplicate_parameter", 400));
}

#[test]
fn rejection_bad_socket_id_is_a_jsonp_denial() {
    assert_answer(
        "apigw-v2-jsonp-bad-socket-id",
        &run(&endpoint(), &fixture_bytes("apigw-v2-jsonp-bad-socket-id")),
        &jsonp_denial("invalid_socket_id", 400),
    );
}

#[test]
fn rejection_duplicate_parameter() {
    let expected = jsonp_denial("duplicate_parameter", 400);
    assert_answer(
        "apigw-v2-jsonp-duplicate-socket-id",
        &run(&endpoint(), &fixture_bytes("apigw-v2-jsonp-duplicate-socket-id")),
        &expected,
    );
    let mut event = fixture("apigw-v1-jsonp-private");
    event["multiValueQueryStringParameters"]["socket_id"] = serde_json::json!(["1.1", "1.2"]);
    assert_answer(&event_name(&event), &run_value(&endpoint(), &event), &expected);
    // A batch that also names one channel: its sound socket id and channel name do not make
    // the refusal one addressed to that channel.
    let mut event = fixture("apigw-v2-jsonp-private");
    let raw = event["rawQueryString"].as_str().unwrap().to_owned();
    event["rawQueryString"] = Value::from(format!("{raw}&channel_name%5B0%5D=private-user-user-2"));
    assert_answer(&event_name(&event), &run_value(&endpoint(), &event), &expected);
}

/// Found by the `shapes` fuzz target: a `channel_name` given twice, the first a
/// presence channel, was answered with the presence denial through an HTTP API
/// event and with the plain denial through a REST event. Every shape now keeps
/// the first value and refuses the second, so they agree.
#[test]
fn a_parameter_given_twice_is_decided_alike_from_every_shape() {
    let mut v2 = fixture("apigw-v2-jsonp-private");
    v2["rawQueryString"] = Value::from(
        "callback=Pusher.auth_callbacks%5B%271%27%5D&socket_id=1.2&channel_name=presence-a&channel_name=private-b",
    );
    let mut v1 = fixture("apigw-v1-jsonp-private");
    v1["multiValueQueryStringParameters"] = serde_json::json!({
        "callback": ["Pusher.auth_callbacks['1']"], "socket_id": ["1.2"], "channel_name": ["presence-a", "private-b"]
    });
    v1["queryStringParameters"] = serde_json::json!({
        "callback": "Pusher.auth_callbacks['1']", "socket_id": "1.2", "channel_name": "private-b"
    });
    let (a, b) = (run_value(&endpoint(), &v2), run_value(&endpoint(), &v1));
    let body = |answer: &str| serde_json::from_str::<Value>(answer).unwrap()["body"].clone();
    assert_eq!(body(&a), body(&b));
    assert!(body(&a).as_str().unwrap().contains(r#""error":"duplicate_parameter""#), "{a}");
}

#[test]
fn rejection_non_utf8_value() {
    assert_answer(
        "apigw-v2-jsonp-non-utf8",
        &run(&endpoint(), &fixture_bytes("apigw-v2-jsonp-non-utf8")),
        &jsonp_denial("invalid_encoding", 400),
    );
    let mut event = fixture("apigw-v2-ajax-private");
    event["body"] = Value::from("c29ja2V0X2lkPf8="); // socket_id=\xFF
    assert_answer(&event_name(&event), &run_value(&endpoint(), &event), &cors_error("invalid_encoding", 400));
}

#[test]
fn rejection_public_and_invalid_channels() {
    assert_answer(
        "apigw-v2-jsonp-public-channel",
        &run(&endpoint(), &fixture_bytes("apigw-v2-jsonp-public-channel")),
        &jsonp_denial("public_channel", 400),
    );
    let mut event = fixture("apigw-v2-jsonp-private");
    let raw =
        event["rawQueryString"].as_str().unwrap().replace("channel_name=private-", "channel_name=private-%3Cscript%3E");
    event["rawQueryString"] = Value::from(raw);
    assert_answer(&event_name(&event), &run_value(&endpoint(), &event), &jsonp_denial("invalid_channel_name", 400));
}

#[test]
fn rejection_missing_socket_id_and_channel() {
    let mut event = fixture("apigw-v2-jsonp-private");
    event["rawQueryString"] = Value::from("callback=Pusher.auth_callbacks%5B%271%27%5D&channel_name=private-a");
    assert_answer(&event_name(&event), &run_value(&endpoint(), &event), &jsonp_denial("missing_socket_id", 400));
    event["rawQueryString"] = Value::from("callback=Pusher.auth_callbacks%5B%271%27%5D&socket_id=1.2");
    assert_answer(&event_name(&event), &run_value(&endpoint(), &event), &jsonp_denial("missing_channel_name", 400));
}

/// The size limits at their edges: a REST event's decoded query of exactly
/// `MAX_INPUT_BYTES` (names and values) is read, one byte more is refused; a
/// base64 body longer than the encoding of `MAX_INPUT_BYTES` (+4) is refused
/// before it is decoded, one of exactly that length is decoded (and refused as
/// invalid base64: its length is not a multiple of 4).
#[test]
fn size_limits_at_their_edges() {
    let mut event = fixture("apigw-v1-jsonp-private");
    let params = event["multiValueQueryStringParameters"].as_object().unwrap();
    let used: usize = params
        .iter()
        .map(|(k, vs)| k.len() + vs.as_array().unwrap().iter().map(|v| v.as_str().unwrap().len()).sum::<usize>())
        .sum();
    let pad = |extra: usize| Value::from(vec!["a".repeat(16 * 1024 - used - "pad".len() + extra)]);
    let signed = run_value(&endpoint(), &event);
    assert!(signed.contains(r#"\"auth\":"#), "{signed}");
    event["multiValueQueryStringParameters"]["pad"] = pad(0);
    assert_eq!(run_value(&endpoint(), &event), signed, "exactly the limit is read");
    event["multiValueQueryStringParameters"]["pad"] = pad(1);
    assert_answer(&event_name(&event), &run_value(&endpoint(), &event), &plain_error("payload_too_large", 413));

    let mut event = fixture("apigw-v1-ajax-private");
    event["isBase64Encoded"] = Value::from(true);
    let limit = 16 * 1024 * 4 / 3 + 4;
    event["body"] = Value::from("A".repeat(limit));
    assert_answer(&event_name(&event), &run_value(&endpoint(), &event), &cors_error("invalid_encoding", 400));
    event["body"] = Value::from("A".repeat(limit + 1));
    assert_answer(&event_name(&event), &run_value(&endpoint(), &event), &cors_error("payload_too_large", 413));
    event["body"] = Value::from("A".repeat(30_001));
    assert_answer(&event_name(&event), &run_value(&endpoint(), &event), &cors_error("payload_too_large", 413));
}

#[test]
fn rejection_oversized_request() {
    let mut event = fixture("apigw-v2-jsonp-private");
    let raw = event["rawQueryString"].as_str().unwrap().to_owned();
    event["rawQueryString"] = Value::from(format!("{raw}&pad={}", "a".repeat(16 * 1024)));
    assert_answer(&event_name(&event), &run_value(&endpoint(), &event), &plain_error("payload_too_large", 413));
    let mut event = fixture("apigw-v1-ajax-private");
    event["body"] = Value::from(format!("socket_id=1.2&channel_name=private-a&pad={}", "a".repeat(16 * 1024)));
    assert_answer(&event_name(&event), &run_value(&endpoint(), &event), &cors_error("payload_too_large", 413));
}

#[test]
fn rejection_ajax_without_a_form_body() {
    let mut event = fixture("apigw-v1-ajax-private");
    event["headers"]["content-type"] = Value::from("application/json");
    assert_answer(&event_name(&event), &run_value(&endpoint(), &event), &cors_error("unsupported_media_type", 415));
    // Without an Origin (a server-side caller) there is no Access-Control-Allow-Origin.
    event["headers"].as_object_mut().unwrap().remove("origin");
    let vary_json = CORS_JSON.replace(r#","Access-Control-Allow-Origin":"https://app.example.com""#, "");
    let expected = proxy(415, &vary_json, r#"{"error":"unsupported_media_type","status":415}"#);
    assert_answer(&event_name(&event), &run_value(&endpoint(), &event), &expected);
}

#[test]
fn rejection_encrypted_channel_without_master_key() {
    let no_key = endpoint_with(&[("PUSHER_ENCRYPTION_MASTER_KEY_BASE64", "")]);
    assert_answer(
        "apigw-v2-jsonp-encrypted",
        &run(&no_key, &fixture_bytes("apigw-v2-jsonp-encrypted")),
        &jsonp_channel_denial(&fixture("apigw-v2-jsonp-encrypted"), "encryption_not_configured", 403),
    );
    // Known from the fixed secret alone, it is decided before the user: a request whose
    // token would be refused gets the same answer (the operator's fault, not the user's).
    let jwt_no_key = endpoint_with(&[
        ("PUSHER_ENCRYPTION_MASTER_KEY_BASE64", ""),
        ("AUTH_MODE", "jwt"),
        ("JWT_ALGORITHMS", "HS256"),
        ("JWT_SECRET", "a-jwt-secret-of-at-least-32-bytes-long"),
    ]);
    let (answer, log) = run_logged(&jwt_no_key, &fixture_bytes("apigw-v2-jsonp-encrypted"));
    assert_answer(
        "apigw-v2-jsonp-encrypted (jwt, bad token)",
        &answer,
        &jsonp_channel_denial(&fixture("apigw-v2-jsonp-encrypted"), "encryption_not_configured", 403),
    );
    assert!(log.contains(r#""reason":"encryption_not_configured""#), "{log}");
}

/// A refused presence channel: the error object also carries the fixed
/// `"channel_data":"{}"`, for a page whose `Pusher` is not pusher-js (the script
/// then calls the callback with it) and for a name that is not valid (the
/// callback is called: pusher-js sends a subscription the server refuses on its
/// own, even on a connection that asked to sign in). README, "Answers to refusals".
#[test]
fn rejection_presence_channel_is_a_denial_with_fixed_channel_data() {
    let private_only = endpoint_with(&[("CHANNEL_RULES", "private-*")]);
    for name in ["apigw-v1-jsonp-presence", "apigw-v2-jsonp-presence"] {
        let error = r#"{"error":"forbidden","status":403,"channel_data":"{}"}"#;
        let expected = proxy(200, JS, &channel_denial_script(&fixture(name), error));
        assert_answer(name, &run(&private_only, &fixture_bytes(name)), &expected);
    }
    // Any refusal of a presence-… name, the name itself valid or not.
    let mut event = fixture("apigw-v2-jsonp-presence");
    let raw = event["rawQueryString"].as_str().unwrap().replace("channel_name=presence-", "channel_name=presence-%3C");
    event["rawQueryString"] = Value::from(raw);
    let expected = proxy(200, JS, &script(r#"{"error":"invalid_channel_name","status":400,"channel_data":"{}"}"#));
    assert_answer(&event_name(&event), &run_value(&endpoint(), &event), &expected);
    // Private channels keep the plain denial.
    let mut event = fixture("apigw-v2-jsonp-private");
    let raw = event["rawQueryString"].as_str().unwrap().replace("channel_name=private-", "channel_name=private-%3C");
    event["rawQueryString"] = Value::from(raw);
    assert_answer(&event_name(&event), &run_value(&endpoint(), &event), &jsonp_denial("invalid_channel_name", 400));
}

/// A refused signin over JSONP: a script that never calls pusher-js's callback, so
/// pusher-js sends no `pusher:signin` at all (README, "Answers to refusals"); with a
/// valid socket id it tells the connection's user and a callback that accepts errors.
#[test]
fn rejection_user_auth_is_a_script_that_does_not_call_the_callback() {
    let jwt = endpoint_with(&[
        ("AUTH_MODE", "jwt"),
        ("JWT_ALGORITHMS", "HS256"),
        ("JWT_SECRET", "an-hmac-key-of-at-least-32-bytes-for-tests"),
    ]);
    let event = fixture("apigw-v1-jsonp-user-auth");
    let (out, log) = run_logged(&jwt, &serde_json::to_vec(&event).unwrap());
    let script = signin_denial_script(&event, r#"{"error":"unauthenticated","status":401}"#);
    assert_eq!(out, proxy(200, JS, &script));
    let line: Value = serde_json::from_str(log.trim()).unwrap();
    assert_eq!((line["route"].as_str(), line["status"].as_u64()), (Some("user-auth"), Some(401)), "{log}");
    // The same through the mapping-template integration: a successful invocation.
    let mut event = fixture("rest-mapping-jsonp-private");
    event["context"]["resource-path"] = Value::from("/pusher/user-auth");
    event["params"]["querystring"].as_object_mut().unwrap().remove("channel_name");
    event["params"]["querystring"]["token"] = Value::from("not-a-token");
    let (out, _) = outcome_logged(&jwt, &serde_json::to_vec(&event).unwrap());
    let body: String = serde_json::from_str(&out.unwrap()).unwrap();
    assert_eq!(body, signin_denial_script(&event, r#"{"error":"unauthenticated","status":401}"#));
    // A socket id that is not valid is never written into a script: nothing is called.
    event["params"]["querystring"]["socket_id"] = Value::from("1.2<");
    let (out, _) = outcome_logged(&jwt, &serde_json::to_vec(&event).unwrap());
    let body: String = serde_json::from_str(&out.unwrap()).unwrap();
    assert_eq!(body, r#"/**/void {"error":"invalid_socket_id","status":400};"#);
}

/// The JSONP denial of the signin `event` asks for (README, "Answers to refusals").
fn signin_denial_script(event: &Value, error: &str) -> String {
    let socket_id = Value::from(query_param(event, "socket_id"));
    format!(r#"{}{socket_id},"1",{error});"#, pusher_auth_lambda::testing::SIGNIN_DENIAL_HEAD)
}

#[test]
fn stage_variables_choose_the_key_but_never_the_secret() {
    let mut event = fixture("apigw-v1-jsonp-private");
    event["stageVariables"]["PUSHER_KEY"] = Value::from("otherkey");
    event["stageVariables"]["PUSHER_SECRET"] = Value::from("attacker-secret");
    let (out, log) = run_logged(&endpoint(), &serde_json::to_vec(&event).unwrap());
    let signature = auth_of("private").split_once(':').unwrap().1.to_owned();
    assert_eq!(out, jsonp_ok(&format!(r#"{{"auth":"otherkey:{signature}"}}"#)));
    assert!(!log.contains("attacker-secret"));
    event["stageVariables"]["PUSHER_KEY"] = Value::from("not a key");
    assert_answer(
        &event_name(&event),
        &run_value(&endpoint(), &event),
        &jsonp_channel_denial(&event, "server_error", 500),
    );
}

#[test]
fn non_http_events_are_invocation_errors() {
    let endpoint = endpoint();
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    for event in [&b"{}"[..], b"[]", b"{\"Records\":[]}", b"not json"] {
        assert!(runtime.block_on(handle_bytes(&endpoint, event, "x")).is_err());
    }
}

#[test]
fn one_log_line_per_request_without_secrets_tokens_or_signatures() {
    let secret = app("secret");
    let all: Vec<String> = std::fs::read_dir(format!("{}/tests/fixtures/events", env!("CARGO_MANIFEST_DIR")))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(all.len() >= 20);
    for name in all {
        let (out, log) = run_logged(&endpoint(), &fixture_bytes(&name));
        let lines: Vec<Value> = log.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len(), 1, "{name}: {log}");
        let line = &lines[0];
        for field in ["request_id", "route", "transport", "decision", "reason", "status", "duration_us"] {
            assert!(!line[field].is_null(), "{name}: {field} missing in {log}");
        }
        assert!(!log.contains(&secret), "{name}");
        assert!(!log.contains("demo-token"), "{name}: token logged");
        assert!(!log.contains("callback="), "{name}: raw query logged");
        // Any signature in the answer must not be in the log.
        let answer: Value = serde_json::from_str(&out).unwrap();
        // A mapping-template answer is the body itself, as a JSON string.
        let body = answer.as_str().unwrap_or_else(|| answer["body"].as_str().unwrap());
        if let Some(start) = body.find("\"auth\":\"") {
            let sig = &body[start + 8..][..body[start + 8..].find('"').unwrap()];
            assert!(!log.contains(sig.split(':').nth(1).unwrap()), "{name}: signature logged");
        }
    }
}

#[test]
fn log_line_records_the_real_outcome_of_a_jsonp_denial() {
    let (out, log) = run_logged(&endpoint(), &fixture_bytes("apigw-v2-jsonp-public-channel"));
    assert!(out.starts_with(r#"{"statusCode":200"#));
    let line: Value = serde_json::from_str(log.trim()).unwrap();
    assert_eq!(line["status"], 400);
    assert_eq!(line["decision"], "refused");
    assert_eq!(line["reason"], "public_channel");
    assert_eq!(line["transport"], "jsonp");
    assert_eq!(
        line["request_id"],
        "VbR3kjQ0DoEEJfA=".replace("VbR3kjQ0DoEEJfA=", line["request_id"].as_str().unwrap())
    );
}

#[test]
fn the_log_line_names_the_transport_the_method_selects() {
    for (name, transport) in [
        ("apigw-v2-jsonp-private", "jsonp"),
        ("apigw-v1-ajax-private", "ajax"),
        ("apigw-v1-options-preflight", "preflight"),
        ("apigw-v2-delete", "none"),
        ("apigw-v2-not-found", "none"),
    ] {
        let (_, log) = run_logged(&endpoint(), &fixture_bytes(name));
        let line: Value = serde_json::from_str(log.trim()).unwrap();
        assert_eq!(line["transport"], transport, "{name}: {log}");
    }
}

/// Runs an event and returns the invocation's outcome (payload or function error) and the log.
fn outcome_logged(endpoint: &Endpoint, event: &[u8]) -> (Result<String, String>, String) {
    crate::helpers::handle_logged(endpoint, event, tracing::Level::TRACE)
}

/// The log line without its timing, which differs between runs.
fn log_without_duration(log: &str) -> Value {
    let mut line: Value = serde_json::from_str(log.trim()).unwrap();
    let object = line.as_object_mut().unwrap();
    object.remove("duration_us");
    object.remove("Duration");
    object.remove("timestamp");
    if let Some(aws) = object.get_mut("_aws") {
        aws.as_object_mut().unwrap().remove("Timestamp");
    }
    line
}

#[test]
fn mapping_template_event_answers_byte_for_byte_as_the_proxy_event() {
    let e = endpoint();
    let (proxy, proxy_log) = outcome_logged(&e, &fixture_bytes("apigw-v1-jsonp-private"));
    let (mapped, mapped_log) = outcome_logged(&e, &fixture_bytes("rest-mapping-jsonp-private"));
    let proxy: Value = serde_json::from_str(&proxy.unwrap()).unwrap();
    // The mapping answer is the body as a JSON string, for `$input.path('$')` to write out.
    let mapped = mapped.unwrap();
    let body: String = serde_json::from_str(&mapped).unwrap();
    assert_eq!(body, proxy["body"].as_str().unwrap());
    assert_eq!(body, script(&format!(r#"{{"auth":"{}"}}"#, auth_of("private"))));
    // Same validation, same policy, same log line.
    assert_eq!(log_without_duration(&mapped_log), log_without_duration(&proxy_log));
}

#[test]
fn mapping_template_event_with_cognito_claims() {
    let e = endpoint_with(&[("AUTH_MODE", "authorizer"), ("CHANNEL_RULES", "private-*")]);
    let (proxy, _) = outcome_logged(&e, &fixture_bytes("apigw-v1-jsonp-cognito-authorizer"));
    let (mapped, log) = outcome_logged(&e, &fixture_bytes("rest-mapping-jsonp-cognito-authorizer"));
    let proxy: Value = serde_json::from_str(&proxy.unwrap()).unwrap();
    let body: String = serde_json::from_str(&mapped.unwrap()).unwrap();
    assert_eq!(body, proxy["body"].as_str().unwrap());
    assert!(body.contains(r#"({"auth":"3e294278b9dd9a0ab486:"#), "{body}");
    assert_eq!(log_without_duration(&log)["reason"], "ok");
    // No claims and no principal: refused like a proxy event without an authorizer.
    let mut event = fixture("rest-mapping-jsonp-cognito-authorizer");
    event["context"]["authorizer-claims"] = serde_json::json!({});
    let (mapped, log) = outcome_logged(&e, &serde_json::to_vec(&event).unwrap());
    let body: String = serde_json::from_str(&mapped.unwrap()).unwrap();
    assert_eq!(body, channel_denial_script(&event, r#"{"error":"unauthenticated","status":401}"#));
    assert_eq!(log_without_duration(&log)["reason"], "no_authorizer_context");
    // A Lambda authorizer's principal id is the user id.
    event["context"]["authorizer-principal-id"] = Value::from("u8");
    let (mapped, _) = outcome_logged(&e, &serde_json::to_vec(&event).unwrap());
    assert!(mapped.unwrap().contains("auth"));
}

#[test]
fn mapping_template_refusals_fail_the_invocation_with_the_error_body() {
    let e = endpoint();
    let mut event = fixture("rest-mapping-jsonp-private");
    event["params"]["querystring"]["callback"] = Value::from("alert(1)");
    let (out, _) = outcome_logged(&e, &serde_json::to_vec(&event).unwrap());
    assert_eq!(out, Err(r#"{"error":"invalid_callback","status":400}"#.to_owned()));
    event["params"]["querystring"]["callback"] = Value::from("Pusher.auth_callbacks['1']");
    event["context"]["resource-path"] = Value::from("/other");
    let (out, _) = outcome_logged(&e, &serde_json::to_vec(&event).unwrap());
    assert_eq!(out, Err(r#"{"error":"not_found","status":404}"#.to_owned()));
    // After a sound callback a refusal is a JSONP denial: a successful invocation.
    event["context"]["resource-path"] = Value::from("/pusher/auth");
    event["params"]["querystring"]["channel_name"] = Value::from("public-room");
    let (out, _) = outcome_logged(&e, &serde_json::to_vec(&event).unwrap());
    let body: String = serde_json::from_str(&out.unwrap()).unwrap();
    assert_eq!(body, script(r#"{"error":"public_channel","status":400}"#));
    // Secrets in stage variables are ignored here too.
    event["params"]["querystring"]["channel_name"] =
        fixture("rest-mapping-jsonp-private")["params"]["querystring"]["channel_name"].clone();
    event["stage-variables"]["PUSHER_SECRET"] = Value::from("attacker-secret");
    let (out, log) = outcome_logged(&e, &serde_json::to_vec(&event).unwrap());
    assert!(out.unwrap().contains(&auth_of("private")));
    assert!(!log.contains("attacker-secret"));
}

/// Every fixture's log line is valid CloudWatch Embedded Metric Format, with
/// the metrics and dimension sets the deployed alarms read, and nothing secret.
#[test]
fn every_log_line_is_valid_emf() {
    let secret = app("secret");
    let names: Vec<String> = std::fs::read_dir(format!("{}/tests/fixtures/events", env!("CARGO_MANIFEST_DIR")))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(names.len() >= 20);
    let (mut refused, mut staged) = (0, 0);
    for (endpoint, namespace) in
        [(endpoint(), "PusherAuth"), (endpoint_with(&[("METRICS_NAMESPACE", "Pusher/x")]), "Pusher/x")]
    {
        for name in &names {
            let (_, log) = run_logged(&endpoint, &fixture_bytes(name));
            assert_eq!(log.lines().count(), 1, "{name}: {log}");
            let line: Value = serde_json::from_str(log.trim()).unwrap();
            let directive = crate::helpers::assert_emf(&line);
            assert_eq!(directive["Namespace"], namespace, "{name}");
            assert_eq!(
                directive["Metrics"],
                serde_json::json!([{"Name": "Requests", "Unit": "Count"}, {"Name": "Duration", "Unit": "Microseconds"}])
            );
            assert_eq!(line["Requests"], 1, "{name}");
            assert_eq!(line["Duration"], line["duration_us"], "{name}");
            let sets = directive["Dimensions"].as_array().unwrap();
            assert_eq!(sets[0], serde_json::json!(["decision"]), "{name}: the refusal alarm's dimension set");
            assert_eq!(sets[1], serde_json::json!(["route", "transport", "decision", "reason"]), "{name}");
            match line["stage"].as_str() {
                Some(stage) => {
                    assert!(["staging", "$default"].contains(&stage), "{name}: {stage}");
                    assert_eq!(sets[2], serde_json::json!(["stage", "route", "transport", "decision", "reason"]));
                    staged += 1;
                }
                None => assert_eq!(sets.len(), 2, "{name}"),
            }
            let decision = line["decision"].as_str().unwrap();
            assert!(["allowed", "refused"].contains(&decision), "{name}");
            assert_eq!(decision == "refused", line["status"].as_u64().unwrap() >= 400, "{name}");
            refused += usize::from(decision == "refused");
            assert!(!log.contains(&secret) && !log.contains("demo-token") && !log.contains("callback="), "{name}");
        }
    }
    assert!(refused >= 2 * 6 && staged >= 2 * 20, "refused {refused}, staged {staged}");
}

#[test]
fn metrics_off_and_odd_stage_names() {
    let off = endpoint_with(&[("METRICS", "off")]);
    let (_, log) = run_logged(&off, &fixture_bytes("apigw-v2-jsonp-public-channel"));
    let line: Value = serde_json::from_str(log.trim()).unwrap();
    for member in ["_aws", "Requests", "Duration"] {
        assert!(line.get(member).is_none(), "{member}: {log}");
    }
    assert_eq!(line["decision"], "refused");
    // A stage name that is not one is neither logged nor a dimension.
    let mut event = fixture("apigw-v2-jsonp-private");
    event["requestContext"]["stage"] = Value::from("not a <stage>");
    let (_, log) = run_logged(&endpoint(), &serde_json::to_vec(&event).unwrap());
    let line: Value = serde_json::from_str(log.trim()).unwrap();
    assert!(line.get("stage").is_none(), "{log}");
    assert_eq!(crate::helpers::assert_emf(&line)["Dimensions"].as_array().unwrap().len(), 2);
}
