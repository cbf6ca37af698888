//! `PUSHER_SECRET_ID` against moto's server (an AWS emulator nobody here
//! wrote), started by this test on 127.0.0.1 with IAM authentication on, so
//! moto checks the function's SigV4 signature and its IAM policy.
//!
//! moto is installed by `scripts/venv.sh moto tests/tools/requirements-moto.txt` (run from here; instant once
//! installed) and prepared by `tests/tools/moto_setup.py` with boto3.
//! Expected answers are computed here with HMAC-SHA256, never by the crate.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use hmac::{Hmac, Mac};
use pusher_auth_lambda::Endpoint;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Kills the server when the test ends, however it ends.
pub(crate) struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub(crate) fn moto_bin() -> String {
    let out = Command::new("bash")
        .args([format!("{ROOT}/scripts/venv.sh"), "moto".into(), format!("{ROOT}/tests/tools/requirements-moto.txt")])
        .output()
        .unwrap();
    assert!(out.status.success(), "scripts/venv.sh moto failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Starts moto's server on `port`, with IAM authentication on or off, and waits until it listens.
pub(crate) fn spawn_moto(bin: &str, port: u16, iam: bool) -> Server {
    let mut command = Command::new(format!("{bin}/moto_server"));
    command.args(["-H", "127.0.0.1", "-p", &port.to_string()]).stdout(Stdio::null()).stderr(Stdio::null());
    if iam {
        command.env("INITIAL_NO_AUTH_ACTION_COUNT", "3");
    }
    let server = Server(command.spawn().expect("moto_server starts"));
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "moto_server did not listen within 60 s");
        std::thread::sleep(Duration::from_millis(100));
    }
    server
}

/// Starts moto with IAM authentication on and prepares it; returns the server
/// and what moto_setup.py created.
fn start_moto() -> (Server, String, Value) {
    let bin = moto_bin();
    let port = free_port();
    let server = spawn_moto(&bin, port, true);
    let url = format!("http://127.0.0.1:{port}");
    let out = Command::new(format!("{bin}/python"))
        .arg(format!("{ROOT}/tests/tools/moto_setup.py"))
        .arg(&url)
        .output()
        .unwrap();
    assert!(out.status.success(), "moto_setup.py: {}", String::from_utf8_lossy(&out.stderr));
    (server, url, serde_json::from_slice(&out.stdout).unwrap())
}

/// Sets the current value of the secret `name`, as a rotation does.
fn put_secret(url: &str, key: &Value, name: &str, value: &str) {
    let mut child = Command::new(format!("{}/python", moto_bin()))
        .arg(format!("{ROOT}/tests/tools/moto_put_secret.py"))
        .args([url, key["id"].as_str().unwrap(), key["secret"].as_str().unwrap(), name])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(value.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "moto_put_secret.py: {}", String::from_utf8_lossy(&out.stderr));
}

fn endpoint(vars: &[(&str, &str)]) -> Endpoint {
    let vars: Vec<(String, String)> = [
        ("PUSHER_KEY", "moto-key"),
        ("AUTH_MODE", "demo"),
        ("CHANNEL_RULES", "private-* presence-* private-encrypted-*"),
        ("AWS_REGION", "eu-west-1"),
    ]
    .iter()
    .chain(vars)
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    crate::helpers::endpoint_from(&vars)
}

/// A JSONP request (HTTP API 2.0 event) for `channel`, with stage variables.
fn event(channel: &str, stage_variables: Value) -> Vec<u8> {
    let query = format!("callback=Pusher.auth_callbacks%5B%271%27%5D&socket_id=123.456&channel_name={channel}");
    serde_json::to_vec(&json!({
        "version": "2.0",
        "rawPath": "/pusher/auth",
        "rawQueryString": query,
        "headers": {},
        "stageVariables": stage_variables,
        "requestContext": {"requestId": "r1", "stage": "staging", "http": {"method": "GET"}},
        "isBase64Encoded": false,
    }))
    .unwrap()
}

/// The channel an [`event`] asks for (its names need no percent-decoding).
fn channel_of(event: &[u8]) -> String {
    let event: Value = serde_json::from_slice(event).unwrap();
    let query = event["rawQueryString"].as_str().unwrap().to_owned();
    query.split('&').find_map(|p| p.strip_prefix("channel_name=")).unwrap().to_owned()
}

