"""template.yaml and samconfig.toml: cfn-lint, the SAM transform (aws-sam-translator)
and what the generated CloudFormation resources must hold. Runs in the venv of
requirements-sam.txt."""
import copy
import json
import os
import re
import subprocess
import sys
import tomllib

import pytest
from samcli.cli.types import CfnParameterOverridesType
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TEMPLATE = os.path.join(ROOT, "template.yaml")
SAMCONFIG = os.path.join(ROOT, "samconfig.toml")
MAPPING = os.path.join(ROOT, "mapping-templates")
JSONP_ROUTES = ["/pusher/auth", "/pusher/user-auth"]
STAGE_VARIABLES = {
    "PUSHER_APP_ID": "PusherAppId",
    "PUSHER_KEY": "PusherKey",
    "PUSHER_CLUSTER": "PusherCluster",
    "PUSHER_SECRET_ID": "PusherSecretArn",
    "ALLOWED_ORIGINS": "AllowedOrigins",
}
ERROR_STATUSES = [400, 401, 403, 404, 405, 413, 415, 500, 503]


def read(name):
    with open(os.path.join(MAPPING, name), encoding="utf-8") as f:
        return f.read()


def load():
    with open(TEMPLATE, encoding="utf-8") as f:
        return yaml_parse(f.read())


def samconfig():
    with open(SAMCONFIG, "rb") as f:
        return tomllib.load(f)


def overrides(env):
    return CfnParameterOverridesType().convert(samconfig()[env]["deploy"]["parameters"]["parameter_overrides"], None, None)


class _NoManagedPolicies:
    def load(self):
        return {}


def translate(env="staging"):
    """The SAM transform, offline, as `sam deploy` would have it after packaging."""
    template = load()
    template["Resources"]["PusherAuthFunction"]["Properties"]["CodeUri"] = "s3://bucket/pusher-auth.zip"
    params = dict(overrides(env))
    params.update({"AWS::Region": "eu-west-1", "AWS::AccountId": "123456789012", "AWS::Partition": "aws",
                   "AWS::StackName": "pusher-auth-" + env})
    os.environ.setdefault("AWS_DEFAULT_REGION", "eu-west-1")
    return transform(copy.deepcopy(template), params, _NoManagedPolicies())


def of_type(resources, kind):
    found = {k: v for k, v in resources.items() if v["Type"] == kind}
    assert found, kind
    return found


def test_cfn_lint_passes():
    done = subprocess.run([sys.executable, "-m", "cfnlint", TEMPLATE], capture_output=True, text=True)
    # cfn-lint's exit code is a bit mask: 2 errors, 4 warnings, 8 informational.
    assert done.returncode & 6 == 0, done.stdout + done.stderr


@pytest.mark.parametrize("route", JSONP_ROUTES)
def test_inline_templates_equal_the_files(route):
    api = load()["Resources"]["PusherAuthApi"]["Properties"]["DefinitionBody"]
    integration = api["paths"][route]["get"]["x-amazon-apigateway-integration"]
    assert integration["requestTemplates"] == {"application/json": read("request.vtl")}
    responses = integration["responses"]
    assert responses["default"]["responseTemplates"] == {"application/json": read("response.vtl")}
    for pattern, response in responses.items():
        if pattern == "default":
            continue
        expected = read("error-catch-all.vtl") if pattern.startswith("(?!") else read("error-response.vtl")
        assert response["responseTemplates"] == {"application/json": expected}, pattern


def test_samconfig_has_two_stacks_whose_overrides_fit_the_parameters():
    config = samconfig()
    parameters = load()["Parameters"]
    stacks = set()
    for env in ("staging", "production"):
        deploy = config[env]["deploy"]["parameters"]
        stacks.add(deploy["stack_name"])
        assert "CAPABILITY_IAM" in deploy["capabilities"]
        assert deploy["region"]
        values = overrides(env)
        assert values["StageName"] == env
        assert set(values) <= set(parameters), set(values) - set(parameters)
        for name, spec in parameters.items():
            value = values.get(name, spec.get("Default"))
            assert value is not None, "%s: %s has no value" % (env, name)
            value = str(value)
            if "AllowedValues" in spec:
                assert value in [str(v) for v in spec["AllowedValues"]], (env, name, value)
            if "AllowedPattern" in spec:
                assert re.fullmatch(spec["AllowedPattern"], value), (env, name, value)
        assert not any("secret" in k.lower() and "arn" not in k.lower() for k in values), "no secret in samconfig"
    assert len(stacks) == 2


