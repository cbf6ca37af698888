//! The real bootstrap (`pusher-auth`, the release binary's `main`) against a
//! small stand-in for the Lambda Runtime API, at every log level Lambda's
//! `AWS_LAMBDA_LOG_LEVEL` allows: every answer is right, and nothing the
//! process writes (stdout and stderr, its own lines and `lambda_runtime`'s)
//! holds a signature, shared secret, token, secret or raw query string.

use std::cell::RefCell;
use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::helpers::jwks_server::Server;
use crate::helpers::lambda_environment;
use lambda_runtime_stub::{invocation_of, start, Options, Seen};

use crate::helpers::{fixture, tokens, KEY, MASTER_KEY, SECRET};
use serde_json::Value;

/// The events: JSONP private, presence, encrypted and user authentication with a
/// token, AJAX with a bearer token, a mapping-template request, one refusal.
fn events(token: &str) -> Vec<Value> {
    let query = |channel: &str| {
        format!("callback=Pusher.auth_callbacks%5B%271%27%5D&socket_id=1.2&channel_name={channel}&token={token}")
    };
    let mut out = Vec::new();
    for channel in ["private-user-user-1", "presence-room-1", "private-encrypted-org-acme-x", "private-forbidden"] {
        let mut e = fixture("apigw-v2-jsonp-private");
        e["rawQueryString"] = Value::from(query(channel));
        out.push(e);
    }
    let mut signin = fixture("apigw-v2-jsonp-private");
    signin["rawPath"] = Value::from("/pusher/user-auth");
    signin["requestContext"]["http"]["path"] = Value::from("/pusher/user-auth");
    signin["rawQueryString"] =
        Value::from(format!("callback=Pusher.auth_callbacks%5B%272%27%5D&socket_id=1.2&token={token}"));
    out.push(signin);
    let mut ajax = fixture("apigw-v2-ajax-private");
    ajax["body"] = Value::from("socket_id=1.2&channel_name=private-user-user-1");
    ajax["isBase64Encoded"] = Value::from(false);
    ajax["headers"]["authorization"] = Value::from(format!("Bearer {token}"));
    ajax["headers"].as_object_mut().unwrap().remove("origin");
    out.push(ajax);
    let mut mapping = fixture("rest-mapping-jsonp-private");
    mapping["params"]["querystring"]["channel_name"] = Value::from("private-user-user-1");
    mapping["params"]["querystring"]["token"] = Value::from(token);
    out.push(mapping);
    out
}

fn run(level: &str, events: &[Value]) -> (Seen, String) {
    run_with(level, events, &[], 1)
}

/// Runs the bootstrap with `extra` variables against a stand-in that hands out
/// `concurrency` invocations at once, the first ones only once that many
/// `/next` requests wait together.
pub(crate) fn run_with(level: &str, events: &[Value], extra: &[(&str, &str)], concurrency: usize) -> (Seen, String) {
    let events: Vec<Vec<u8>> = events.iter().map(|e| serde_json::to_vec(e).unwrap()).collect();
    let count = events.len();
    let api = start(Options { events, concurrency, ..Options::default() });
    watch(&api.address, &api.seen, count, level, extra)
}

thread_local! {
    /// The names of the bootstrap's threads when [`watch`] last stopped it on
    /// this test's thread (Linux's `/proc/<pid>/task/*/comm`; none elsewhere).
    static THREADS: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// The names of the threads of the process `pid` (empty where `/proc` is not).
fn thread_names(pid: u32) -> Vec<String> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return Vec::new() };
    tasks
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .map(|name| name.trim_end().to_owned())
        .collect()
}