/// Runs one event; returns (the JSON the callback gets, or a channel denial's
/// error object; the log).
fn run(endpoint: &Endpoint, event: &[u8]) -> (Value, String) {
    let (out, log) = crate::helpers::handle_logged(endpoint, event, tracing::Level::INFO);
    let answer: Value = serde_json::from_str(&out.unwrap()).unwrap();
    assert_eq!(answer["statusCode"], 200, "{answer}");
    let body = answer["body"].as_str().unwrap();
    (crate::helpers::jsonp_value(body, "123.456", &channel_of(event)), log)
}

fn auth(secret: &str, message: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(message.as_bytes());
    format!("moto-key:{}", hex::encode(mac.finalize().into_bytes()))
}

fn denial(code: &str, status: u16) -> Value {
    json!({"error": code, "status": status})
}

#[track_caller]
fn assert_clean(log: &str, setup: &Value) {
    for secret in [
        setup["staging"]["secret"].as_str().unwrap(),
        setup["production"]["secret"].as_str().unwrap(),
        setup["production"]["master"].as_str().unwrap(),
        setup["function"]["secret"].as_str().unwrap(),
        setup["nobody"]["secret"].as_str().unwrap(),
        "padded-secret",
        "Signature=",
    ] {
        assert!(!log.contains(secret), "log holds a secret: {log}");
    }
}

#[test]
fn secrets_manager_against_moto() {
    let (server, url, setup) = start_moto();
    let key_id = setup["function"]["id"].as_str().unwrap();
    let key_secret = setup["function"]["secret"].as_str().unwrap();
    let aws =
        [("AWS_ENDPOINT_URL", url.as_str()), ("AWS_ACCESS_KEY_ID", key_id), ("AWS_SECRET_ACCESS_KEY", key_secret)];
    let with = |extra: &[(&'static str, &str)]| {
        let mut vars: Vec<(&str, &str)> = aws.to_vec();
        vars.extend_from_slice(extra);
        endpoint(&vars)
    };
    let staging = with(&[("PUSHER_SECRET_ID", "pusher/staging")]);
    let staging_secret = setup["staging"]["secret"].as_str().unwrap();

    // Found: signed with the stored secret, read once, then served from the cache.
    let (answer, log) = run(&staging, &event("private-room", json!({})));
    assert_eq!(answer, json!({"auth": auth(staging_secret, "123.456:private-room")}));
    assert!(log.contains("Pusher secret read from Secrets Manager") && log.contains("pusher/staging"), "{log}");
    assert_clean(&log, &setup);
    let (answer, log) = run(&staging, &event("private-room", json!({})));
    assert_eq!(answer, json!({"auth": auth(staging_secret, "123.456:private-room")}));
    assert!(!log.contains("Secrets Manager"), "second request fetched again: {log}");

    // A stage variable picks another secret (by ARN); its JSON form carries the master key.
    let production = json!({"PUSHER_SECRET_ID": setup["production"]["arn"]});
    let production_secret = setup["production"]["secret"].as_str().unwrap();
    let (answer, log) = run(&staging, &event("private-encrypted-room", production.clone()));
    let master =
        base64::engine::general_purpose::STANDARD.decode(setup["production"]["master"].as_str().unwrap()).unwrap();
    let shared = Sha256::new().chain_update(b"private-encrypted-room").chain_update(&master).finalize();
    assert_eq!(
        answer,
        json!({
            "auth": auth(production_secret, "123.456:private-encrypted-room"),
            "shared_secret": base64::engine::general_purpose::STANDARD.encode(shared),
        })
    );
    assert_clean(&log, &setup);
    // The plain-string secret has no master key: encrypted channels are refused on that stage.
    let (answer, _) = run(&staging, &event("private-encrypted-room", json!({})));
    assert_eq!(answer, denial("encryption_not_configured", 403));

    // A missing secret: a clear error naming the id, never a value.
    let (answer, log) = run(&staging, &event("private-room", json!({"PUSHER_SECRET_ID": "pusher/missing"})));
    assert_eq!(answer, denial("server_error", 500));
    assert!(log.contains("secret_not_found") && log.contains("pusher/missing"), "{log}");
    assert_clean(&log, &setup);
    // A stored value with stray whitespace is refused, and not echoed.
    let (answer, log) = run(&staging, &event("private-room", json!({"PUSHER_SECRET_ID": "pusher/broken"})));
    assert_eq!(answer, denial("server_error", 500));
    assert!(log.contains("secret_invalid"), "{log}");
    assert_clean(&log, &setup);

    // moto checks IAM: a user without the permission, and a wrong signature, are denied.
    let nobody = endpoint(&[
        ("AWS_ENDPOINT_URL", url.as_str()),
        ("AWS_ACCESS_KEY_ID", setup["nobody"]["id"].as_str().unwrap()),
        ("AWS_SECRET_ACCESS_KEY", setup["nobody"]["secret"].as_str().unwrap()),
        ("PUSHER_SECRET_ID", "pusher/staging"),
    ]);
    let (answer, log) = run(&nobody, &event("private-room", json!({})));
    assert_eq!(answer, denial("server_error", 500));
    assert!(log.contains("secret_access_denied"), "{log}");
    let forged = endpoint(&[
        ("AWS_ENDPOINT_URL", url.as_str()),
        ("AWS_ACCESS_KEY_ID", key_id),
        ("AWS_SECRET_ACCESS_KEY", "not-the-secret-access-key"),
        ("PUSHER_SECRET_ID", "pusher/staging"),
    ]);
    let (answer, log) = run(&forged, &event("private-room", json!({})));
    assert_eq!(answer, denial("server_error", 500));
    assert!(log.contains("secret_access_denied"), "{log}");
    assert_clean(&log, &setup);

    // The service goes away: cached secrets keep working; an uncached one is
    // tried a bounded number of times, then refused with 503.
    drop(server);
    let (answer, _) = run(&staging, &event("private-room", json!({})));
    assert_eq!(answer, json!({"auth": auth(staging_secret, "123.456:private-room")}));
    let started = Instant::now();
    let (answer, log) = run(&staging, &event("private-room", json!({"PUSHER_SECRET_ID": "pusher/other"})));
    assert_eq!(answer, denial("service_unavailable", 503));
    assert_eq!(log.matches("Secrets Manager call failed").count(), 3, "{log}");
    assert!(log.contains("secret_unavailable") && log.contains("pusher/other"), "{log}");
    assert!(started.elapsed() < Duration::from_secs(5), "gave up after {:?}", started.elapsed());
    assert_clean(&log, &setup);
}

/// Answers every request with `status` and counts the requests.
fn fixed_status_server(status: u16) -> (u16, Arc<AtomicUsize>) {
    answering_server(status, String::new())
}

/// Answers every request with `status` and `body` and counts the requests.
fn answering_server(status: u16, answer: String) -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
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
            seen.fetch_add(1, Ordering::SeqCst);
            let _ = write!(
                stream,
                "HTTP/1.1 {status} Error\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                answer.len()
            );
        }
    });
    (port, count)
}

