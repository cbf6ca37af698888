"""Browser requests as API Gateway sees them, and the two events the function gets
for them: the REST proxy event (payload 1.0, shaped like
tests/fixtures/events/apigw-v1-*.json) and the mapping-template event rendered
from the GET routes' request template."""
import copy
import dataclasses
import json
import os

import apigw

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TEMPLATE = os.path.join(ROOT, "template.yaml")
FIXTURES = os.path.join(ROOT, "tests", "fixtures", "events")

CHROME_SCRIPT_HEADERS = {
    "accept": "*/*",
    "accept-encoding": "gzip, deflate, br, zstd",
    "accept-language": "en-GB,en-US;q=0.9,en;q=0.8",
    "Host": "k7q2m9xv4d.execute-api.eu-west-1.amazonaws.com",
    "referer": "https://app.example.com/",
    "sec-fetch-dest": "script",
    "sec-fetch-mode": "no-cors",
    "sec-fetch-site": "cross-site",
    "User-Agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "X-Forwarded-For": "203.0.113.42, 130.176.98.141",
    "X-Forwarded-Port": "443",
    "X-Forwarded-Proto": "https",
}
PUSHER_CALLBACK = "Pusher.auth_callbacks['1']"


@dataclasses.dataclass
class Request:
    """A request to a stage: query values are decoded, as API Gateway hands them on."""

    method: str = "GET"
    resource_path: str = "/pusher/auth"
    query: dict = dataclasses.field(default_factory=dict)
    headers: dict = dataclasses.field(default_factory=lambda: dict(CHROME_SCRIPT_HEADERS))
    body: str = None
    stage: str = "staging"
    stage_variables: dict = dataclasses.field(default_factory=dict)
    request_id: str = "6f2d1c84-3b7e-4a9f-b1d2-8e5c0a7f4e31"
    source_ip: str = "203.0.113.42"
    claims: dict = None
    principal_id: str = None

    def context(self):
        context = {
            "httpMethod": self.method,
            "resourcePath": self.resource_path,
            "stage": self.stage,
            "requestId": self.request_id,
            "identity": {"sourceIp": self.source_ip},
        }
        if self.claims is not None or self.principal_id is not None:
            context["authorizer"] = {}
            if self.claims is not None:
                context["authorizer"]["claims"] = dict(self.claims)
            if self.principal_id is not None:
                context["authorizer"]["principalId"] = self.principal_id
        return context


def jsonp(route="/pusher/auth", callback=PUSHER_CALLBACK, **params):
    """What pusher-js's JSONP transport sends: callback first, then its params."""
    query = {"callback": callback}
    query.update(params)
    return Request(resource_path=route, query=query)


def load_template():
    return apigw.load_template(TEMPLATE)


def jsonp_integration(route="/pusher/auth"):
    return apigw.openapi_integration(load_template(), route, "get")


def mapping_event_text(request, integration=None, template=None):
    """The request template rendered for this request (the text Lambda receives)."""
    integration = integration or jsonp_integration(request.resource_path)
    if template is None:
        content_type = next((v for k, v in request.headers.items() if k.lower() == "content-type"), None)
        template = apigw.request_template_for(integration, content_type)
    params = {"path": {}, "querystring": dict(request.query), "header": dict(request.headers)}
    return apigw.render(template, body=request.body, params=params, context=request.context(),
                        stage_variables=request.stage_variables)


def proxy_event(request):
    """The REST API proxy event (payload 1.0) for the same request."""
    with open(os.path.join(FIXTURES, "apigw-v1-jsonp-private.json"), encoding="utf-8") as f:
        event = json.load(f)
    event = copy.deepcopy(event)
    event["resource"] = request.resource_path
    event["path"] = request.resource_path
    event["httpMethod"] = request.method
    event["headers"] = dict(request.headers)
    event["multiValueHeaders"] = {k: [v] for k, v in request.headers.items()}
    event["queryStringParameters"] = dict(request.query) or None
    event["multiValueQueryStringParameters"] = {k: [v] for k, v in request.query.items()} or None
    event["stageVariables"] = dict(request.stage_variables) or None
    event["body"] = request.body
    ctx = event["requestContext"]
    ctx["resourcePath"] = request.resource_path
    ctx["httpMethod"] = request.method
    ctx["path"] = "/%s%s" % (request.stage, request.resource_path)
    ctx["stage"] = request.stage
    ctx["requestId"] = request.request_id
    ctx["identity"]["sourceIp"] = request.source_ip
    if request.claims is not None:
        ctx["authorizer"] = {"claims": dict(request.claims)}
    elif request.principal_id is not None:
        ctx["authorizer"] = {"principalId": request.principal_id}
    return event
