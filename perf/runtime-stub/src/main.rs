//! Local stand-in for the AWS Lambda Runtime API, for process benchmarks.
//!
//! Serves, on 127.0.0.1 (port from `--port`, default 0 = free port):
//!
//! * `GET  /2018-06-01/runtime/invocation/next`: 200 with the event file as
//!   body (with `--events FILE`, one JSON event per line: invocation k gets
//!   line k, cycling) and the `Lambda-Runtime-Aws-Request-Id`, `-Deadline-Ms` (now + 30 s),
//!   `-Invoked-Function-Arn` and `-Trace-Id` headers. Invocation N+1 is held
//!   until the response or error for invocation N has arrived, as Lambda does.
//!   After `--limit` invocations the request is held until the stub exits.
//! * `POST /2018-06-01/runtime/invocation/<id>/response`: 202 (recorded).
//! * `POST /2018-06-01/runtime/invocation/<id>/error`: 202 (recorded as failure).
//! * `POST /2018-06-01/runtime/init/error`: 202 (recorded as failure).
//!
//! HTTP/1.1 keep-alive; every reply goes out in one write. It is written in
//! Rust, not Python, because a Python stub sharing the CPU with the function
//! under test added 30-40 us to the function's measured CPU per invocation
//! (cache and scheduler pollution from the interpreter) - the same absolute
//! amount for every function, which compresses the function/echo ratio the
//! benchmark reports.
//!
//! Control protocol with the harness (one line per message on stdout; the
//! harness answers on stdin):
//!
//! ```text
//! LISTEN <addr>                      ready, AWS_LAMBDA_RUNTIME_API value
//! FIRST_NEXT <kernel_ns> <user_ns>   first GET /next arrived; CLOCK_REALTIME ns of the
//!                                    segment per SO_TIMESTAMPNS (0 if unavailable) and
//!                                    as read by the stub
//! MARK <k>                           invocation k is answered and the function is blocked
//!                                    in GET /next for k+1; the stub waits for a line on
//!                                    stdin before answering it (k in --marks)
//! BODY <first|last> <hex>            a response body (first one at once, last one at DONE)
//! ERROR <seq> <hex>                  the function posted an invocation error
//! INIT_ERROR <hex>                   the function posted an init error
//! PROTOCOL <text>                    the function misused the API
//! DONE <k> connections=<n> responses=<n> errors=<n>
//!                                    GET /next after --limit invocations; held forever
//! ```
//!
//! The harness ends the stub with a signal; it also dies with its parent
//! (PR_SET_PDEATHSIG), so an interrupted harness leaves no stubs behind.

use std::io::{self, BufRead, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

const PREFIX: &str = "/2018-06-01/runtime/";
const TRACE_ID: &str = "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1";
const ACCEPTED: &[u8] = br#"{"status":"OK"}"#;
const SO_TIMESTAMPNS: libc::c_int = 35; // = SCM_TIMESTAMPNS on x86_64 and aarch64 Linux
const MAX_REPORTED_BODY: usize = 64 * 1024;

struct Config {
    events: Vec<Vec<u8>>,
    limit: Option<u64>,
    marks: Vec<u64>,
    arn: String,
}

#[derive(Default)]
struct State {
    issued: u64,
    outstanding: Option<String>,
    responses: u64,
    errors: u64,
    connections: u64,
    first_next_seen: bool,
    first_body_reported: bool,
    last_body: Vec<u8>,
}

struct Shared {
    cfg: Config,
    state: Mutex<State>,
    cv: Condvar,
    out: Mutex<()>,
}

impl Shared {
    fn say(&self, line: &str) {
        let _g = self.out.lock().unwrap();
        let mut o = io::stdout().lock();
        let _ = writeln!(o, "{line}");
        let _ = o.flush();
    }
}

fn hex(b: &[u8]) -> String {
    let b = &b[..b.len().min(MAX_REPORTED_BODY)];
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        s.push_str(&format!("{x:02x}"));
    }
    if s.is_empty() {
        s.push('-');
    }
    s
}

