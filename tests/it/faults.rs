//! Faults from the Lambda Runtime API, against the real bootstrap
//! (`pusher-auth`) and the Runtime API stand-in with fault options
//! (`perf/runtime-stub`, [`Options`]). What each fault
//! does is stated in docs/reliability.md ("Faults"); each test proves it: the
//! function never hangs, and either goes on to the next invocation or exits
//! (non-zero, one log line) so that Lambda restarts the environment.

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::helpers::lambda_environment;
use crate::helpers::{fixture, KEY};
use lambda_runtime_stub::{request_id, start, Options, Seen};
use serde_json::Value;

/// Generous bound on any wait, so a hang fails the test instead of blocking it.
const PATIENCE: Duration = Duration::from_secs(60);

/// A JSONP request the demo configuration signs.
fn allowed_event() -> Vec<u8> {
    serde_json::to_vec(&fixture("apigw-v2-jsonp-private")).unwrap()
}

struct Function {
    child: Child,
    seen: Arc<Mutex<Seen>>,
}

impl Function {
    fn start(options: Options) -> Self {
        let api = start(options);
        let child = lambda_environment(&mut Command::new(env!("CARGO_BIN_EXE_pusher-auth")), &api.address, "info")
            .env("AUTH_MODE", "demo")
            .env("CHANNEL_RULES", "private-* presence-*")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        Self { child, seen: api.seen }
    }

    fn answered(&self) -> usize {
        self.seen.lock().unwrap().answered
    }