/// Runs the bootstrap against the stand-in at `address` until it has answered
/// `count` invocations; `extra` variables come last (an empty value unsets).
fn watch(address: &str, seen: &Mutex<Seen>, count: usize, level: &str, extra: &[(&str, &str)]) -> (Seen, String) {
    let t = tokens();
    let mut child = lambda_environment(&mut Command::new(env!("CARGO_BIN_EXE_pusher-auth")), address, level)
        .env("PUSHER_ENCRYPTION_MASTER_KEY_BASE64", MASTER_KEY)
        .env("AUTH_MODE", "jwt")
        .env("JWT_ALGORITHMS", "RS256")
        .env("JWT_JWKS", t["jwks"].to_string())
        .env("JWT_ISSUER", t["issuer"].as_str().unwrap())
        .env("JWT_AUDIENCE", t["audience"].as_str().unwrap())
        .env("USER_INFO_CLAIMS", "name,org")
        .env("CHANNEL_RULES", "private-user-{sub} presence-room-* private-encrypted-org-{org}-*")
        .envs(extra.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read both pipes as the process writes (a full pipe would stop it).
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = Vec::new();
            let _ = pipe.read_to_end(&mut text);
            String::from_utf8_lossy(&text).into_owned()
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    // A hang detector, generous: RS256 checks are slow in a debug build on a busy machine.
    let patience = Duration::from_secs(30) + Duration::from_millis(500) * count as u32;
    let started = Instant::now();
    let answered = || {
        let seen = seen.lock().unwrap();
        seen.responses.len() + seen.errors.len()
    };
    while answered() < count {
        if started.elapsed() > patience {
            let _ = child.kill();
            let _ = child.wait();
            let (out, err) = (stdout.join().unwrap(), stderr.join().unwrap());
            panic!("the bootstrap answered {} of {count} events:\n{out}{err}", answered());
        }
        assert!(child.try_wait().unwrap().is_none(), "the bootstrap exited");
        std::thread::sleep(Duration::from_millis(5));
    }
    // Let the last lines out, then stop it where it waits for the next event.
    std::thread::sleep(Duration::from_millis(100));
    THREADS.set(thread_names(child.id()));
    child.kill().unwrap();
    child.wait().unwrap();
    let log = format!("{}{}", stdout.join().unwrap(), stderr.join().unwrap());
    let seen = std::mem::take(&mut *seen.lock().unwrap());
    (seen, log)
}

/// Strings whose appearance in a log would leak something.
fn secrets_of(seen: &Seen, token: &str, events: &[Value]) -> Vec<String> {
    let t = tokens();
    let mut out = vec![SECRET.to_owned(), MASTER_KEY.to_owned(), t["hs_secret"].as_str().unwrap().to_owned()];
    out.extend(token.split('.').map(String::from));
    for e in events {
        if let Some(q) = e["rawQueryString"].as_str() {
            out.push(q.to_owned());
            out.extend(
                q.split('&').filter(|p| p.starts_with("callback=") || p.starts_with("token=")).map(String::from),
            );
        }
    }
    for (_, body) in &seen.responses {
        let text = String::from_utf8_lossy(body);
        // Every signature, shared secret and signed identity in the answers.
        for marker in [format!("{KEY}:"), "\"shared_secret\\\":\\\"".into(), "\"shared_secret\":\"".into()] {
            for (at, _) in text.match_indices(&marker) {
                let rest = &text[at + marker.len()..];
                let value: String =
                    rest.chars().take_while(|c| c.is_ascii_alphanumeric() || "+/=".contains(*c)).collect();
                if value.len() >= 16 {
                    out.push(value);
                }
            }
        }
    }
    out.push("user_data".into());
    out.push("channel_data".into());
    out.retain(|s| s.len() >= 8);
    out
}

#[test]
fn no_secret_at_any_log_level() {
    let token = tokens()["tokens"]["valid_rs256"].as_str().unwrap().to_owned();
    let events = events(&token);
    for level in ["error", "warn", "info", "debug", "trace", "TRACE", "DEBUG"] {
        let (seen, log) = run(level, &events);
        assert_eq!(seen.init_errors, 0, "{level}: {log}");
        // Every answer as expected: five signed proxy answers, one JSONP denial, the
        // mapping-template success (a JSON string).
        assert_eq!(seen.responses.len(), events.len(), "{level}: errors {:?}\n{log}", seen.errors.len());
        let bodies: Vec<String> = seen.responses.iter().map(|(_, b)| String::from_utf8(b.clone()).unwrap()).collect();
        let signed = bodies.iter().filter(|b| b.contains(&format!("{KEY}:"))).count();
        assert_eq!(signed, events.len() - 1, "{level}: {bodies:#?}");
        assert!(bodies.iter().any(|b| b.contains("shared_secret")), "{level}");
        assert!(bodies[3].contains(r#"{\"error\":\"forbidden\",\"status\":403}"#), "{level}: {}", bodies[3]);
        for secret in secrets_of(&seen, &token, &events) {
            assert!(!log.contains(&secret), "{level}: {secret:?} in the log:\n{log}");
        }
        // One JSON line per request at info and below; lines are JSON objects.
        let lines: Vec<Value> =
            log.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("{level}: not JSON: {l}"))).collect();
        let request_lines: Vec<&Value> = lines.iter().filter(|l| !l["route"].is_null()).collect();
        let expected = if matches!(level, "error" | "warn") { 0 } else { events.len() };
        assert_eq!(request_lines.len(), expected, "{level}:\n{log}");
        for line in request_lines {
            crate::helpers::assert_emf(line);
        }
    }
}

/// Lambda Managed Instances: with `AWS_LAMBDA_MAX_CONCURRENCY=4` the bootstrap
/// polls with four workers on a multi-thread runtime, so four invocations are
/// outstanding at once (the stub hands none out before four `/next` requests
/// wait together: a sequential bootstrap would never get one), and every one
/// of 200 answers is the one the same event gets alone.
#[test]
fn managed_instances_take_several_invocations_at_once() {
    let token = tokens()["tokens"]["valid_rs256"].as_str().unwrap().to_owned();
    let kinds = events(&token);
    let (alone, _) = run("info", &kinds);
    let expected: Vec<Vec<u8>> = {
        let mut by_id = alone.responses;
        by_id.sort_by_key(|(id, _)| invocation_of(id).unwrap());
        by_id.into_iter().map(|(_, body)| body).collect()
    };
    assert_eq!(expected.len(), kinds.len());
    let many: Vec<Value> = (0..200).map(|n| kinds[n % kinds.len()].clone()).collect();
    let (seen, log) = run_with("info", &many, &[("AWS_LAMBDA_MAX_CONCURRENCY", "4")], 4);
    assert_eq!((seen.init_errors, seen.errors.len()), (0, 0), "{log}");
    // A multi-thread runtime: its workers beside the main thread (a
    // current-thread runtime would run on the main thread alone).
    let threads = THREADS.take();
    if cfg!(target_os = "linux") {
        assert!(threads.len() > 1, "{threads:?}");
    }
    assert_eq!(seen.responses.len(), many.len());
    assert!(seen.max_in_flight >= 4, "at most {} invocations at once", seen.max_in_flight);
    for (id, body) in &seen.responses {
        let n = invocation_of(id).unwrap();
        assert_eq!(body, &expected[n % kinds.len()], "{id}");
    }
    // Still one whole JSON line per request.
    let lines: Vec<Value> = log.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("{l}"))).collect();
    assert_eq!(lines.iter().filter(|l| !l["route"].is_null()).count(), many.len());
}