fn now_ns() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos()
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

fn reply(status: &str, body: &[u8], extra: &str) -> Vec<u8> {
    let mut out =
        format!("HTTP/1.1 {status}\r\nContent-Type: application/json\r\n{extra}Content-Length: {}\r\n\r\n", body.len())
            .into_bytes();
    out.extend_from_slice(body);
    out
}

fn wait_forever(sh: &Shared) -> ! {
    let g = sh.state.lock().unwrap();
    let _g = sh.cv.wait_while(g, |_| true);
    unreachable!()
}

fn next(sh: &Shared, req: &Request) -> Vec<u8> {
    let k = {
        let mut st = sh.state.lock().unwrap();
        if !st.first_next_seen {
            st.first_next_seen = true;
            sh.say(&format!("FIRST_NEXT {} {}", req.kernel_ns, req.user_ns));
        }
        // Invocation N+1 waits for response N, like the Lambda service.
        let st = sh.cv.wait_while(st, |s| s.outstanding.is_some()).unwrap();
        st.issued
    };
    if sh.cfg.marks.contains(&k) {
        // The function has finished invocation k and is blocked on this
        // request: the harness samples it now, then tells us to go on.
        sh.say(&format!("MARK {k}"));
        let mut line = String::new();
        if io::stdin().lock().read_line(&mut line).unwrap_or(0) == 0 {
            std::process::exit(0);
        }
    }
    if sh.cfg.limit.is_some_and(|l| k >= l) {
        let st = sh.state.lock().unwrap();
        sh.say(&format!("BODY last {}", hex(&st.last_body)));
        sh.say(&format!("DONE {k} connections={} responses={} errors={}", st.connections, st.responses, st.errors));
        drop(st);
        wait_forever(sh);
    }
    let rid = {
        let mut st = sh.state.lock().unwrap();
        st.issued += 1;
        // fixed-width ids so every invocation does identical work
        let rid = format!("8476a536-e9f4-11e8-9739-{:012x}", st.issued);
        st.outstanding = Some(rid.clone());
        rid
    };
    let deadline = now_ns() / 1_000_000 + 30_000;
    let extra = format!(
        "Lambda-Runtime-Aws-Request-Id: {rid}\r\nLambda-Runtime-Deadline-Ms: {deadline}\r\n\
         Lambda-Runtime-Invoked-Function-Arn: {}\r\nLambda-Runtime-Trace-Id: {TRACE_ID}\r\n",
        sh.cfg.arn
    );
    let event = &sh.cfg.events[(k as usize) % sh.cfg.events.len()];
    reply("200 OK", event, &extra)
}

