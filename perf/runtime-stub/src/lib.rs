//! A stand-in for the AWS Lambda Runtime API on 127.0.0.1, for running a real
//! bootstrap as Lambda would: the integration tests start it in process
//! ([`start`]), the process benchmarks as a program (`src/main.rs`).
//!
//! * `GET  /2018-06-01/runtime/invocation/next`: 200 with the next event as
//!   body and the `Lambda-Runtime-Aws-Request-Id` ([`request_id`]),
//!   `-Deadline-Ms` (now + 30 s), `-Invoked-Function-Arn` and `-Trace-Id`
//!   headers. At most [`Options::concurrency`] invocations are outstanding
//!   (handed out, not yet answered): with 1, as Lambda does, invocation N+1 is
//!   held until the answer to N has arrived. After the last invocation the
//!   request is held for good.
//! * `POST /2018-06-01/runtime/invocation/<id>/response` and `…/error`: 202,
//!   recorded; an id that is not outstanding gets 400 and is recorded as a
//!   protocol error, as is any other request.
//! * `POST /2018-06-01/runtime/init/error`: 202, recorded.
//!
//! HTTP/1.1 keep-alive, each connection on its own thread; every reply goes
//! out in one write, so a function never sees a reply split across two reads.
//! [`Options`] also injects faults (a slow or dropped `/next`, a failed or
//! reset `POST`, a passed deadline).

use std::io::{self, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const PREFIX: &str = "/2018-06-01/runtime/";
const TRACE_ID: &str = "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1";
const ACCEPTED: &[u8] = br#"{"status":"OK"}"#;
const SO_TIMESTAMPNS: libc::c_int = 35; // = SCM_TIMESTAMPNS on x86_64 and aarch64 Linux

/// What to serve, and the faults to inject.
#[derive(Clone, Debug)]
pub struct Options {
    /// The events, served in turn.
    pub events: Vec<Vec<u8>>,
    /// Serve this many invocations in all, cycling through `events` (`None`: each event once).
    pub total: Option<usize>,
    /// The most invocations outstanding at once (Lambda: 1; Lambda Managed Instances: more).
    /// Above 1, the first `concurrency` invocations are held until that many `/next` requests
    /// wait together, and all are taken before any is sent: only a runtime that polls
    /// concurrently gets any, and they are all outstanding at once.
    pub concurrency: usize,
    /// The function name in `Lambda-Runtime-Invoked-Function-Arn`.
    pub function_name: String,
    /// Record the answers of the first this many invocations in [`Seen`] (counters count all).
    pub keep: usize,
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

impl Default for Options {
    fn default() -> Self {
        Self {
            events: Vec::new(),
            total: None,
            concurrency: 1,
            function_name: "pusher-auth".to_owned(),
            keep: 1000,
            slow_next: None,
            drop_next: None,
            post_status: None,
            reset_post: None,
            deadline_offset_ms: None,
        }
    }
}

/// What the stand-in saw.
#[derive(Debug, Default)]
pub struct Seen {
    /// `(request id, body)` of each response (of the first [`Options::keep`] invocations).
    pub responses: Vec<(String, Vec<u8>)>,
    /// `(request id, body)` of each invocation error (of the first [`Options::keep`] invocations).
    pub errors: Vec<(String, Vec<u8>)>,
    /// Init errors posted.
    pub init_errors: usize,
    /// Requests that misused the API, described.
    pub protocol_errors: Vec<String>,
    /// Connections accepted.
    pub connections: usize,
    /// Invocations delivered.
    pub delivered: usize,
    /// Answers received (responses and errors), whatever the stand-in replied.
    pub answered: usize,
    /// Bytes of the largest answer received.
    pub largest_answer: usize,
    /// Invocations handed out and not yet answered.
    pub in_flight: usize,
    /// The most invocations outstanding at once.
    pub max_in_flight: usize,
}

/// An answer to an invocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// `POST …/invocation/<id>/response`.
    Response,
    /// `POST …/invocation/<id>/error`.
    Error,
}

/// Called as things happen, on the connection's thread (the process benchmark's
/// harness hears of them through these); every method does nothing by default.
pub trait Observer: Send + Sync + 'static {
    /// The first `GET …/next` arrived: when its first segment reached the kernel
    /// (`SO_TIMESTAMPNS`; 0 if unknown) and when the stand-in read it, in ns since the epoch.
    fn first_next(&self, _kernel_ns: u128, _read_ns: u128) {}
    /// The runtime waits in `GET …/next` for invocation `n`, which the stand-in hands
    /// out (or, past the last, holds) once this returns.
    fn before_next(&self, _n: usize) {}
    /// The answer to invocation `n` (request id `id`) arrived.
    fn answer(&self, _n: usize, _id: &str, _kind: Answer, _body: &[u8]) {}
    /// An init error arrived.
    fn init_error(&self, _body: &[u8]) {}
    /// A request misused the API.
    fn protocol_error(&self, _what: &str) {}
    /// A `GET …/next` came after the last invocation (called once).
    fn exhausted(&self, _seen: &Seen) {}
}