/// A JSONP request for `channel` carrying the fixture token `token`.
fn jsonp_with(channel: &str, token: &str) -> Vec<u8> {
    let token = tokens()["tokens"][token].as_str().unwrap().to_owned();
    let mut e = fixture("apigw-v2-jsonp-private");
    e["rawQueryString"] = Value::from(format!(
        "callback=Pusher.auth_callbacks%5B%271%27%5D&socket_id=1.2&channel_name={channel}&token={token}"
    ));
    serde_json::to_vec(&e).unwrap()
}

/// The bootstrap with RS256 and ES256 keys from the JWKS at `url` (and `extra`),
/// until it has answered `count` events: the answers in order, each one's log
/// reason, and the log.
fn with_jwks_url(
    address: &str,
    seen: &Mutex<Seen>,
    count: usize,
    url: &str,
    extra: &[(&str, &str)],
) -> (Vec<String>, Vec<String>, String) {
    let variables = [&[("JWT_ALGORITHMS", "RS256,ES256"), ("JWT_JWKS", ""), ("JWT_JWKS_URL", url)], extra].concat();
    let (seen, log) = watch(address, seen, count, "info", &variables);
    let mut answers = seen.responses.clone();
    answers.sort_by_key(|(id, _)| invocation_of(id).unwrap());
    let bodies: Vec<String> = answers.iter().map(|(_, b)| String::from_utf8(b.clone()).unwrap()).collect();
    assert_eq!(bodies.len(), count, "{log}");
    let reasons = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| !l["route"].is_null())
        .filter_map(|l| l["reason"].as_str().map(String::from))
        .collect();
    (bodies, reasons, log)
}

