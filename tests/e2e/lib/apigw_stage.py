"""An API Gateway REST API stage on 127.0.0.1, for the end-to-end suite.

It serves the routes of template.yaml whose integration is the Lambda custom
(non-proxy) one -- GET /<stage>/pusher/auth and GET /<stage>/pusher/user-auth --
the way API Gateway does, built on tests/deploy/apigw.py:

1. the request context from the real HTTP request: decoded query parameters,
   headers (with the X-Forwarded-* API Gateway adds), the stage, its stage
   variables, a request id and the source IP;
2. the request template chosen by Content-Type (none: application/json; with
   passthroughBehavior never, another type is a 415), rendered by a real Velocity
   engine with AWS's ``$util.escapeJavaScript`` (``'`` becomes ``\\'``);
3. the rendered event sent to the function through the Lambda Invoke API of
   ``cargo lambda watch`` (the suite's own function process); an event that is
   not valid JSON is refused as Lambda refuses it (InvalidRequestContentException:
   API Gateway answers 500 ``{"message": "Internal server error"}``), so the
   ``\\'`` trap shows in the browser;
4. the integration response selected (success: default; function error: the
   selectionPattern matching its errorMessage), its template rendered, and the
   mapped status, headers and body sent back.

Everything else (proxy routes, unknown paths) is answered as API Gateway answers
an unknown route: 403 {"message":"Missing Authentication Token"}.

One JSON line per request goes to stdout (the fields of the template's access
log, never the query string, plus what the integration did). The first line says
where it listens:  {"listening": "http://127.0.0.1:PORT", ...}

Runs in the venv of tests/deploy/requirements-vtl.txt (scripts/venv.sh deploy-vtl).
"""
import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(ROOT, "tests", "deploy"))

import apigw  # noqa: E402  (tests/deploy/apigw.py)


