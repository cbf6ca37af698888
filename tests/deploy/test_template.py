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


# What samconfig.toml's <placeholders> stand for, as a deployer fills them in.
PLACEHOLDERS = {
    "region": "eu-west-1",
    "app-id": "1000001",
    "app-key": "a1b2c3d4e5f6a7b8c9d0",
    "secret-arn": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:pusher-auth/app-AbCdEf",
    "app-host": "app.example.com",
    "user-pool-id": "eu-west-1_Abc123",
    "app-client-id": "7e9abc123def456ghi789jkl0",
}


def fill_placeholders(value):
    """A samconfig value with each <stage-what> placeholder replaced by an example of what."""
    if value is None:
        return None

    def one(m):
        stage, what = m.group(1).split("-", 1)
        assert stage in ("staging", "production"), m.group(0)
        return PLACEHOLDERS[what]
    return re.sub(r"<([a-z-]+)>", one, str(value))


class _NoManagedPolicies:
    def load(self):
        return {}


REQUIRED = ["StageName", "PusherAppId", "PusherKey", "PusherSecretArn"]
FRONT_DOORS = ["rest-api", "http-api", "function-url"]
TOPIC = "arn:aws:sns:eu-west-1:123456789012:pusher-auth-alarms"
PSEUDO = {"AWS::Region": "eu-west-1", "AWS::AccountId": "123456789012", "AWS::Partition": "aws"}


def translate(env="staging", **params):
    """The SAM transform, offline, as `sam deploy` would have it after packaging. Conditions stay
    in the output (CloudFormation resolves them); render() resolves them for one set of values."""
    template = load()
    template["Resources"]["PusherAuthFunction"]["Properties"]["CodeUri"] = "s3://bucket/pusher-auth.zip"
    values = dict(overrides(env)) if env else {}
    values.update(params)
    values.update(PSEUDO)
    values["AWS::StackName"] = "pusher-auth-" + (env or "test")
    os.environ.setdefault("AWS_DEFAULT_REGION", "eu-west-1")
    return transform(copy.deepcopy(template), values, _NoManagedPolicies())