impl Observer for () {}

/// The stand-in, serving until the process exits.
pub struct RuntimeApi {
    /// `host:port`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub address: String,
    /// What it saw so far.
    pub seen: Arc<Mutex<Seen>>,
}

/// The request id of invocation `n` (0-based): shaped like Lambda's, fixed width so every
/// invocation does the same work.
pub fn request_id(n: usize) -> String {
    format!("8476a536-e9f4-11e8-9739-{n:012x}")
}

/// The invocation a request id names (the inverse of [`request_id`]).
pub fn invocation_of(id: &str) -> Option<usize> {
    usize::from_str_radix(id.strip_prefix("8476a536-e9f4-11e8-9739-")?, 16).ok()
}

/// Starts the stand-in on a free port.
pub fn start(options: Options) -> RuntimeApi {
    start_on(0, options, ()).unwrap()
}

/// Starts the stand-in on `port` (0: a free one), telling `observer` what happens.
pub fn start_on(port: u16, options: Options, observer: impl Observer) -> io::Result<RuntimeApi> {
    assert!(!options.events.is_empty(), "no event to serve");
    let listener = TcpListener::bind(("127.0.0.1", port))?;
    let on: libc::c_int = 1;
    // Inherited by accepted sockets: the first GET /next is then timed by its
    // kernel arrival, free of the stand-in's own scheduling latency.
    // SAFETY: valid fd and option buffer.
    unsafe {
        libc::setsockopt(
            listener.as_raw_fd(),
            libc::SOL_SOCKET,
            SO_TIMESTAMPNS,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
    let address = listener.local_addr()?.to_string();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let concurrency = options.concurrency.max(1);
    let shared = Arc::new(Shared {
        total: options.total.unwrap_or(options.events.len()),
        arn: format!("arn:aws:lambda:eu-west-1:123456789012:function:{}", options.function_name),
        options,
        seen: seen.clone(),
        state: Mutex::new(State::default()),
        changed: Condvar::new(),
        gates: [Gate::new(concurrency), Gate::new(concurrency)],
        concurrency,
        observer: Box::new(observer),
    });
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            shared.seen.lock().unwrap().connections += 1;
            let shared = shared.clone();
            std::thread::spawn(move || serve(&shared, stream));
        }
    });
    Ok(RuntimeApi { address, seen })
}

struct Shared {
    options: Options,
    total: usize,
    arn: String,
    seen: Arc<Mutex<Seen>>,
    state: Mutex<State>,
    changed: Condvar,
    /// Before an event is taken, and before it is sent.
    gates: [Gate; 2],
    concurrency: usize,
    observer: Box<dyn Observer>,
}

#[derive(Default)]
struct State {
    /// The next invocation to hand out.
    next: usize,
    /// Request ids handed out and not yet answered.
    outstanding: Vec<String>,
    first_next_seen: bool,
    exhausted: bool,
}

/// Holds requests until `size` of them wait at once, then lets every one through.
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

fn now_ns() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos()
}

fn hold_forever() -> ! {
    loop {
        std::thread::park();
    }
}

fn serve(sh: &Shared, sock: TcpStream) {
    let _ = sock.set_nodelay(true);
    let mut conn = Conn { sock, buf: Vec::new(), kernel_ts: 0 };
    loop {
        let req = match conn.read_request() {
            Ok(Some(r)) => r,
            Ok(None) => return,
            Err(e) if e.kind() == io::ErrorKind::Other => {
                protocol_error(sh, &format!("bad HTTP from the function: {e}"));
                return;
            }
            Err(_) => return, // the peer went away (process killed): normal at the end
        };
        let close = req.close;
        let Some(out) = dispatch(sh, req) else { return };
        if (&conn.sock).write_all(&out).is_err() || close {
            return;
        }
    }
}

fn protocol_error(sh: &Shared, what: &str) {
    sh.seen.lock().unwrap().protocol_errors.push(what.to_owned());
    sh.observer.protocol_error(what);
}

