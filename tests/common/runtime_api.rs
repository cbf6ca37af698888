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
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// What the stub saw: the answers posted, in order.
#[derive(Default)]
pub struct Seen {
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

/// Serves `events` one `GET …/next` at a time; after the last, holds `/next` open.
pub fn runtime_api(events: Vec<Vec<u8>>) -> (String, Arc<Mutex<Seen>>) {
    runtime_api_gated(events, 1)
}

/// As [`runtime_api`], but no event is handed out before `gate` `/next`
/// requests wait at the same time, and none is sent before `gate` are taken:
/// the first `gate` invocations are all outstanding at once.
pub fn runtime_api_gated(events: Vec<Vec<u8>>, gate: usize) -> (String, Arc<Mutex<Seen>>) {
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
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0;
        loop {
            let mut header = String::new();
            reader.read_line(&mut header).unwrap();
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
        reader.read_exact(&mut body).unwrap();
        let path = request_line.split_whitespace().nth(1).unwrap_or("").to_owned();
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
            let deadline =
                std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() + 30_000;
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
                 Lambda-Runtime-Aws-Request-Id: req-{n}\r\nLambda-Runtime-Deadline-Ms: {deadline}\r\n\
                 Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:eu-west-1:123456789012:function:pusher-auth\r\n\
                 Lambda-Runtime-Trace-Id: Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1\r\n\r\n",
                event.len()
            );
            out.write_all(&[head.as_bytes(), &event].concat()).unwrap();
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
