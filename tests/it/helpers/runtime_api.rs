//! A small stand-in for the AWS Lambda Runtime API, for tests that run the
//! real bootstrap: each connection is served on its own thread, each
//! `GET …/invocation/next` takes the next event (so several connections get
//! several invocations at once), and answers are recorded, with the most
//! invocations outstanding (handed out, not yet answered) at once.
//! [`runtime_api_gated`] also holds the first invocations back until that
//! many `/next` requests wait together, so only a concurrent runtime gets any.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// What the stub saw: the answers posted, in order.
#[derive(Default)]
pub(crate) struct Seen {
    /// `(request id, body)` of each response.
    pub responses: Vec<(String, Vec<u8>)>,
    /// `(request id, body)` of each invocation error.
    pub errors: Vec<(String, Vec<u8>)>,
    /// Init errors posted.
    pub init_errors: usize,
    /// Invocations handed out and not yet answered.
    pub in_flight: usize,
    /// The most invocations outstanding at once.
    pub max_in_flight: usize,
}

/// Holds `/next` requests until `size` of them wait at once, then lets every one through.
struct Gate {
    size: usize,
    waiting: Mutex<usize>,
    opened: Condvar,
}

impl Gate {
    fn new(size: usize) -> Self {
        Self { size, waiting: Mutex::new(0), opened: Condvar::new() }
    }

    fn pass(&self) {
        let mut waiting = self.waiting.lock().unwrap();
        if *waiting >= self.size {
            return;
        }
        *waiting += 1;
        if *waiting >= self.size {
            self.opened.notify_all();
        } else {
            let _open = self.opened.wait_while(waiting, |w| *w < self.size).unwrap();
        }
    }
}

/// Serves `events` one `GET …/next` at a time; after the last, holds `/next`
/// open. No event is handed out before `gate` `/next` requests wait at the
/// same time, and none is sent before `gate` are taken: the first `gate`
/// invocations are all outstanding at once (1: one at a time).
pub(crate) fn runtime_api_gated(events: Vec<Vec<u8>>, gate: usize) -> (String, Arc<Mutex<Seen>>) {
    let gate = Arc::new([Gate::new(gate), Gate::new(gate)]);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let queue = Arc::new(Mutex::new(events.into_iter().enumerate().collect::<VecDeque<_>>()));
    let shared = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (seen, queue, gates) = (shared.clone(), queue.clone(), gate.clone());
            std::thread::spawn(move || serve(stream, &seen, &queue, &gates));
        }
    });
    (address, seen)
}

/// `gates`: before an event is taken, and before it is sent.
fn serve(stream: TcpStream, seen: &Mutex<Seen>, queue: &Mutex<VecDeque<(usize, Vec<u8>)>>, gates: &[Gate; 2]) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut out = stream;
    while let Some((path, body)) = read_request(&mut reader) {
        if path.ends_with("/invocation/next") {
            gates[0].pass();
            let next = queue.lock().unwrap().pop_front();
            let Some((n, event)) = next else {
                std::thread::sleep(Duration::from_secs(600));
                return;
            };
            {
                let mut seen = seen.lock().unwrap();
                seen.in_flight += 1;
                seen.max_in_flight = seen.max_in_flight.max(seen.in_flight);
            }
            gates[1].pass();
            out.write_all(&invocation(n, 30_000, &event)).unwrap();
        } else {
            {
                let mut seen = seen.lock().unwrap();
                let id = path.split('/').nth(4).unwrap_or("").to_owned();
                if !path.ends_with("/init/error") {
                    seen.in_flight = seen.in_flight.saturating_sub(1);
                }
                if path.ends_with("/response") {
                    seen.responses.push((id, body));
                } else if path.ends_with("/init/error") {
                    seen.init_errors += 1;
                } else {
                    seen.errors.push((id, body));
                }
            }
            let reply = b"{\"status\":\"OK\"}";
            let head = format!(
                "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                reply.len()
            );
            out.write_all(&[head.as_bytes(), reply].concat()).unwrap();
        }
    }
}

/// Faults and load for [`runtime_api_with`] (the plain [`runtime_api`] has none).
#[derive(Clone, Default)]
pub(crate) struct Options {
    /// The events, served in turn.
    pub events: Vec<Vec<u8>>,
    /// Serve this many invocations in all, cycling through `events` (0: each once).
    pub total: usize,
    /// Hold the `/next` that would deliver invocation n (0-based) this long first.
    pub slow_next: Option<(usize, Duration)>,
    /// Close the connection, unanswered, on the `/next` that would deliver invocation n.
    pub drop_next: Option<usize>,
    /// Answer the `POST …/response` (or `…/error`) of invocation n with this status instead of 202.
    pub post_status: Option<(usize, u16)>,
    /// Close the connection, unanswered, on the `POST` for invocation n.
    pub reset_post: Option<usize>,
    /// `Lambda-Runtime-Deadline-Ms` relative to now, in ms (default +30 s; negative: already passed).
    pub deadline_offset_ms: Option<i64>,
}

