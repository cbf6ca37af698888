#!/usr/bin/env python3
"""Process-level benchmark of Lambda bootstraps against a local Runtime API stub.

Measures, for the function under test and (optionally) a bare lambda_runtime
echo function built the same way:

  1. cold start: process spawn -> first GET /runtime/invocation/next reaching
     the stub (median and p90 over --spawns spawns);
  2. whole-process CPU per warm invocation (user+sys, summed over all threads
     from /proc/<pid>/task/*/schedstat, ns resolution), as the delta between
     the quiescent points after invocation --warmup and after --count,
     divided by (count - warmup);
  3. peak RSS: VmHWM from /proc/<pid>/status after the run;
  4. stripped binary size.

The Runtime API stub is the program of perf/runtime-stub (Rust, built on demand with cargo).

Timing goals are reported, never asserted.  The exit status is non-zero only if
a function failed: init error, invocation error, crash/hang, or a response
that does not meet its expectation (--expect; by default the function under
test must answer an API Gateway proxy response with statusCode 200 and echo
must return the event unchanged).  See perf/README.md for the method.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parent.parent

COLD_START_BUDGET_MS = 5.0
CPU_RATIO_BUDGET = 1.25
RSS_BUDGET_MIB = 10.0


PIN = {"harness": None, "function": None}


@dataclass
class Response:
    """A response or error the function posted for one invocation (as the stub reports it)."""

    seq: int
    body: bytes


@dataclass
class StubState:
    """What the stub reported: invocations handed out and answered, the first and last bodies."""

    issued: int = 0
    responses: int = 0
    errors: int = 0
    connections: int = 0
    init_error: Optional[bytes] = None
    first_response: Optional[Response] = None
    last_response: Optional[Response] = None
    first_error: Optional[Response] = None
    protocol_errors: list = field(default_factory=list)
    first_next_kernel_ns: Optional[int] = None  # kernel rx time (CLOCK_REALTIME) of the 1st GET /next


class FunctionFailed(Exception):
    pass


# ---------------------------------------------------------------- /proc utils
def proc_cpu(pid: int):
    """(sum of sum_exec_runtime ns over live threads, {tid: state}, stat ticks)."""
    total = 0
    states = {}
    base = f"/proc/{pid}/task"
    for tid in os.listdir(base):
        try:
            with open(f"{base}/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
            with open(f"{base}/{tid}/stat") as f:
                states[int(tid)] = f.read().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:  # thread exited while listing
            continue
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = (int(fields[11]), int(fields[12]))  # utime, stime (whole thread group)
    return total, states, ticks


def quiescent_sample(pid: int, timeout: float = 0.5):
    """Wait until every thread sleeps and the CPU counter stops moving, then
    return (cpu_ns, tids, ticks).  Called while the function is blocked on
    GET /next, so this only absorbs the tail of that request's send path."""
    deadline = time.monotonic() + timeout
    prev = None
    while True:
        cur = proc_cpu(pid)
        asleep = all(s in ("S", "D", "I") for s in cur[1].values())
        if asleep and prev is not None and prev[0] == cur[0]:
            return cur[0], sorted(cur[1]), cur[2]
        if time.monotonic() > deadline:
            return cur[0], sorted(cur[1]), cur[2]
        prev = cur
        time.sleep(0.001)


def proc_status(pid: int) -> dict:
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmHWM", "VmRSS", "Threads"):
                out[k] = int(v.split()[0])
    return out


def machine_busy_s() -> float:
    """Non-idle CPU seconds of the whole machine (all CPUs) from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = (v + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def own_cpu_s() -> float:
    """CPU seconds of this harness (stub included) plus its reaped children."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


# ------------------------------------------------------------------- stubs
STUB = {"bin": None, "workdir": "/tmp"}