/// The reply to `req`, or `None` to close the connection unanswered.
fn dispatch(sh: &Shared, req: Request) -> Option<Vec<u8>> {
    let not_found = |sh: &Shared, req: &Request| {
        protocol_error(sh, &format!("unexpected request {} {}", req.method, req.path));
        Some(reply("404 Not Found", br#"{"errorMessage":"not found"}"#, ""))
    };
    let Some(rest) = req.path.strip_prefix(PREFIX) else { return not_found(sh, &req) };
    match (req.method.as_str(), rest) {
        ("GET", "invocation/next") => next(sh, &req),
        ("POST", "init/error") => {
            sh.seen.lock().unwrap().init_errors += 1;
            sh.observer.init_error(&req.body);
            Some(reply("202 Accepted", ACCEPTED, ""))
        }
        ("POST", r) => match r.split('/').collect::<Vec<_>>().as_slice() {
            ["invocation", id, "response"] => answer(sh, id, Answer::Response, req.body),
            ["invocation", id, "error"] => answer(sh, id, Answer::Error, req.body),
            _ => not_found(sh, &req),
        },
        _ => not_found(sh, &req),
    }
}

fn next(sh: &Shared, req: &Request) -> Option<Vec<u8>> {
    {
        let mut st = sh.state.lock().unwrap();
        if !st.first_next_seen {
            st.first_next_seen = true;
            sh.observer.first_next(req.kernel_ns, req.user_ns);
        }
    }
    sh.gates[0].pass();
    let n = {
        let st = sh.state.lock().unwrap();
        let mut st = sh.changed.wait_while(st, |s| s.outstanding.len() >= sh.concurrency).unwrap();
        let n = st.next;
        if n < sh.total {
            st.next += 1;
            st.outstanding.push(request_id(n));
            let mut seen = sh.seen.lock().unwrap();
            seen.in_flight += 1;
            seen.max_in_flight = seen.max_in_flight.max(seen.in_flight);
        }
        n
    };
    sh.observer.before_next(n);
    if n >= sh.total {
        let first = !std::mem::replace(&mut sh.state.lock().unwrap().exhausted, true);
        if first {
            sh.observer.exhausted(&sh.seen.lock().unwrap());
        }
        hold_forever();
    }
    let options = &sh.options;
    if let Some((_, pause)) = options.slow_next.filter(|(at, _)| *at == n) {
        std::thread::sleep(pause);
    }
    if options.drop_next == Some(n) {
        // Not delivered: no longer outstanding. The connection closes unanswered.
        sh.state.lock().unwrap().outstanding.retain(|id| *id != request_id(n));
        sh.seen.lock().unwrap().in_flight -= 1;
        sh.changed.notify_all();
        return None;
    }
    sh.gates[1].pass();
    sh.seen.lock().unwrap().delivered += 1;
    let now_ms = (now_ns() / 1_000_000) as i64;
    let deadline = now_ms + options.deadline_offset_ms.unwrap_or(30_000);
    let extra = format!(
        "Lambda-Runtime-Aws-Request-Id: {}\r\nLambda-Runtime-Deadline-Ms: {deadline}\r\n\
         Lambda-Runtime-Invoked-Function-Arn: {}\r\nLambda-Runtime-Trace-Id: {TRACE_ID}\r\n",
        request_id(n),
        sh.arn
    );
    Some(reply("200 OK", &options.events[n % options.events.len()], &extra))
}

fn answer(sh: &Shared, id: &str, kind: Answer, body: Vec<u8>) -> Option<Vec<u8>> {
    let n = {
        // Recorded before the invocation stops being outstanding: a `/next` waiting for
        // that sees the answer already recorded.
        let mut st = sh.state.lock().unwrap();
        let Some(at) = st.outstanding.iter().position(|o| o == id) else {
            drop(st);
            protocol_error(sh, &format!("{kind:?} for an unknown or stale request id {id}"));
            return Some(reply("400 Bad Request", br#"{"errorMessage":"InvalidRequestID"}"#, ""));
        };
        let n = invocation_of(id).expect("an id the stand-in handed out");
        sh.observer.answer(n, id, kind, &body);
        let mut seen = sh.seen.lock().unwrap();
        seen.in_flight -= 1;
        seen.answered += 1;
        seen.largest_answer = seen.largest_answer.max(body.len());
        if n < sh.options.keep {
            match kind {
                Answer::Response => seen.responses.push((id.to_owned(), body)),
                Answer::Error => seen.errors.push((id.to_owned(), body)),
            }
        }
        st.outstanding.swap_remove(at);
        n
    };
    sh.changed.notify_all();
    if sh.options.reset_post == Some(n) {
        return None;
    }
    Some(match sh.options.post_status {
        Some((at, status)) if at == n => reply(&format!("{status} Fault"), ACCEPTED, ""),
        _ => reply("202 Accepted", ACCEPTED, ""),
    })
}

fn reply(status: &str, body: &[u8], extra: &str) -> Vec<u8> {
    let mut out =
        format!("HTTP/1.1 {status}\r\nContent-Type: application/json\r\n{extra}Content-Length: {}\r\n\r\n", body.len())
            .into_bytes();
    out.extend_from_slice(body);
    out
}

/// Buffered HTTP/1.1 request reader that keeps the kernel receive timestamp.
struct Conn {
    sock: TcpStream,
    buf: Vec<u8>,
    kernel_ts: u128,
}

struct Request {
    method: String,
    path: String,
    close: bool,
    body: Vec<u8>,
    kernel_ns: u128,
    user_ns: u128,
}

impl Conn {
    fn fill(&mut self) -> io::Result<bool> {
        let mut tmp = [0u8; 65536];
        let mut iov = libc::iovec { iov_base: tmp.as_mut_ptr().cast(), iov_len: tmp.len() };
        let mut cbuf = [0u64; 16];
        let n = loop {
            // SAFETY: msghdr is plain data; the pointers it holds outlive the call.
            let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
            msg.msg_iov = &mut iov;
            msg.msg_iovlen = 1;
            msg.msg_control = cbuf.as_mut_ptr().cast();
            msg.msg_controllen = std::mem::size_of_val(&cbuf) as _;
            // SAFETY: a valid socket, and buffers that outlive the call.
            let n = unsafe { libc::recvmsg(self.sock.as_raw_fd(), &mut msg, 0) };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            // SAFETY: walking the control buffer the kernel filled in.
            unsafe {
                let mut c = libc::CMSG_FIRSTHDR(&msg);
                while !c.is_null() {
                    if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == SO_TIMESTAMPNS {
                        let ts: libc::timespec = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast());
                        self.kernel_ts = ts.tv_sec as u128 * 1_000_000_000 + ts.tv_nsec as u128;
                    }
                    c = libc::CMSG_NXTHDR(&msg, c);
                }
            }
            break n as usize;
        };
        if n == 0 {
            return Ok(false);
        }
        self.buf.extend_from_slice(&tmp[..n]);
        Ok(true)
    }

    fn read_until(&mut self, sep: &[u8]) -> io::Result<Option<Vec<u8>>> {
        loop {
            if let Some(i) = self.buf.windows(sep.len()).position(|w| w == sep) {
                let out = self.buf[..i].to_vec();
                self.buf.drain(..i + sep.len());
                return Ok(Some(out));
            }
            if self.buf.len() > 1 << 20 {
                return Err(io::Error::other("header too large"));
            }
            if !self.fill()? {
                if self.buf.is_empty() {
                    return Ok(None);
                }
                return Err(io::Error::other("connection closed mid-request"));
            }
        }
    }

    fn read_exact(&mut self, n: usize) -> io::Result<Vec<u8>> {
        while self.buf.len() < n {
            if !self.fill()? {
                return Err(io::Error::other("connection closed mid-body"));
            }
        }
        Ok(self.buf.drain(..n).collect())
    }

    fn read_request(&mut self) -> io::Result<Option<Request>> {
        let Some(head) = self.read_until(b"\r\n\r\n")? else { return Ok(None) };
        let (kernel_ns, user_ns) = (self.kernel_ts, now_ns());
        let head = String::from_utf8_lossy(&head).into_owned();
        let mut lines = head.split("\r\n");
        let mut rl = lines.next().unwrap_or("").splitn(3, ' ');
        let (method, path) = match (rl.next(), rl.next()) {
            (Some(m), Some(p)) => (m.to_string(), p.to_string()),
            _ => return Err(io::Error::other(format!("bad request line in {head:?}"))),
        };
        let (mut len, mut chunked, mut close) = (0usize, false, false);
        for line in lines {
            let (k, v) = line.split_once(':').unwrap_or((line, ""));
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_ascii_lowercase());
            match k.as_str() {
                "content-length" => len = v.parse().map_err(|_| io::Error::other("bad content-length"))?,
                "transfer-encoding" => chunked = v.contains("chunked"),
                "connection" => close = v == "close",
                _ => {}
            }
        }
        let body = if chunked {
            let mut body = Vec::new();
            loop {
                let line = self.read_until(b"\r\n")?.ok_or_else(|| io::Error::other("eof in chunk"))?;
                let line = String::from_utf8_lossy(&line).into_owned();
                let size = usize::from_str_radix(line.split(';').next().unwrap().trim(), 16)
                    .map_err(|_| io::Error::other("bad chunk size"))?;
                if size == 0 {
                    while let Some(t) = self.read_until(b"\r\n")? {
                        if t.is_empty() {
                            break;
                        }
                    }
                    break body;
                }
                body.extend(self.read_exact(size)?);
                self.read_exact(2)?;
            }
        } else {
            self.read_exact(len)?
        };
        Ok(Some(Request { method, path, close, body, kernel_ns, user_ns }))
    }
}