fn result(sh: &Shared, rid: &str, kind: &str, body: Vec<u8>) -> Vec<u8> {
    let mut st = sh.state.lock().unwrap();
    if st.outstanding.as_deref() != Some(rid) {
        sh.say(&format!("PROTOCOL {kind} for unknown or stale request id {rid} (outstanding {:?})", st.outstanding));
        return reply("400 Bad Request", br#"{"errorMessage":"InvalidRequestID"}"#, "");
    }
    if kind == "response" {
        st.responses += 1;
        if !st.first_body_reported {
            st.first_body_reported = true;
            sh.say(&format!("BODY first {}", hex(&body)));
        }
        st.last_body = body;
    } else {
        st.errors += 1;
        sh.say(&format!("ERROR {} {}", st.issued, hex(&body)));
    }
    st.outstanding = None;
    sh.cv.notify_all();
    reply("202 Accepted", ACCEPTED, "")
}

fn dispatch(sh: &Shared, req: Request) -> Vec<u8> {
    let not_found = || reply("404 Not Found", br#"{"errorMessage":"not found"}"#, "");
    let Some(rest) = req.path.strip_prefix(PREFIX) else {
        sh.say(&format!("PROTOCOL unexpected request {} {}", req.method, req.path));
        return not_found();
    };
    match (req.method.as_str(), rest) {
        ("GET", "invocation/next") => next(sh, &req),
        ("POST", "init/error") => {
            sh.say(&format!("INIT_ERROR {}", hex(&req.body)));
            reply("202 Accepted", ACCEPTED, "")
        }
        ("POST", r) => {
            let parts: Vec<&str> = r.split('/').collect();
            match parts.as_slice() {
                ["invocation", id, kind @ ("response" | "error")] => result(sh, id, kind, req.body),
                _ => {
                    sh.say(&format!("PROTOCOL unexpected request POST {}", req.path));
                    not_found()
                }
            }
        }
        _ => {
            sh.say(&format!("PROTOCOL unexpected request {} {}", req.method, req.path));
            not_found()
        }
    }
}

fn serve(sh: Arc<Shared>, sock: TcpStream) {
    let _ = sock.set_nodelay(true);
    let mut conn = Conn { sock, buf: Vec::new(), kernel_ts: 0 };
    loop {
        let req = match conn.read_request() {
            Ok(Some(r)) => r,
            Ok(None) => return,
            Err(e) if e.kind() == io::ErrorKind::Other => {
                sh.say(&format!("PROTOCOL bad HTTP from function: {e}"));
                return;
            }
            Err(_) => return, // peer went away (process killed): normal at the end
        };
        let close = req.close;
        let out = dispatch(&sh, req);
        if (&conn.sock).write_all(&out).is_err() || close {
            return;
        }
    }
}

fn usage() -> ! {
    eprintln!(
        "usage: lambda-runtime-stub (--event FILE | --events JSONL) [--port N] [--limit N] [--marks k1,k2,..] [--function-name NAME]"
    );
    std::process::exit(2)
}

fn main() {
    // SAFETY: plain prctl call.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
    }
    let mut args = std::env::args().skip(1);
    let (mut event, mut port, mut limit, mut marks, mut name) =
        (None, 0u16, None, Vec::new(), "pusher-auth".to_string());
    let mut lines = false;
    while let Some(a) = args.next() {
        let mut val = || args.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "--event" => event = Some(val()),
            "--events" => {
                event = Some(val());
                lines = true;
            }
            "--port" => port = val().parse().unwrap_or_else(|_| usage()),
            "--limit" => limit = Some(val().parse().unwrap_or_else(|_| usage())),
            "--marks" => {
                marks =
                    val().split(',').filter(|s| !s.is_empty()).map(|s| s.parse().unwrap_or_else(|_| usage())).collect()
            }
            "--function-name" => name = val(),
            _ => usage(),
        }
    }
    let event_path = event.unwrap_or_else(|| usage());
    let event = std::fs::read(&event_path).unwrap_or_else(|e| {
        eprintln!("{event_path}: {e}");
        std::process::exit(2)
    });
    let events: Vec<Vec<u8>> = if lines {
        event.split(|b| *b == b'\n').filter(|l| !l.is_empty()).map(<[u8]>::to_vec).collect()
    } else {
        vec![event]
    };
    if events.is_empty() {
        eprintln!("{event_path}: no event");
        std::process::exit(2)
    }
    let arn = format!("arn:aws:lambda:us-east-1:123456789012:function:{name}");
    let sh = Arc::new(Shared {
        cfg: Config { events, limit, marks, arn },
        state: Mutex::new(State::default()),
        cv: Condvar::new(),
        out: Mutex::new(()),
    });
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap_or_else(|e| {
        eprintln!("bind: {e}");
        std::process::exit(1)
    });
    let on: libc::c_int = 1;
    // Inherited by accepted sockets: the first GET /next is then timed by its
    // kernel arrival, free of the stub's own scheduling latency.
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
    sh.say(&format!("LISTEN {}", listener.local_addr().unwrap()));
    for sock in listener.incoming() {
        let Ok(sock) = sock else { continue };
        sh.state.lock().unwrap().connections += 1;
        let sh = sh.clone();
        std::thread::spawn(move || serve(sh, sock));
    }
}
