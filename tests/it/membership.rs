//! `?member` rules through the real handler, reading their table from
//! moto's DynamoDB server (IAM on: moto checks the client's SigV4 signature
//! and the policy the function's role has, `dynamodb:GetItem` and
//! `dynamodb:BatchGetItem` on the one table), and, for the failures moto
//! cannot produce (throttling, keys left unprocessed, a timeout, an
//! unreadable answer), from a small stand-in HTTP server.
//!
//! moto is the venv of `tests/it/secrets_manager.rs`; the table and items
//! are made by `tests/tools/moto_membership.py` with boto3. Expected
//! signatures are computed here with HMAC-SHA256, never by the crate.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pusher_auth_lambda::{membership_store_from_lookup, store_from_lookup, Endpoint, Settings};
use serde_json::{json, Value};

use crate::helpers::{handle_logged, hmac_hex, jsonp_value};
use crate::secrets_manager::{moto_bin, spawn_moto, Server};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const KEY: &str = "member-key";
const SECRET: &str = "member-app-secret";
const RULES: &str = "presence-chat-*?member private-chat-*?member private-open-*";

/// The endpoint of `main`: settings, the Secrets Manager store, the DynamoDB store.
fn endpoint(vars: &[(&str, &str)]) -> Endpoint {
    let base = [
        ("PUSHER_KEY", KEY),
        ("PUSHER_SECRET", SECRET),
        ("AUTH_MODE", "demo"),
        ("CHANNEL_RULES", RULES),
        ("MEMBERSHIP_TABLE", "chat-members"),
        ("AWS_REGION", "eu-west-1"),
    ];
    let all: Vec<(&str, &str)> = base.iter().chain(vars).copied().collect();
    let lookup = |name: &str| all.iter().rev().find(|(k, _)| *k == name).map(|(_, v)| v.to_string());
    let endpoint = Endpoint::with_store(Settings::from_lookup(lookup).unwrap(), store_from_lookup(&lookup).unwrap());
    endpoint.unwrap().with_membership_store(membership_store_from_lookup(&lookup).unwrap()).unwrap()
}

/// An HTTP API event: a JSONP GET of `query`, or an AJAX POST of it as the body.
fn event(ajax: bool, query: &str, stage_variables: Value) -> Vec<u8> {
    let (method, raw_query, body) = if ajax { ("POST", "", query) } else { ("GET", query, "") };
    serde_json::to_vec(&json!({
        "version": "2.0",
        "rawPath": "/pusher/auth",
        "rawQueryString": raw_query,
        "headers": {"content-type": "application/x-www-form-urlencoded"},
        "body": body,
        "stageVariables": stage_variables,
        "requestContext": {"requestId": "r1", "stage": "staging", "http": {"method": method}},
        "isBase64Encoded": false,
    }))
    .unwrap()
}

const CALLBACK: &str = "callback=Pusher.auth_callbacks%5B%271%27%5D&socket_id=123.456";

/// One channel over JSONP: the value the callback gets, and the log.
fn jsonp(e: &Endpoint, channel: &str, stage: Value) -> (Value, String) {
    let (out, log) = handle_logged(e, &event(false, &format!("{CALLBACK}&channel_name={channel}"), stage), INFO);
    let answer: Value = serde_json::from_str(&out.unwrap()).unwrap();
    (jsonp_value(answer["body"].as_str().unwrap(), "123.456", channel), log)
}

/// One channel, or a batch, over AJAX: (status, body as JSON, log).
fn ajax(e: &Endpoint, channels: &[&str]) -> (u64, Value, String) {
    let names: String = match channels {
        [one] => format!("&channel_name={one}"),
        _ => channels.iter().enumerate().map(|(i, c)| format!("&channel_name%5B{i}%5D={c}")).collect(),
    };
    let (out, log) = handle_logged(e, &event(true, &format!("socket_id=123.456{names}"), json!({})), INFO);
    let answer: Value = serde_json::from_str(&out.unwrap()).unwrap();
    let body = serde_json::from_str(answer["body"].as_str().unwrap()).unwrap();
    (answer["statusCode"].as_u64().unwrap(), body, log)
}

const INFO: tracing::Level = tracing::Level::INFO;

fn signed(channel: &str) -> Value {
    json!({"auth": format!("{KEY}:{}", hmac_hex(SECRET, &format!("123.456:{channel}")))})
}