/// An endpoint reading `pusher/staging` from a stand-in for Secrets Manager on `port`.
fn endpoint_reading_from(port: u16) -> Endpoint {
    let url = format!("http://127.0.0.1:{port}");
    endpoint(&[
        ("AWS_ENDPOINT_URL", &url),
        ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
        ("AWS_SECRET_ACCESS_KEY", "example-secret-access-key"),
        ("PUSHER_SECRET_ID", "pusher/staging"),
    ])
}

#[test]
fn server_errors_are_retried_three_times_then_503() {
    let (port, count) = fixed_status_server(500);
    let e = endpoint_reading_from(port);
    let started = std::time::Instant::now();
    let (answer, log) = run(&e, &event("private-room", json!({})));
    assert_eq!(answer, denial("service_unavailable", 503));
    assert_eq!(count.load(Ordering::SeqCst), 3);
    // 100 ms, then 200 ms between the attempts (a lower bound: the backoff is there).
    assert!(started.elapsed() >= std::time::Duration::from_millis(300), "{:?}", started.elapsed());
    assert!(!log.contains("example-secret-access-key"));
    // Requests the endpoint refuses anyway never reach Secrets Manager.
    let (answer, _) = run(&e, &event("public-room", json!({})));
    assert_eq!(answer, denial("public_channel", 400));
    assert_eq!(count.load(Ordering::SeqCst), 3);
}

