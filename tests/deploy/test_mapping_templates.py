"""The mapping templates rendered by a real Velocity engine (airspeed-ext through
LocalStack's API Gateway template mapping) with AWS's $util.escapeJavaScript.
Runs in the venv of requirements-vtl.txt."""
import json

import pytest

import apigw
from localstack.services.apigateway.next_gen.execute_api.template_mapping import ApiGatewayVtlTemplate
from stage_requests import PUSHER_CALLBACK, Request, jsonp, jsonp_integration, mapping_event_text

REPLACE_ALL = '.replaceAll("\\\\\'","\'")'  # the text .replaceAll("\\'","'") as it stands in the template

HOSTILE = [
    PUSHER_CALLBACK,
    "it's",
    "\\'",
    "a\\\\'b",
    'say "hi"',
    "back\\slash\\",
    "\\u0041 is not A",
    "line\nbreak\r\nand\ttab",
    "</script><script>alert(1)</script>",
    "emoji 😀 and 𝄞",
    "line\u2028separator\u2029paragraph",
    "nul\x00bell\x07esc\x1bdel\x7f",
    "é ß ü 中文 ‮rtl",
    "$input.body #set($x = 1) ${context.stage}",
    "100% & <b>",
    "",
    " ",
    "{}",
    "null",
    "/**/",
]


# --------------------------------------------------------------------------
# the emulated $util and Java strings
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, escaped",
    [
        ("it's", "it\\'s"),
        ('"', '\\"'),
        ("\\", "\\\\"),
        ("</script>", "<\\/script>"),
        ("\b\t\n\f\r", "\\b\\t\\n\\f\\r"),
        ("\x00\x01\x0b\x1f", "\\u0000\\u0001\\u000B\\u001F"),
        ("\x7f", "\x7f"),
        ("é", "\\u00E9"),
        ("ſ", "\\u017F"),
        ("\u2028\u2029", "\\u2028\\u2029"),
        ("😀", "\\uD83D\\uDE00"),
        ("plain ASCII 123 <>&=", "plain ASCII 123 <>&="),
    ],
)
def test_escape_javascript_is_commons_lang(text, escaped):
    assert apigw.java_escape_javascript(text) == escaped


def test_replace_all_has_java_semantics():
    s = apigw.JavaString("Pusher.auth_callbacks[\\'1\\']")
    assert s.replaceAll("\\\\'", "'") == "Pusher.auth_callbacks['1']"
    assert apigw.JavaString("a1b22").replaceAll("([0-9]+)", "<$1>") == "a<1>b<22>"
    assert apigw.JavaString("a$b").replaceAll("\\$", "\\$\\\\") == "a$\\b"
    # Java's "." stops at every line terminator, Python's only at \n.
    assert apigw.JavaString("x\ry\u2028z").replaceAll(".", "_") == "_\r_\u2028_"
    with pytest.raises(ValueError):
        apigw.java_regex("a++")


# --------------------------------------------------------------------------
# the request template
# --------------------------------------------------------------------------


def test_request_template_renders_the_event_contract():
    request = jsonp(socket_id="932210922.248691558", channel_name="private-demo", token="demo-token")
    request.stage_variables = {"PUSHER_KEY": "3e294278b9dd9a0ab486", "PUSHER_CLUSTER": "eu"}
    event = json.loads(mapping_event_text(request))
    assert set(event) == {"body", "params", "stage-variables", "context"}
    assert event["params"] == {
        "path": {},
        "querystring": {"callback": "Pusher.auth_callbacks['1']", "socket_id": "932210922.248691558",
                        "channel_name": "private-demo", "token": "demo-token"},
        "header": request.headers,
    }
    assert list(event["params"]["querystring"]) == ["callback", "socket_id", "channel_name", "token"]
    assert event["stage-variables"] == request.stage_variables
    assert event["context"] == {
        "http-method": "GET",
        "resource-path": "/pusher/auth",
        "stage": "staging",
        "request-id": request.request_id,
        "source-ip": "203.0.113.42",
        "authorizer-principal-id": "",
        "authorizer-claims": {},
    }
    # A GET has no payload: API Gateway's $input.body is then "{}" (LocalStack's
    # parity behaviour); the function ignores the body of a GET.
    assert event["body"] in ("", "{}")


def test_without_replace_all_a_pusher_js_callback_breaks_the_json():
    """The trap is real in this emulation: AWS's escapeJavaScript leaves \\' in the
    text, which JSON does not allow."""
    integration = jsonp_integration()
    template = integration["requestTemplates"]["application/json"]
    assert template.count(REPLACE_ALL) >= 10
    broken = template.replace(REPLACE_ALL, "")
    request = jsonp(socket_id="1.2", channel_name="private-demo")
    text = mapping_event_text(request, integration, template=broken)
    assert "Pusher.auth_callbacks[\\'1\\']" in text
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)
    # ... and the real template gives the callback back exactly.
    assert json.loads(mapping_event_text(request, integration))["params"]["querystring"]["callback"] == PUSHER_CALLBACK


def test_localstack_stock_util_would_hide_the_trap():
    """Why the tests replace $util: LocalStack escapes with JSON rules, so even the
    broken template would parse there."""
    template = "\"$util.escapeJavaScript($input.params('callback'))\""
    variables = {"input": {"body": "", "params": {"path": {}, "querystring": {"callback": PUSHER_CALLBACK}, "header": {}}},
                 "context": {}, "stageVariables": {}}
    assert json.loads(ApiGatewayVtlTemplate().render_vtl(template, variables)) == PUSHER_CALLBACK
    with pytest.raises(json.JSONDecodeError):
        json.loads(apigw.AwsVtlTemplate().render_vtl(template, variables))


