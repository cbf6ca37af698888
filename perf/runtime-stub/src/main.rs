//! The Runtime API stand-in (`src/lib.rs`) as a program, for the process
//! benchmarks: `perf/run-process-bench.py` starts one per run and talks to it
//! over stdin and stdout.
//!
//! Serves on 127.0.0.1 (port from `--port`, default 0 = a free port) the event
//! file, or with `--events FILE` one JSON event per line (invocation k gets
//! line k, cycling), one invocation at a time, `--limit` invocations in all
//! (default: no end).
//!
//! It is written in Rust, not Python, because a Python stub sharing the CPU
//! with the function under test added 30-40 us to the function's measured CPU
//! per invocation (cache and scheduler pollution from the interpreter): the
//! same absolute amount for every function, which compresses the
//! function/echo ratio the benchmark reports.
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
//! ERROR <seq> <hex>                  the function posted an error for invocation seq (from 1)
//! INIT_ERROR <hex>                   the function posted an init error
//! PROTOCOL <text>                    the function misused the API
//! DONE <k> connections=<n> responses=<n> errors=<n>
//!                                    GET /next after --limit invocations; held forever
//! ```
//!
//! The harness ends the stub with a signal; it also dies with its parent
//! (PR_SET_PDEATHSIG), so an interrupted harness leaves no stubs behind.

use std::io::{self, BufRead, Write};
use std::sync::Mutex;

use lambda_runtime_stub::{start_on, Answer, Observer, Options, Seen};

const MAX_REPORTED_BODY: usize = 64 * 1024;

fn say(line: &str) {
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn hex(b: &[u8]) -> String {
    let b = &b[..b.len().min(MAX_REPORTED_BODY)];
    let mut s: String = b.iter().map(|x| format!("{x:02x}")).collect();
    if s.is_empty() {
        s.push('-');
    }
    s
}

/// Tells the harness what happens, and waits for it at the marks.
struct Harness {
    marks: Vec<usize>,
    report: Mutex<Report>,
}

#[derive(Default)]
struct Report {
    responses: usize,
    errors: usize,
    last_body: Option<Vec<u8>>,
}

impl Observer for Harness {
    fn first_next(&self, kernel_ns: u128, read_ns: u128) {
        say(&format!("FIRST_NEXT {kernel_ns} {read_ns}"));
    }

    fn before_next(&self, n: usize) {
        if self.marks.contains(&n) {
            // The function has finished invocation n and is blocked on this
            // request: the harness samples it now, then tells us to go on.
            say(&format!("MARK {n}"));
            let mut line = String::new();
            if io::stdin().lock().read_line(&mut line).unwrap_or(0) == 0 {
                std::process::exit(0);
            }
        }
    }

    fn answer(&self, n: usize, _id: &str, kind: Answer, body: &[u8]) {
        let mut report = self.report.lock().unwrap();
        match kind {
            Answer::Response => {
                report.responses += 1;
                if report.last_body.is_none() {
                    say(&format!("BODY first {}", hex(body)));
                }
                report.last_body = Some(body.to_vec());
            }
            Answer::Error => {
                report.errors += 1;
                say(&format!("ERROR {} {}", n + 1, hex(body)));
            }
        }
    }

    fn init_error(&self, body: &[u8]) {
        say(&format!("INIT_ERROR {}", hex(body)));
    }

    fn protocol_error(&self, what: &str) {
        say(&format!("PROTOCOL {what}"));
    }

    fn exhausted(&self, seen: &Seen) {
        let report = self.report.lock().unwrap();
        say(&format!("BODY last {}", hex(report.last_body.as_deref().unwrap_or_default())));
        say(&format!(
            "DONE {} connections={} responses={} errors={}",
            seen.delivered, seen.connections, report.responses, report.errors
        ));
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
    let (mut event, mut lines, mut port) = (None, false, 0u16);
    let mut options = Options { total: Some(usize::MAX), keep: 0, ..Options::default() };
    let mut marks = Vec::new();
    while let Some(a) = args.next() {
        let mut val = || args.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "--event" => event = Some(val()),
            "--events" => {
                event = Some(val());
                lines = true;
            }
            "--port" => port = val().parse().unwrap_or_else(|_| usage()),
            "--limit" => options.total = Some(val().parse().unwrap_or_else(|_| usage())),
            "--marks" => {
                marks =
                    val().split(',').filter(|s| !s.is_empty()).map(|s| s.parse().unwrap_or_else(|_| usage())).collect()
            }
            "--function-name" => options.function_name = val(),
            _ => usage(),
        }
    }
    let event_path = event.unwrap_or_else(|| usage());
    let event = std::fs::read(&event_path).unwrap_or_else(|e| {
        eprintln!("{event_path}: {e}");
        std::process::exit(2)
    });
    options.events = if lines {
        event.split(|b| *b == b'\n').filter(|l| !l.is_empty()).map(<[u8]>::to_vec).collect()
    } else {
        vec![event]
    };
    if options.events.is_empty() {
        eprintln!("{event_path}: no event");
        std::process::exit(2)
    }
    let harness = Harness { marks, report: Mutex::new(Report::default()) };
    let api = start_on(port, options, harness).unwrap_or_else(|e| {
        eprintln!("bind: {e}");
        std::process::exit(1)
    });
    say(&format!("LISTEN {}", api.address));
    loop {
        std::thread::park();
    }
}