    /// Waits until `n` answers arrived; panics if the process exits or time runs out.
    fn wait_answers(&mut self, n: usize) {
        let started = Instant::now();
        while self.answered() < n {
            assert!(self.child.try_wait().unwrap().is_none(), "the function exited after {} answers", self.answered());
            assert!(started.elapsed() < PATIENCE, "the function hung after {} answers", self.answered());
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Stops the function (it is waiting for the next event) and returns what it logged.
    fn stop(mut self) -> (Seen, String) {
        std::thread::sleep(Duration::from_millis(100));
        assert!(self.child.try_wait().unwrap().is_none(), "the function exited");
        self.child.kill().unwrap();
        let output = self.child.wait_with_output().unwrap();
        let log = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        (std::mem::take(&mut *self.seen.lock().unwrap()), log)
    }

    /// Waits for the function to exit on its own; returns its exit code and log.
    fn wait_exit(mut self) -> (Option<i32>, Seen, String) {
        let started = Instant::now();
        while self.child.try_wait().unwrap().is_none() {
            assert!(started.elapsed() < PATIENCE, "the function neither went on nor exited");
            std::thread::sleep(Duration::from_millis(5));
        }
        let output = self.child.wait_with_output().unwrap();
        let log = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        (output.status.code(), std::mem::take(&mut *self.seen.lock().unwrap()), log)
    }
}

/// `(statusCode, body)` of a proxy answer.
fn proxy(body: &[u8]) -> (u64, String) {
    let v: Value = serde_json::from_slice(body).unwrap();
    (v["statusCode"].as_u64().unwrap(), v["body"].as_str().unwrap().to_owned())
}

fn signed(body: &[u8]) -> bool {
    let (status, text) = proxy(body);
    status == 200 && text.contains(&format!("\"auth\":\"{KEY}:"))
}

#[test]
fn slow_next_is_waited_for() {
    let events = vec![allowed_event(); 3];
    let mut f = Function::start(Options { events, slow_next: Some((1, Duration::from_secs(3))), ..Options::default() });
    f.wait_answers(3);
    let (seen, _) = f.stop();
    assert_eq!(seen.responses.len(), 3);
    assert!(seen.responses.iter().all(|(_, b)| signed(b)));
    assert!(seen.errors.is_empty());
}

#[test]
fn dropped_next_exits_for_a_restart() {
    let events = vec![allowed_event(); 3];
    let f = Function::start(Options { events, drop_next: Some(1), ..Options::default() });
    let (code, seen, log) = f.wait_exit();
    assert_eq!(code, Some(1), "{log}");
    assert_eq!(seen.responses.len(), 1, "the invocation before the fault was answered");
    assert!(signed(&seen.responses[0].1));
    assert!(log.contains("runtime error"), "{log}");
}

#[test]
fn response_answered_500_is_logged_and_the_next_invocation_served() {
    let events = vec![allowed_event(); 3];
    let mut f = Function::start(Options { events, post_status: Some((0, 500)), ..Options::default() });
    f.wait_answers(3);
    let (seen, log) = f.stop();
    assert_eq!(seen.responses.len(), 3);
    assert!(seen.responses.iter().all(|(_, b)| signed(b)));
    assert!(log.contains("non-200"), "{log}");
}

#[test]
fn stale_response_410_after_a_passed_deadline_is_logged_and_the_next_served() {
    // The deadline has passed before the event arrives: the function still
    // answers (its work takes microseconds); Lambda would refuse the late
    // answer with 410, which is logged, and the next invocation is served.
    let events = vec![allowed_event(); 3];
    let mut f = Function::start(Options {
        events,
        deadline_offset_ms: Some(-5_000),
        post_status: Some((0, 410)),
        ..Options::default()
    });
    f.wait_answers(3);
    let (seen, log) = f.stop();
    assert_eq!(seen.responses.len(), 3);
    assert!(seen.responses.iter().all(|(_, b)| signed(b)));
    assert!(log.contains("invocation timed out or response was stale"), "{log}");
}

#[test]
fn reset_response_exits_for_a_restart() {
    let events = vec![allowed_event(); 3];
    let f = Function::start(Options { events, reset_post: Some(0), ..Options::default() });
    let (code, seen, log) = f.wait_exit();
    assert_eq!(code, Some(1), "{log}");
    assert_eq!(seen.responses.len(), 1, "the answer was sent once, not retried");
    assert!(log.contains("runtime error"), "{log}");
}

#[test]
fn events_beyond_the_limits_are_refused_and_the_next_served() {
    let mut query = fixture("apigw-v2-jsonp-private");
    let raw = query["rawQueryString"].as_str().unwrap().to_owned();
    query["rawQueryString"] = Value::from(format!("{raw}&pad={}", "x".repeat(64 * 1024)));
    let mut body = fixture("apigw-v2-ajax-private");
    body["isBase64Encoded"] = Value::from(false);
    body["headers"].as_object_mut().unwrap().remove("origin");
    body["body"] = Value::from(format!("socket_id=1.2&channel_name=private-a&pad={}", "x".repeat(1024 * 1024)));
    let mut huge = fixture("apigw-v2-jsonp-private");
    // Near Lambda's 6 MB request limit, in headers the endpoint never reads.
    huge["headers"]["x-padding"] = Value::from("y".repeat(6 * 1024 * 1024 - 4096));
    let mut mapping = fixture("rest-mapping-jsonp-private");
    mapping["params"]["querystring"]["pad"] = Value::from("z".repeat(20 * 1024));
    let nested = format!("{{\"version\":\"2.0\",\"x\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
    let events = vec![
        serde_json::to_vec(&query).unwrap(),
        serde_json::to_vec(&body).unwrap(),
        serde_json::to_vec(&huge).unwrap(),
        serde_json::to_vec(&mapping).unwrap(),
        nested.into_bytes(),
        allowed_event(),
    ];
    let n = events.len();
    let mut f = Function::start(Options { events, ..Options::default() });
    f.wait_answers(n);
    let (seen, log) = f.stop();
    let by_id = |id: &str| seen.responses.iter().find(|(i, _)| i == id).map(|(_, b)| b.clone());
    let error =
        |id: &str| seen.errors.iter().find(|(i, _)| i == id).map(|(_, b)| String::from_utf8_lossy(b).into_owned());
    // An oversized query is refused before the callback is read: plain JSON 413.
    assert_eq!(proxy(&by_id(&request_id(0)).unwrap()).0, 413);
    assert!(proxy(&by_id(&request_id(0)).unwrap()).1.contains("payload_too_large"));
    assert_eq!(proxy(&by_id(&request_id(1)).unwrap()).0, 413);
    assert!(signed(&by_id(&request_id(2)).unwrap()), "a 6 MB event is still answered");
    assert!(error(&request_id(3)).unwrap().contains("payload_too_large"), "{log}");
    assert!(error(&request_id(4)).unwrap().contains("UnsupportedEvent"), "deep nesting is refused, not recursed into");
    assert!(signed(&by_id(&request_id(5)).unwrap()), "the next invocation is served");
}

/// A configuration error under `cargo lambda watch` (which sets
/// `CARGO_MANIFEST_DIR`) answers every request with the error; on AWS (which
/// sets `AWS_LAMBDA_INITIALIZATION_TYPE`) the same variable does not keep a
/// broken function up: the init fails.
#[test]
fn a_configuration_error_is_served_only_off_aws() {
    let start = |on_aws: bool| {
        let api = start(Options { events: vec![allowed_event()], ..Options::default() });
        let mut command = Command::new(env!("CARGO_BIN_EXE_pusher-auth"));
        lambda_environment(&mut command, &api.address, "info")
            .env("AUTH_MODE", "demo")
            .env("CHANNEL_RULES", "user-*")
            .env("CARGO_MANIFEST_DIR", env!("CARGO_MANIFEST_DIR"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if on_aws {
            command.env("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand");
        }
        Function { child: command.spawn().unwrap(), seen: api.seen }
    };
    let mut local = start(false);
    local.wait_answers(1);
    let (seen, _) = local.stop();
    let (status, body) = proxy(&seen.responses[0].1);
    assert_eq!(status, 500);
    assert!(body.contains("CHANNEL_RULES"), "{body}");
    let (code, seen, log) = start(true).wait_exit();
    assert_eq!((code, seen.answered), (Some(1), 0), "{log}");
}