def parameter_values(env="staging", **params):
    """Every parameter's value as CloudFormation would see it: samconfig's overrides (env), then params."""
    values = {name: str(spec["Default"]) for name, spec in load()["Parameters"].items() if "Default" in spec}
    if env:
        values.update({k: str(v) for k, v in overrides(env).items()})
    else:
        values.update({"StageName": "staging", "PusherAppId": "1", "PusherKey": "key",
                       "PusherSecretArn": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:pusher-auth-AbCdEf"})
    values.update({k: str(v) for k, v in params.items()})
    return values


def _value(expr, values):
    if isinstance(expr, dict) and set(expr) == {"Ref"}:
        return values[expr["Ref"]]
    assert isinstance(expr, str), expr
    return expr


def evaluate(expr, values, conditions):
    """A condition function (Fn::Equals/Not/And/Or, Condition) for these parameter values."""
    ((fn, args),) = expr.items()
    if fn == "Fn::Equals":
        return _value(args[0], values) == _value(args[1], values)
    if fn == "Fn::Not":
        return not evaluate(args[0], values, conditions)
    if fn == "Fn::And":
        return all(evaluate(a, values, conditions) for a in args)
    if fn == "Fn::Or":
        return any(evaluate(a, values, conditions) for a in args)
    if fn == "Condition":
        return evaluate(conditions[args], values, conditions)
    raise AssertionError("unexpected condition function %s" % fn)


_NO_VALUE = object()


def _resolve_ifs(node, truth):
    if isinstance(node, dict):
        if set(node) == {"Fn::If"}:
            name, yes, no = node["Fn::If"]
            return _resolve_ifs(yes if truth[name] else no, truth)
        if node == {"Ref": "AWS::NoValue"}:
            return _NO_VALUE
        out = {}
        for k, v in node.items():
            v = _resolve_ifs(v, truth)
            if v is not _NO_VALUE:
                out[k] = v
        return out
    if isinstance(node, list):
        return [v for v in (_resolve_ifs(v, truth) for v in node) if v is not _NO_VALUE]
    return node


def render(env="staging", **params):
    """One deployment as CloudFormation would create it: the SAM transform, then the Conditions
    evaluated for these parameter values (resources and outputs whose condition is false dropped,
    Fn::If resolved, AWS::NoValue removed). Returns the template."""
    values = parameter_values(env, **params)
    out = translate(env, **values)
    truth = {name: evaluate(expr, values, out["Conditions"]) for name, expr in out["Conditions"].items()}
    for section in ("Resources", "Outputs"):
        out[section] = {k: _resolve_ifs(v, truth) for k, v in out[section].items()
                        if truth.get(v.get("Condition"), True)}
    out["truth"] = truth
    out["values"] = values
    return out


def rules_pass(values):
    """The template's Rules (assertions CloudFormation checks before creating anything)."""
    template = load()
    conditions = template["Conditions"]
    failed = []
    for name, rule in template.get("Rules", {}).items():
        if "RuleCondition" in rule and not evaluate(rule["RuleCondition"], values, conditions):
            continue
        failed += [name for a in rule["Assertions"] if not evaluate(a["Assert"], values, conditions)]
    return failed


def references(node):
    """Names a node refers to: Ref, Fn::GetAtt and ${Name} / ${Name.Attr} in Fn::Sub."""
    found = set()
    if isinstance(node, dict):
        if set(node) == {"Ref"}:
            found.add(node["Ref"])
        elif set(node) == {"Fn::GetAtt"}:
            target = node["Fn::GetAtt"]
            found.add(target[0] if isinstance(target, list) else target.split(".")[0])
        elif set(node) == {"Fn::Sub"}:
            sub = node["Fn::Sub"]
            text, local = (sub, {}) if isinstance(sub, str) else (sub[0], sub[1])
            for name in re.findall(r"\$\{([^}!][^}]*)\}", text):
                name = name.split(".")[0]
                if name not in local:
                    found.add(name)
            found |= references(local)
        else:
            for v in node.values():
                found |= references(v)
    elif isinstance(node, list):
        for v in node:
            found |= references(v)
    return found


def of_type(resources, kind):
    found = {k: v for k, v in resources.items() if v["Type"] == kind}
    assert found, kind
    return found


def _cfn_lint(path):
    # The console script of this venv (cfn-lint 1.x has no `python -m cfnlint`).
    done = subprocess.run([os.path.join(os.path.dirname(sys.executable), "cfn-lint"), path],
                          capture_output=True, text=True)
    # cfn-lint's exit code is a bit mask: 2 errors, 4 warnings, 8 informational; anything else
    # (a missing linter, a crash) is a failure too.
    assert done.returncode in (0, 8), "cfn-lint exit %d\n%s%s" % (done.returncode, done.stdout, done.stderr)


def test_cfn_lint_passes():
    _cfn_lint(TEMPLATE)


def test_cfn_lint_sees_an_error():
    """The linter runs for real: a broken copy of the template fails it."""
    import tempfile
    template = load()
    template["Outputs"]["FunctionArn"]["Value"] = {"Ref": "NoSuchResource"}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(template, f)
    try:
        with pytest.raises(AssertionError):
            _cfn_lint(f.name)
    finally:
        os.unlink(f.name)


@pytest.mark.parametrize("front_door", FRONT_DOORS)
def test_cfn_lint_passes_with_each_front_door_as_the_default(front_door, tmp_path):
    """cfn-lint reasons over every combination of Conditions; these copies also make each variant,
    with WAF (REST) and alarms on, the parameter defaults it checks values against."""
    template = load()
    template["Parameters"]["FrontDoor"]["Default"] = front_door
    template["Parameters"]["AlarmTopicArn"]["Default"] = TOPIC
    template["Parameters"]["ReservedConcurrency"]["Default"] = "10"
    if front_door == "rest-api":
        template["Parameters"]["EnableWaf"]["Default"] = "true"
    path = tmp_path / ("template-%s.json" % front_door)
    path.write_text(json.dumps(template))
    _cfn_lint(str(path))


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
            # With its <placeholders> replaced (test_parameter_parity.py: they fail as they are).
            value = fill_placeholders(values.get(name, spec.get("Default")))
            assert value is not None, "%s: %s has no value" % (env, name)
            value = str(value)
            if "AllowedValues" in spec:
                assert value in [str(v) for v in spec["AllowedValues"]], (env, name, value)
            if "AllowedPattern" in spec:
                assert re.fullmatch(spec["AllowedPattern"], value), (env, name, value)
        assert not any("secret" in k.lower() and "arn" not in k.lower() for k in values), "no secret in samconfig"
    assert len(stacks) == 2


# An AWS region name (eu-west-1, us-gov-west-1, cn-north-1, ap-southeast-4, ...).
REGION = re.compile(r"\b[a-z]{2}(-gov|-iso[a-z]?)?-(north|south|east|west|central|northeast|northwest|southeast|southwest)-[0-9]\b")


@pytest.mark.parametrize("env", ["staging", "production"])
def test_samconfig_region_is_one_placeholder(env):
    """Issue 33 §2: no region is fixed in samconfig.toml; the stack's region, the JWKS URL's and the
    issuer's are one placeholder, so filling it once makes them agree."""
    with open(SAMCONFIG, encoding="utf-8") as f:
        fixed = REGION.search(f.read())
    assert not fixed, fixed.group(0)
    placeholder = "<%s-region>" % env
    assert samconfig()[env]["deploy"]["parameters"]["region"] == placeholder
    values = overrides(env)
    for name in ("JwtJwksUrl", "JwtIssuer"):
        assert values[name].startswith("https://cognito-idp.%s.amazonaws.com/" % placeholder), (name, values[name])
    filled = {name: fill_placeholders(values[name]) for name in ("JwtJwksUrl", "JwtIssuer", "PusherSecretArn")}
    assert filled["JwtJwksUrl"] == filled["JwtIssuer"] + "/.well-known/jwks.json"
    assert filled["PusherSecretArn"].split(":")[3] == fill_placeholders(placeholder)


def test_docs_create_secret_in_the_stacks_region():
    """Issue 33 §2: the docs' create-secret commands name the region as a placeholder (a secret
    created in the CLI's default region is not found by a stack in another)."""
    commands = 0
    for doc in ("README.md", os.path.join("docs", "deploy.md")):
        with open(os.path.join(ROOT, doc), encoding="utf-8") as f:
            text = f.read()
        for command in re.findall(r"aws secretsmanager create-secret(?:[^\n]*\\\n)*[^\n]*", text):
            commands += 1
            assert "--region <region>" in command, (doc, command)
        assert not REGION.search(text.split("create-secret", 1)[1].split("```", 1)[0]), doc
    assert commands == 3


def test_only_the_secret_arn_is_a_parameter():
    parameters = load()["Parameters"]
    # SecretTtlSeconds is how long the secret is cached, not a secret.
    secretish = [name for name in parameters if "secret" in name.lower() and name != "SecretTtlSeconds"]
    assert secretish == ["PusherSecretArn"]


@pytest.mark.parametrize("env", ["staging", "production"])
def test_transform_stage(env):
    resources = render(env)["Resources"]
    (stage,) = of_type(resources, "AWS::ApiGateway::Stage").values()
    props = stage["Properties"]
    assert props["StageName"] == {"Ref": "StageName"}
    variables = props["Variables"]
    assert set(variables) == set(STAGE_VARIABLES)
    for name, parameter in STAGE_VARIABLES.items():
        assert variables[name] == {"Ref": parameter}, name
    # No origins: no ALLOWED_ORIGINS stage variable (an empty one would be an invalid value).
    (no_origins,) = of_type(render(env, AllowedOrigins="")["Resources"], "AWS::ApiGateway::Stage").values()
    assert set(no_origins["Properties"]["Variables"]) == set(STAGE_VARIABLES) - {"ALLOWED_ORIGINS"}
    # Caching off, no execution-log data trace (it would log tokens).
    assert props["CacheClusterEnabled"] is False
    assert props["MethodSettings"] == [
        {"ResourcePath": "/*", "HttpMethod": "*", "CachingEnabled": False, "DataTraceEnabled": False,
         "LoggingLevel": "OFF", "MetricsEnabled": True,
         # Stage throttling (429 from API Gateway before Lambda).
         "ThrottlingRateLimit": {"Ref": "ThrottlingRateLimit"}, "ThrottlingBurstLimit": {"Ref": "ThrottlingBurstLimit"}}
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
    resources = render()["Resources"]
    (permission,) = of_type(resources, "AWS::Lambda::Permission").values()
    props = permission["Properties"]
    assert props["Action"] == "lambda:InvokeFunction"
    assert props["Principal"] == "apigateway.amazonaws.com"
    assert props["FunctionName"] == {"Fn::GetAtt": ["PusherAuthFunction", "Arn"]}
    assert props["SourceArn"] == {
        "Fn::Sub": "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${PusherAuthApi}/${StageName}/*/pusher/*"
    }


def test_transform_role_reads_only_that_secret():
    resources = render()["Resources"]
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


def test_membership_table_created_or_named_and_read_alone():
    """MembershipTable=create makes an on-demand table with point-in-time recovery and string keys;
    a name uses that table. Either way the role may GetItem and BatchGetItem on it alone, and the
    function is told its name; without one, neither the table nor the permission exists."""
    resources = render(MembershipTable="create", MemberChannelRules="presence-chat-*?member")["Resources"]
    (table,) = of_type(resources, "AWS::DynamoDB::Table").values()
    assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Retain"
    assert table["Properties"] == {
        "BillingMode": "PAY_PER_REQUEST",
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
        "AttributeDefinitions": [{"AttributeName": "channel", "AttributeType": "S"},
                                 {"AttributeName": "user_id", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "channel", "KeyType": "HASH"}, {"AttributeName": "user_id", "KeyType": "RANGE"}],
    }

    def reads(resources):
        (role,) = of_type(resources, "AWS::IAM::Role").values()
        statements = [s for p in role["Properties"]["Policies"] for s in p["PolicyDocument"]["Statement"]]
        return [s for s in statements if any(a.startswith("dynamodb:") for a in s["Action"])]

    env = of_type(resources, "AWS::Lambda::Function")["PusherAuthFunction"]["Properties"]["Environment"]["Variables"]
    assert env["MEMBERSHIP_TABLE"] == {"Ref": "MembershipItems"}
    assert env["CHANNEL_RULES"] == {"Fn::Join": [" ", [{"Ref": "ChannelRules"}, {"Ref": "MemberChannelRules"}]]}
    assert reads(resources) == [{"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:BatchGetItem"],
                                 "Resource": {"Fn::GetAtt": ["MembershipItems", "Arn"]}}]
    resources = render(MembershipTable="chat-members")["Resources"]
    assert "MembershipItems" not in resources
    env = resources["PusherAuthFunction"]["Properties"]["Environment"]["Variables"]
    assert env["MEMBERSHIP_TABLE"] == {"Ref": "MembershipTable"}
    arn = "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${MembershipTable}"
    assert reads(resources) == [{"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:BatchGetItem"],
                                 "Resource": {"Fn::Sub": arn}}]
    resources = render()["Resources"]
    assert "MembershipItems" not in resources and reads(resources) == []
    assert "MEMBERSHIP_TABLE" not in resources["PusherAuthFunction"]["Properties"]["Environment"]["Variables"]


def test_transform_function():
    resources = render()["Resources"]
    (function,) = of_type(resources, "AWS::Lambda::Function").values()
    props = function["Properties"]
    assert props["Runtime"] == "provided.al2023"
    assert props["Architectures"] == ["arm64"]
    assert props["Handler"] == "bootstrap"
    assert props["MemorySize"] == 128
    assert props["Timeout"] == 10
    env = props["Environment"]["Variables"]
    assert env["PUSHER_SECRET_ID"] == {"Ref": "PusherSecretArn"}
    assert "PUSHER_SECRET" not in env and "PUSHER_ENCRYPTION_MASTER_KEY_BASE64" not in env
    for name in ("PUSHER_KEY", "PUSHER_APP_ID", "PUSHER_CLUSTER", "ALLOWED_ORIGINS", "AUTH_MODE", "CHANNEL_RULES",
                 "JWT_ALGORITHMS", "JWT_JWKS_URL", "JWT_ISSUER", "JWT_AUDIENCE", "DEPLOYMENT_ENVIRONMENT",
                 "METRICS_NAMESPACE"):
        assert name in env, name
    assert env["DEPLOYMENT_ENVIRONMENT"] == {"Ref": "StageName"}
    assert env["METRICS_NAMESPACE"] == {"Ref": "MetricsNamespace"}
    # The level comes from LoggingConfig (Lambda sets AWS_LAMBDA_LOG_LEVEL), not a second variable.
    assert "LOG_LEVEL" not in env and "AWS_LAMBDA_LOG_LEVEL" not in env
    assert props["LoggingConfig"] == {
        "LogFormat": "JSON",
        "ApplicationLogLevel": {"Ref": "ApplicationLogLevel"},
        "SystemLogLevel": {"Ref": "SystemLogLevel"},
        "LogGroup": {"Ref": "FunctionLogGroup"},
    }
    log_group = resources["FunctionLogGroup"]
    assert log_group["Type"] == "AWS::Logs::LogGroup"
    assert log_group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionInDays"}
    # Reserved concurrency is unset by default (the account's unreserved pool).
    assert "ReservedConcurrentExecutions" not in props


def test_build_metadata_names_the_crate_binary():
    function = load()["Resources"]["PusherAuthFunction"]
    assert function["Metadata"] == {"BuildMethod": "rust-cargolambda", "BuildProperties": {"Binary": "pusher-auth"}}
    with open(os.path.join(ROOT, "Cargo.toml"), "rb") as f:
        cargo = tomllib.load(f)
    assert "pusher-auth" in [b["name"] for b in cargo.get("bin", [])]


def test_cargo_toml_does_not_repeat_the_deployment_settings():
    """template.yaml is the one source of truth for memory and timeout: Cargo.toml's
    [package.metadata.lambda.deploy] (read only by `cargo lambda deploy`, which this project does
    not use) said 5 s while the template said 10 s, so it is gone and must stay gone."""
    with open(os.path.join(ROOT, "Cargo.toml"), "rb") as f:
        cargo = tomllib.load(f)
    lambda_metadata = cargo["package"].get("metadata", {}).get("lambda", {})
    assert "deploy" not in lambda_metadata, "set memory/timeout in template.yaml only"


# ---------------------------------------------------------------- parameters and the README

def test_every_parameter_but_the_app_identity_has_a_default():
    parameters = load()["Parameters"]
    assert sorted(n for n, spec in parameters.items() if "Default" not in spec) == sorted(REQUIRED)
    for name, spec in parameters.items():
        assert spec.get("Description"), name
        if "Default" in spec:
            value = str(spec["Default"])
            if "AllowedValues" in spec:
                assert value in [str(v) for v in spec["AllowedValues"]], name
            if "AllowedPattern" in spec:
                assert re.fullmatch(spec["AllowedPattern"], value), name
            if "MinValue" in spec:
                assert float(value) >= float(spec["MinValue"]), name


def test_docs_parameter_table_lists_every_parameter_with_its_default():
    with open(os.path.join(ROOT, "docs", "deploy.md"), encoding="utf-8") as f:
        readme = f.read()
    start = readme.index("## Parameters")
    section = readme[start:readme.index("\n#", start + 5)]
    rows = {}
    for line in section.splitlines():
        m = re.match(r"^\| `([A-Za-z0-9]+)` \| ([^|]*) \|", line)
        if m:
            rows[m.group(1)] = m.group(2).strip()
    parameters = load()["Parameters"]
    assert set(rows) == set(parameters), set(rows) ^ set(parameters)
    for name, spec in parameters.items():
        if "Default" in spec:
            shown = "`%s`" % spec["Default"] if str(spec["Default"]) else "empty"
            assert rows[name] == shown, (name, rows[name], shown)
        else:
            assert rows[name] == "required", name


def test_samconfig_metrics_namespaces_differ_per_stack():
    """The refusal alarm reads the {decision} dimension set, which carries no stack: two stacks in one
    account and region keep their metrics apart by namespace."""
    assert overrides("staging")["MetricsNamespace"] != overrides("production")["MetricsNamespace"]


# ---------------------------------------------------------------- the three front doors

API_GATEWAY_TYPES = ("AWS::ApiGateway::", "AWS::ApiGatewayV2::", "AWS::Serverless::")


def _types(resources):
    return sorted({r["Type"] for r in resources.values()})


def _no_dangling_references(rendered):
    """Whatever a created resource or output refers to is created too (or is a parameter)."""
    known = set(rendered["Resources"]) | set(rendered["values"]) | {
        "AWS::Region", "AWS::AccountId", "AWS::Partition", "AWS::StackName", "AWS::URLSuffix", "AWS::NoValue",
        "AWS::StackId"}
    for section in ("Resources", "Outputs"):
        for name, node in rendered[section].items():
            missing = references(node) - known
            assert not missing, (section, name, missing)


@pytest.mark.parametrize("front_door", FRONT_DOORS)
@pytest.mark.parametrize("env", ["staging", "production", None])
def test_each_front_door_renders_with_its_defaults(front_door, env):
    rendered = render(env, FrontDoor=front_door)
    _no_dangling_references(rendered)
    # The defaults alone (AuthMode=jwt, no algorithms) would fail every cold start: refused.
    assert rules_pass(rendered["values"]) == (["JwtNeedsAlgorithms"] if env is None else [])
    outputs = rendered["Outputs"]
    assert {"FrontDoor", "ApiBaseUrl", "ChannelAuthEndpoint", "UserAuthEndpoint", "FunctionArn"} <= set(outputs)
    resources = rendered["Resources"]
    # Defaults: no WAF, no alarms, no reserved concurrency.
    assert not [t for t in _types(resources) if t.startswith(("AWS::WAFv2::", "AWS::CloudWatch::"))]
    assert "ReservedConcurrentExecutions" not in resources["PusherAuthFunction"]["Properties"]


def test_rest_api_front_door():
    rendered = render(FrontDoor="rest-api")
    resources = rendered["Resources"]
    assert "AWS::ApiGateway::RestApi" in _types(resources)
    assert not [t for t in _types(resources) if t.startswith("AWS::ApiGatewayV2::")]
    assert "AWS::Lambda::Url" not in _types(resources)
    (permission,) = of_type(resources, "AWS::Lambda::Permission").values()
    assert "${PusherAuthApi}/${StageName}/*/pusher/*" in permission["Properties"]["SourceArn"]["Fn::Sub"]
    assert resources["ApiAccessLogGroup"]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionInDays"}
    outputs = rendered["Outputs"]
    assert outputs["ChannelAuthEndpoint"]["Value"] == {
        "Fn::Sub": "https://${PusherAuthApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/${StageName}/pusher/auth"}
    assert outputs["UserAuthEndpoint"]["Value"] == {
        "Fn::Sub": "https://${PusherAuthApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/${StageName}/pusher/user-auth"}


def test_http_api_front_door():
    rendered = render(FrontDoor="http-api")
    resources = rendered["Resources"]
    types = _types(resources)
    assert not [t for t in types if t.startswith("AWS::ApiGateway::")], types
    assert "AWS::Lambda::Url" not in types
    (api,) = of_type(resources, "AWS::ApiGatewayV2::Api").values()
    body = api["Properties"]["Body"]
    assert "requestTemplates" not in json.dumps(body), "no mapping templates on the HTTP API"
    assert "x-amazon-apigateway-cors" not in body and "CorsConfiguration" not in api["Properties"]
    assert set(body["paths"]) == set(JSONP_ROUTES)
    for route in JSONP_ROUTES:
        assert set(body["paths"][route]) == {"get", "post", "options"}
        for method in ("get", "post", "options"):
            integration = body["paths"][route][method]["x-amazon-apigateway-integration"]
            assert integration["type"] == "aws_proxy"
            assert integration["payloadFormatVersion"] == "2.0"
            _uri_names_the_function(integration)
    (stage,) = of_type(resources, "AWS::ApiGatewayV2::Stage").values()
    props = stage["Properties"]
    assert props["ApiId"] == {"Ref": "PusherAuthHttpApi"}
    assert props["StageName"] == {"Ref": "StageName"}
    assert props["DefaultRouteSettings"] == {"ThrottlingRateLimit": {"Ref": "ThrottlingRateLimit"},
                                             "ThrottlingBurstLimit": {"Ref": "ThrottlingBurstLimit"},
                                             "DetailedMetricsEnabled": False}
    # Same stage variables as the REST stage (the function reads payload 2.0's stageVariables);
    # ALLOWED_ORIGINS is set in samconfig's staging overrides.
    assert set(props["StageVariables"]) == set(STAGE_VARIABLES)
    log = props["AccessLogSettings"]
    assert log["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}
    used = set(re.findall(r"\$context\.[A-Za-z.]+", log["Format"]))
    assert "$context.routeKey" in used and len(json.loads(log["Format"])) == len(used)
    for forbidden in ("$context.path", "rawQueryString", "querystring", "$request"):
        assert forbidden not in log["Format"]
    (permission,) = of_type(resources, "AWS::Lambda::Permission").values()
    assert permission["Properties"]["Principal"] == "apigateway.amazonaws.com"
    assert permission["Properties"]["Action"] == "lambda:InvokeFunction"
    assert permission["Properties"]["SourceArn"] == {
        "Fn::Sub": "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${PusherAuthHttpApi}/${StageName}/*/pusher/*"
    }
    outputs = rendered["Outputs"]
    assert outputs["ChannelAuthEndpoint"]["Value"] == {
        "Fn::Sub": "https://${PusherAuthHttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/${StageName}/pusher/auth"}


def test_function_url_front_door():
    rendered = render(FrontDoor="function-url")
    resources = rendered["Resources"]
    types = _types(resources)
    assert not [t for t in types if t.startswith(("AWS::ApiGateway::", "AWS::ApiGatewayV2::"))], types
    assert "ApiAccessLogGroup" not in resources
    (url,) = of_type(resources, "AWS::Lambda::Url").values()
    assert url["Properties"] == {"TargetFunctionArn": {"Fn::GetAtt": ["PusherAuthFunction", "Arn"]},
                                 "AuthType": "NONE", "InvokeMode": "BUFFERED"}  # no Cors: the function answers it
    permissions = sorted((p["Properties"] for p in of_type(resources, "AWS::Lambda::Permission").values()),
                         key=lambda p: p["Action"])
    assert permissions == [
        {"Action": "lambda:InvokeFunction", "FunctionName": {"Fn::GetAtt": ["PusherAuthFunction", "Arn"]},
         "Principal": "*", "InvokedViaFunctionUrl": True},
        {"Action": "lambda:InvokeFunctionUrl", "FunctionName": {"Fn::GetAtt": ["PusherAuthFunction", "Arn"]},
         "Principal": "*", "FunctionUrlAuthType": "NONE"},
    ]
    outputs = rendered["Outputs"]
    assert outputs["ChannelAuthEndpoint"]["Value"] == {"Fn::Sub": "${PusherAuthFunctionUrl.FunctionUrl}pusher/auth"}
    assert outputs["UserAuthEndpoint"]["Value"] == {"Fn::Sub": "${PusherAuthFunctionUrl.FunctionUrl}pusher/user-auth"}


# ---------------------------------------------------------------- guard rails

@pytest.mark.parametrize("value,expected", [("", None), ("0", None), ("25", {"Ref": "ReservedConcurrency"})])
@pytest.mark.parametrize("front_door", FRONT_DOORS)
def test_reserved_concurrency(front_door, value, expected):
    rendered = render(FrontDoor=front_door, ReservedConcurrency=value)
    props = rendered["Resources"]["PusherAuthFunction"]["Properties"]
    assert props.get("ReservedConcurrentExecutions") == expected
    assert rendered["truth"]["HasReservedConcurrency"] is (expected is not None)


def test_waf_on_the_rest_api_stage():
    resources = render(FrontDoor="rest-api", EnableWaf="true")["Resources"]
    (acl,) = of_type(resources, "AWS::WAFv2::WebACL").values()
    props = acl["Properties"]
    assert props["Scope"] == "REGIONAL"
    assert props["DefaultAction"] == {"Allow": {}}
    (rule,) = props["Rules"]
    assert rule["Statement"] == {"RateBasedStatement": {"AggregateKeyType": "IP", "EvaluationWindowSec": 300,
                                                        "Limit": {"Ref": "WafRateLimit"}}}
    assert rule["Action"] == {"Block": {"CustomResponse": {"ResponseCode": 429}}}
    # Sampled requests would keep request URIs, tokens included.
    assert props["VisibilityConfig"]["SampledRequestsEnabled"] is False
    assert rule["VisibilityConfig"]["SampledRequestsEnabled"] is False
    (association,) = of_type(resources, "AWS::WAFv2::WebACLAssociation").values()
    assert association["Properties"]["WebACLArn"] == {"Fn::GetAtt": ["PusherAuthWebAcl", "Arn"]}
    arn = association["Properties"]["ResourceArn"]["Fn::Sub"]
    (stage_id,) = of_type(resources, "AWS::ApiGateway::Stage")
    # The stage of this API (a Ref to the generated stage, so the association waits for it).
    assert arn == "arn:${AWS::Partition}:apigateway:${AWS::Region}::/restapis/${PusherAuthApi}/stages/${%s}" % stage_id


@pytest.mark.parametrize("front_door", ["http-api", "function-url"])
def test_waf_is_refused_without_the_rest_api(front_door):
    values = parameter_values(FrontDoor=front_door, EnableWaf="true")
    assert rules_pass(values) == ["WafNeedsTheRestApi"]
    assert rules_pass(parameter_values(FrontDoor="rest-api", EnableWaf="true")) == []
    resources = render(FrontDoor=front_door, EnableWaf="true")["Resources"]
    assert not [t for t in _types(resources) if t.startswith("AWS::WAFv2::")]


# ---------------------------------------------------------------- alarms

ALARMS = {
    "rest-api": {"FunctionErrorsAlarm", "FunctionThrottlesAlarm", "RestApi5xxAlarm", "RestApiLatencyAlarm",
                 "RefusalsAnomalyAlarm", "RefusalsVolumeAlarm", "RefusalSurgeAlarm"},
    "http-api": {"FunctionErrorsAlarm", "FunctionThrottlesAlarm", "HttpApi5xxAlarm", "HttpApiLatencyAlarm",
                 "RefusalsAnomalyAlarm", "RefusalsVolumeAlarm", "RefusalSurgeAlarm"},
    "function-url": {"FunctionErrorsAlarm", "FunctionThrottlesAlarm", "FunctionUrl5xxAlarm",
                     "FunctionUrlLatencyAlarm", "RefusalsAnomalyAlarm", "RefusalsVolumeAlarm", "RefusalSurgeAlarm"},
}
# The two parts of the refusal-surge composite notify nobody themselves.
SILENT = {"RefusalsAnomalyAlarm", "RefusalsVolumeAlarm"}


def _dims(props):
    return {d["Name"]: d["Value"] for d in props["Dimensions"]}


@pytest.mark.parametrize("front_door", FRONT_DOORS)
def test_alarms_exist_only_with_a_topic_and_notify_it(front_door):
    assert not [t for t in _types(render(FrontDoor=front_door)["Resources"]) if t.startswith("AWS::CloudWatch::")]
    resources = render(FrontDoor=front_door, AlarmTopicArn=TOPIC)["Resources"]
    alarms = {k: v for k, v in resources.items() if v["Type"].startswith("AWS::CloudWatch::")}
    assert set(alarms) == ALARMS[front_door]
    for name, alarm in alarms.items():
        props = alarm["Properties"]
        if name in SILENT:
            assert "AlarmActions" not in props and "OKActions" not in props, name
        else:
            assert props["AlarmActions"] == [{"Ref": "AlarmTopicArn"}], name
            assert props["OKActions"] == [{"Ref": "AlarmTopicArn"}], name
        if alarm["Type"] == "AWS::CloudWatch::Alarm":
            assert props["TreatMissingData"] == "notBreaching", name
    function = {"FunctionName": {"Ref": "PusherAuthFunction"}}
    for name, metric in (("FunctionErrorsAlarm", "Errors"), ("FunctionThrottlesAlarm", "Throttles")):
        props = alarms[name]["Properties"]
        assert (props["Namespace"], props["MetricName"], _dims(props)) == ("AWS/Lambda", metric, function)
    five, latency = {
        "rest-api": (("AWS/ApiGateway", "5XXError", {"ApiName": {"Ref": "AWS::StackName"}, "Stage": {"Ref": "StageName"}}),
                     ("AWS/ApiGateway", "Latency", {"ApiName": {"Ref": "AWS::StackName"}, "Stage": {"Ref": "StageName"}})),
        "http-api": (("AWS/ApiGateway", "5xx", {"ApiId": {"Ref": "PusherAuthHttpApi"}, "Stage": {"Ref": "StageName"}}),
                     ("AWS/ApiGateway", "Latency", {"ApiId": {"Ref": "PusherAuthHttpApi"}, "Stage": {"Ref": "StageName"}})),
        "function-url": (("AWS/Lambda", "Url5xxCount", function), ("AWS/Lambda", "UrlRequestLatency", function)),
    }[front_door]
    (five_name,) = [n for n in alarms if n.endswith("5xxAlarm")]
    (latency_name,) = [n for n in alarms if n.endswith("LatencyAlarm")]
    props = alarms[five_name]["Properties"]
    assert (props["Namespace"], props["MetricName"], _dims(props)) == five
    assert props["Statistic"] == "Sum" and props["Threshold"] == {"Ref": "ErrorsAlarmThreshold"}
    props = alarms[latency_name]["Properties"]
    assert (props["Namespace"], props["MetricName"], _dims(props)) == latency
    assert props["ExtendedStatistic"] == "p99" and "Statistic" not in props
    assert props["Threshold"] == {"Ref": "LatencyP99AlarmMs"}


def test_rest_api_name_is_what_the_alarms_use():
    """REST API metrics are keyed by the API's name: the alarms' ApiName must be it."""
    resources = render(FrontDoor="rest-api", AlarmTopicArn=TOPIC)["Resources"]
    (api,) = of_type(resources, "AWS::ApiGateway::RestApi").values()
    assert api["Properties"]["Name"] == {"Fn::Sub": "${AWS::StackName}"}


def test_refusal_surge_alarm_reads_the_function_emf_metric():
    """The contract with the function's EMF block: namespace METRICS_NAMESPACE, metric `Requests`,
    a dimension set that is exactly ["decision"], value `refused`."""
    resources = render(FrontDoor="rest-api", AlarmTopicArn=TOPIC)["Resources"]
    function_env = resources["PusherAuthFunction"]["Properties"]["Environment"]["Variables"]
    assert function_env["METRICS_NAMESPACE"] == {"Ref": "MetricsNamespace"}
    emf = {"Namespace": {"Ref": "MetricsNamespace"}, "MetricName": "Requests",
           "Dimensions": [{"Name": "decision", "Value": "refused"}]}
    anomaly = resources["RefusalsAnomalyAlarm"]["Properties"]
    (refused,) = [m for m in anomaly["Metrics"] if "MetricStat" in m]
    assert refused["MetricStat"]["Metric"] == emf
    assert refused["MetricStat"]["Stat"] == "Sum" and refused["MetricStat"]["Period"] == 300
    (band,) = [m for m in anomaly["Metrics"] if "Expression" in m]
    assert band["Expression"] == "ANOMALY_DETECTION_BAND(%s, 3)" % refused["Id"]
    assert anomaly["ThresholdMetricId"] == band["Id"]
    assert anomaly["ComparisonOperator"] == "GreaterThanUpperThreshold"
    volume = resources["RefusalsVolumeAlarm"]["Properties"]
    assert {k: volume[k] for k in emf} == emf
    assert volume["Statistic"] == "Sum" and volume["Period"] == 300
    assert volume["Threshold"] == {"Ref": "RefusalsAlarmMinimum"}
    surge = resources["RefusalSurgeAlarm"]["Properties"]
    assert surge["AlarmRule"] == {"Fn::Sub": 'ALARM("${RefusalsAnomalyAlarm}") AND ALARM("${RefusalsVolumeAlarm}")'}


# ---------------------------------------------------------------- Rules and AuthMode=authorizer

POOL = "arn:aws:cognito-idp:eu-west-1:123456789012:userpool/eu-west-1_Abc123"
JWT_OK = {"AuthMode": "jwt", "JwtAlgorithms": "RS256",
          "JwtJwksUrl": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Abc123/.well-known/jwks.json",
          "JwtIssuer": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Abc123", "JwtAudience": "client1"}
# What a deployer sets for each front door in authorizer mode.
AUTHORIZER_OK = {"rest-api": {"AuthMode": "authorizer", "CognitoUserPoolArn": POOL, "JwtAudience": "client1"},
                 "http-api": {"AuthMode": "authorizer", "JwtIssuer": JWT_OK["JwtIssuer"], "JwtAudience": "client1"}}
# Functions CloudFormation evaluates in a Rule (no Condition: Rules cannot read Conditions). Any
# other function there fails the change set ("Template format error: Following functions are not
# supported in the Rules block of the template"), and cfn-lint 1.58 does not see a nested one
# (Fn::Split/Fn::Select inside Fn::Equals): this list is the check. Hence no Rule compares the
# regions of PusherSecretArn, JwtIssuer and JwtJwksUrl (issue 33 §2): that needs Fn::Split.
RULE_FUNCTIONS = {"Fn::And", "Fn::Contains", "Fn::EachMemberEquals", "Fn::EachMemberIn", "Fn::Equals", "Fn::Not",
                  "Fn::Or", "Fn::RefAll", "Fn::ValueOf", "Fn::ValueOfAll", "Ref"}


def _functions(node):
    found = set()
    if isinstance(node, dict):
        found |= {k for k in node if k.startswith("Fn::") or k in ("Ref", "Condition")}
        for v in node.values():
            found |= _functions(v)
    elif isinstance(node, list):
        for v in node:
            found |= _functions(v)
    return found


def test_rules_use_only_what_cloudformation_evaluates_in_rules():
    for name, rule in load()["Rules"].items():
        used = _functions(rule)
        assert used <= RULE_FUNCTIONS, (name, used - RULE_FUNCTIONS)
        for assertion in rule["Assertions"]:
            assert assertion["AssertDescription"], name


def _blank(*names):
    return {n: "" for n in names}


@pytest.mark.parametrize("params,failed", [
    # jwt: algorithms needed, and RS/PS/ES need the key set, the issuer and the audience.
    ({**JWT_OK, "JwtAlgorithms": ""}, ["JwtNeedsAlgorithms"]),
    ({**JWT_OK, "JwtJwksUrl": ""}, ["JwksAlgorithmsNeedKeysIssuerAndAudience"]),
    ({**JWT_OK, "JwtIssuer": ""}, ["JwksAlgorithmsNeedKeysIssuerAndAudience"]),
    ({**JWT_OK, "JwtAudience": ""}, ["JwksAlgorithmsNeedKeysIssuerAndAudience"]),
    ({**JWT_OK, **_blank("JwtJwksUrl", "JwtIssuer", "JwtAudience")}, ["JwksAlgorithmsNeedKeysIssuerAndAudience"] * 3),
    ({**JWT_OK, "FrontDoor": "function-url"}, []),
    (JWT_OK, []),
    # authorizer: an API Gateway front door with its authorizer's settings.
    ({**_blank(*JWT_OK), "AuthMode": "authorizer", "FrontDoor": "function-url"}, ["AuthorizerNeedsAnApiGateway"]),
    ({"AuthMode": "authorizer", "FrontDoor": "rest-api"}, ["RestAuthorizerNeedsAUserPoolAndAudience"] * 2),
    # Issue 30 §1: without the audience the Cognito authorizer takes any app client's ID token.
    ({**AUTHORIZER_OK["rest-api"], "FrontDoor": "rest-api", "JwtAudience": ""},
     ["RestAuthorizerNeedsAUserPoolAndAudience"]),
    ({**AUTHORIZER_OK["rest-api"], "FrontDoor": "rest-api", "CognitoUserPoolArn": ""},
     ["RestAuthorizerNeedsAUserPoolAndAudience"]),
    ({**AUTHORIZER_OK["rest-api"], "FrontDoor": "rest-api"}, []),
    ({"AuthMode": "authorizer", "FrontDoor": "http-api", **_blank("JwtIssuer", "JwtAudience")},
     ["HttpAuthorizerNeedsIssuerAndAudience"] * 2),
    ({**AUTHORIZER_OK["http-api"], "FrontDoor": "http-api", "JwtAudience": ""}, ["HttpAuthorizerNeedsIssuerAndAudience"]),
    ({**AUTHORIZER_OK["http-api"], "FrontDoor": "http-api"}, []),
    # Authorizer mode reads no JWT_* variable: no algorithms needed.
    ({**AUTHORIZER_OK["rest-api"], "FrontDoor": "rest-api", **_blank("JwtAlgorithms", "JwtJwksUrl")}, []),
    # ?member rules read a table: created or named.
    ({**JWT_OK, "MemberChannelRules": "presence-chat-*?member"}, ["MemberRulesNeedATable"]),
    ({**JWT_OK, "MemberChannelRules": "presence-chat-*?member", "MembershipTable": "create"}, []),
    ({**JWT_OK, "MembershipTable": "chat-members"}, []),
])
def test_rules_refuse_what_cannot_work(params, failed):
    assert rules_pass(parameter_values(env=None, **params)) == failed


def _api_body(resources):
    (api,) = [r for r in resources.values() if r["Type"] in ("AWS::ApiGateway::RestApi", "AWS::ApiGatewayV2::Api")]
    return api["Properties"]["Body"]


def _security(body):
    return {(path, method): spec.get("security") for path, methods in body["paths"].items()
            for method, spec in methods.items()}


@pytest.mark.parametrize("front_door", ["rest-api", "http-api"])
def test_jwt_mode_has_no_authorizer(front_door):
    body = _api_body(render(FrontDoor=front_door, **JWT_OK)["Resources"])
    assert "components" not in body
    assert set(_security(body).values()) == {None}


def string_value(node, values):
    """A string-valued intrinsic (Ref, Fn::Join, Fn::Split, Fn::Select) for these parameter values, as
    CloudFormation computes it (Fn::Split gives a list)."""
    if isinstance(node, str):
        return node
    if isinstance(node, list):
        return [string_value(v, values) for v in node]
    ((fn, args),) = node.items()
    if fn == "Ref":
        return values[args]
    if fn == "Fn::Join":
        parts = string_value(args[1], values)
        return args[0].join(parts)
    if fn == "Fn::Split":
        return string_value(args[1], values).split(args[0])
    if fn == "Fn::Select":
        return string_value(args[1], values)[int(args[0])]
    raise AssertionError("unexpected function %s" % fn)


def _validation_expression(audience):
    """The REST Cognito authorizer's identityValidationExpression, evaluated for this JwtAudience."""
    rendered = render(FrontDoor="rest-api", **{**AUTHORIZER_OK["rest-api"], "JwtAudience": audience})
    scheme = _api_body(rendered["Resources"])["components"]["securitySchemes"]["CognitoUserPool"]
    return string_value(scheme["x-amazon-apigateway-authorizer"]["identityValidationExpression"], rendered["values"])


def test_authorizer_mode_on_the_rest_api_is_a_cognito_authorizer_on_post():
    rendered = render(FrontDoor="rest-api", **AUTHORIZER_OK["rest-api"])
    assert rules_pass(rendered["values"]) == []
    _no_dangling_references(rendered)
    body = _api_body(rendered["Resources"])
    schemes = copy.deepcopy(body["components"]["securitySchemes"])
    # The audience check (issue 30 §1), tested on its own below.
    expression = schemes["CognitoUserPool"]["x-amazon-apigateway-authorizer"].pop("identityValidationExpression")
    assert references(expression) == {"JwtAudience"}
    assert schemes == {"CognitoUserPool": {
        "type": "apiKey", "name": "Authorization", "in": "header",
        "x-amazon-apigateway-authtype": "cognito_user_pools",
        "x-amazon-apigateway-authorizer": {"type": "cognito_user_pools", "providerARNs": [{"Ref": "CognitoUserPoolArn"}]},
    }}
    for (path, method), security in _security(body).items():
        # A <script> cannot send the header: GET stays open (the function refuses it without an
        # authorizer context); the CORS preflight carries no token.
        assert security == ([{"CognitoUserPool": []}] if method == "post" else None), (path, method)
    env = rendered["Resources"]["PusherAuthFunction"]["Properties"]["Environment"]["Variables"]
    assert env["AUTH_MODE"] == {"Ref": "AuthMode"}


# Audiences with every regular-expression metacharacter JwtAudience's pattern lets through.
AUDIENCES = ["7e9abc123def456ghi789jkl0", "a+b", "a.b", "api://default", "x\\E.*", "^$.|?*+()[]{}\\",
             "a\\Qb", "(a|b)", "[abc]", "a{2}", "%2F&=!#@~`'\"", "-"]


@pytest.mark.parametrize("audience", AUDIENCES)
def test_rest_authorizer_accepts_only_id_tokens_of_the_audience(audience):
    """Issue 30 §1: API Gateway matches the REST Cognito authorizer's identityValidationExpression
    against the ID token's aud (an access token has none: 401). It is JwtAudience, escaped and
    anchored: the audience itself matches, and no other app client's id does."""
    pattern = _validation_expression(audience)
    assert pattern.startswith("^") and pattern.endswith("$"), pattern
    assert re.fullmatch(load()["Parameters"]["JwtAudience"]["AllowedPattern"], audience), audience
    assert re.search(pattern, audience), (pattern, audience)
    others = ["", audience + "x", "x" + audience, audience[:-1], audience.upper() if audience.upper() != audience else "Q",
              "7e9abc123def456ghi789jkl1", "aab", "a\nb", "aXb", "api:/default", "a", "b", "aa", "abc", "c"]
    for other in others:
        if other != audience:
            assert not re.search(pattern, other), (pattern, audience, other)


@pytest.mark.parametrize("front_door", ["rest-api", "http-api"])
def test_authorizer_mode_gives_the_function_the_audience(front_door):
    """The function checks the audience in authorizer mode too (issue 30 §1): JWT_AUDIENCE is set."""
    rendered = render(FrontDoor=front_door, **AUTHORIZER_OK[front_door])
    env = rendered["Resources"]["PusherAuthFunction"]["Properties"]["Environment"]["Variables"]
    assert env["JWT_AUDIENCE"] == {"Ref": "JwtAudience"}
    assert rendered["values"]["JwtAudience"] == "client1"


def test_authorizer_mode_on_the_http_api_is_a_jwt_authorizer_on_get_and_post():
    rendered = render(FrontDoor="http-api", **AUTHORIZER_OK["http-api"])
    assert rules_pass(rendered["values"]) == []
    _no_dangling_references(rendered)
    body = _api_body(rendered["Resources"])
    jwt = {"issuer": {"Ref": "JwtIssuer"}, "audience": [{"Ref": "JwtAudience"}]}
    assert body["components"]["securitySchemes"] == {
        "JwtQueryToken": {"type": "oauth2", "flows": {}, "x-amazon-apigateway-authorizer": {
            "type": "jwt", "identitySource": "$request.querystring.token", "jwtConfiguration": jwt}},
        "JwtHeader": {"type": "oauth2", "flows": {}, "x-amazon-apigateway-authorizer": {
            "type": "jwt", "identitySource": "$request.header.Authorization", "jwtConfiguration": jwt}},
    }
    expected = {"get": [{"JwtQueryToken": []}], "post": [{"JwtHeader": []}], "options": None}
    for (path, method), security in _security(body).items():
        assert security == expected[method], (path, method)


@pytest.mark.parametrize("auth_mode", ["jwt", "authorizer"])
@pytest.mark.parametrize("front_door", FRONT_DOORS)
def test_every_front_door_and_auth_mode_transforms_and_lints(front_door, auth_mode, tmp_path):
    """The SAM transform for each FrontDoor and AuthMode; the Rules accept each supported pair and
    refuse the one that cannot work (authorizer without API Gateway); cfn-lint on a copy whose
    defaults are that pair."""
    params = dict(JWT_OK) if auth_mode == "jwt" else dict(AUTHORIZER_OK.get(front_door, {"AuthMode": "authorizer"}))
    rendered = render(FrontDoor=front_door, **params)
    _no_dangling_references(rendered)
    expected = ["AuthorizerNeedsAnApiGateway"] if (auth_mode, front_door) == ("authorizer", "function-url") else []
    assert rules_pass(rendered["values"]) == expected
    template = load()
    for name, value in {"FrontDoor": front_door, **params}.items():
        template["Parameters"][name]["Default"] = value
    path = tmp_path / ("template-%s-%s.json" % (front_door, auth_mode))
    path.write_text(json.dumps(template))
    _cfn_lint(str(path))


def test_a_jwks_ttl_of_0_is_described_as_keeping_a_withdrawn_key():
    """Issue 30 §8: 0 fetches the key set once per execution environment, so a withdrawn key keeps
    verifying for that environment's life; the parameter's description says so."""
    description = load()["Parameters"]["JwtJwksTtlSeconds"]["Description"]
    assert re.search(r"Warning: 0 .*withdraws keeps verifying tokens for as long as that environment lives",
                     " ".join(description.split())), description