def log(entry):
    sys.stdout.write(json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n")
    sys.stdout.flush()


def gateway_response_headers(template, kind):
    """The constant headers of x-amazon-apigateway-gateway-responses DEFAULT_4XX / DEFAULT_5XX."""
    api = template["Resources"]["PusherAuthApi"]["Properties"]["DefinitionBody"]
    responses = api.get("x-amazon-apigateway-gateway-responses") or {}
    headers = {}
    for target, source in ((responses.get(kind) or {}).get("responseParameters") or {}).items():
        prefix = "gatewayresponse.header."
        if target.startswith(prefix) and source.startswith("'") and source.endswith("'"):
            headers[target[len(prefix):]] = source[1:-1]
    return headers


def decode_query(raw):
    """Query parameters as API Gateway hands them to a mapping template: names and
    values percent-decoded, one value per name (the last). ``+`` is left as it is
    (pusher-js encodes with encodeURIComponent, so it never sends a bare ``+``)."""
    params = {}
    for part in raw.split("&") if raw else []:
        if not part:
            continue
        name, _, value = part.partition("=")
        params[urllib.parse.unquote(name, errors="replace")] = urllib.parse.unquote(value, errors="replace")
    return params


class Stage:
    def __init__(self, args):
        self.template = apigw.load_template(args.template)
        self.stage = args.stage
        self.stage_variables = json.loads(args.stage_variables)
        self.invoke_url = args.invoke_url
        self.timeout_override_ms = args.integration_timeout_ms
        api = self.template["Resources"]["PusherAuthApi"]["Properties"]["DefinitionBody"]
        # (method, resource path) -> integration, for the non-proxy (type: aws) integrations only.
        self.routes = {}
        for path, methods in api["paths"].items():
            for method, operation in methods.items():
                integration = operation.get("x-amazon-apigateway-integration") or {}
                if integration.get("type") == "aws":
                    self.routes[(method.upper(), path)] = integration
        self.headers_4xx = gateway_response_headers(self.template, "DEFAULT_4XX")
        self.headers_5xx = gateway_response_headers(self.template, "DEFAULT_5XX")

    def gateway_error(self, status, message):
        """A response API Gateway generates itself (a gateway response)."""
        headers = {"Content-Type": "application/json"}
        headers.update(self.headers_4xx if status < 500 else self.headers_5xx)
        headers["x-amzn-ErrorType"] = {403: "MissingAuthenticationTokenException", 415: "UnsupportedMediaTypeException"}.get(status, "InternalServerErrorException")
        return status, headers, json.dumps({"message": message}, separators=(",", ":"))

    def invoke(self, event_text, timeout_s):
        """Lambda Invoke through cargo lambda watch: ("ok", payload) or
        ("function_error", error object). cargo lambda answers a function error with
        HTTP 500 and the error object (AWS: 200 with X-Amz-Function-Error)."""
        req = urllib.request.Request(self.invoke_url, data=event_text.encode("utf-8"), method="POST",
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout_s) as resp:
                payload = resp.read().decode("utf-8")
                if resp.headers.get("X-Amz-Function-Error"):
                    return "function_error", json.loads(payload)
                return "ok", payload
        except urllib.error.HTTPError as err:
            text = err.read().decode("utf-8", errors="replace")
            try:
                error = json.loads(text)
            except ValueError:
                error = None
            if err.code == 500 and isinstance(error, dict) and "errorMessage" in error:
                return "function_error", error
            raise RuntimeError("Lambda Invoke answered HTTP %d: %s" % (err.code, text[:500]))

    def handle(self, method, raw_path, headers, body, source_ip, source_port):
        """-> (status, headers, body, log fields)"""
        request_id = str(uuid.uuid4())
        entry = {"requestId": request_id, "httpMethod": method, "sourceIp": source_ip, "stage": self.stage}
        split = urllib.parse.urlsplit(raw_path)
        prefix = "/" + self.stage
        resource_path = split.path[len(prefix):] if split.path.startswith(prefix + "/") else None
        integration = self.routes.get((method, resource_path))
        entry["resourcePath"] = resource_path
        if integration is None:
            return self.gateway_error(403, "Missing Authentication Token") + (entry,)

        # 1. the request as API Gateway sees it
        header_params = dict(headers)
        forwarded = header_params.get("X-Forwarded-For")
        header_params["X-Forwarded-For"] = "%s, %s" % (forwarded, source_ip) if forwarded else source_ip
        header_params["X-Forwarded-Port"] = str(source_port)
        header_params["X-Forwarded-Proto"] = "http"
        params = {"path": {}, "querystring": decode_query(split.query), "header": header_params}
        context = {"httpMethod": method, "resourcePath": resource_path, "stage": self.stage,
                   "requestId": request_id, "identity": {"sourceIp": source_ip}}
        content_type = next((v for k, v in headers if k.lower() == "content-type"), None)

        # 2. the request template
        try:
            template = apigw.request_template_for(integration, content_type)
        except apigw.GatewayRefusal as refusal:
            entry["error"] = "no request template for %r" % content_type
            return self.gateway_error(refusal.status, json.loads(refusal.body)["message"]) + (entry,)
        event_text = apigw.render(template, body=body, params=params, context=context,
                                  stage_variables=self.stage_variables)
        try:
            json.loads(event_text)
        except ValueError as err:
            # Lambda refuses a payload that is not JSON (InvalidRequestContentException);
            # API Gateway then answers 500.
            entry["error"] = "rendered event is not valid JSON (Lambda would refuse it): %s" % err
            entry["event"] = event_text[:2000]
            return self.gateway_error(500, "Internal server error") + (entry,)

        # 3. the function
        timeout_ms = self.timeout_override_ms or int(integration.get("timeoutInMillis", 29000))
        started = time.monotonic()
        try:
            kind, result = self.invoke(event_text, timeout_ms / 1000)
        except (TimeoutError, urllib.error.URLError) as err:
            entry["integrationLatency"] = round((time.monotonic() - started) * 1000)
            entry["error"] = "Lambda Invoke failed: %r" % err
            if isinstance(err, TimeoutError) or isinstance(getattr(err, "reason", None), TimeoutError):
                return self.gateway_error(504, "Endpoint request timed out") + (entry,)
            return self.gateway_error(500, "Internal server error") + (entry,)
        except RuntimeError as err:
            entry["integrationLatency"] = round((time.monotonic() - started) * 1000)
            entry["error"] = str(err)
            return self.gateway_error(500, "Internal server error") + (entry,)
        entry["integrationLatency"] = round((time.monotonic() - started) * 1000)
        entry["integrationStatus"] = kind

        # 4. the integration response
        if kind == "ok":
            selected, _ = apigw.select_integration_response(integration, None)
            status, out_headers, out_body = apigw.integration_response(integration, lambda_payload=result)
        else:
            entry["errorMessage"] = result.get("errorMessage")
            selected, _ = apigw.select_integration_response(integration, result.get("errorMessage", ""))
            status, out_headers, out_body = apigw.integration_response(integration, error=result)
        entry["selectionPattern"] = selected
        out_headers = dict(out_headers)
        out_headers["x-amzn-RequestId"] = request_id
        return status, out_headers, out_body, entry


def make_handler(stage):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "apigw-stage"
        sys_version = ""

        def _serve(self):
            started = time.monotonic()
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode("utf-8", errors="replace") if length else None
            try:
                status, headers, text, entry = stage.handle(
                    self.command, self.path, list(self.headers.items()), body,
                    self.client_address[0], self.server.server_address[1])
            except Exception as err:  # a bug here, not API Gateway behaviour: say so loudly
                entry = {"httpMethod": self.command, "error": "stage emulator failed: %r" % err}
                status, headers, text = 500, {"Content-Type": "application/json"}, json.dumps({"message": "stage emulator failed"})
            data = text.encode("utf-8")
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
            entry["status"] = status
            entry["responseLength"] = len(data)
            entry["responseLatency"] = round((time.monotonic() - started) * 1000)
            if status != 200:
                entry["body"] = text[:500]
            log(entry)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = _serve

        def log_message(self, format, *args):  # noqa: A002  (the access log above replaces it)
            pass

    return Handler


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--template", default=os.path.join(ROOT, "template.yaml"))
    parser.add_argument("--stage", default="staging")
    parser.add_argument("--stage-variables", default="{}", help="JSON object")
    parser.add_argument("--invoke-url", required=True,
                        help="Lambda Invoke URL, e.g. http://127.0.0.1:9000/2015-03-31/functions/pusher-auth/invocations")
    parser.add_argument("--integration-timeout-ms", type=int, default=None,
                        help="instead of the integration's timeoutInMillis")
    parser.add_argument("--port", type=int, default=0, help="0: any free port")
    args = parser.parse_args()
    stage = Stage(args)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(stage))
    server.daemon_threads = True
    port = server.server_address[1]
    log({"listening": "http://127.0.0.1:%d" % port, "stage": stage.stage,
         "routes": sorted("%s /%s%s" % (m, stage.stage, p) for m, p in stage.routes),
         "stageVariables": sorted(stage.stage_variables)})
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
