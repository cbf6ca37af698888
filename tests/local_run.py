#!/usr/bin/env python3
"""Smoke test of the README's run command: start scripts/run-local.sh on a free
port, run the JSONP curl command it prints, and check the answer is a valid
JSONP body whose signature verifies with the demo secret (checked here with
Python's hmac, independently of the function). Then the live page it serves on
PAGE_PORT: the address it prints, the page, pusher-js, and a configuration that
says what is missing with the demo defaults and holds no secret (nor does the
page server's environment). Then what else it prints and offers: the line before
the build, `run-local.sh invoke <event>` against the running function, and the
pusher-js snippets (evaluated with Node), which follow PUSHER_WS_HOST/PORT."""
import hashlib
import hmac
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEADLINE_S = 600  # the first request waits for cargo's build


def demo_env():
    """The demo configuration, scripts/demo.env (KEY=VALUE lines; a value with a space or '='
    is in single quotes, which are not part of it)."""
    with open(os.path.join(ROOT, "scripts", "demo.env")) as f:
        pairs = (line.rstrip("\n").split("=", 1) for line in f if line.strip() and not line.startswith("#"))
        return {key: value[1:-1] if len(value) >= 2 and value[0] == value[-1] == "'" else value
                for key, value in pairs}


DEMO = demo_env()
DEMO_SECRETS = (DEMO["PUSHER_SECRET"].encode(), DEMO["PUSHER_ENCRYPTION_MASTER_KEY_BASE64"].encode())


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    port = free_port()
    page_port = free_port()
    log = tempfile.NamedTemporaryFile(prefix="run-local-", suffix=".log", delete=False)
    env = dict(os.environ, PORT=str(port), PAGE_PORT=str(page_port))
    for name in ("PUSHER_KEY", "PUSHER_SECRET", "AUTH_MODE", "PUSHER_WS_HOST", "PUSHER_WS_PORT", "ALLOWED_ORIGINS",
                 "PUSHER_ENCRYPTION_MASTER_KEY_BASE64", "PUSHER_SECRET_ID", "PUSHER_CLUSTER"):
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
                         r"Pusher\.auth_callbacks\['1'\]\(\{\"auth\":\"" + re.escape(DEMO["PUSHER_KEY"]) + r":([0-9a-f]{64})\"\}\);", body)
        assert m, body
        expected = hmac.new(DEMO["PUSHER_SECRET"].encode(), b"123.456:private-demo", hashlib.sha256).hexdigest()
        assert m.group(1) == expected, "signature does not verify"
        check_page(log.name, proc.pid, port, page_port)
        with open(log.name) as f:
            printed = f.read()
        first = printed.splitlines()[0]
        assert first.startswith("==> Setting up and building:") and "about 2 minutes on a first run" in first, first
        assert printed.index(first) < printed.index("==> Serving"), "the setup line comes first"
        options = printed_pusher_options(printed)
        assert len(options) == 2 and all(o["cluster"] == "mt1" and "wsHost" not in o for o in options), options
        check_invoke(port)
    except AssertionError:
        with open(log.name) as f:
            sys.stderr.write(f.read()[-4000:])
        raise
    finally:
        stop(proc)
        os.unlink(log.name)
    check_ws_snippets()
    check_config_refused_before_serving()
    check_config_error_answered_under_watch()
    print("local run: 6 passed, 0 failed")


