//! Soak and resources, against the real bootstrap (`pusher-auth`) and the
//! Runtime API stand-in (`perf/runtime-stub`):
//!
//! - `soak`: `SOAK_INVOCATIONS` (default 5,000; `scripts/soak.sh` runs
//!   100,000) invocations of a mix of allowed, refused, malformed and jwt
//!   requests in every event shape, in one process: every answer is the one
//!   expected for its event, peak RSS at the end is within 5 % of peak RSS
//!   at the checkpoint (10,000, or a fifth of a shorter run), open file
//!   descriptors are the same, and the JWKS cache is refetched at most once a
//!   minute however many unknown keys arrive.
//! - `largest_inputs_under_128_mb`: the largest accepted inputs (16 KiB
//!   query, 8 KiB token, 16 KiB form body, a 6 MB event, 1 KB `user_info`)
//!   under `prlimit --as` of 128 MiB: every one is answered and signed.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::helpers::lambda_environment;
use crate::helpers::{fixture, token, tokens, KEY, MASTER_KEY};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use lambda_runtime_stub::{invocation_of, Options, Seen};
use serde_json::{json, Value};
use sha2::Sha256;

const CALLBACK: &str = "callback=Pusher.auth_callbacks%5B%271%27%5D";

/// The bootstrap under test: `SOAK_BINARY` (scripts/soak.sh points it at the
/// release build) or the test build's.
fn binary() -> String {
    std::env::var("SOAK_BINARY").unwrap_or_else(|_| env!("CARGO_BIN_EXE_pusher-auth").to_owned())
}

/// A JWKS server on 127.0.0.1 that counts its hits.
fn jwks_server() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/.well-known/jwks.json", listener.local_addr().unwrap());
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let body = tokens()["jwks"].to_string();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut seen = Vec::new();
            let mut buf = [0u8; 2048];
            while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => seen.extend_from_slice(&buf[..n]),
                }
            }
            counter.fetch_add(1, Ordering::SeqCst);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(body.as_bytes());
        }
    });
    (url, hits)
}

fn start(options: Options, jwks_url: &str, memory_limit: Option<u64>) -> Child {
    let t = tokens();
    let mut command = match memory_limit {
        Some(bytes) => {
            let mut c = Command::new("prlimit");
            c.arg(format!("--as={bytes}")).arg("--").arg(binary());
            c
        }
        None => Command::new(binary()),
    };
    let api = lambda_runtime_stub::start(options);
    STATE.with(|s| *s.borrow_mut() = Some(api.seen));
    lambda_environment(&mut command, &api.address, "warn")
        .env("PUSHER_ENCRYPTION_MASTER_KEY_BASE64", MASTER_KEY)
        .env("AUTH_MODE", "jwt")
        .env("JWT_ALGORITHMS", "RS256,HS256")
        .env("JWT_SECRET", t["hs_secret"].as_str().unwrap())
        .env("JWT_JWKS_URL", jwks_url)
        .env("JWT_ISSUER", t["issuer"].as_str().unwrap())
        .env("JWT_AUDIENCE", t["audience"].as_str().unwrap())
        .env("USER_INFO_CLAIMS", "name,org")
        .env("CHANNEL_RULES", "private-user-{sub} presence-room-* private-encrypted-org-{org}-*")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

type State = Arc<Mutex<Seen>>;

thread_local! {
    static STATE: std::cell::RefCell<Option<State>> = const { std::cell::RefCell::new(None) };
}

fn state() -> State {
    STATE.with(|s| s.borrow().clone().unwrap())
}

/// What an answer is, for comparing answers to the same event.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    /// A proxy answer with this status, signed or not.
    Proxy(u64, bool),
    /// A mapping-template success (a JSON string), signed or not.
    Mapping(bool),
    /// A failed invocation with this `errorType`.
    Error(String),
}

