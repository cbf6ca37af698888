#!/usr/bin/env python3
"""A local stand-in for the AWS Lambda Runtime API (stdlib only).

It implements the part of the Runtime API that a custom runtime such as
`lambda_runtime` talks to, the way the Lambda service does:

  GET  /2018-06-01/runtime/invocation/next        200 + event body and the
       Lambda-Runtime-Aws-Request-Id / -Deadline-Ms / -Invoked-Function-Arn /
       -Trace-Id headers.  Invocation N+1 is held back until the response (or
       error) for invocation N has arrived, as Lambda does.  After `limit`
       invocations the request is held until the stub is closed.
  POST /2018-06-01/runtime/invocation/<id>/response  202 (body recorded)
  POST /2018-06-01/runtime/invocation/<id>/error     202 (recorded as failure)
  POST /2018-06-01/runtime/init/error                202 (recorded as failure)

HTTP/1.1 keep-alive is supported (lambda_runtime keeps one pooled hyper
connection).  Every reply is sent with a single sendall() so the function
under test never sees a reply split across two reads; the number of wake-ups
it needs per invocation therefore does not depend on the stub's timing.

run-process-bench.py uses the Rust twin of this stub (perf/runtime-stub) by
default and this one with `--stub python`: sharing a core with the function,
the Python interpreter pollutes its caches and adds 30-40 us of measured CPU
per invocation.  This file is also handy on its own for poking at a bootstrap
by hand:

    python3 perf/runtime_stub.py --event EVENT.json [--port 9001] [--limit 10]
"""

from __future__ import annotations

import argparse
import json
import socket
import struct
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

PREFIX = "/2018-06-01/runtime/"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:{name}"
TRACE_ID = "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1"
ACCEPTED = b'{"status":"OK"}'
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # 35 on Linux
_CMSG_SPACE = socket.CMSG_SPACE(16)


class HttpError(Exception):
    pass


@dataclass
class Response:
    """A response or error the function posted for one invocation."""

    seq: int
    request_id: str
    kind: str  # "response" | "error"
    body: bytes
    headers: dict
    received_ns: int


@dataclass
class StubState:
    issued: int = 0  # invocations handed out
    answered: int = 0  # responses + errors received
    responses: int = 0
    errors: int = 0
    init_error: Optional[bytes] = None
    first_response: Optional[Response] = None
    last_response: Optional[Response] = None
    first_error: Optional[Response] = None
    protocol_errors: list = field(default_factory=list)
    first_next_ns: Optional[int] = None  # time.perf_counter_ns() of 1st GET /next
    first_next_kernel_ns: Optional[int] = None  # kernel rx time (CLOCK_REALTIME) of it
    connections: int = 0
    requests: int = 0