fn forbidden() -> Value {
    json!({"error": "forbidden", "status": 403})
}

fn unavailable() -> Value {
    json!({"error": "service_unavailable", "status": 503})
}

/// `tests/tools/moto_membership.py` with `args`; its standard output.
fn moto_membership(args: &[&str]) -> String {
    let out = Command::new(format!("{}/python", moto_bin()))
        .arg(format!("{ROOT}/tests/tools/moto_membership.py"))
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "moto_membership.py: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// moto with IAM on and the tables made; the server, its URL and the keys.
fn start_moto() -> (Server, String, Value) {
    let port = crate::secrets_manager::free_port();
    let server = spawn_moto(&moto_bin(), port, true);
    let url = format!("http://127.0.0.1:{port}");
    let setup = serde_json::from_str(&moto_membership(&["setup", &url])).unwrap();
    (server, url, setup)
}

#[test]
fn members_against_moto() {
    let (server, url, setup) = start_moto();
    let (id, secret) = (setup["function"]["id"].as_str().unwrap(), setup["function"]["secret"].as_str().unwrap());
    let aws = [("AWS_ENDPOINT_URL", url.as_str()), ("AWS_ACCESS_KEY_ID", id), ("AWS_SECRET_ACCESS_KEY", secret)];
    let e = endpoint(&aws);

    // A member: GetItem finds the item; the presence user_info merges the
    // item's fields under the claims' (the demo user's name wins).
    let (answer, log) = jsonp(&e, "private-chat-42", json!({}));
    assert_eq!(answer, signed("private-chat-42"), "{log}");
    let (answer, log) = jsonp(&e, "presence-chat-42", json!({}));
    let data = r#"{"user_id":"demo-user","user_info":{"name":"Demo User","role":"moderator","since":2024}}"#;
    let auth = format!("{KEY}:{}", hmac_hex(SECRET, &format!("123.456:presence-chat-42:{data}")));
    assert_eq!(answer, json!({"auth": auth, "channel_data": data}), "{log}");
    // Not a member (the table has the channel for someone else): refused, over JSONP and AJAX.
    let (answer, log) = jsonp(&e, "private-chat-9", json!({}));
    assert_eq!(answer, forbidden());
    assert!(log.contains(r#""reason":"channel_not_a_member""#), "{log}");
    let (status, body, _) = ajax(&e, &["private-chat-9"]);
    assert_eq!((status, body), (403, forbidden()));

    // A batch: one BatchGetItem for the member channels; each answered on its own.
    let fresh = endpoint(&aws);
    let (status, body, log) = ajax(&fresh, &["private-chat-42", "private-chat-7", "private-chat-9", "private-open-1"]);
    assert_eq!(status, 200, "{log}");
    assert_eq!(body["private-chat-7"], json!({"status": 200, "data": signed("private-chat-7")}));
    assert_eq!(body["private-chat-9"], json!({"status": 403}));
    assert_eq!(body["private-open-1"], json!({"status": 200, "data": signed("private-open-1")}));
    assert!(log.contains("private-chat-9:channel_not_a_member private-open-1:ok"), "{log}");

    // A stage variable names another table; a user without the permission is refused by IAM,
    // and that fails closed.
    let (answer, log) = jsonp(&e, "private-chat-1", json!({"MEMBERSHIP_TABLE": "other-members"}));
    assert_eq!(answer, signed("private-chat-1"), "{log}");
    assert_eq!(jsonp(&e, "private-chat-1", json!({})).0, forbidden(), "not in the environment's table");
    let nobody = &setup["nobody"];
    let (id, secret) = (nobody["id"].as_str().unwrap(), nobody["secret"].as_str().unwrap());
    let denied = endpoint(&[("AWS_ENDPOINT_URL", &url), ("AWS_ACCESS_KEY_ID", id), ("AWS_SECRET_ACCESS_KEY", secret)]);
    let (answer, log) = jsonp(&denied, "private-chat-42", json!({}));
    assert_eq!(answer, unavailable(), "{log}");
    assert!(log.contains(r#""problem":"403""#) && log.contains("membership_unavailable"), "{log}");
    assert!(!log.contains(secret), "{log}");

    // moto stops: cached answers still hold; the others are refused with 503, logged once.
    drop(server);
    assert_eq!(jsonp(&e, "private-chat-42", json!({})).0, signed("private-chat-42"));
    let (answer, first) = jsonp(&e, "private-chat-5", json!({}));
    assert_eq!(answer, unavailable());
    let (status, body, second) = ajax(&e, &["private-chat-6", "private-open-2"]);
    assert_eq!((status, &body["private-chat-6"]), (200, &json!({"status": 503})));
    assert_eq!(body["private-open-2"]["status"], 200, "a channel needing no lookup is still signed");
    let outage = first + &second;
    assert_eq!(outage.matches("cannot read the membership table").count(), 1, "{outage}");
}

/// A member removed from the table is refused once the found answer's
/// lifetime (`MEMBERSHIP_TTL_SECONDS`) has passed, never later.
#[test]
fn a_removed_member_is_refused_after_the_ttl() {
    let (_server, url, setup) = start_moto();
    let admin = &setup["admin"];
    let (id, secret) = (admin["id"].as_str().unwrap(), admin["secret"].as_str().unwrap());
    let aws = [("AWS_ENDPOINT_URL", url.as_str()), ("AWS_ACCESS_KEY_ID", id), ("AWS_SECRET_ACCESS_KEY", secret)];
    let e = endpoint(&[&aws[..], &[("MEMBERSHIP_TTL_SECONDS", "1"), ("MEMBERSHIP_CONSISTENT_READ", "true")]].concat());
    assert_eq!(jsonp(&e, "private-chat-42", json!({})).0, signed("private-chat-42"));
    let removed = Instant::now();
    moto_membership(&["delete", &url, id, secret, "private-chat-42", "demo-user"]);
    if removed.elapsed() < Duration::from_millis(900) {
        assert_eq!(jsonp(&e, "private-chat-42", json!({})).0, signed("private-chat-42"), "cached");
    }
    std::thread::sleep(Duration::from_millis(1100).saturating_sub(removed.elapsed()));
    assert_eq!(jsonp(&e, "private-chat-42", json!({})).0, forbidden());
}

/// A stand-in for DynamoDB: answers the n-th request with `answers[n]` (the
/// last one again after the end; `None`: never answers); records the bodies.
fn stand_in(answers: Vec<Option<(u16, String)>>) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let seen = bodies.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let mut bodies = seen.lock().unwrap();
            bodies.push(String::from_utf8_lossy(&body).into_owned());
            let Some((status, answer)) = answers[(bodies.len() - 1).min(answers.len() - 1)].clone() else {
                std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_secs(10));
                    drop(stream);
                });
                continue;
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                answer.len()
            );
        }
    });
    (url, bodies)
}