def test_only_the_secret_arn_is_a_parameter():
    parameters = load()["Parameters"]
    secretish = [name for name in parameters if "secret" in name.lower()]
    assert secretish == ["PusherSecretArn"]


@pytest.mark.parametrize("env", ["staging", "production"])
def test_transform_stage(env):
    resources = translate(env)["Resources"]
    (stage,) = of_type(resources, "AWS::ApiGateway::Stage").values()
    props = stage["Properties"]
    assert props["StageName"] == {"Ref": "StageName"}
    variables = props["Variables"]
    assert set(variables) == set(STAGE_VARIABLES)
    for name, parameter in STAGE_VARIABLES.items():
        value = variables[name]
        if name == "ALLOWED_ORIGINS":
            assert value == {"Fn::If": ["HasAllowedOrigins", {"Ref": parameter}, {"Ref": "AWS::NoValue"}]}
        else:
            assert value == {"Ref": parameter}, name
    # Caching off, no execution-log data trace (it would log tokens).
    assert props["CacheClusterEnabled"] is False
    assert props["MethodSettings"] == [
        {"ResourcePath": "/*", "HttpMethod": "*", "CachingEnabled": False, "DataTraceEnabled": False,
         "LoggingLevel": "OFF", "MetricsEnabled": True}
    ]
    # Access log without the query string.
    log = props["AccessLogSetting"]
    assert log["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}
    fields = json.loads(log["Format"])
    used = set(re.findall(r"\$context\.[A-Za-z.]+", log["Format"]))
    assert "$context.resourcePath" in used
    allowed = {"$context.requestId", "$context.extendedRequestId", "$context.requestTimeEpoch",
               "$context.identity.sourceIp", "$context.stage", "$context.httpMethod", "$context.resourcePath",
               "$context.protocol", "$context.status", "$context.responseLength", "$context.responseLatency",
               "$context.integration.status", "$context.integrationLatency", "$context.error.responseType"}
    assert used <= allowed, used - allowed
    for forbidden in ("$context.path", "requestOverride", "querystring", "$input", "$method"):
        assert forbidden not in log["Format"]
    assert len(fields) == len(used)


def _integration(resources, route, method):
    (api,) = of_type(resources, "AWS::ApiGateway::RestApi").values()
    return api["Properties"]["Body"]["paths"][route][method]["x-amazon-apigateway-integration"]


def _uri_names_the_function(integration):
    uri = integration["uri"]["Fn::Sub"]
    assert uri.endswith(":lambda:path/2015-03-31/functions/${PusherAuthFunction.Arn}/invocations"), uri
    assert integration["httpMethod"] == "POST"


@pytest.mark.parametrize("route", JSONP_ROUTES)
def test_transform_jsonp_routes_use_the_mapping_templates(route):
    resources = translate()["Resources"]
    integration = _integration(resources, route, "get")
    assert integration["type"] == "aws"
    assert integration["passthroughBehavior"] == "never"
    _uri_names_the_function(integration)
    # A <script> request has no Content-Type: API Gateway takes it as application/json.
    assert integration["requestTemplates"] == {"application/json": read("request.vtl")}
    default = integration["responses"]["default"]
    assert default["statusCode"] == "200"
    assert default["responseTemplates"] == {"application/json": read("response.vtl")}
    assert default["responseParameters"] == {
        "method.response.header.Content-Type": "'application/javascript; charset=utf-8'",
        "method.response.header.Cache-Control": "'no-store, private'",
        "method.response.header.X-Content-Type-Options": "'nosniff'",
    }
    patterns = {p: r for p, r in integration["responses"].items() if p != "default"}
    for status in ERROR_STATUSES:
        response = patterns['\\{"error":"[a-z_]+","status":%d\\}' % status]
        assert response["statusCode"] == str(status)
        assert response["responseTemplates"] == {"application/json": read("error-response.vtl")}
        assert response["responseParameters"]["method.response.header.Content-Type"] == "'application/json; charset=utf-8'"
    (catch_all,) = [r for p, r in patterns.items() if p.startswith("(?!")]
    assert catch_all["statusCode"] == "500"
    assert len(patterns) == len(ERROR_STATUSES) + 1
    (api,) = of_type(resources, "AWS::ApiGateway::RestApi").values()
    method_responses = api["Properties"]["Body"]["paths"][route]["get"]["responses"]
    for status in ["200"] + [str(s) for s in ERROR_STATUSES]:
        assert set(method_responses[status]["headers"]) == {"Content-Type", "Cache-Control", "X-Content-Type-Options"}


@pytest.mark.parametrize("route", JSONP_ROUTES)
@pytest.mark.parametrize("method", ["post", "options"])
def test_transform_ajax_and_preflight_use_the_proxy(route, method):
    integration = _integration(translate()["Resources"], route, method)
    assert integration["type"] == "aws_proxy"
    _uri_names_the_function(integration)


def test_transform_permission_is_scoped_to_the_api():
    resources = translate()["Resources"]
    (permission,) = of_type(resources, "AWS::Lambda::Permission").values()
    props = permission["Properties"]
    assert props["Action"] == "lambda:InvokeFunction"
    assert props["Principal"] == "apigateway.amazonaws.com"
    assert props["FunctionName"] == {"Fn::GetAtt": ["PusherAuthFunction", "Arn"]}
    assert props["SourceArn"] == {
        "Fn::Sub": "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${PusherAuthApi}/${StageName}/*/pusher/*"
    }


def test_transform_role_reads_only_that_secret():
    resources = translate()["Resources"]
    (role,) = of_type(resources, "AWS::IAM::Role").values()
    props = role["Properties"]
    assert props["ManagedPolicyArns"] == ["arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"]
    statements = [s for policy in props["Policies"] for s in policy["PolicyDocument"]["Statement"]]
    assert statements == [
        {
            "Action": ["secretsmanager:GetSecretValue"],
            "Effect": "Allow",
            "Resource": {"Fn::Sub": ["${secretArn}", {"secretArn": {"Ref": "PusherSecretArn"}}]},
        }
    ]


def test_transform_function():
    resources = translate()["Resources"]
    (function,) = of_type(resources, "AWS::Lambda::Function").values()
    props = function["Properties"]
    assert props["Runtime"] == "provided.al2023"
    assert props["Architectures"] == ["arm64"]
    assert props["Handler"] == "bootstrap"
    assert props["MemorySize"] == 128
    assert props["Timeout"] <= 10
    env = props["Environment"]["Variables"]
    assert env["PUSHER_SECRET_ID"] == {"Ref": "PusherSecretArn"}
    assert "PUSHER_SECRET" not in env and "PUSHER_ENCRYPTION_MASTER_KEY_BASE64" not in env
    for name in ("PUSHER_KEY", "PUSHER_APP_ID", "PUSHER_CLUSTER", "ALLOWED_ORIGINS", "AUTH_MODE", "CHANNEL_RULES",
                 "JWT_ALGORITHMS", "JWT_JWKS_URL", "JWT_ISSUER", "JWT_AUDIENCE", "DEPLOYMENT_ENVIRONMENT"):
        assert name in env, name
    assert env["DEPLOYMENT_ENVIRONMENT"] == {"Ref": "StageName"}


def test_build_metadata_names_the_crate_binary():
    function = load()["Resources"]["PusherAuthFunction"]
    assert function["Metadata"] == {"BuildMethod": "rust-cargolambda", "BuildProperties": {"Binary": "pusher-auth"}}
    with open(os.path.join(ROOT, "Cargo.toml"), "rb") as f:
        cargo = tomllib.load(f)
    assert "pusher-auth" in [b["name"] for b in cargo.get("bin", [])]