class _Conn:
    """Minimal buffered HTTP/1.1 request reader on a socket."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.buf = b""
        self.kernel_ts: Optional[int] = None  # SO_TIMESTAMPNS of the last read

    def _fill(self) -> bool:
        chunk, anc, _flags, _addr = self.sock.recvmsg(65536, _CMSG_SPACE)
        if not chunk:
            return False
        for level, kind, data in anc:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= 16:
                sec, nsec = struct.unpack("qq", data[:16])
                self.kernel_ts = sec * 1_000_000_000 + nsec
        self.buf += chunk
        return True

    def _read_until(self, sep: bytes) -> Optional[bytes]:
        while True:
            i = self.buf.find(sep)
            if i >= 0:
                out, self.buf = self.buf[:i], self.buf[i + len(sep):]
                return out
            if len(self.buf) > 1 << 20:
                raise HttpError("header too large")
            if not self._fill():
                if self.buf:
                    raise HttpError("connection closed mid-request")
                return None

    def _read_exact(self, n: int) -> bytes:
        while len(self.buf) < n:
            if not self._fill():
                raise HttpError("connection closed mid-body")
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_request(self):
        """Returns (method, path, headers, body, (perf_ns, kernel_realtime_ns))
        or None on EOF.  perf_ns is time.perf_counter_ns() when the header was
        parsed; kernel_realtime_ns is the kernel's receive timestamp
        (CLOCK_REALTIME, SO_TIMESTAMPNS) of the segment that completed the
        header, or None if unavailable."""
        head = self._read_until(b"\r\n\r\n")
        if head is None:
            return None
        t = (time.perf_counter_ns(), self.kernel_ts)
        lines = head.decode("latin-1").split("\r\n")
        try:
            method, path, _version = lines[0].split(" ", 2)
        except ValueError:
            raise HttpError(f"bad request line {lines[0]!r}")
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                size_line = self._read_until(b"\r\n")
                if size_line is None:
                    raise HttpError("connection closed mid-chunk")
                size = int(size_line.split(b";")[0], 16)
                if size == 0:
                    # trailers until empty line
                    while self._read_until(b"\r\n"):
                        pass
                    break
                body += self._read_exact(size)
                self._read_exact(2)
        else:
            body = self._read_exact(int(headers.get("content-length", "0") or 0))
        return method, path, headers, body, t


class RuntimeStub:
    """Runtime API stub.

    event:    the event body handed out on every invocation.
    limit:    number of invocations to hand out (None = unlimited).  The GET
              /next that would start invocation limit+1 is held until close().
    marks:    invocation counts k at which on_mark(k) is called synchronously
              when the GET /next for invocation k+1 has arrived (i.e. the
              function has finished invocation k and is blocked waiting), and
              before that GET is answered.  `limit` itself may be a mark.
    on_mark:  callback for marks; also called for limit if it is in marks.
    """

    def __init__(
        self,
        event: bytes,
        limit: Optional[int] = None,
        marks=(),
        on_mark: Optional[Callable[[int], None]] = None,
        function_name: str = "pusher-auth",
        host: str = "127.0.0.1",
        port: int = 0,
        log: Callable[[str], None] = lambda s: None,
    ):
        self.event = event
        self.limit = limit
        self.marks = set(marks)
        self.on_mark = on_mark
        self.arn = FUNCTION_ARN.format(name=function_name)
        self.log = log
        self.state = StubState()
        self.cond = threading.Condition()
        self.closed = False
        self.outstanding: Optional[str] = None  # request id awaiting response
        self.first_next = threading.Event()
        self.done = threading.Event()  # GET /next after `limit` arrived
        self.failed = threading.Event()  # init error / invocation error / protocol error
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            # inherited by accepted sockets: lets the harness time the first
            # GET /next by its kernel arrival time, free of Python latency
            self.lsock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        except OSError:
            pass
        self.lsock.bind((host, port))
        self.lsock.listen(16)
        self.address = "%s:%d" % self.lsock.getsockname()[:2]
        self._socks: list = []
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ api
    def close(self):
        with self.cond:
            self.closed = True
            self.cond.notify_all()
        try:
            self.lsock.close()
        except OSError:
            pass
        for s in list(self._socks):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ------------------------------------------------------------ internals
    def _accept_loop(self):
        while True:
            try:
                sock, _ = self.lsock.accept()
            except OSError:
                return
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self.cond:
                self.state.connections += 1
                self._socks.append(sock)
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _fail(self, msg: str):
        self.log("stub: " + msg)
        with self.cond:
            self.state.protocol_errors.append(msg)
        self.failed.set()

    def _serve(self, sock: socket.socket):
        conn = _Conn(sock)
        try:
            while not self.closed:
                req = conn.read_request()
                if req is None:
                    return
                method, path, headers, body, t = req
                with self.cond:
                    self.state.requests += 1
                reply = self._dispatch(method, path, headers, body, t)
                if reply is None:  # closed while holding the request
                    return
                sock.sendall(reply)
                if headers.get("connection", "").lower() == "close":
                    return
        except (HttpError, ValueError) as e:
            self._fail(f"bad HTTP from function: {e}")
        except OSError:
            pass  # peer went away (process killed); normal at the end
        finally:
            try:
                sock.close()
            except OSError:
                pass

    @staticmethod
    def _reply(status: str, body: bytes = b"", extra: str = "") -> bytes:
        head = (
            f"HTTP/1.1 {status}\r\n"
            f"Content-Type: application/json\r\n"
            f"{extra}"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        return head.encode("latin-1") + body

    def _dispatch(self, method, path, headers, body, t):
        if not path.startswith(PREFIX):
            self._fail(f"unexpected path {method} {path}")
            return self._reply("404 Not Found", b'{"errorMessage":"not found"}')
        rest = path[len(PREFIX):]
        if method == "GET" and rest == "invocation/next":
            return self._next(t)
        if method == "POST" and rest == "init/error":
            with self.cond:
                self.state.init_error = body
            self.log("stub: init error: " + body[:500].decode("utf-8", "replace"))
            self.failed.set()
            return self._reply("202 Accepted", ACCEPTED)
        if method == "POST" and rest.startswith("invocation/"):
            parts = rest.split("/")
            if len(parts) == 3 and parts[2] in ("response", "error"):
                return self._result(parts[1], parts[2], headers, body, t)
        self._fail(f"unexpected request {method} {path}")
        return self._reply("404 Not Found", b'{"errorMessage":"not found"}')

    def _next(self, t):
        with self.cond:
            if self.state.first_next_ns is None:
                self.state.first_next_ns, self.state.first_next_kernel_ns = t
                self.first_next.set()
            # Invocation N+1 waits for response N, like the Lambda service.
            while self.outstanding is not None and not self.closed:
                self.cond.wait()
            if self.closed:
                return None
            k = self.state.issued
        # The function has finished invocation k and is now blocked on this
        # request: the place to take quiescent measurements.
        if k in self.marks and self.on_mark is not None:
            self.on_mark(k)
        if self.limit is not None and k >= self.limit:
            self.done.set()
            with self.cond:
                while not self.closed:
                    self.cond.wait()
            return None
        with self.cond:
            self.state.issued += 1
            seq = self.state.issued
            # fixed-width ids so every invocation does identical work
            rid = f"8476a536-e9f4-11e8-9739-{seq:012x}"
            self.outstanding = rid
        deadline = int(time.time() * 1000) + 30_000
        extra = (
            f"Lambda-Runtime-Aws-Request-Id: {rid}\r\n"
            f"Lambda-Runtime-Deadline-Ms: {deadline}\r\n"
            f"Lambda-Runtime-Invoked-Function-Arn: {self.arn}\r\n"
            f"Lambda-Runtime-Trace-Id: {TRACE_ID}\r\n"
        )
        return self._reply("200 OK", self.event, extra)

    def _result(self, rid, kind, headers, body, t):
        with self.cond:
            if rid != self.outstanding:
                msg = f"{kind} for unknown/stale request id {rid} (outstanding {self.outstanding})"
                self.state.protocol_errors.append(msg)
                self.failed.set()
                return self._reply("400 Bad Request", b'{"errorMessage":"InvalidRequestID"}')
            r = Response(self.state.issued, rid, kind, body, headers, t[0])
            self.state.answered += 1
            if kind == "response":
                self.state.responses += 1
                if self.state.first_response is None:
                    self.state.first_response = r
                self.state.last_response = r
            else:
                self.state.errors += 1
                if self.state.first_error is None:
                    self.state.first_error = r
            self.outstanding = None
            self.cond.notify_all()
        if kind == "error":
            self.log("stub: invocation error: " + body[:500].decode("utf-8", "replace"))
            self.failed.set()
        return self._reply("202 Accepted", ACCEPTED)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--event", required=True, help="event JSON file handed out on every invocation")
    ap.add_argument("--port", type=int, default=9001)
    ap.add_argument("--limit", type=int, default=None, help="stop handing out invocations after this many")
    ap.add_argument("--function-name", default="pusher-auth")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every response body")
    args = ap.parse_args()
    with open(args.event, "rb") as f:
        event = f.read()
    json.loads(event)

    def log(s):
        print(s, file=sys.stderr, flush=True)

    stub = RuntimeStub(event, limit=args.limit, function_name=args.function_name, port=args.port, log=log)
    print(f"AWS_LAMBDA_RUNTIME_API={stub.address}", flush=True)
    last = None
    try:
        while True:
            time.sleep(0.2)
            s = stub.state
            r = s.last_response
            if args.verbose and r is not None and r is not last:
                print(f"#{r.seq} {r.kind}: {r.body.decode('utf-8', 'replace')}", flush=True)
                last = r
            if stub.done.is_set():
                print(f"limit reached: {s.responses} responses, {s.errors} errors", flush=True)
                break
    except KeyboardInterrupt:
        pass
    finally:
        stub.close()
        s = stub.state
        print(
            f"issued={s.issued} responses={s.responses} errors={s.errors} "
            f"init_error={s.init_error is not None} connections={s.connections}",
            file=sys.stderr,
        )


if __name__ == "__main__":
    main()