fn kind_of_response(body: &[u8]) -> Kind {
    let v: Value = serde_json::from_slice(body).unwrap();
    let signed = |text: &str| text.contains(&format!("\"auth\":\"{KEY}:"));
    match v {
        Value::String(text) => Kind::Mapping(signed(&text)),
        v => Kind::Proxy(v["statusCode"].as_u64().unwrap(), signed(v["body"].as_str().unwrap())),
    }
}

fn kind_of_error(body: &[u8]) -> Kind {
    let v: Value = serde_json::from_slice(body).unwrap();
    Kind::Error(v["errorType"].as_str().unwrap().to_owned())
}

fn jsonp(path: &str, query: String) -> Vec<u8> {
    let mut e = fixture("apigw-v2-jsonp-private");
    e["rawPath"] = Value::from(path);
    e["requestContext"]["http"]["path"] = Value::from(path);
    e["rawQueryString"] = Value::from(query);
    serde_json::to_vec(&e).unwrap()
}

/// The mix: every event with the kind of answer it must get.
fn mix() -> Vec<(Vec<u8>, Kind)> {
    let channel = |ch: &str, tok: &str| {
        jsonp("/pusher/auth", format!("{CALLBACK}&socket_id=1.2&channel_name={ch}&token={}", token(tok)))
    };
    let mut ajax = fixture("apigw-v2-ajax-private");
    ajax["body"] = Value::from("socket_id=1.2&channel_name=private-user-user-3");
    ajax["isBase64Encoded"] = Value::from(false);
    ajax["headers"]["authorization"] = Value::from(format!("Bearer {}", token("valid_hs256")));
    ajax["headers"].as_object_mut().unwrap().remove("origin");
    let mut rest = fixture("apigw-v1-jsonp-private");
    rest["multiValueQueryStringParameters"]["channel_name"] = json!(["private-user-user-1"]);
    rest["multiValueQueryStringParameters"]["token"] = json!([token("valid_rs256")]);
    let mut mapping = fixture("rest-mapping-jsonp-private");
    mapping["params"]["querystring"]["channel_name"] = Value::from("private-user-user-3");
    mapping["params"]["querystring"]["token"] = Value::from(token("valid_hs256"));
    // A JSONP denial is a script (a success for the integration); a request
    // without a sound callback fails the invocation.
    let mut denied_mapping = mapping.clone();
    denied_mapping["params"]["querystring"]["socket_id"] = Value::from("bad");
    let mut refused_mapping = mapping.clone();
    refused_mapping["params"]["querystring"]["callback"] = Value::from("alert(1)");
    let signin = jsonp("/pusher/user-auth", format!("{CALLBACK}&socket_id=1.2&token={}", token("valid_hs256")));
    let batch = |channels: &[String]| {
        let names: String = channels.iter().enumerate().map(|(i, ch)| format!("&channel_name%5B{i}%5D={ch}")).collect();
        jsonp("/pusher/auth", format!("{CALLBACK}&socket_id=1.2{names}&token={}", token("valid_hs256")))
    };
    // Two channels the user may join and one it may not; and one channel over the limit of 25.
    let mixed_batch = batch(&["private-user-user-3", "presence-room-1", "private-someone-else"].map(String::from));
    let oversized_batch = batch(&(0..26).map(|i| format!("private-user-user-3-{i}")).collect::<Vec<_>>());
    let v = |e: &Value| serde_json::to_vec(e).unwrap();
    vec![
        (channel("private-user-user-1", "valid_rs256"), Kind::Proxy(200, true)),
        (channel("presence-room-1", "valid_hs256"), Kind::Proxy(200, true)),
        (channel("private-encrypted-org-acme-x", "valid_hs256"), Kind::Proxy(200, true)),
        (channel("private-user-user-1", "expired"), Kind::Proxy(200, false)),
        // An unknown key: at most one JWKS fetch a minute, refused meanwhile.
        (channel("private-user-user-4", "valid_rs256_rotated_key"), Kind::Proxy(200, false)),
        (channel("private-someone-else", "valid_hs256"), Kind::Proxy(200, false)),
        (channel("private-user-user-1", "malformed"), Kind::Proxy(200, false)),
        (signin, Kind::Proxy(200, true)),
        (mixed_batch, Kind::Proxy(200, true)),
        (oversized_batch, Kind::Proxy(200, false)),
        (v(&ajax), Kind::Proxy(200, true)),
        (v(&rest), Kind::Proxy(200, true)),
        (v(&mapping), Kind::Mapping(true)),
        (v(&denied_mapping), Kind::Mapping(false)),
        (v(&refused_mapping), Kind::Error("Refusal".into())),
        (v(&fixture("apigw-v2-jsonp-non-utf8")), Kind::Proxy(200, false)),
        (v(&fixture("apigw-v2-delete")), Kind::Proxy(405, false)),
        (v(&fixture("apigw-v2-not-found")), Kind::Proxy(404, false)),
        (b"{\"version\":\"2.0\",\"rawPath\":".to_vec(), Kind::Error("UnsupportedEvent".into())),
        (b"\xff\xfe not json".to_vec(), Kind::Error("UnsupportedEvent".into())),
        (b"{\"source\":\"aws.events\",\"detail\":{}}".to_vec(), Kind::Error("UnsupportedEvent".into())),
    ]
}

