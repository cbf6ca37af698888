"""End to end through the real function: the request template rendered for a
pusher-js JSONP request, the event sent to `cargo lambda watch`
(scripts/run-local.sh) through the Lambda Invoke API, the integration response
of template.yaml applied (selection patterns, templates, header mappings), and
the final body compared with the JavaScript computed here with hmac. The same
request as a REST proxy event must give the same body byte for byte.
Runs in the venv of requirements-vtl.txt."""
import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import pytest

import apigw
from stage_requests import PUSHER_CALLBACK, ROOT, jsonp, jsonp_integration, mapping_event_text, proxy_event

ENV_KEY = "e2e-env-app-key"
STAGE_KEY = "3e294278b9dd9a0ab486"
SECRET = "e2e-app-secret-7f3a9c1d"
BUILD_DEADLINE_S = float(os.environ.get("E2E_BUILD_DEADLINE_S", "1500"))
STAGE_VARIABLES = {"PUSHER_KEY": STAGE_KEY, "PUSHER_APP_ID": "1000001", "PUSHER_CLUSTER": "eu"}
DEMO_USER = '{"user_id":"demo-user","user_info":{"name":"Demo User"}}'
DEMO_SIGNIN = '{"id":"demo-user","user_info":{"name":"Demo User"}}'


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalFunction:
    """`bash scripts/run-local.sh` on a free port; its log stays outside the repository."""

    def __init__(self):
        self.port = free_port()
        self.log = tempfile.NamedTemporaryFile(prefix="pusher-auth-e2e-", suffix=".log", delete=False)
        env = dict(os.environ)
        for name in list(env):
            if name.startswith(("PUSHER_", "JWT_", "AWS_")) or name in ("ALLOWED_ORIGINS", "DEPLOYMENT_ENVIRONMENT"):
                del env[name]
        env.update(PORT=str(self.port), AUTH_MODE="demo", PUSHER_KEY=ENV_KEY, PUSHER_SECRET=SECRET,
                   PUSHER_APP_ID="1", PUSHER_CLUSTER="mt1", USER_INFO_CLAIMS="name",
                   CHANNEL_RULES="private-* presence-* private-encrypted-*")
        self.proc = subprocess.Popen(["bash", "scripts/run-local.sh"], cwd=ROOT, env=env, stdout=self.log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        self.url = "http://127.0.0.1:%d/2015-03-31/functions/pusher-auth/invocations" % self.port

    def log_tail(self):
        with open(self.log.name, errors="replace") as f:
            return f.read()[-4000:]

    def invoke(self, event_text, timeout=120):
        """Lambda Invoke: ("ok", payload text) or ("error", error object). cargo
        lambda answers a function error with HTTP 500 and the error object the
        runtime posted (AWS answers 200 with X-Amz-Function-Error)."""
        data = event_text.encode("utf-8") if isinstance(event_text, str) else event_text
        req = urllib.request.Request(self.url, data=data, method="POST", headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return "ok", resp.read().decode("utf-8")
        except urllib.error.HTTPError as err:
            text = err.read().decode("utf-8")
            error = json.loads(text)
            assert err.code == 500 and "errorMessage" in error, (err.code, text)
            return "error", error

    def wait_until_ready(self):
        start = time.monotonic()
        while True:
            if self.proc.poll() is not None:
                raise AssertionError("run-local.sh exited:\n" + self.log_tail())
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    break
            except OSError:
                if time.monotonic() - start > 300:
                    raise AssertionError("cargo lambda watch never listened:\n" + self.log_tail())
                time.sleep(0.5)
        # The first invocation waits for the debug build.
        event = mapping_event_text(_with_stage(jsonp(socket_id="1.1", channel_name="private-warmup")))
        remaining = BUILD_DEADLINE_S - (time.monotonic() - start)
        self.invoke(event, timeout=max(remaining, 60))

    def stop(self):
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)
        os.unlink(self.log.name)


@pytest.fixture(scope="module")
def function():
    fn = LocalFunction()
    try:
        fn.wait_until_ready()
        yield fn
    except BaseException:
        print(fn.log_tail())
        raise
    finally:
        fn.stop()


def _with_stage(request):
    request.stage_variables = dict(STAGE_VARIABLES)
    return request


def through_mapping(function, request):
    """browser → request template → Lambda → integration response → browser."""
    integration = jsonp_integration(request.resource_path)
    kind, result = function.invoke(mapping_event_text(request, integration))
    if kind == "ok":
        return apigw.integration_response(integration, lambda_payload=result)
    return apigw.integration_response(integration, error=result)


def through_proxy(function, request):
    kind, result = function.invoke(json.dumps(proxy_event(request)))
    assert kind == "ok", result
    response = json.loads(result)
    assert not response.get("isBase64Encoded")
    return response["statusCode"], response["headers"], response["body"]


# ---- the answer, computed independently -----------------------------------


def js_json_string(text):
    """A JSON string as the function writes it in JSONP: <, >, &, U+2028/9 escaped."""
    out = json.dumps(text, ensure_ascii=False, separators=(",", ":"))
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        out = out.replace(ch, esc)
    return out


def sign(key, text):
    return "%s:%s" % (key, hmac.new(SECRET.encode(), text.encode(), hashlib.sha256).hexdigest())


def jsonp_body(fields, callback=PUSHER_CALLBACK):
    obj = "{" + ",".join("%s:%s" % (js_json_string(k), js_json_string(v)) for k, v in fields) + "}"
    return "/**/typeof %s === 'function' && %s(%s);" % (callback, callback, obj)


def expected_private(socket_id, channel):
    return jsonp_body([("auth", sign(STAGE_KEY, "%s:%s" % (socket_id, channel)))])


def expected_presence(socket_id, channel):
    return jsonp_body([("auth", sign(STAGE_KEY, "%s:%s:%s" % (socket_id, channel, DEMO_USER))), ("channel_data", DEMO_USER)])


def expected_signin(socket_id):
    return jsonp_body([("auth", sign(STAGE_KEY, "%s::user::%s" % (socket_id, DEMO_SIGNIN))), ("user_data", DEMO_SIGNIN)])


JS_HEADERS = {"Content-Type": "application/javascript; charset=utf-8", "Cache-Control": "no-store, private",
              "X-Content-Type-Options": "nosniff"}

PRIVATE = "private-BRUpnQat10DzJru6tPe8VEm5tpF1zaDh;tNO_X.rpIB2I@1I-AO9FxZ_8mqxdjT4qMtmPS-_q"
PRESENCE = "presence-room-lobby"


def test_private_channel(function):
    request = _with_stage(jsonp(socket_id="932210922.248691558", channel_name=PRIVATE, token="demo-token"))
    assert through_mapping(function, request) == (200, JS_HEADERS, expected_private("932210922.248691558", PRIVATE))


def test_presence_channel(function):
    request = _with_stage(jsonp(socket_id="681197404.119053125", channel_name=PRESENCE, token="demo-token"))
    assert through_mapping(function, request) == (200, JS_HEADERS, expected_presence("681197404.119053125", PRESENCE))


def test_user_authentication(function):
    request = _with_stage(jsonp("/pusher/user-auth", socket_id="393343120.333436012", token="demo-token"))
    assert through_mapping(function, request) == (200, JS_HEADERS, expected_signin("393343120.333436012"))


def test_other_callback_numbers(function):
    callback = "Pusher.auth_callbacks['123456789']"
    request = _with_stage(jsonp(callback=callback, socket_id="1.2", channel_name="private-a"))
    expected = jsonp_body([("auth", sign(STAGE_KEY, "1.2:private-a"))], callback=callback)
    assert through_mapping(function, request)[2] == expected


def test_hostile_headers_and_token_reach_the_function_intact(function):
    request = _with_stage(jsonp(socket_id="1.2", channel_name="private-a",
                                token="x'y\"z\\</script>\n\u2028😀"))
    request.headers["X-Odd"] = "it's \"quoted\" \\ </script> é 😀"
    request.headers["Origin"] = "https://app.example.com"
    assert through_mapping(function, request) == (200, JS_HEADERS, expected_private("1.2", "private-a"))


def test_bad_callback_is_400_with_the_error_body(function):
    request = _with_stage(jsonp(callback="alert(document.cookie)", socket_id="1.2", channel_name="private-a"))
    status, headers, body = through_mapping(function, request)
    assert (status, body) == (400, '{"error":"invalid_callback","status":400}')
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    assert through_proxy(function, request)[0::2] == (400, body)


def test_missing_callback_is_400(function):
    request = _with_stage(jsonp(socket_id="1.2", channel_name="private-a"))
    del request.query["callback"]
    status, _headers, body = through_mapping(function, request)
    assert (status, json.loads(body)["status"]) == (400, 400)


@pytest.mark.parametrize(
    "request_factory",
    [
        lambda: jsonp(socket_id="932210922.248691558", channel_name=PRIVATE, token="demo-token"),
        lambda: jsonp(socket_id="681197404.119053125", channel_name=PRESENCE, token="demo-token"),
        lambda: jsonp("/pusher/user-auth", socket_id="393343120.333436012", token="demo-token"),
        lambda: jsonp(socket_id="1.2<script>", channel_name="private-a"),  # a JSONP denial (200, no auth)
        lambda: jsonp(socket_id="1.2", channel_name="my-public-channel"),
        lambda: jsonp(callback="alert(1)", socket_id="1.2", channel_name="private-a"),
    ],
    ids=["private", "presence", "user-auth", "bad-socket-id", "public-channel", "bad-callback"],
)
def test_mapping_and_proxy_give_the_same_body(function, request_factory):
    request = _with_stage(request_factory())
    m_status, m_headers, m_body = through_mapping(function, request)
    p_status, p_headers, p_body = through_proxy(function, request)
    assert m_body.encode("utf-8") == p_body.encode("utf-8")
    assert m_status == p_status
    lower = {k.lower(): v for k, v in p_headers.items()}
    for name, value in m_headers.items():
        assert lower[name.lower()] == value, name