/// Extra records of [`runtime_api_with`].
#[derive(Default)]
pub(crate) struct Counters {
    /// Invocations delivered.
    pub delivered: usize,
    /// Answers received (responses and errors), whatever the stub replied.
    pub answered: usize,
    /// Bytes of the largest answer received.
    pub largest_answer: usize,
}

/// Like [`runtime_api`], with faults and a cycling event source (responses are
/// recorded in `Seen` only for the first 1,000 invocations, to keep long runs small).
pub(crate) fn runtime_api_with(options: Options) -> (String, Arc<Mutex<Seen>>, Arc<Mutex<Counters>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let counters = Arc::new(Mutex::new(Counters::default()));
    let total = if options.total == 0 { options.events.len() } else { options.total };
    let next = Arc::new(Mutex::new(0usize));
    let (shared, shared_counters, options) = (seen.clone(), counters.clone(), Arc::new(options));
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (seen, counters, next, options) =
                (shared.clone(), shared_counters.clone(), next.clone(), options.clone());
            std::thread::spawn(move || serve_with(stream, &seen, &counters, &next, total, &options));
        }
    });
    (address, seen, counters)
}

fn serve_with(
    stream: TcpStream,
    seen: &Mutex<Seen>,
    counters: &Mutex<Counters>,
    next: &Mutex<usize>,
    total: usize,
    options: &Options,
) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut out = stream;
    while let Some((path, body)) = read_request(&mut reader) {
        if path.ends_with("/invocation/next") {
            let n = {
                let mut next = next.lock().unwrap();
                let n = *next;
                if n < total {
                    *next += 1;
                }
                n
            };
            if n >= total {
                std::thread::sleep(Duration::from_secs(600));
                return;
            }
            if options.slow_next.is_some_and(|(at, _)| at == n) {
                std::thread::sleep(options.slow_next.unwrap().1);
            }
            if options.drop_next == Some(n) {
                return; // closes the connection with the request unanswered
            }
            let event = &options.events[n % options.events.len()];
            counters.lock().unwrap().delivered += 1;
            if out.write_all(&invocation(n, options.deadline_offset_ms.unwrap_or(30_000), event)).is_err() {
                return;
            }
        } else {
            let id = path.split('/').nth(4).unwrap_or("").to_owned();
            let n: Option<usize> = id.strip_prefix("req-").and_then(|n| n.parse().ok());
            {
                let mut counters = counters.lock().unwrap();
                counters.answered += 1;
                counters.largest_answer = counters.largest_answer.max(body.len());
            }
            {
                let mut seen = seen.lock().unwrap();
                let keep = n.is_none_or(|n| n < 1000);
                if path.ends_with("/init/error") {
                    seen.init_errors += 1;
                } else if path.ends_with("/response") {
                    if keep {
                        seen.responses.push((id, body));
                    }
                } else if keep {
                    seen.errors.push((id, body));
                }
            }
            if n.is_some() && options.reset_post == n {
                return;
            }
            let (status, reason) = match options.post_status {
                Some((at, status)) if Some(at) == n => (status, "Fault"),
                _ => (202, "Accepted"),
            };
            let reply = b"{\"status\":\"OK\"}";
            let head = format!(
                "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                reply.len()
            );
            if out.write_all(&[head.as_bytes(), reply].concat()).is_err() {
                return;
            }
        }
    }
}

/// Reads one HTTP/1.1 request: its path and body; `None` once the connection is closed or cut.
fn read_request(reader: &mut BufReader<TcpStream>) -> Option<(String, Vec<u8>)> {
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
        return None;
    }
    let mut length = 0;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap_or(0) == 0 {
            return None;
        }
        if header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap();
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some((request_line.split_whitespace().nth(1).unwrap_or("").to_owned(), body))
}

/// The answer to `GET …/invocation/next` handing out invocation `n` (request id `req-<n>`),
/// with a deadline `deadline_offset_ms` from now (negative: already passed).
fn invocation(n: usize, deadline_offset_ms: i64, event: &[u8]) -> Vec<u8> {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let deadline = now + deadline_offset_ms;
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Lambda-Runtime-Aws-Request-Id: req-{n}\r\nLambda-Runtime-Deadline-Ms: {deadline}\r\n\
         Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:eu-west-1:123456789012:function:pusher-auth\r\n\
         Lambda-Runtime-Trace-Id: Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1\r\n\r\n",
        event.len()
    );
    [head.as_bytes(), event].concat()
}

/// Clears `command`'s environment and sets what Lambda gives every bootstrap (the Runtime API
/// at `address`, the function's name, memory, version and log level) plus the demo app's key
/// and secret; each test adds its own configuration after this.
pub(crate) fn lambda_environment<'c>(command: &'c mut Command, address: &str, level: &str) -> &'c mut Command {
    command
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", address)
        .env("AWS_LAMBDA_FUNCTION_NAME", "pusher-auth")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_LEVEL", level)
        .env("PUSHER_KEY", super::KEY)
        .env("PUSHER_SECRET", super::SECRET)
}
