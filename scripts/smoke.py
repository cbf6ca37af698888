#!/usr/bin/env python3
"""The smoke check behind scripts/smoke.sh (usage and the list of checks are there).

Python 3 standard library only. Prints `ok <check>` or `FAIL <check>: <reason>` per check on
stdout; reasons are redacted (never the secret, the token or a signature) and short."""
import hashlib
import hmac
import http.client
import ipaddress
import os
import json
import re
import secrets
import sys
import urllib.parse

USAGE = ("usage: bash scripts/smoke.sh BASE_URL [--token-file F] [--channel C] [--origin O] [--key K [--secret-file F]]\n"
         "       [--foreign-channel C]   (the token and secret also from SMOKE_TOKEN, SMOKE_SECRET; or --token T, --secret S)")
CALLBACK = "Pusher.auth_callbacks['1']"
FOREIGN_ORIGIN = "https://smoke-check.invalid"
HOSTILE_CALLBACKS = [("alert", "alert(1)//"), ("breakout", "Pusher.auth_callbacks['1']);alert(1);//")]
BAD_SOCKET_IDS = ["1.2.3", "abc"]
JS_TYPES = ("application/javascript", "text/javascript", "application/x-javascript", "application/ecmascript",
            "text/ecmascript")
TIMEOUT_S = 30  # a cold start (and a local first build) takes a while
AUTH_RE = re.compile(r"[^:\s]+:[0-9a-f]{64}")


def usage(message):
    sys.stderr.write(f"smoke: {message}\n{USAGE}\n")
    sys.exit(2)