fn item(channel: &str) -> Value {
    json!({"channel": {"S": channel}, "user_id": {"S": "demo-user"}})
}

fn stand_in_endpoint(url: &str) -> Endpoint {
    endpoint(&[
        ("AWS_ENDPOINT_URL", url),
        ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
        ("AWS_SECRET_ACCESS_KEY", "sk-example"),
    ])
}

/// Every failure of the table refuses the member channels, over JSONP,
/// AJAX and a batch, and never signs one: throttling and a 429 (retried,
/// then 503), a server error, a timeout, access denied (not retried), an
/// unreadable answer, an item of another user, keys DynamoDB never processes.
#[test]
fn every_failure_of_the_table_fails_closed() {
    let throttled =
        (400, json!({"__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException"}).to_string());
    let unprocessed = json!({"Responses": {"chat-members": []}, "UnprocessedKeys": {"chat-members": {"Keys": [item("private-chat-1"), item("private-chat-2")]}}});
    let other_user = json!({"Item": {"channel": {"S": "private-chat-1"}, "user_id": {"S": "someone-else"}}});
    let failures = [
        ("throttled", Some(throttled), 3),
        ("server error", Some((500, "{}".to_owned())), 3),
        ("timeout", None, 3),
        // A 429 is retried whatever its type; an error of the caller's own (access denied) is not.
        ("too many requests", Some((429, "{}".to_owned())), 3),
        (
            "access denied",
            Some((400, json!({"__type": "com.amazon.coral.service#AccessDeniedException"}).to_string())),
            1,
        ),
        ("unreadable", Some((200, "<html>".to_owned())), 1),
        ("another user's item", Some((200, other_user.to_string())), 1),
        ("unprocessed", Some((200, unprocessed.to_string())), 3),
    ];
    std::thread::scope(|scope| {
        for (name, answer, attempts) in failures {
            scope.spawn(move || {
                let (url, bodies) = stand_in(vec![answer]);
                let e = stand_in_endpoint(&url);
                let (answer, log) = jsonp(&e, "private-chat-1", json!({}));
                assert_eq!(answer, unavailable(), "{name}: {log}");
                assert!(log.contains(r#""reason":"membership_unavailable""#), "{name}: {log}");
                let (status, body, _) = ajax(&e, &["private-chat-1"]);
                assert_eq!((status, body), (503, unavailable()), "{name}");
                let (status, body, log) = ajax(&e, &["private-chat-1", "private-chat-2", "private-open-1"]);
                assert_eq!(status, 200, "{name}: {log}");
                assert_eq!(body["private-chat-1"], json!({"status": 503}), "{name}");
                assert_eq!(body["private-chat-2"], json!({"status": 503}), "{name}");
                assert_eq!(body["private-open-1"]["status"], 200, "{name}");
                assert_eq!(bodies.lock().unwrap().len(), 3 * attempts, "{name}: attempts per lookup");
                assert!(!log.contains("sk-example"), "{name}: {log}");
            });
        }
    });
}

/// An answer up to DynamoDB's 1 MiB is read (an item's `user_info` may be large);
/// one past the cap is a failure.
#[test]
fn answers_up_to_one_mebibyte_are_read() {
    let answer = |bio: usize| {
        let mut item = item("private-chat-1");
        item["user_info"] = json!({"M": {"bio": {"S": "x".repeat(bio)}}});
        Some((200, json!({"Item": item}).to_string()))
    };
    let (url, _) = stand_in(vec![answer(1024 * 1024 - 200), answer(1024 * 1024)]);
    let e = stand_in_endpoint(&url);
    let (first, log) = jsonp(&e, "private-chat-1", json!({}));
    assert_eq!(first, signed("private-chat-1"), "{log}");
    let e = stand_in_endpoint(&url);
    let (second, log) = jsonp(&e, "private-chat-1", json!({}));
    assert_eq!(second, unavailable(), "{log}");
}

/// Keys left unprocessed are asked again, alone, and then signed; one channel is one
/// `GetItem` with `ConsistentRead` as set.
#[test]
fn unprocessed_keys_are_asked_again() {
    let first = json!({
        "Responses": {"chat-members": [item("private-chat-1")]},
        "UnprocessedKeys": {"chat-members": {"Keys": [item("private-chat-2")], "ConsistentRead": false}},
    });
    let second = json!({"Responses": {"chat-members": [item("private-chat-2")]}});
    let (url, bodies) = stand_in(vec![Some((200, first.to_string())), Some((200, second.to_string()))]);
    let e = stand_in_endpoint(&url);
    let (status, body, log) = ajax(&e, &["private-chat-1", "private-chat-2", "private-chat-3"]);
    assert_eq!(status, 200, "{log}");
    assert_eq!(body["private-chat-1"], json!({"status": 200, "data": signed("private-chat-1")}));
    assert_eq!(body["private-chat-2"], json!({"status": 200, "data": signed("private-chat-2")}));
    assert_eq!(body["private-chat-3"], json!({"status": 403}));
    let bodies = bodies.lock().unwrap().clone();
    let asked = |body: &str| -> Vec<String> {
        let body: Value = serde_json::from_str(body).unwrap();
        let keys = body["RequestItems"]["chat-members"]["Keys"].as_array().unwrap().clone();
        keys.iter().map(|k| k["channel"]["S"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(bodies.len(), 2, "{bodies:?}");
    assert_eq!(asked(&bodies[0]), ["private-chat-1", "private-chat-2", "private-chat-3"]);
    assert_eq!(asked(&bodies[1]), ["private-chat-2"]);

    let (url, bodies) = stand_in(vec![Some((200, "{}".to_owned()))]);
    let consistent = endpoint(&[
        ("AWS_ENDPOINT_URL", url.as_str()),
        ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
        ("AWS_SECRET_ACCESS_KEY", "sk-example"),
        ("MEMBERSHIP_CONSISTENT_READ", "true"),
    ]);
    assert_eq!(jsonp(&consistent, "private-chat-1", json!({})).0, forbidden());
    let sent: Value = serde_json::from_str(&bodies.lock().unwrap()[0]).unwrap();
    let key = json!({"channel": {"S": "private-chat-1"}, "user_id": {"S": "demo-user"}});
    assert_eq!(sent, json!({"TableName": "chat-members", "Key": key, "ConsistentRead": true}));
}

/// The cold start refuses a `?member` rule without a table, or without AWS
/// credentials to read it, naming the variable.
#[test]
fn a_member_rule_needs_a_table_and_credentials() {
    let vars = [("PUSHER_KEY", KEY), ("PUSHER_SECRET", SECRET), ("AUTH_MODE", "demo"), ("CHANNEL_RULES", RULES)];
    let lookup = |extra: &'static [(&'static str, &'static str)]| {
        move |name: &str| vars.iter().chain(extra).find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
    };
    assert_eq!(Settings::from_lookup(lookup(&[])).unwrap_err().variable, "MEMBERSHIP_TABLE");
    let with_table = lookup(&[("MEMBERSHIP_TABLE", "chat-members")]);
    let endpoint = Endpoint::with_store(Settings::from_lookup(with_table).unwrap(), None).unwrap();
    let error = endpoint.with_membership_store(membership_store_from_lookup(&with_table).unwrap()).unwrap_err();
    assert_eq!(error.variable, "MEMBERSHIP_TABLE");
    assert!(error.to_string().contains("AWS_REGION"), "{error}");
}

/// Runs `pusher-auth explain ARGS` with `vars` only; exit code and output.
fn explain(vars: &[(&str, &str)], args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_pusher-auth"))
        .env_clear()
        .envs(vars.iter().copied())
        .arg("explain")
        .args(args)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap() + &String::from_utf8(out.stderr).unwrap();
    (out.status.code().unwrap(), text)
}

const EXPLAINED: [(&str, &str); 5] = [
    ("PUSHER_KEY", KEY),
    ("PUSHER_SECRET", SECRET),
    ("AUTH_MODE", "demo"),
    ("CHANNEL_RULES", RULES),
    ("MEMBERSHIP_TABLE", "chat-members"),
];

/// `explain` says which item a `?member` rule needs and whether it is there:
/// in the table (read with the caller's AWS credentials), or in a file of items.
#[test]
fn explain_names_the_item_and_whether_it_was_found() {
    let (_server, url, setup) = start_moto();
    let (id, secret) = (setup["function"]["id"].as_str().unwrap(), setup["function"]["secret"].as_str().unwrap());
    let aws = [
        ("AWS_REGION", "eu-west-1"),
        ("AWS_ENDPOINT_URL", &url),
        ("AWS_ACCESS_KEY_ID", id),
        ("AWS_SECRET_ACCESS_KEY", secret),
    ];
    let vars = [&EXPLAINED[..], &aws[..]].concat();
    let (code, report) = explain(&vars, &["--claims", "{}", "--channel", "private-chat-42"]);
    assert_eq!(code, 0, "{report}");
    assert!(report.contains("rule private-chat-*?member: matches"), "{report}");
    assert!(
        report.contains(r#"item (channel "private-chat-42", user_id "demo-user") in chat-members: found"#),
        "{report}"
    );
    let (code, report) = explain(&vars, &["--claims", "{}", "--channel", "private-chat-9"]);
    assert_eq!(code, 1, "{report}");
    assert!(
        report.contains("in chat-members: not found")
            && report.contains("refused: channel_not_a_member (403 forbidden)"),
        "{report}"
    );
    assert!(!report.contains(secret), "{report}");
    // Without credentials nor a file: the table cannot be read, and the verdict says so.
    let (code, report) = explain(&EXPLAINED, &["--claims", "{}", "--channel", "private-chat-42"]);
    assert_eq!(code, 1, "{report}");
    assert!(report.contains("cannot be read") && report.contains("membership_unavailable (503"), "{report}");
    // Offline: a file of items.
    let dir = std::env::temp_dir().join(format!("explain-items-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let items = dir.join("items.json");
    std::fs::write(
        &items,
        r#"[{"channel": "private-chat-9", "user_id": "demo-user"}, {"channel": "private-chat-5", "user_id": "bob"}]"#,
    )
    .unwrap();
    let items = items.to_str().unwrap();
    let (code, report) = explain(&EXPLAINED, &["--claims", "{}", "--channel", "private-chat-9", "--items", items]);
    assert_eq!(code, 0, "{report}");
    let (code, report) = explain(&EXPLAINED, &["--claims", "{}", "--channel", "private-chat-5", "--items", items]);
    assert_eq!(code, 1, "another user's item: {report}");
    // A channel a plain rule grants needs no item.
    let (code, report) = explain(&EXPLAINED, &["--claims", "{}", "--channel", "private-open-1"]);
    assert_eq!(code, 0, "{report}");
    assert!(!report.contains("item ("), "{report}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A policy-test row states the memberships it assumes (`members`); the
/// samconfig's MemberChannelRules join CHANNEL_RULES as the template joins
/// them, and without MembershipTable the check names the variable.
#[test]
fn policy_tests_state_the_memberships_they_assume() {
    let dir = std::env::temp_dir().join(format!("policy-members-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let samconfig = dir.join("samconfig.toml");
    let write_samconfig = |table: &str| {
        let overrides = format!(
            r#"AuthMode=jwt JwtAlgorithms=HS256 ChannelRules="private-open-*" MemberChannelRules="presence-chat-*?member" {table}"#
        );
        std::fs::write(
            &samconfig,
            format!("version = 0.1\n[staging.deploy.parameters]\nparameter_overrides = '{overrides}'\n"),
        )
        .unwrap();
    };
    write_samconfig("MembershipTable=create");
    let tests = dir.join("policy-tests.toml");
    std::fs::write(
        &tests,
        "[[case]]\nclaims = { sub = \"ada\" }\nchannel = \"presence-chat-42\"\nmembers = [\"presence-chat-42\"]\nallowed = true\n\n\
         [[case]]\nclaims = { sub = \"ada\" }\nchannel = \"presence-chat-42\"\nallowed = false\n\n\
         [[case]]\nclaims = { sub = \"ada\" }\nchannel = \"private-open-1\"\nallowed = true\n\n\
         [[case]]\nclaims = { sub = \"ada\" }\nchannel = \"presence-chat-7\"\nmembers = [\"presence-chat-42\"]\nallowed = true\n",
    )
    .unwrap();
    let args = ["--check", tests.to_str().unwrap(), "--samconfig", samconfig.to_str().unwrap()];
    let (code, report) = explain(&[], &args);
    assert_eq!(code, 1, "{report}");
    assert!(report.contains("FAIL staging case 4 (presence-chat-7): expected allowed, got refused"), "{report}");
    assert!(report.contains("not found") && report.contains("policy tests: 3 passed, 1 failed"), "{report}");
    write_samconfig("");
    let (code, report) = explain(&[], &args);
    assert_eq!(code, 2, "{report}");
    assert!(report.contains("MEMBERSHIP_TABLE"), "{report}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The cost of a `?member` channel beside a plain rule's (the demo path),
/// side by side in one run: a cache hit, and a miss (one `GetItem` to a
/// stand-in on loopback, `MEMBERSHIP_TTL_SECONDS=0`). Figures for
/// docs/benchmarks.md: `cargo test --release --test it membership::bench -- --ignored --nocapture`.
#[test]
#[ignore]
fn bench_cache_hit_and_miss() {
    let found = json!({"Item": item("private-chat-1")}).to_string();
    let (url, bodies) = stand_in(vec![Some((200, found))]);
    let aws =
        [("AWS_ENDPOINT_URL", url.as_str()), ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"), ("AWS_SECRET_ACCESS_KEY", "sk")];
    let cached = endpoint(&aws);
    let uncached = endpoint(&[&aws[..], &[("MEMBERSHIP_TTL_SECONDS", "0")]].concat());
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let median_us = |e: &Endpoint, channel: &str, runs: usize| {
        let event = event(false, &format!("{CALLBACK}&channel_name={channel}"), json!({}));
        let mut times: Vec<f64> = (0..runs)
            .map(|_| {
                let started = Instant::now();
                let answer = runtime.block_on(pusher_auth_lambda::handle_bytes(e, &event, "bench")).unwrap();
                assert!(format!("{answer:?}").contains("auth"), "{answer:?}");
                started.elapsed().as_secs_f64() * 1e6
            })
            .collect();
        times.sort_by(f64::total_cmp);
        times[runs / 2]
    };
    for round in 0..3 {
        let plain = median_us(&cached, "private-open-1", 20_000);
        let hit = median_us(&cached, "private-chat-1", 20_000);
        let miss = median_us(&uncached, "private-chat-1", 300);
        println!("round {round}: plain rule {plain:.1} µs, ?member cache hit {hit:.1} µs, miss {miss:.0} µs (median)");
    }
    assert!(bodies.lock().unwrap().len() >= 900, "every miss reached the table");
}
