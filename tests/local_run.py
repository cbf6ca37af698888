#!/usr/bin/env python3
"""Smoke test of the README's run command: start scripts/run-local.sh on a free
port, run the JSONP curl command it prints, and check the answer is a valid
JSONP body whose signature verifies with the demo secret (checked here with
Python's hmac, independently of the function)."""
import hashlib
import hmac
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEADLINE_S = 600  # the first request waits for cargo's build


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    port = free_port()
    log = tempfile.NamedTemporaryFile(prefix="run-local-", suffix=".log", delete=False)
    env = dict(os.environ, PORT=str(port))
    for name in ("PUSHER_KEY", "PUSHER_SECRET", "AUTH_MODE"):
        env.pop(name, None)
    proc = subprocess.Popen(["bash", "scripts/run-local.sh"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        curl = None
        start = time.monotonic()
        while curl is None and time.monotonic() - start < 120:
            with open(log.name) as f:
                for line in f:
                    if line.strip().startswith("curl -sS \"http"):
                        curl = line.strip()
                        break
            if proc.poll() is not None:
                break
            time.sleep(0.5)
        assert curl, "run-local.sh printed no JSONP curl command"
        args = shlex.split(curl)
        body = None
        while time.monotonic() - start < DEADLINE_S:
            done = subprocess.run(args + ["-m", "300", "-w", "\n%{http_code} %{content_type}"], capture_output=True, text=True)
            if done.returncode == 0 and not done.stdout.endswith(("000 ", "000")):
                body, meta = done.stdout.rsplit("\n", 1)
                break
            time.sleep(1)
        assert body is not None, "the local endpoint never answered"
        status, content_type = meta.split(" ", 1)
        assert status == "200", meta
        assert content_type == "application/javascript; charset=utf-8", meta
        m = re.fullmatch(r"/\*\*/typeof Pusher\.auth_callbacks\['1'\] === 'function' && "
                         r"Pusher\.auth_callbacks\['1'\]\(\{\"auth\":\"demo-app-key:([0-9a-f]{64})\"\}\);", body)
        assert m, body
        expected = hmac.new(b"demo-app-secret", b"123.456:private-demo", hashlib.sha256).hexdigest()
        assert m.group(1) == expected, "signature does not verify"
        print("local run: 1 passed, 0 failed")
    except AssertionError:
        with open(log.name) as f:
            sys.stderr.write(f.read()[-4000:])
        raise
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        os.unlink(log.name)


if __name__ == "__main__":
    main()