def printed_pusher_options(printed):
    """The options of each `new Pusher(…)` snippet run-local.sh printed, as Node evaluates them."""
    snippets = re.findall(r"^  (const pusher = new Pusher\(.*?^  \}\);)$", printed, re.M | re.S)
    script = ("const seen = []; function Pusher(key, options) { seen.push(options); }\n"
              + "\n".join("{ %s }" % s for s in snippets) + "\nconsole.log(JSON.stringify(seen));")
    done = subprocess.run(["node", "-e", script], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def check_invoke(port):
    """The README's `bash scripts/run-local.sh invoke <event>` against the running function:
    cargo lambda invoke (from the cache, on 127.0.0.1 and PORT) gets a signed JSONP answer."""
    event = "tests/fixtures/events/apigw-v2-jsonp-private.json"
    done = subprocess.run(["bash", "scripts/run-local.sh", "invoke", event], cwd=ROOT, capture_output=True, text=True,
                          env=dict(os.environ, PORT=str(port)), timeout=120)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["statusCode"] == 200, answer
    with open(os.path.join(ROOT, event)) as f:
        query = json.load(f)["queryStringParameters"]
    signed = f"{query['socket_id']}:{query['channel_name']}".encode()
    expected = hmac.new(DEMO["PUSHER_SECRET"].encode(), signed, hashlib.sha256).hexdigest()
    assert f'{{"auth":"{DEMO["PUSHER_KEY"]}:{expected}"}}' in answer["body"], "the invoked answer is not signed"
    print("run-local.sh invoke: a signed JSONP answer from the running function")


def check_ws_snippets():
    """With PUSHER_WS_HOST/PORT set, both printed pusher-js snippets connect there as the page does."""
    env = dict(os.environ, PORT=str(free_port()), PAGE_PORT="off", PUSHER_WS_HOST="127.0.0.1", PUSHER_WS_PORT="6001")
    proc = subprocess.Popen(["bash", "scripts/run-local.sh"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    try:
        printed = ""
        for line in proc.stdout:
            printed += line
            if line.startswith("  });") and "pusher-js over AJAX" in printed:
                break
    finally:
        stop(proc)
    options = printed_pusher_options(printed)
    assert len(options) == 2, printed
    for o in options:
        assert (o["wsHost"], o["wsPort"], o["forceTLS"], o["enabledTransports"]) == ("127.0.0.1", 6001, False, ["ws"]), o
    print("run-local.sh with PUSHER_WS_HOST/PORT prints pusher-js snippets for that server")


def check_config_refused_before_serving():
    """A wrong setting stops the run command in seconds with the cold start's
    error, before anything is served (the build is already done by now)."""
    env = dict(os.environ, PORT=str(free_port()), PAGE_PORT="off", CHANNEL_RULES="private-*,presence-*")
    start = time.monotonic()
    done = subprocess.run(["bash", "scripts/run-local.sh"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    took = time.monotonic() - start
    assert done.returncode != 0, done.stdout
    assert "configuration error: CHANNEL_RULES" in done.stderr, done.stderr
    assert "separate rules with spaces" in done.stderr, done.stderr
    assert "Serving" not in done.stdout, done.stdout
    print(f"run-local.sh refused CHANNEL_RULES='private-*,presence-*' in {took:.1f} s")


def check_config_error_answered_under_watch():
    """Plain `cargo lambda watch` with a configuration error: each request gets
    a 500 naming the variable at once instead of hanging."""
    bin_dir = subprocess.run(["bash", "scripts/setup.sh"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.strip()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PUSHER_", "AUTH_", "JWT_", "CHANNEL_"))}
    env["PATH"] = bin_dir + os.pathsep + env["PATH"]
    env["PUSHER_SECRET"] = "a-secret-value-never-shown"
    proc = subprocess.Popen(["cargo", "lambda", "watch", "--quiet", "--invoke-address", "127.0.0.1",
                             "--invoke-port", str(port)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}/lambda-url/pusher-auth/pusher/auth?socket_id=1.2&channel_name=private-a"
        answers = []
        start = time.monotonic()
        # The build is done by now: a hang (the old behaviour) fails within two minutes.
        while len(answers) < 2 and time.monotonic() - start < 120:
            try:
                with urllib.request.urlopen(url, timeout=30) as res:
                    answers.append((res.status, res.read().decode()))
            except urllib.error.HTTPError as e:
                answers.append((e.code, e.read().decode()))
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(1)
        assert len(answers) == 2, answers
        for status, body in answers:
            assert status == 500, (status, body)
            assert body == "configuration error: PUSHER_KEY is not set\n", body
            assert "a-secret-value-never-shown" not in body
        print("cargo lambda watch answered a configuration error with 500 naming the variable")
    finally:
        stop(proc)


def stop(proc):
    """Stops a process started in its own session, and everything it started."""
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def get(url):
    with urllib.request.urlopen(url, timeout=10) as res:
        return res.status, res.headers.get("Content-Type"), res.read()


def check_page(log_name, group, port, page_port):
    with open(log_name) as f:
        printed = f.read()
    assert f"Open the live page: http://localhost:{page_port}/" in printed, "run-local.sh printed no page address"
    base = f"http://127.0.0.1:{page_port}"
    start = time.monotonic()
    while True:
        try:
            status, ctype, body = get(base + "/config.json")
            break
        except OSError:
            assert time.monotonic() - start < 30, "the page server never answered"
            time.sleep(0.3)
    assert (status, ctype) == (200, "application/json"), (status, ctype)
    for secret in DEMO_SECRETS:
        assert secret not in body, "the page configuration holds a secret"
    config = json.loads(body)
    assert not [k for k in config if "secret" in k.lower() or "master" in k.lower()], config
    fn = f"http://127.0.0.1:{port}/lambda-url/pusher-auth"
    assert config["key"] == DEMO["PUSHER_KEY"] and config["demoKey"] is True, config
    assert config["wsHost"] is None and config["cluster"] == "mt1", config
    assert config["authEndpoint"] == fn + "/pusher/auth", config
    assert config["userAuthEndpoint"] == fn + "/pusher/user-auth", config
    status, ctype, html = get(base + "/")
    assert (status, ctype) == (200, "text/html; charset=utf-8"), (status, ctype)
    assert b'<script src="/pusher.js"></script>' in html and b'<script src="/app.js"></script>' in html
    status, _, lib = get(base + "/pusher.js")
    assert status == 200 and b'VERSION: "8.6.0"' in lib, "the page does not serve the pinned pusher-js"
    status, _, app = get(base + "/app.js")
    assert status == 200 and b"Nothing to connect to yet" in app
    # The page server never holds the secret: its environment, read from /proc.
    servers = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.getpgid(int(pid)) != group:
                continue
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if b"demo/serve.mjs" not in f.read():
                    continue
            with open(f"/proc/{pid}/environ", "rb") as f:
                servers.append(f.read())
        except OSError:
            continue
    assert len(servers) == 1, f"{len(servers)} page servers found"
    for secret in DEMO_SECRETS:
        assert secret not in servers[0], "the page server's environment holds a secret"


if __name__ == "__main__":
    main()