def build_rust_stub() -> str:
    """Build the program of perf/runtime-stub (a member of the repository's
    workspace; cargo's up-to-date check makes this a no-op when nothing
    changed) and return the binary path."""
    r = subprocess.run(["cargo", "build", "--release", "--quiet", "--manifest-path", str(ROOT / "Cargo.toml"),
                        "-p", "lambda-runtime-stub", "--bin", "lambda-runtime-stub", "--message-format", "json"],
                       stdout=subprocess.PIPE, text=True)
    if r.returncode != 0:
        sys.exit("building perf/runtime-stub failed")
    for line in r.stdout.splitlines():
        msg = json.loads(line)
        if msg.get("reason") == "compiler-artifact" and msg.get("executable"):
            return msg["executable"]
    sys.exit("building perf/runtime-stub gave no executable")


class RustStub:
    """Drives the program of perf/runtime-stub as a child process: its state, first_next/done/failed
    events, close."""

    def __init__(self, event_path, limit=None, marks=(), on_mark=None, function_name="pusher-auth", events_path=None):
        self.state = StubState()
        self.on_mark = on_mark
        self.first_next, self.done, self.failed = threading.Event(), threading.Event(), threading.Event()
        self.closing = False
        cmd = [STUB["bin"], "--event", str(event_path), "--function-name", function_name]
        if events_path:
            cmd[1:3] = ["--events", str(events_path)]
        if limit is not None:
            cmd += ["--limit", str(limit)]
        if marks:
            cmd += ["--marks", ",".join(str(k) for k in sorted(marks))]
        self.err = open(f"{STUB['workdir']}/runtime-stub.stderr", "ab")
        self.p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.err)
        line = self.p.stdout.readline().decode()
        if not line.startswith("LISTEN "):
            self.p.kill()
            sys.exit(f"runtime stub did not start (said {line!r}); see {self.err.name}")
        self.address = line.split()[1]
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _fail(self, msg):
        self.state.protocol_errors.append(msg)
        self.failed.set()

    def _read(self):
        st = self.state
        for raw in self.p.stdout:
            word, _, rest = raw.decode().rstrip("\n").partition(" ")
            if word == "FIRST_NEXT":
                kernel, user = (int(x) for x in rest.split())
                st.first_next_kernel_ns = kernel or user
                self.first_next.set()
            elif word == "MARK":
                if self.on_mark:
                    self.on_mark(int(rest))
                self.p.stdin.write(b"GO\n")
                self.p.stdin.flush()
            elif word == "BODY":
                which, body = rest.split()
                r = Response(0, b"" if body == "-" else bytes.fromhex(body))
                if which == "first":
                    st.first_response = r
                else:
                    st.last_response = r
            elif word == "ERROR":
                seq, body = rest.split()
                st.errors += 1
                st.first_error = st.first_error or Response(int(seq), bytes.fromhex(body))
                self.failed.set()
            elif word == "INIT_ERROR":
                st.init_error = b"" if rest == "-" else bytes.fromhex(rest)
                self.failed.set()
            elif word == "PROTOCOL":
                self._fail(rest)
            elif word == "DONE":
                kv = dict(x.split("=") for x in rest.split()[1:])
                st.issued = int(rest.split()[0])
                st.connections, st.responses = int(kv["connections"]), int(kv["responses"])
                st.errors = int(kv["errors"])
                self.done.set()
        if not self.closing:
            self._fail("runtime stub exited unexpectedly")

    def close(self):
        self.closing = True
        self.p.kill()
        self.p.wait()
        self.reader.join(timeout=2)
        self.err.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def make_stub(fn, **kw):
    return RustStub(fn.event_path, function_name=fn.function_name, events_path=fn.events_path, **kw)


# ------------------------------------------------------------- process mgmt
class Function:
    def __init__(self, label, path, event_path, expect, env, function_name, events_path=None, argv=None):
        path = str(path)
        self.events_path = str(Path(events_path).resolve()) if events_path else None
        self.argv = argv
        self.event_path = str(Path(event_path).resolve())
        event = Path(event_path).read_bytes()
        json.loads(event)
        self.label = label
        self.path = str(Path(path).resolve())
        self.event = event
        self.expect = expect
        self.env = env
        self.function_name = function_name
        self.failure = None
        self.result = {"label": label, "binary": str(path)}