/// A final answer is read once and refused as misconfiguration, named by what is wrong: a
/// missing secret (whatever the type's namespace), a refused read, an answer without a
/// secret string.
#[test]
fn final_answers_are_misconfigurations_named_by_type() {
    for (status, answer, reason) in [
        (400, json!({"__type": "ResourceNotFoundException"}), "secret_not_found"),
        (400, json!({"__type": "com.amazonaws.secretsmanager#ResourceNotFoundException"}), "secret_not_found"),
        (400, json!({"__type": "AccessDeniedException"}), "secret_access_denied"),
        (200, json!({"Name": "pusher/staging"}), "secret_not_a_string"),
        (200, json!({"Name": "pusher/staging", "SecretString": 5}), "secret_not_a_string"),
    ] {
        let (port, count) = answering_server(status, answer.to_string());
        let e = endpoint_reading_from(port);
        let (denied, log) = run(&e, &event("private-room", json!({})));
        assert_eq!(denied, denial("server_error", 500), "{answer}: {log}");
        assert!(log.contains(reason), "{answer}: {log}");
        assert_eq!(count.load(Ordering::SeqCst), 1, "{answer}: final, asked once");
    }
}

/// A GetSecretValue answer of up to 256 KiB is read (a secret is at most 64 KiB, the rest
/// of the answer is metadata); a longer one is refused, never buffered whole.
#[test]
fn answers_up_to_256_kib_are_read() {
    let secret = "0123456789abcdef0123";
    let answer = |padding: usize| {
        json!({"Name": "pusher/staging", "SecretString": secret, "Padding": "x".repeat(padding)}).to_string()
    };
    for (padding, signed) in [(64 * 1024, true), (256 * 1024 - 200, true), (256 * 1024, false)] {
        let body = answer(padding);
        let (port, _) = answering_server(200, body.clone());
        let e = endpoint_reading_from(port);
        let (answer, log) = run(&e, &event("private-room", json!({})));
        if signed {
            assert_eq!(answer, json!({"auth": auth(secret, "123.456:private-room")}), "{} bytes: {log}", body.len());
        } else {
            assert_eq!(answer["error"], "service_unavailable", "{} bytes: {log}", body.len());
        }
    }
}

/// Rotation without a redeploy, with `PUSHER_SECRET_TTL_SECONDS=1`: the
/// rotated value is used once the TTL has passed; with moto stopped the cached
/// value keeps signing (logged once); with moto back the refresh succeeds.
#[test]
fn rotation_is_picked_up_after_the_ttl() {
    let (server, url, setup) = start_moto();
    let port: u16 = url.rsplit(':').next().unwrap().parse().unwrap();
    let staging = endpoint(&[
        ("AWS_ENDPOINT_URL", url.as_str()),
        ("AWS_ACCESS_KEY_ID", setup["function"]["id"].as_str().unwrap()),
        ("AWS_SECRET_ACCESS_KEY", setup["function"]["secret"].as_str().unwrap()),
        ("PUSHER_SECRET_ID", "pusher/staging"),
        ("PUSHER_SECRET_TTL_SECONDS", "1"),
    ]);
    let ttl = Duration::from_millis(1100);
    let private_room = || event("private-room", json!({}));
    let (answer, _) = run(&staging, &private_room());
    assert_eq!(answer, json!({"auth": auth(setup["staging"]["secret"].as_str().unwrap(), "123.456:private-room")}));

    // Rotated: after the TTL the next request signs with the new value.
    let rotated = "moto-staging-rotated-secret-1";
    put_secret(&url, &setup["admin"], "pusher/staging", rotated);
    std::thread::sleep(ttl);
    let (answer, log) = run(&staging, &private_room());
    assert_eq!(answer, json!({"auth": auth(rotated, "123.456:private-room")}));
    assert!(!log.contains(rotated), "{log}");

    // moto stops: the cached value keeps signing, and the log says so once.
    drop(server);
    let mut outage_log = String::new();
    for _ in 0..3 {
        std::thread::sleep(ttl);
        let (answer, log) = run(&staging, &private_room());
        assert_eq!(answer, json!({"auth": auth(rotated, "123.456:private-room")}));
        outage_log.push_str(&log);
    }
    assert_eq!(outage_log.matches("cannot refresh the Pusher secret").count(), 1, "{outage_log}");
    assert!(outage_log.contains("secret_unavailable") && !outage_log.contains(rotated), "{outage_log}");

    // moto is back (a fresh server, IAM off, holding a newer value): the refresh succeeds.
    let _server = spawn_moto(&moto_bin(), port, false);
    let newer = "moto-staging-rotated-secret-2";
    put_secret(&url, &setup["admin"], "pusher/staging", newer);
    std::thread::sleep(ttl);
    let (answer, log) = run(&staging, &private_room());
    assert_eq!(answer, json!({"auth": auth(newer, "123.456:private-room")}));
    assert!(log.contains("Secrets Manager answers again") && !log.contains(newer), "{log}");
}