/// A key withdrawn from the JWKS (`{rsa-1, ec-1}` → `{ec-1}`) stops verifying
/// within the key set's lifetime, through the real bootstrap: a token signed
/// with it is refused whether it was cached or new, and a token signed with
/// the remaining key is still signed.
#[test]
fn a_withdrawn_key_is_refused_after_the_lifetime() {
    let t = tokens();
    let server = Server::start(&t["jwks"]);
    let events = vec![
        jsonp_with("private-user-user-1", "valid_rs256"),
        jsonp_with("private-user-user-2", "valid_es256"),
        // After the withdrawal and a wait past the 1 s lifetime:
        jsonp_with("private-user-user-1", "valid_rs256"),
        jsonp_with("private-user-user-5", "valid_rs256_other_user"),
        jsonp_with("private-user-user-2", "valid_es256"),
    ];
    let count = events.len();
    let options = Options { events, slow_next: Some((2, Duration::from_millis(1500))), ..Options::default() };
    let api = start(options);
    let (address, seen) = (api.address, api.seen);
    // Withdraw rsa-1 once the first two are answered (the third is held 1.5 s).
    let (watcher_seen, body, withdrawn) = (seen.clone(), server.body.clone(), {
        let mut set = t["jwks"].clone();
        set["keys"].as_array_mut().unwrap().retain(|k| k["kid"] != "rsa-1");
        set.to_string()
    });
    std::thread::spawn(move || {
        while watcher_seen.lock().unwrap().responses.len() < 2 {
            std::thread::sleep(Duration::from_millis(2));
        }
        *body.lock().unwrap() = withdrawn;
    });
    let (bodies, reasons, log) = with_jwks_url(&address, &seen, count, &server.url, &[("JWT_JWKS_TTL_SECONDS", "1")]);
    let signed: Vec<bool> = bodies.iter().map(|b| b.contains(&format!("{KEY}:"))).collect();
    assert_eq!(signed, [true, true, false, false, true], "{bodies:#?}\n{log}");
    for refused in [&bodies[2], &bodies[3]] {
        assert!(refused.contains(r#"{\"error\":\"unauthenticated\",\"status\":401}"#), "{refused}");
    }
    assert_eq!(reasons, ["ok", "ok", "token_unknown_key", "token_unknown_key", "ok"], "{log}");
    assert_eq!(server.hits(), 2, "the first fetch and one refresh");
}

/// During a JWKS outage the set in force stops verifying once no fetch has
/// confirmed it for `JWT_JWKS_MAX_STALE_SECONDS`: past that, RSA and EC tokens
/// are refused (`jwks_unavailable`), one the verified-token cache holds too,
/// until a fetch succeeds. Through the real bootstrap, with a JWKS on 127.0.0.1
/// that stops answering after the first request.
#[test]
fn a_key_set_no_fetch_confirms_is_dropped_after_the_stale_limit() {
    let server = Server::start(&tokens()["jwks"]);
    let events = vec![
        jsonp_with("private-user-user-1", "valid_rs256"),
        // The endpoint is down from here; these come 2.5 s after the only fetch,
        // past the 1 s lifetime and the 2 s limit. The first token is cached.
        jsonp_with("private-user-user-1", "valid_rs256"),
        jsonp_with("private-user-user-2", "valid_es256"),
    ];
    let count = events.len();
    let options = Options { events, slow_next: Some((1, Duration::from_millis(2500))), ..Options::default() };
    let api = start(options);
    let (address, seen) = (api.address, api.seen);
    let (watcher_seen, up) = (seen.clone(), server.up.clone());
    std::thread::spawn(move || {
        while watcher_seen.lock().unwrap().responses.is_empty() {
            std::thread::sleep(Duration::from_millis(2));
        }
        *up.lock().unwrap() = false;
    });
    let limits = [("JWT_JWKS_TTL_SECONDS", "1"), ("JWT_JWKS_MAX_STALE_SECONDS", "2")];
    let (bodies, reasons, log) = with_jwks_url(&address, &seen, count, &server.url, &limits);
    let signed: Vec<bool> = bodies.iter().map(|b| b.contains(&format!("{KEY}:"))).collect();
    assert_eq!(signed, [true, false, false], "{bodies:#?}\n{log}");
    assert_eq!(reasons, ["ok", "jwks_unavailable", "jwks_unavailable"], "{log}");
    assert!(server.hits() >= 2, "the dropped set is fetched again, as on a first load");
}

/// A stage variable that tries to set a secret is ignored (the environment's
/// secret signs) and logged once per variable for the process's life, never
/// with its value; a request without one logs nothing.
#[test]
fn secret_stage_variables_are_ignored_and_warned_once() {
    let t = tokens();
    let token = t["tokens"]["valid_rs256"].as_str().unwrap();
    let plain = || {
        let mut e = fixture("apigw-v2-jsonp-private");
        e["rawQueryString"] = Value::from(format!(
            "callback=Pusher.auth_callbacks%5B%271%27%5D&socket_id=1.2&channel_name=private-user-user-1&token={token}"
        ));
        e
    };
    let with = |names: &[&str]| {
        let mut e = plain();
        for name in names {
            let value =
                if *name == "PUSHER_SECRET" { "stage-secret-value" } else { "c3RhZ2UtbWFzdGVyLWtleS12YWx1ZQ==" };
            e["stageVariables"][*name] = Value::from(value);
        }
        e
    };
    let (secret, key) = ("PUSHER_SECRET", "PUSHER_ENCRYPTION_MASTER_KEY_BASE64");
    let events = [plain(), with(&[secret]), with(&[secret]), plain(), with(&[secret, key]), with(&[key])];
    let (seen, log) = run("info", &events);
    let bodies: Vec<String> = seen.responses.iter().map(|(_, b)| String::from_utf8(b.clone()).unwrap()).collect();
    assert_eq!(bodies.len(), events.len(), "{log}");
    assert!(bodies.windows(2).all(|w| w[0] == w[1]), "the stage's secret changed an answer: {bodies:#?}");
    assert!(bodies[0].contains(&format!("{KEY}:")), "{}", bodies[0]);
    // Which warnings came before which request line: the secret's with the second request,
    // the master key's with the fifth, each once.
    let mut requests = 0;
    let mut warned = Vec::new();
    for line in log.lines() {
        if line.contains(r#""route":"#) {
            requests += 1;
        } else if line.contains("stage variable ignored") {
            let variable = if line.contains(&format!(r#""variable":"{key}""#)) { key } else { secret };
            warned.push((requests + 1, variable));
        }
    }
    assert_eq!(warned, [(2, secret), (5, key)], "{log}");
    assert!(!log.contains("stage-secret-value") && !log.contains("c3RhZ2UtbWFzdGVy"), "{log}");
}