def lambda_env(fn: Function, address: str) -> dict:
    name = fn.function_name
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "LAMBDA_TASK_ROOT": "/var/task",
        "LAMBDA_RUNTIME_DIR": "/var/runtime",
        "_HANDLER": "bootstrap",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_RUNTIME_API": address,
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2024/01/01/[$LATEST]0123456789abcdef0123456789abcdef",
    }
    env.update(fn.env)
    return env


class Proc:
    """A bootstrap process spawned with posix_spawn (vfork+exec: the cheapest
    spawn path, so the cold-start number carries little harness overhead)."""

    def __init__(self, fn: Function, address: str, stdout_path: str, stderr_path: str):
        env = lambda_env(fn, address)
        self.out = os.open(stdout_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        self.err = os.open(stderr_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        self.null = os.open(os.devnull, os.O_RDONLY)
        actions = [
            (os.POSIX_SPAWN_DUP2, self.null, 0),
            (os.POSIX_SPAWN_DUP2, self.out, 1),
            (os.POSIX_SPAWN_DUP2, self.err, 2),
        ]
        argv = [fn.path] + list(fn.argv or [])
        if PIN["function"] is not None:  # inherited through posix_spawn
            os.sched_setaffinity(0, PIN["function"])
        self.t0_perf = time.perf_counter_ns()
        self.t0_real = time.time_ns()
        self.pid = os.posix_spawn(fn.path, argv, env, file_actions=actions)
        if PIN["harness"] is not None:
            os.sched_setaffinity(0, PIN["harness"])
        self.status = None
        self.rusage = None

    def poll(self) -> bool:
        """True if the process has exited (and reaps it)."""
        if self.status is not None:
            return True
        pid, status, ru = os.wait4(self.pid, os.WNOHANG)
        if pid == 0:
            return False
        self.status, self.rusage = status, ru
        return True

    def log_bytes(self) -> int:
        return os.fstat(self.out).st_size

    def kill(self):
        if self.status is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            _, self.status, self.rusage = os.wait4(self.pid, 0)
        for fd in (self.out, self.err, self.null):
            try:
                os.close(fd)
            except OSError:
                pass

    def exit_desc(self) -> str:
        if self.status is None:
            return "running"
        if os.WIFSIGNALED(self.status):
            return f"killed by signal {os.WTERMSIG(self.status)}"
        return f"exited with status {os.WEXITSTATUS(self.status)}"


def tail(path: str, n: int = 2000) -> str:
    try:
        data = Path(path).read_bytes()[-n:]
    except OSError:
        return ""
    return data.decode("utf-8", "replace")


def wait_for(event, proc: Proc, stub, timeout: float, what: str, logs):
    deadline = time.monotonic() + timeout
    while not event.wait(0.02):
        if stub.failed.is_set():
            break
        if proc.poll():
            check_stub(stub, logs)  # an init/invocation error posted before exiting says more
            raise FunctionFailed(f"process {proc.exit_desc()} before {what}" + logs())
        if time.monotonic() > deadline:
            raise FunctionFailed(f"timed out after {timeout:.0f}s waiting for {what}" + logs())
    check_stub(stub, logs)


def check_stub(stub, logs):
    s = stub.state
    if s.init_error is not None:
        raise FunctionFailed("init error posted: " + s.init_error[:1000].decode("utf-8", "replace") + logs())
    if s.first_error is not None:
        raise FunctionFailed(
            f"invocation #{s.first_error.seq} error posted: "
            + s.first_error.body[:1000].decode("utf-8", "replace")
            + logs()
        )
    if s.protocol_errors:
        raise FunctionFailed("runtime API misuse: " + "; ".join(s.protocol_errors[:5]) + logs())


def check_response(fn: Function, which: str, body: bytes):
    text = body[:1000].decode("utf-8", "replace")
    try:
        v = json.loads(body)
    except ValueError:
        raise FunctionFailed(f"{which} response is not JSON: {text}")
    if fn.expect == "proxy200":
        if not isinstance(v, dict) or v.get("statusCode") != 200:
            raise FunctionFailed(f"{which} response is not a statusCode 200 proxy response: {text}")
        # A JSONP denial is also a 200: the benchmark must measure a signed answer.
        if '"auth"' not in str(v.get("body", "")):
            raise FunctionFailed(f"{which} response carries no signature (a refusal?): {text}")
    elif fn.expect == "echo":
        if v != json.loads(fn.event):
            raise FunctionFailed(f"{which} response does not echo the event: {text}")


# ------------------------------------------------------------------ phases
def cold_start_once(fn: Function, workdir: str, timeout: float) -> float:
    out, err = f"{workdir}/{fn.label}.cold.stdout", f"{workdir}/{fn.label}.cold.stderr"
    logs = lambda: f"\n--- stderr tail ({err}):\n{tail(err)}\n--- stdout tail ({out}):\n{tail(out)}"
    with make_stub(fn, limit=0) as stub:
        proc = Proc(fn, stub.address, out, err)
        try:
            wait_for(stub.first_next, proc, stub, timeout, "the first GET /next", logs)
        finally:
            proc.kill()
        s = stub.state
        return (s.first_next_kernel_ns - proc.t0_real) / 1e6  # CLOCK_REALTIME, like t0_real


def warm_run(fn: Function, workdir: str, count: int, warmup: int, timeout: float, batch: int = 0) -> dict:
    out, err = f"{workdir}/{fn.label}.warm.stdout", f"{workdir}/{fn.label}.warm.stderr"
    logs = lambda: f"\n--- stderr tail ({err}):\n{tail(err)}\n--- stdout tail ({out}):\n{tail(out)}"
    samples = {}
    holder = {}
    marks = {warmup, count}
    if batch:
        marks |= set(range(warmup, count, batch))

    def on_mark(k):
        proc = holder["proc"]
        cpu_ns, tids, ticks = quiescent_sample(proc.pid)
        samples[k] = {"cpu_ns": cpu_ns, "tids": tids, "ticks": ticks,
                      "log_bytes": proc.log_bytes(), "t": time.perf_counter_ns()}

    with make_stub(fn, limit=count, marks=marks, on_mark=on_mark) as stub:
        proc = holder["proc"] = Proc(fn, stub.address, out, err)
        try:
            wait_for(stub.done, proc, stub, timeout, f"{count} invocations", logs)
            status = proc_status(proc.pid)
        finally:
            proc.kill()
        s = stub.state
        check_stub(stub, logs)
        if s.responses != count:
            raise FunctionFailed(f"expected {count} responses, got {s.responses}" + logs())
        check_response(fn, "first", s.first_response.body)
        check_response(fn, "last", s.last_response.body)
        a, b = samples[warmup], samples[count]
        n = count - warmup
        clk = os.sysconf("SC_CLK_TCK")
        ks = sorted(marks)
        batches = [(samples[k2]["cpu_ns"] - samples[k1]["cpu_ns"]) / (k2 - k1) / 1e3
                   for k1, k2 in zip(ks, ks[1:])]
        return {
            "cpu_us_per_inv": (b["cpu_ns"] - a["cpu_ns"]) / n / 1e3,
            "cpu_us_per_inv_batch_median": statistics.median(batches) if batches else None,
            "cpu_us_per_inv_batches": batches,
            "cpu_us_per_inv_stat_ticks": (sum(b["ticks"]) - sum(a["ticks"])) * 1e6 / clk / n,
            "stime_share": (b["ticks"][1] - a["ticks"][1]) / max(1, sum(b["ticks"]) - sum(a["ticks"])),
            "threads_changed": a["tids"] != b["tids"],
            "threads": status.get("Threads"),
            "vmhwm_kib": status["VmHWM"],
            "vmrss_kib": status["VmRSS"],
            "log_bytes_per_inv": (b["log_bytes"] - a["log_bytes"]) / n,
            "wall_us_per_inv": (b["t"] - a["t"]) / n / 1e3,
            "rusage_total_cpu_ms": (proc.rusage.ru_utime + proc.rusage.ru_stime) * 1e3 if proc.rusage else None,
            "connections": s.connections,
            "first_response": s.first_response.body[:300].decode("utf-8", "replace"),
        }


def binary_sizes(path: str, workdir: str) -> dict:
    size = os.stat(path).st_size
    stripped = None
    strip = shutil.which("strip")
    if strip:
        copy = f"{workdir}/{Path(path).name}.stripped"
        shutil.copyfile(path, copy)
        if subprocess.run([strip, "--strip-all", copy], capture_output=True).returncode == 0:
            stripped = os.stat(copy).st_size
        os.unlink(copy)
    return {"size_bytes": size, "stripped_bytes": stripped}


# ------------------------------------------------------------------ report
def pct(values, p):
    v = sorted(values)
    return v[max(0, math.ceil(p / 100 * len(v)) - 1)]


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def report(fns, args):
    cols = [f.label for f in fns]
    w = max(14, *(len(c) + 2 for c in cols))
    rows = []

    def row(name, key, spec, goal=""):
        vals = []
        for f in fns:
            vals.append("FAILED" if f.failure and f.result.get(key) is None else fmt(f.result.get(key), spec))
        rows.append((name, vals, goal))

    row("cold start median (ms)", "cold_median_ms", ".2f", f"<= {COLD_START_BUDGET_MS:g} ms")
    row("cold start p90 (ms)", "cold_p90_ms", ".2f")
    row("CPU / warm invocation (us)", "cpu_us", ".1f", f"<= {CPU_RATIO_BUDGET:.2f} x echo")
    echo_cpu = next((f.result.get("cpu_us") for f in fns if f.expect == "echo"), None)
    if echo_cpu:
        for f in fns:
            if f.result.get("cpu_us"):
                f.result["cpu_vs_echo"] = f.result["cpu_us"] / echo_cpu
        row("  CPU / echo's CPU (same run)", "cpu_vs_echo", ".2f")
    row("  min..max over repeats (us)", "cpu_range", "s")
    row("  median of batch rates (us)", "cpu_us_batch", ".1f")
    row("  stat utime+stime cross-check (us)", "cpu_us_ticks", ".1f")
    row("  kernel share, stime/(utime+stime) (%)", "stime_pct", ".0f")
    row("peak RSS VmHWM (MiB)", "vmhwm_mib", ".2f", f"<= {RSS_BUDGET_MIB:g} MB")
    row("stripped binary (KiB)", "stripped_kib", ".0f")
    row("  file size as built (KiB)", "size_kib", ".0f")
    row("stdout log bytes / invocation", "log_bytes_per_inv", ".0f")
    row("stub-paced wall time / inv (us)", "wall_us", ".0f")

    namew = max(len(r[0]) for r in rows) + 2
    print()
    print("".ljust(namew) + "".join(c.rjust(w) for c in cols) + "   goal")
    for name, vals, goal in rows:
        print(name.ljust(namew) + "".join(v.rjust(w) for v in vals) + (f"   {goal}" if goal else ""))
    fn, echo = (fns[0], fns[-1]) if len(fns) >= 2 and fns[-1].expect == "echo" else (None, None)
    if fn and echo and fn.result.get("cpu_us") and echo.result.get("cpu_us"):
        ratio = fn.result["cpu_us"] / echo.result["cpu_us"]
        fn.result["cpu_ratio_vs_echo"] = ratio
        verdict = "within" if ratio <= CPU_RATIO_BUDGET else "OVER"
        extra = fn.result["cpu_us"] - echo.result["cpu_us"]
        print(f"\nCPU ratio {fn.label}/{echo.label}: {ratio:.3f}  ({verdict} the {CPU_RATIO_BUDGET:.2f} goal; "
              f"reported, not asserted); {extra:+.1f} us/invocation over echo")
        pairs = [a["cpu_us_per_inv"] / b["cpu_us_per_inv"]
                 for a, b in zip(fn.result.get("warm_runs", []), echo.result.get("warm_runs", []))]
        if pairs:
            fn.result["cpu_ratio_pairs"] = pairs
            print(f"  per-repeat ratios (adjacent runs): {min(pairs):.3f}..{max(pairs):.3f}, "
                  f"median {statistics.median(pairs):.3f}")
        if fn.result.get("cpu_us_batch") and echo.result.get("cpu_us_batch"):
            rb = fn.result["cpu_us_batch"] / echo.result["cpu_us_batch"]
            fn.result["cpu_ratio_vs_echo_batch"] = rb
            print(f"  ratio of batch-rate medians: {rb:.3f}")
    # --also-event: the same function on other events, against its first event, run for run.
    for other in [f for f in fns[1:] if f.path == fns[0].path and f.expect != "echo"]:
        first = fns[0]
        if other.result.get("cpu_us") and first.result.get("cpu_us"):
            ratio = other.result["cpu_us"] / first.result["cpu_us"]
            pairs = [a["cpu_us_per_inv"] / b["cpu_us_per_inv"]
                     for a, b in zip(other.result.get("warm_runs", []), first.result.get("warm_runs", []))]
            other.result["cpu_ratio_vs_first"] = ratio
            print(f"CPU ratio {other.label}/{first.label}: {ratio:.3f}"
                  + (f"  (adjacent runs: {min(pairs):.3f}..{max(pairs):.3f}, median {statistics.median(pairs):.3f})"
                     if pairs else ""))
    bg = getattr(args, "background_load_cores", None)
    if bg is not None:
        warn = "  << machine not idle: CPU numbers are inflated and noisy" if bg > 0.1 else ""
        print(f"other load on the machine during warm runs: {bg:.2f} cores{warn}")
    print(f"\n{args.spawns} cold spawns per function, {args.repeats} warm run(s) of {args.count} invocations "
          f"(CPU measured over invocations {args.warmup + 1}..{args.count}); logs in {args.workdir}")


# -------------------------------------------------------------------- main
def parse_env(items):
    env = {}
    for item in items:
        if "=" in item:
            k, v = item.split("=", 1)
        else:
            k, v = item, os.environ.get(item)
            if v is None:
                sys.exit(f"--env {item}: not set in the environment")
        env[k] = v
    return env


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--function", metavar="PATH", help="bootstrap binary under test (e.g. target/release/pusher-auth)")
    ap.add_argument("--echo", metavar="PATH", help="baseline echo binary (e.g. target/release/echo)")
    ap.add_argument("--event", required=True, help="event JSON handed to the function on every invocation")
    ap.add_argument("--echo-event", help="event for echo (default: same as --event)")
    ap.add_argument("--events", metavar="JSONL",
                    help="for --function: one event per line, invocation k gets line k (cycling; Rust stub only)")
    ap.add_argument("--also", action="append", default=[], metavar="JSON",
                    help='another function measured in the same run, as JSON: {"label": .., "path": .., '
                         '"argv": [..], "event": .., "events": .., "env": {..}, "expect": ..}; repeatable')
    ap.add_argument("--env", action="append", default=[], metavar="KEY[=VALUE]",
                    help="extra environment for --function (KEY alone passes the harness's value through); repeatable")
    ap.add_argument("--label", help="column name for --function (default: its file name)")
    ap.add_argument("--also-event", action="append", default=[], metavar="[LABEL=]FILE",
                    help="also run --function (same environment) on this event, in its own column, interleaved "
                         "with the others; the report gives its CPU ratio to --event's; repeatable")
    ap.add_argument("--function-name", default="pusher-auth", help="AWS_LAMBDA_FUNCTION_NAME for --function")
    ap.add_argument("--expect", choices=["proxy200", "echo", "any"], default="proxy200",
                    help="what --function's responses must be (default proxy200: JSON with statusCode 200)")
    ap.add_argument("--count", type=int, default=3000, help="warm invocations per run (default 3000)")
    ap.add_argument("--warmup", type=int, default=100, help="invocations excluded from the CPU figure (default 100)")
    ap.add_argument("--repeats", type=int, default=7, help="warm runs per function; the median is reported (default 7)")
    ap.add_argument("--batch", type=int, default=100,
                    help="also sample CPU every BATCH invocations and report the median batch rate, "
                         "a noise-robust second estimate (0 = off; default 100)")
    ap.add_argument("--spawns", type=int, default=30, help="cold-start spawns per function (default 30)")
    ap.add_argument("--workdir", help="where stdout/stderr logs go (default: a fresh dir under /tmp)")
    ap.add_argument("--json", metavar="FILE", help="also write all results as JSON")
    ap.add_argument("--timeout", type=float, default=60, help="per-run hang timeout in seconds (default 60)")
    ap.add_argument("--stub-bin", metavar="PATH", help="prebuilt lambda-runtime-stub binary (skips cargo build)")
    ap.add_argument("--pin", choices=["same", "split", "none"], default="same",
                    help="CPU placement: same = function, stub and harness on one core (default), "
                         "split = function on its own core (needs >= 2 CPUs), none = scheduler decides")
    args = ap.parse_args()

    if not args.function and not args.echo:
        ap.error("give --function and/or --echo")
    if not 0 < args.warmup < args.count:
        ap.error("need 0 < --warmup < --count")
    echo_event = args.echo_event or args.event
    args.workdir = args.workdir or tempfile.mkdtemp(prefix="lambda-process-bench.")
    os.makedirs(args.workdir, exist_ok=True)
    STUB["workdir"] = args.workdir
    STUB["bin"] = args.stub_bin or build_rust_stub()

    cpus = sorted(os.sched_getaffinity(0))
    if args.pin == "split" and len(cpus) >= 2:
        PIN["harness"], PIN["function"] = {cpus[0]}, {cpus[1]}
    elif args.pin == "same" or (args.pin == "split" and len(cpus) < 2):
        PIN["harness"] = PIN["function"] = {cpus[0]}
    if PIN["harness"] is not None:
        os.sched_setaffinity(0, PIN["harness"])  # before any stub thread exists

    fns = []
    if args.function:
        fns.append(Function(args.label or Path(args.function).name, args.function, args.event, args.expect,
                            parse_env(args.env), args.function_name, events_path=args.events))
        for item in args.also_event:
            label, _, path = item.rpartition("=")
            fns.append(Function(label or Path(path).stem, args.function, path, args.expect,
                                parse_env(args.env), args.function_name))
    for spec in args.also:
        a = json.loads(spec)
        fns.append(Function(a["label"], a["path"], a.get("event", args.event), a.get("expect", args.expect),
                            {k: str(v) for k, v in a.get("env", {}).items()}, a.get("function_name", a["label"]),
                            events_path=a.get("events"), argv=a.get("argv")))
    if args.echo:
        label = "echo" if not fns or fns[0].label != "echo" else "echo-baseline"
        fns.append(Function(label, args.echo, echo_event, "echo", {}, "echo"))
    for f in fns:
        if not os.access(f.path, os.X_OK):
            sys.exit(f"{f.path}: not an executable file")

    def run(f, step):
        if f.failure:
            return None
        try:
            return step()
        except FunctionFailed as e:
            f.failure = str(e)
            print(f"\n*** {f.label} FAILED: {e}\n", file=sys.stderr, flush=True)
            return None

    for f in fns:
        sz = binary_sizes(f.path, args.workdir)
        f.result.update(sz)
        f.result["size_kib"] = sz["size_bytes"] / 1024
        f.result["stripped_kib"] = sz["stripped_bytes"] / 1024 if sz["stripped_bytes"] else None

    # Correctness first (one short run each), so a broken function fails fast
    # before any timing is done.
    print("checking responses ...", file=sys.stderr, flush=True)
    for f in fns:
        r = run(f, lambda f=f: warm_run(f, args.workdir, 3, 1, args.timeout))
        if r:
            print(f"  {f.label}: first response {r['first_response'][:160]}", file=sys.stderr, flush=True)

    # Cold starts, interleaved between functions so drift hits both alike;
    # one untimed spawn each first (page cache, dynamic loader caches).
    print(f"cold starts ({args.spawns} per function) ...", file=sys.stderr, flush=True)
    cold = {f.label: [] for f in fns}
    for i in range(args.spawns + 1):
        for f in fns:
            ms = run(f, lambda f=f: cold_start_once(f, args.workdir, min(args.timeout, 10)))
            if ms is not None and i > 0:
                cold[f.label].append(ms)
    for f in fns:
        if cold[f.label] and not f.failure:
            f.result["cold_ms"] = cold[f.label]
            f.result["cold_median_ms"] = statistics.median(cold[f.label])
            f.result["cold_p90_ms"] = pct(cold[f.label], 90)

    # Warm runs, interleaved.  Other load on the machine is measured alongside:
    # it inflates the function's CPU (cache pollution, and in a VM without
    # steal accounting, descheduled vCPU time) and makes the numbers noisy.
    busy0, own0 = machine_busy_s(), own_cpu_s()
    t0 = time.monotonic()
    print(f"warm runs ({args.repeats} x {args.count} invocations per function) ...", file=sys.stderr, flush=True)
    warm = {f.label: [] for f in fns}
    for _ in range(args.repeats):
        for f in fns:
            r = run(f, lambda f=f: warm_run(f, args.workdir, args.count, args.warmup, args.timeout, args.batch))
            if r:
                warm[f.label].append(r)
    elapsed = time.monotonic() - t0
    background = max(0.0, (machine_busy_s() - busy0) - (own_cpu_s() - own0)) / elapsed
    for f in fns:
        runs = warm[f.label]
        if not runs or f.failure:
            continue
        cpus = [r["cpu_us_per_inv"] for r in runs]
        f.result["warm_runs"] = runs
        f.result["cpu_us"] = statistics.median(cpus)
        f.result["cpu_range"] = f"{min(cpus):.1f}..{max(cpus):.1f}"
        if runs[0]["cpu_us_per_inv_batch_median"] is not None:
            f.result["cpu_us_batch"] = statistics.median(r["cpu_us_per_inv_batch_median"] for r in runs)
        f.result["cpu_us_ticks"] = statistics.median(r["cpu_us_per_inv_stat_ticks"] for r in runs)
        f.result["stime_pct"] = 100 * statistics.median(r["stime_share"] for r in runs)
        f.result["vmhwm_mib"] = max(r["vmhwm_kib"] for r in runs) / 1024
        f.result["log_bytes_per_inv"] = statistics.median(r["log_bytes_per_inv"] for r in runs)
        f.result["wall_us"] = statistics.median(r["wall_us_per_inv"] for r in runs)
        notes = []
        if any(r["threads_changed"] for r in runs):
            notes.append("thread set changed during a measured window: CPU of exited threads is missing")
        if any(r["connections"] != 1 for r in runs):
            notes.append(f"used {max(r['connections'] for r in runs)} connections (keep-alive not reused?)")
        for n in notes:
            print(f"note: {f.label}: {n}", file=sys.stderr)

    args.background_load_cores = background
    report(fns, args)
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "results": [
            dict(f.result, failure=f.failure) for f in fns]}, indent=2, default=str))
    failed = [f for f in fns if f.failure]
    if failed:
        print(f"\nFAILED: {', '.join(f.label for f in failed)} (see messages above)", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