@pytest.mark.parametrize("route", ["/pusher/auth", "/pusher/user-auth"])
@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_round_trip(route, value):
    request = Request(resource_path=route)
    request.query = {"callback": PUSHER_CALLBACK, "socket_id": "1.2", "channel_name": value, value + "=name": value}
    request.headers = dict(request.headers)
    request.headers["X-Test"] = value
    request.headers["X-Name-" + value] = "v"
    request.stage_variables = {"PUSHER_KEY": "key", "ODD": value}
    request.principal_id = value
    event = json.loads(mapping_event_text(request, jsonp_integration(route)))
    assert event["params"]["querystring"] == request.query
    assert event["params"]["header"] == request.headers
    assert event["stage-variables"] == request.stage_variables
    assert event["context"]["authorizer-principal-id"] == value
    assert event["context"]["resource-path"] == route


def test_all_hostile_values_in_one_request():
    request = jsonp(socket_id="1.2")
    for i, value in enumerate(HOSTILE):
        request.query["p%d" % i] = value
        request.headers["X-H%d" % i] = value
    event = json.loads(mapping_event_text(request))
    assert event["params"]["querystring"] == request.query
    assert event["params"]["header"] == request.headers


def test_cognito_claims_are_passed():
    request = jsonp(socket_id="1.2", channel_name="private-user-42")
    request.claims = {"sub": "42", "name": "Zoë O'Brien \"ZZ\"", "email": "z@example.com", "cognito:groups": "a,b"}
    request.principal_id = None
    event = json.loads(mapping_event_text(request))
    assert event["context"]["authorizer-claims"] == request.claims


@pytest.mark.parametrize("content_type", [None, "application/json", "application/json; charset=utf-8", "Application/JSON"])
def test_a_script_request_without_content_type_gets_the_json_template(content_type):
    integration = jsonp_integration()
    assert apigw.request_template_for(integration, content_type) == integration["requestTemplates"]["application/json"]


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_other_content_types_are_refused_by_passthrough_never(content_type):
    with pytest.raises(apigw.GatewayRefusal) as refused:
        apigw.request_template_for(jsonp_integration(), content_type)
    assert refused.value.status == 415


# --------------------------------------------------------------------------
# the integration responses
# --------------------------------------------------------------------------

STATUSES = [400, 401, 403, 404, 405, 413, 415, 500, 503]
CODES = ["invalid_callback", "missing_callback", "unauthenticated", "channel_not_allowed", "not_found",
         "method_not_allowed", "payload_too_large", "unsupported_media_type", "server_error", "secret_unavailable"]


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("code", CODES)
def test_function_errors_map_to_their_status_and_body(status, code):
    message = '{"error":"%s","status":%d}' % (code, status)
    error = {"errorType": "Refusal", "errorMessage": message}
    got_status, headers, body = apigw.integration_response(jsonp_integration(), error=error)
    assert (got_status, body) == (status, message)
    assert headers == {"Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store, private",
                       "X-Content-Type-Options": "nosniff"}


@pytest.mark.parametrize(
    "message",
    [
        "2025-11-21T12:41:07.512Z 6f2d1c84-3b7e-4a9f-b1d2-8e5c0a7f4e31 Task timed out after 10.01 seconds",
        "RequestId: 6f2d1c84 Error: Runtime exited with error: signal: aborted",
        "panicked at src/main.rs:1:1:\nboom",
        '{"error":"invalid_callback","status":402}',
        '{"error":"Invalid","status":400}',
        '{"error":"invalid_callback","status":400}\n',
        '{"error":"invalid_callback","status":400} ',
        '{"error":"invalid_callback","status":400}\u2028',
        ' {"error":"invalid_callback","status":400}',
        '{"status":400,"error":"invalid_callback"}',
        "\n",
        "x",
    ],
)
def test_other_function_errors_are_500_without_their_message(message):
    status, headers, body = apigw.integration_response(jsonp_integration(), error={"errorMessage": message, "errorType": "x"})
    assert (status, body) == (500, '{"error":"server_error","status":500}')
    assert headers["Content-Type"] == "application/json; charset=utf-8"


def test_no_selection_pattern_matches_a_success():
    """A success is matched as the empty string: no pattern may match it, so it
    always takes the default (200) response."""
    for pattern in jsonp_integration()["responses"]:
        if pattern != "default":
            assert not apigw.java_full_match(pattern, ""), pattern


@pytest.mark.parametrize(
    "javascript",
    [
        "/**/typeof Pusher.auth_callbacks['1'] === 'function' && Pusher.auth_callbacks['1']({\"auth\":\"k:ab\"});",
        "/**/typeof Pusher.auth_callbacks['7'] === 'function' && Pusher.auth_callbacks['7']("
        "{\"auth\":\"k:ab\",\"channel_data\":\"{\\\"user_id\\\":\\\"\\u003c/script\\u003e\\\",\\\"user_info\\\":{\\\"name\\\":\\\"Zoë \\u2028\\\"}}\"});",
    ],
)
def test_success_body_is_written_out_unescaped(javascript):
    payload = json.dumps(javascript)
    status, headers, body = apigw.integration_response(jsonp_integration(), lambda_payload=payload)
    assert (status, body) == (200, javascript)
    assert headers == {"Content-Type": "application/javascript; charset=utf-8", "Cache-Control": "no-store, private",
                       "X-Content-Type-Options": "nosniff"}