fn status_field(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap().count()
}

/// Waits until `n` answers arrived (the process must stay up).
fn wait_answers(child: &mut Child, seen: &Mutex<Seen>, n: usize, patience: Duration) {
    let started = Instant::now();
    while seen.lock().unwrap().answered < n {
        assert!(child.try_wait().unwrap().is_none(), "the function exited");
        assert!(started.elapsed() < patience, "the function stopped answering at {}", seen.lock().unwrap().answered);
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn soak() {
    let total: usize = std::env::var("SOAK_INVOCATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(5_000);
    let checkpoint = (total / 5).clamp(1, 10_000);
    let mix = mix();
    let events: Vec<Vec<u8>> = mix.iter().map(|(e, _)| e.clone()).collect();
    let (jwks_url, jwks_hits) = jwks_server();
    let started = Instant::now();
    let mut child = start(Options { events, total: Some(total), ..Options::default() }, &jwks_url, None);
    let seen = state();
    let pid = child.id();
    // Patience: a minute plus 10 ms an invocation, far beyond any sound run.
    let patience = Duration::from_secs(60) + Duration::from_millis(10) * total as u32;
    wait_answers(&mut child, &seen, checkpoint, patience);
    let (hwm_at_checkpoint, fds_at_checkpoint) = (status_field(pid, "VmHWM:"), open_fds(pid));
    wait_answers(&mut child, &seen, total, patience);
    std::thread::sleep(Duration::from_millis(50));
    let (hwm_at_end, rss_at_end, fds_at_end) =
        (status_field(pid, "VmHWM:"), status_field(pid, "VmRSS:"), open_fds(pid));
    let elapsed = started.elapsed();
    child.kill().unwrap();
    let output = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&output.stderr);
    eprintln!(
        "soak: {total} invocations in {:.1} s ({:.0}/s); peak RSS {hwm_at_checkpoint} kB at {checkpoint}, \
         {hwm_at_end} kB at {total} (RSS now {rss_at_end} kB); open fds {fds_at_checkpoint} then {fds_at_end}; \
         JWKS fetches {}",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64(),
        jwks_hits.load(Ordering::SeqCst)
    );
    // Every answer (the first 1,000 are kept) is the one its event must get.
    let seen = seen.lock().unwrap();
    assert_eq!(seen.init_errors, 0);
    let mut checked = 0;
    for (id, body) in &seen.responses {
        let n = invocation_of(id).unwrap();
        assert_eq!(kind_of_response(body), mix[n % mix.len()].1, "invocation {n}: {}", String::from_utf8_lossy(body));
        checked += 1;
    }
    for (id, body) in &seen.errors {
        let n = invocation_of(id).unwrap();
        assert_eq!(kind_of_error(body), mix[n % mix.len()].1, "invocation {n}: {}", String::from_utf8_lossy(body));
        checked += 1;
    }
    assert_eq!(checked, total.min(1000));
    assert_eq!(seen.answered, total);
    assert!(
        hwm_at_end * 100 <= hwm_at_checkpoint * 105,
        "peak RSS grew from {hwm_at_checkpoint} kB to {hwm_at_end} kB"
    );
    assert_eq!(fds_at_end, fds_at_checkpoint, "open file descriptors changed");
    let allowed_fetches = 1 + elapsed.as_secs() as usize / 60 + 1;
    assert!(jwks_hits.load(Ordering::SeqCst) <= allowed_fetches, "JWKS fetched too often");
    assert!(!log.contains("panic"), "{log}");
}

fn hs256(claims: &Value) -> String {
    let t = tokens();
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(t["hs_secret"].as_str().unwrap().as_bytes()).unwrap();
    mac.update(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
}

#[test]
fn largest_inputs_under_128_mb() {
    let t = tokens();
    // A token just under 8 KiB whose user_info is just under 1 KB.
    let mut claims = json!({
        "sub": "user-9", "name": "n".repeat(900), "org": "acme",
        "iss": t["issuer"], "aud": t["audience"], "exp": 4_102_444_800u64, "pad": "",
    });
    let mut token = hs256(&claims);
    let room = 8 * 1024 - 8 - token.len();
    claims["pad"] = Value::from("p".repeat(room * 3 / 4));
    token = hs256(&claims);
    assert!(token.len() <= 8 * 1024 && token.len() > 8 * 1024 - 64, "{}", token.len());
    // A query of 16 KiB exactly.
    let head = format!("{CALLBACK}&socket_id=1.2&channel_name=presence-room-1&token={token}&pad=");
    let query = format!("{head}{}", "q".repeat(16 * 1024 - head.len()));
    assert_eq!(query.len(), 16 * 1024);
    let big_query = jsonp("/pusher/auth", query);
    // A form body of 16 KiB, sent base64-encoded.
    let form_head = format!("socket_id=1.2&channel_name=presence-room-1&token={token}&pad=");
    let form = format!("{form_head}{}", "f".repeat(16 * 1024 - form_head.len()));
    let mut ajax = fixture("apigw-v2-ajax-private");
    ajax["body"] = Value::from(STANDARD.encode(&form));
    ajax["isBase64Encoded"] = Value::from(true);
    ajax["headers"].as_object_mut().unwrap().remove("origin");
    // A 6 MB event (headers the endpoint never reads) carrying the big query.
    let mut huge: Value = serde_json::from_slice(&big_query).unwrap();
    huge["headers"]["x-padding"] = Value::from("y".repeat(6 * 1024 * 1024 - 32 * 1024));
    let events = vec![big_query, serde_json::to_vec(&ajax).unwrap(), serde_json::to_vec(&huge).unwrap()];
    let rounds = 20;
    let total = events.len() * rounds;
    let (jwks_url, _) = jwks_server();
    let mut child =
        start(Options { events, total: Some(total), ..Options::default() }, &jwks_url, Some(128 * 1024 * 1024));
    let seen = state();
    wait_answers(&mut child, &seen, total, Duration::from_secs(120));
    child.kill().unwrap();
    let output = child.wait_with_output().unwrap();
    let seen = seen.lock().unwrap();
    assert!(seen.errors.is_empty(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(seen.responses.len(), total);
    for (id, body) in &seen.responses {
        assert_eq!(kind_of_response(body), Kind::Proxy(200, true), "{id}");
        let v: Value = serde_json::from_slice(body).unwrap();
        assert!(v["body"].as_str().unwrap().contains("channel_data"), "{id}");
    }
    assert!(seen.largest_answer > 1024);
}