def is_loopback(host):
    """127.0.0.0/8, ::1 or localhost: a plain http:// request to it never leaves the machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def read_secret_file(flag, path):
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().strip()
    except OSError as e:
        usage(f"{flag}: cannot read {path!r}: {e.strerror}")


def parse_args(argv, environ):
    if not argv or argv[0].startswith("-"):
        usage("BASE_URL is required")
    opts = {"base": argv[0], "token": None, "channel": "private-smoke", "origin": None, "key": None, "secret": None,
            "foreign_channel": None}
    given = set()
    rest = argv[1:]
    while rest:
        flag = rest.pop(0)
        name = flag[2:].replace("-", "_") if flag.startswith("--") else None
        if name not in ("token", "token_file", "secret", "secret_file", "channel", "origin", "key", "foreign_channel"):
            usage(f"unknown argument {flag!r}")
        if not rest:
            usage(f"{flag} needs a value")
        value = rest.pop(0)
        if value == "":
            usage(f"{flag} is empty")
        base = name[: -len("_file")] if name.endswith("_file") else name
        if base in given:
            usage(f"{flag}: the {base.replace('_', ' ')} is given twice")
        given.add(base)
        opts[base] = read_secret_file(flag, value) if name.endswith("_file") else value
    # The token and the secret: an argument, a file, else the environment.
    for name, variable in (("token", "SMOKE_TOKEN"), ("secret", "SMOKE_SECRET")):
        if opts[name] is None and environ.get(variable):
            opts[name] = environ[variable]
        if opts[name] == "":
            usage(f"the {name} is empty (--{name}-file)")
    if (opts["key"] is None) != (opts["secret"] is None):
        usage("--key and the secret (--secret, --secret-file or SMOKE_SECRET) go together")
    parsed = urllib.parse.urlsplit(opts["base"])
    if parsed.scheme not in ("http", "https") or not parsed.netloc or parsed.query or parsed.fragment:
        usage("BASE_URL must be an http(s) URL without a query, e.g. https://<api-id>.execute-api.<region>.amazonaws.com/staging")
    if parsed.scheme == "http" and (opts["token"] or opts["secret"]) and not is_loopback(parsed.hostname or ""):
        what = " and ".join(n for n in ("token", "secret") if opts[n])
        usage(f"refusing plain http:// to {parsed.hostname}, which is not loopback, when a {what} is given: "
              "a token would cross the network readable by anyone on the way, and a deployed stage is https://; "
              "use https:// (plain http:// only to 127.0.0.0/8, ::1 or localhost)")
    opts["loopback"] = is_loopback(parsed.hostname or "")
    opts["base"] = opts["base"].rstrip("/")
    if opts["base"].endswith("/pusher/auth"):
        usage("BASE_URL is the base: without /pusher/auth")
    return opts


class Smoke:
    def __init__(self, opts):
        self.opts = opts
        self.endpoint = opts["base"] + "/pusher/auth"
        self.failures = 0
        self.passes = 0
        self.unauthenticated = False  # an answer said 401 / unauthenticated
        self.refused = None  # the error code of a 403 / 503 refusal of --channel
        self.socket_id = f"{secrets.randbelow(10**9)}.{secrets.randbelow(10**9)}"

    # --- output -------------------------------------------------------------------------
    def redact(self, text):
        text = str(text)
        for name in ("secret", "token"):
            value = self.opts[name]
            if value:
                text = text.replace(value, f"<{name}>")
                text = text.replace(urllib.parse.quote(value, safe=""), f"<{name}>")
        text = re.sub(r"[0-9a-fA-F]{64}", "<signature>", text)
        text = re.sub(r'("shared_secret"\s*:\s*")[^"]*', r"\1<shared secret>", text)
        text = " ".join(text.split())
        return text if len(text) <= 160 else text[:157] + "..."

    def ok(self, check):
        self.passes += 1
        print(f"ok {check}", flush=True)

    def fail(self, check, reason):
        self.failures += 1
        print(f"FAIL {check}: {self.redact(reason)}", flush=True)

    def skip(self, check, reason):
        print(f"SKIP {check}: {reason}", flush=True)

    def check(self, name, fn, *args, skip_if_signed=None):
        try:
            problem = fn(*args)
        except OSError as e:  # connection refused, timeout, TLS, ...
            problem = f"request failed: {type(e).__name__}: {e}"
        except Exception as e:  # a bug here must not look like a pass
            problem = f"check crashed: {type(e).__name__}: {e}"
        if problem and skip_if_signed and problem.startswith("signed "):
            self.skip(name, skip_if_signed)
        elif problem:
            self.fail(name, problem)
        else:
            self.ok(name)

    # --- HTTP -----------------------------------------------------------------------------
    def request(self, method, params, headers=None, body_params=None):
        url = urllib.parse.urlsplit(self.endpoint)
        path = url.path or "/"
        if params:
            path += "?" + urllib.parse.urlencode(params, quote_via=urllib.parse.quote)
        conn_cls = http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
        conn = conn_cls(url.netloc, timeout=TIMEOUT_S)
        hdrs = {"User-Agent": "pusher-auth-smoke", "Accept": "*/*"}
        hdrs.update(headers or {})
        body = None
        if body_params is not None:
            body = urllib.parse.urlencode(body_params, quote_via=urllib.parse.quote).encode()
            hdrs["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            conn.request(method, path, body=body, headers=hdrs)
            res = conn.getresponse()
            data = res.read().decode("utf-8", "replace")
            return res.status, res.getheaders(), data
        finally:
            conn.close()

    def jsonp(self, channel, socket_id=None, callback=CALLBACK, token=True):
        params = {"callback": callback, "socket_id": socket_id or self.socket_id, "channel_name": channel}
        if token and self.opts["token"]:
            params["token"] = self.opts["token"]
        return self.request("GET", params)

    def ajax(self, channel, socket_id=None, token=True, origin=None):
        form = {"socket_id": socket_id or self.socket_id, "channel_name": channel}
        headers = {}
        if token and self.opts["token"]:
            form["token"] = self.opts["token"]
            headers["Authorization"] = "Bearer " + self.opts["token"]
        if origin:
            headers["Origin"] = origin
        return self.request("POST", None, headers, form)

    # --- reading answers ------------------------------------------------------------------
    @staticmethod
    def header(headers, name):
        return [v for k, v in headers if k.lower() == name.lower()]

    @staticmethod
    def content_type(headers):
        values = Smoke.header(headers, "Content-Type")
        return values[0].split(";")[0].strip().lower() if values else ""

    @staticmethod
    def callback_argument(body, callback=CALLBACK):
        """The object a JSONP body passes to `callback` (with pusher-auth's optional
        `/**/typeof CB === 'function' && ` guard), or None when the body is not one call of it."""
        cb = re.escape(callback)
        m = re.fullmatch(
            r"\s*(?:/\*\*/\s*)?(?:typeof\s+" + cb + r"""\s*===?\s*(['"])function\1\s*&&\s*)?"""
            + cb + r"\s*\((.*)\)\s*;?\s*", body, re.S)
        if not m:
            return None
        try:
            value = json.loads(m.group(2))
        except ValueError:
            return None
        return value if isinstance(value, dict) else None

    @staticmethod
    def denial_argument(body):
        """The error object of pusher-auth's channel denial script, which reaches the refused
        channel instead of calling the callback: `/**/(function(s,n,k,e){…})("<socket id>",
        "<channel>","<N>",{…});` (docs/answers.md). None when the body is not one."""
        m = re.fullmatch(r"\s*/\*\*/\(function\(s,n,k,e\)\{.*\}\)\((.*)\);?\s*", body, re.S)
        if not m:
            return None
        try:
            args = json.loads("[" + m.group(1) + "]")
        except ValueError:
            return None
        return args[-1] if len(args) == 4 and isinstance(args[-1], dict) else None

    @staticmethod
    def json_object(body):
        try:
            value = json.loads(body)
        except ValueError:
            return None
        return value if isinstance(value, dict) else None

    def auth_problem(self, obj, channel):
        """What is wrong with a signed answer's object (None if nothing)."""
        auth = obj.get("auth")
        if auth is None and "error" in obj:
            return f"refused with error {obj['error']!r} (status {obj.get('status')!r}), expected a signature"
        if not isinstance(auth, str) or not AUTH_RE.fullmatch(auth):
            return f"no auth of the form <key>:<64 hex> (keys: {sorted(obj)})"
        if self.opts["key"] and not auth.startswith(self.opts["key"] + ":"):
            return f"auth is signed for key {auth.split(':', 1)[0]!r}, not {self.opts['key']!r}"
        if channel.startswith("presence-") and not isinstance(obj.get("channel_data"), str):
            return "presence answer without channel_data"
        if channel.startswith("private-encrypted-") and not isinstance(obj.get("shared_secret"), str):
            return "encrypted-channel answer without shared_secret"
        return None

    def signature_problem(self, obj, channel):
        signed = f"{self.socket_id}:{channel}"
        if channel.startswith("presence-"):
            signed += ":" + obj.get("channel_data", "")
        expected = hmac.new(self.opts["secret"].encode(), signed.encode(), hashlib.sha256).hexdigest()
        got = str(obj.get("auth", "")).split(":", 1)[-1]
        if not hmac.compare_digest(expected, got):
            return f"auth does not verify with this secret over {'socket_id:channel:channel_data' if channel.startswith('presence-') else 'socket_id:channel'}"
        return None

    # --- the checks -------------------------------------------------------------------------
    def run(self):
        channel = self.opts["channel"]
        answers = {}

        def jsonp_answer():
            status, headers, body = self.jsonp(channel)
            self.unauthenticated |= status == 401 or '"unauthenticated"' in body
            if status != 200:
                return f"status {status}, expected 200: {body}"
            if self.content_type(headers) not in JS_TYPES:
                return f"Content-Type {self.header(headers, 'Content-Type')}, expected a JavaScript type"
            obj = self.callback_argument(body)
            if obj is None:
                obj = self.denial_argument(body)
            if obj is None:
                return f"the body is not one call of {CALLBACK} with a JSON object: {body}"
            if obj.get("status") in (403, 503):
                self.refused = obj.get("error")
            problem = self.auth_problem(obj, channel)
            if not problem:
                answers["jsonp"] = obj
            return problem

        def ajax_answer():
            status, headers, body = self.ajax(channel)
            self.unauthenticated |= status == 401
            if status in (403, 503):
                self.refused = (self.json_object(body) or {}).get("error")
            if status != 200:
                return f"status {status}, expected 200: {body}"
            if self.content_type(headers) != "application/json":
                return f"Content-Type {self.header(headers, 'Content-Type')}, expected application/json"
            obj = self.json_object(body)
            if obj is None:
                return f"the body is not a JSON object: {body}"
            problem = self.auth_problem(obj, channel)
            if not problem:
                answers["ajax"] = obj
            return problem

        self.check("jsonp-answer", jsonp_answer)
        self.check("ajax-answer", ajax_answer)
        if self.opts["secret"]:
            for transport in ("jsonp", "ajax"):
                self.check(f"{transport}-signature",
                           lambda t=transport: self.signature_problem(answers[t], channel) if t in answers
                           else f"no signed {t.upper()} answer to check (see {t}-answer)")

        if self.opts["token"]:
            self.check("no-token-ajax", self.refused_ajax, channel, 401, None, {"token": False})
            self.check("no-token-jsonp", self.refused_jsonp, channel, None, {"token": False})

        foreign = self.opts["foreign_channel"] or f"private-smoke-not-allowed-{secrets.token_hex(4)}"
        skip = None
        if not self.opts["foreign_channel"] and not self.opts["token"] and self.opts["loopback"]:
            # The README's local run (AUTH_MODE=demo, CHANNEL_RULES='private-* …') signs any
            # private- channel for its fixed user, without a token.
            skip = (f"{foreign} was signed without a token by a local endpoint: a demo configuration "
                    "(AUTH_MODE=demo) whose CHANNEL_RULES sign every private- channel (scripts/demo.env: "
                    "private-*); name a channel its rules refuse with --foreign-channel NAME")
        self.check("foreign-channel-ajax", self.refused_ajax, foreign, 403, None, {}, skip_if_signed=skip)
        self.check("foreign-channel-jsonp", self.refused_jsonp, foreign, None, {}, skip_if_signed=skip)

        for sid in BAD_SOCKET_IDS:
            self.check(f"bad-socket-id-ajax[{sid}]", self.refused_ajax, channel, 400, "invalid_socket_id",
                       {"socket_id": sid})
            self.check(f"bad-socket-id-jsonp[{sid}]", self.refused_jsonp, channel, "invalid_socket_id",
                       {"socket_id": sid})

        if self.opts["origin"]:
            self.check("cors-origin", self.cors_allowed, channel, self.opts["origin"])
        self.check("cors-foreign-origin", self.cors_foreign, channel)

        for label, callback in HOSTILE_CALLBACKS:
            self.check(f"hostile-callback[{label}]", self.hostile_callback, channel, callback)

        if self.unauthenticated and not self.opts["token"]:
            sys.stderr.write("smoke: the endpoint wants a user token (401 unauthenticated): pass one it accepts with "
                             "--token-file FILE or SMOKE_TOKEN (or --token T); docs/deploy.md shows how to get a "
                             "Cognito ID token\n")
        if self.refused == "forbidden":
            sys.stderr.write(f"smoke: {channel} was refused (403 forbidden): name with --channel (SMOKE_CHANNEL) a "
                             "channel the rules sign for this user; for a ?member channel, put the user's item "
                             "(channel, user_id) in the membership table\n")
        elif self.refused == "service_unavailable":
            sys.stderr.write(f"smoke: {channel} was refused (503 service_unavailable): the function could not read "
                             "the Pusher secret or the membership table; its log line's reason says which\n")
        sys.stderr.write(f"smoke: {self.passes} ok, {self.failures} failed ({self.endpoint})\n")
        return 1 if self.failures else 0

    def refused_ajax(self, channel, want_status, want_error, kw):
        status, _headers, body = self.ajax(channel, **kw)
        obj = self.json_object(body)
        if obj is not None and "auth" in obj:
            return f"signed (status {status}), expected a refusal with {want_status}"
        if status != want_status:
            return f"status {status}, expected {want_status}: {body}"
        if want_error and (obj is None or obj.get("error") != want_error):
            return f"error is not {want_error!r}: {body}"
        return None

    def refused_jsonp(self, channel, want_error, kw):
        status, _headers, body = self.jsonp(channel, **kw)
        if re.search(r'"auth"\s*:', body):
            return f"signed (status {status}), expected a refusal"
        obj = self.callback_argument(body)
        if obj is None:
            obj = self.denial_argument(body)
        if obj is None:
            obj = self.json_object(body)
        if obj is None or "error" not in obj:
            return f"status {status}, the body carries no error object: {body}"
        if want_error and obj.get("error") != want_error:
            return f"error is {obj.get('error')!r}, expected {want_error!r}"
        if status not in (200, 400, 401, 403):
            return f"status {status}: {body}"
        return None

    def cors_allowed(self, channel, origin):
        status, headers, body = self.ajax(channel, origin=origin)
        allow = self.header(headers, "Access-Control-Allow-Origin")
        if allow != [origin]:
            return f"Access-Control-Allow-Origin {allow or 'missing'}, expected [{origin!r}] (status {status})"
        if status != 200:
            return f"status {status}, expected 200: {body}"
        return None

    def cors_foreign(self, channel):
        status, headers, _body = self.ajax(channel, origin=FOREIGN_ORIGIN)
        allow = self.header(headers, "Access-Control-Allow-Origin")
        if FOREIGN_ORIGIN in allow or "*" in allow:
            return f"Access-Control-Allow-Origin {allow} lets {FOREIGN_ORIGIN} read the answer (status {status})"
        return None

    def hostile_callback(self, channel, callback):
        status, _headers, body = self.jsonp(channel, callback=callback)
        if callback in body or "alert(" in body:
            return f"the callback is echoed raw into the body (status {status})"
        if re.search(r'"auth"\s*:', body):
            return f"signed (status {status}), expected the callback to be refused"
        if not 400 <= status < 500:
            return f"status {status}, expected a 4xx refusal"
        return None


def main(argv):
    opts = parse_args(argv, os.environ)
    return Smoke(opts).run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
