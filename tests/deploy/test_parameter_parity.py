"""The template refuses what the function refuses (issue 20 §3, issue 24 §2).

For every template parameter that becomes a function setting, each sample value gets the same
verdict from the template and from the function's own configuration parser:

- the template: the parameter's constraint as CloudFormation applies it (AllowedValues;
  AllowedPattern matched against the whole value, Java-style, here `re.fullmatch` on patterns
  kept to the common subset; MinLength/MaxLength), then the template's Rules;
- the parser: `pusher-auth --check-config` (the cold start's check) on the environment the
  template gives the function for those parameter values (its Environment with the Conditions
  resolved, so an empty value the template drops with AWS::NoValue is unset, as in Lambda),
  plus what Lambda itself sets. A valid baseline passes both; one parameter at a time takes
  each sample.

Where the template is deliberately stricter (NARROWED), the template must refuse; the parser may
accept. Runs in the venv of requirements-sam.txt; finds the binary in $PUSHER_AUTH_BIN, else
builds it with `cargo build --bin pusher-auth`.
"""
import json
import os
import re
import subprocess

import pytest

from test_template import ROOT, _resolve_ifs, evaluate, load, rules_pass

# What Lambda sets in every execution environment (the secret store needs a region and
# credentials to be built; --check-config never calls it).
LAMBDA_ENV = {"AWS_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
              "AWS_SECRET_ACCESS_KEY": "not-a-real-key", "AWS_SESSION_TOKEN": "token"}

SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:pusher-auth/staging-AbCdEf"
ISSUER = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Abc123"
JWKS_URL = ISSUER + "/.well-known/jwks.json"

# A deployment both the template and the parser accept (jwt mode with a Cognito pool).
BASELINE = {
    "StageName": "staging",
    "PusherAppId": "1000001",
    "PusherKey": "a1b2c3d4e5f6a7b8c9d0",
    "PusherCluster": "eu",
    "PusherSecretArn": SECRET_ARN,
    "AllowedOrigins": "https://app.example.com",
    "AuthMode": "jwt",
    "ChannelRules": "private-user-{sub} presence-room-*",
    "JwtAlgorithms": "RS256",
    "JwtJwksUrl": JWKS_URL,
    "JwtIssuer": ISSUER,
    "JwtAudience": "7e9abc123def456ghi789jkl0",
    "MetricsNamespace": "PusherAuth/staging",
    # A table, so that ?member rules (MemberChannelRules) are complete.
    "MembershipTable": "chat-members",
    # Not a function setting: the REST API's authorizer, so that AuthMode=authorizer is complete.
    "CognitoUserPoolArn": "arn:aws:cognito-idp:eu-west-1:123456789012:userpool/eu-west-1_Abc123",
}

BAD_CHARS = ["a b", "a\tb", "a\"b", "a<b>", "é", "a\nb"]
TTL = ["0", "1", "300", "86400", "86401", "100000", "-1", "1.5", "1e3", "+300", "0300", "abc", " 300", "",
       "99999999999999999999999"]
CLAIMS = ["sub", "email", "cognito:username", "custom:tenant_id", "a.b-c_d", "", "x" * 128, "x" * 129,
          "a b", "a/b", "a,b", "{sub}", "é"] + BAD_CHARS

# Per parameter: the function's variable and the samples (valid ones, empty, too long, bad
# characters, the cases issue 20 names).
SAMPLES = {
    "StageName": ("DEPLOYMENT_ENVIRONMENT", ["staging", "production", "", "prod", "dev"]),
    "PusherAppId": ("PUSHER_APP_ID", ["1", "1000001", "9" * 20, "9" * 21, "", "12a", "-1", "<staging-app-id>"]
                    + BAD_CHARS),
    "PusherKey": ("PUSHER_KEY", ["a1b2c3d4e5f6a7b8c9d0", "key_1-A", "k" * 64, "k" * 65, "", "bad key!", "a.b",
                                 "<staging-pusher-key>"] + BAD_CHARS),
    "PusherCluster": ("PUSHER_CLUSTER", ["mt1", "eu", "ap-southeast-1", "c" * 32, "c" * 33, "", "EU", "eu 1",
                                         "eu_1"] + BAD_CHARS),
    "PusherSecretArn": ("PUSHER_SECRET_ID", [
        SECRET_ARN, "arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:a+b=c.d@e/f_g-h",
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:" + "n" * 512,
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:" + "n" * 513,
        "", "pusher-auth/staging", "7ad3773142a6692b25b8",
        "arn:aws:secretsmanager:eu-west-1:1234:secret:x", "arn:aws:s3:::bucket",
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:a b",
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:a:b",
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:",
        "arn:aws:secretsmanager:EU:123456789012:secret:x",
        "arn:aws:secretsmanager:eu-west-1:<account-id>:secret:pusher-auth/staging"]),
    "AllowedOrigins": ("ALLOWED_ORIGINS", [
        "", "https://app.example.com", "http://localhost:8080", "https://a.example,http://b.example:8443",
        ",https://a.example,,", ",", "https://app.example.com/", "https://", "app.example.com",
        "ftp://a.example", "HTTPS://a.example", "https://a.example/path", "https://a.example b.example",
        "https://a.example, https://b.example", "https://a.example https://b.example", "https://[::1]:8080",
        "https://<staging-origin>", "https://a_b.example", "http://:",
        # Issue 30 §8: two origins glued together (the function reads one host with a path).
        "https://a.example.comhttps://b.example.com", "http://localhost:8080http://localhost:3000"] + BAD_CHARS),
    "AuthMode": ("AUTH_MODE", ["jwt", "authorizer", "demo", "", "none", "JWT"]),
    "ChannelRules": ("CHANNEL_RULES", [
        "", "private-user-{sub} presence-room-*", "private-*", "presence-*", "private-encrypted-{sub}",
        "private-**", "private-{sub}-*", "private-*-{sub}", "private-*-*-{sub}", "private-{sub}-*-{x}",
        "private-{a}.{b}", "private-a,b;c=d@e", "  private-a   presence-b  ", "private-", "private-{cognito:groups}",
        "user-*", "private", "*", "{sub}", "private-*,presence-*", "private-{sub}*", "private-*{sub}",
        "private-*-{sub}-*", "private-{a}{b}", "private-{}", "private-{a b}", "private-{sub", "private-sub}",
        "private-\"x\"", "'private-*'", "private-a/b", "private-a\tpresence-b", "private-é",
        # Issue 33 §4: a list written with ", " leaves a rule ending in ','; a comma inside a rule is fine.
        "private-user-{sub}, presence-room-*", "private-a,", "private-a, presence-b,", " private-a, ",
        "private-a,b presence-c"]),
    "MemberChannelRules": ("CHANNEL_RULES", [
        "", "presence-chat-*?member", "presence-chat-*?member private-chat-{sub}?member", "private-a?member ",
        "presence-chat-*", "presence-chat-*?members", "presence-chat-?member-*", "private-a,?member",
        "?member", "private-a?member?member", "private-{a}{b}?member", "private-a?Member", "private-a ?member"]),
    "MembershipTable": ("MEMBERSHIP_TABLE", ["", "create", "chat-members", "a.b_c-1", "ab", "t" * 255, "t" * 256,
                                            "a b", "t/1", "arn:aws:dynamodb:eu-west-1:123456789012:table/t"]
                        + BAD_CHARS),
    "UserInfoClaims": ("USER_INFO_CLAIMS", ["name", "", "name,picture", " name , email ", ",", "a b"]
                       + BAD_CHARS),
    "UserIdClaim": ("USER_ID_CLAIM", CLAIMS),
    "WatchlistClaim": ("WATCHLIST_CLAIM", CLAIMS),
    "JwtAlgorithms": ("JWT_ALGORITHMS", [
        "RS256", "ES256,RS256", " RS256 , PS512 ", ",RS256,,", "RS384,RS512,PS256,PS384,PS512,ES256,ES384", "",
        ",", " ", "HS256", "RS256,HS256", "EdDSA", "none", "rs256", "RS256;ES256", "RS256 ES256", "ES512",
        "RS256\t"]),
    "JwtJwksUrl": ("JWT_JWKS_URL", [
        JWKS_URL, "https://example.com/jwks", "https://example.com:8443/.well-known/jwks.json?x=1",
        "https://example.com", "", "http://example.com/jwks", "example.com/jwks", "https://exa mple.com/jwks",
        "http://127.0.0.1:9999/jwks", "ftp://example.com/jwks", "https://:443/jwks", "https://example.com:",
        "https://cognito-idp.eu-west-1.amazonaws.com/<staging-user-pool-id>/.well-known/jwks.json"]),
    "JwtJwksTtlSeconds": ("JWT_JWKS_TTL_SECONDS", TTL),
    "JwtJwksMaxStaleSeconds": ("JWT_JWKS_MAX_STALE_SECONDS", TTL + ["00", "+0"]),
    "JwtIssuer": ("JWT_ISSUER", [ISSUER, "https://issuer.example", "", "http://issuer.example", "issuer",
                                 "https://a b", "https://cognito-idp.eu-west-1.amazonaws.com/<staging-user-pool-id>",
                                 "https://login.example/tenant/v2.0/", "https://issuer.example:8443/a%2Fb?c=d#e",
                                 "https://issuer.example/a'b(c)*", "https://:443",
                                 # Issue 30 §8: what http::Uri refuses in the host.
                                 "https://issuer.example\\", "https://issuer.example^", "https://issuer.example[",
                                 "https://issuer.example%", "https://issuer.example%zz", "https://issuer.example%41",
                                 # ... and takes in a path, which the template refuses all the same.
                                 "https://issuer.example/%zz", "https://issuer.example/a\\b",
                                 "https://issuer.example/a^b", "https://issuer.example/{x}"]),
    "JwtAudience": ("JWT_AUDIENCE", ["7e9abc123def456ghi789jkl0", "api://default", "", "a b", "<staging-app-client-id>",
                                     "é"]),
    "SecretTtlSeconds": ("PUSHER_SECRET_TTL_SECONDS", TTL),
    "MetricsNamespace": ("METRICS_NAMESPACE", [
        "PusherAuth", "PusherAuth/staging", "a", "My.App-1_x/#:y", "n" * 255, "n" * 256, "", "Pusher Auth",
        "AWS/Lambda", "AWS/", "aws/x", "AWSome", ":x", "x:", "a\"b", "é", "a\nb", " PusherAuth"]),
    "Metrics": ("METRICS", ["on", "off", "", "no", "ON", "true"]),
}

# Values the template refuses on purpose though the function accepts them (or will: pending
# parser changes), with the reason.
NARROWED = {
    "StageName": ({"", "prod", "dev"}, "the stack deploys a staging or a production stage"),
    "PusherAppId": ({""}, "required: it is the stage variable PUSHER_APP_ID, which cannot be empty"),
    "PusherCluster": ({""}, "the stage variable PUSHER_CLUSTER cannot be empty"),
    "PusherSecretArn": ({"pusher-auth/staging"}, "the IAM policy needs the secret's ARN, not its name"),
    "AllowedOrigins": ({"https://a.example, https://b.example", "https://a.example https://b.example",
                        "https://[::1]:8080", "https://a.example b.example", "a\tb", "a b", "a\nb", "http://:"},
                       "a stage variable holds no spaces nor brackets; an origin has a host (the parser lets "
                       "http://: through)"),
    "AuthMode": ({"demo", ""}, "demo is for local runs only; empty is jwt, the default, said explicitly"),
    "ChannelRules": ({"private-a\tpresence-b"}, "rules are separated by spaces only"),
    "MemberChannelRules": ({"presence-chat-*"}, "a rule without ?member belongs in ChannelRules"),
    "JwtAlgorithms": ({"RS256\t"}, "algorithms are separated by commas and spaces only"),
    "JwtJwksUrl": ({"http://127.0.0.1:9999/jwks", "https://:443/jwks", "https://example.com:"},
                   "a deployed function fetches keys over https, from a host (the parser lets an empty host "
                   "or port through)"),
    "JwtIssuer": ({"http://issuer.example", "issuer", "https://a b",
                   "https://cognito-idp.eu-west-1.amazonaws.com/<staging-user-pool-id>",
                   "https://issuer.example/%zz", "https://issuer.example/a\\b", "https://issuer.example/a^b",
                   "https://issuer.example/{x}"},
                  "the issuer is an https URL (issue 24 §3, the parser is to require it); <...> is a placeholder; "
                  "\\ ^ { } and a bad % escape, which http::Uri refuses in the host, are refused in the path too"),
    "JwtAudience": ({"a b", "<staging-app-client-id>", "é"},
                    "an app client id has no spaces; <...> is a samconfig.toml placeholder"),
    "MetricsNamespace": ({""}, "the alarms read the namespace, so it is never left to the function's default"),
    "Metrics": ({""}, "empty is on, the default, said explicitly"),
}

# Parameters whose refused samples may be reported under another variable (the consequence of
# this one's value): HS algorithms need JWT_SECRET; an empty secret ARN leaves no secret at all.
RELATED = {"JWT_ALGORITHMS": {"JWT_SECRET"}, "PUSHER_SECRET_ID": {"PUSHER_SECRET"}}


def _binary():
    path = os.environ.get("PUSHER_AUTH_BIN")
    if path:
        assert os.access(path, os.X_OK), "PUSHER_AUTH_BIN=%s is not an executable" % path
        return path
    meta = subprocess.run(["cargo", "metadata", "--format-version", "1", "--no-deps"], cwd=ROOT,
                          capture_output=True, text=True, check=True)
    path = os.path.join(json.loads(meta.stdout)["target_directory"], "debug", "pusher-auth")
    if not os.access(path, os.X_OK):
        subprocess.run(["cargo", "build", "--bin", "pusher-auth"], cwd=ROOT, check=True)
    return path


@pytest.fixture(scope="module")
def binary():
    return _binary()


TEMPLATE = load()
PARAMETERS = TEMPLATE["Parameters"]
DEFAULTS = {name: str(spec["Default"]) for name, spec in PARAMETERS.items() if "Default" in spec}


def constraint_refuses(name, value):
    """Why CloudFormation refuses this value of the parameter, or None."""
    spec = PARAMETERS[name]
    if "AllowedValues" in spec and value not in [str(v) for v in spec["AllowedValues"]]:
        return "AllowedValues"
    if "MinLength" in spec and len(value) < int(spec["MinLength"]):
        return "MinLength"
    if "MaxLength" in spec and len(value) > int(spec["MaxLength"]):
        return "MaxLength"
    if "AllowedPattern" in spec and not re.fullmatch(spec["AllowedPattern"], value):
        return "AllowedPattern"
    if spec["Type"] == "Number":
        try:
            number = float(value)
        except ValueError:
            return "Number"
        if "MinValue" in spec and number < float(spec["MinValue"]):
            return "MinValue"
        if "MaxValue" in spec and number > float(spec["MaxValue"]):
            return "MaxValue"
    return None


def template_verdict(values):
    """None when the template accepts these values, else what refuses them."""
    for name, value in values.items():
        why = constraint_refuses(name, value)
        if why:
            return "%s %s" % (name, why)
    failed = rules_pass(values)
    return "Rules " + ",".join(failed) if failed else None


def _ref(node, values):
    if isinstance(node, dict) and set(node) == {"Ref"}:
        # A resource the stack creates (the membership table) is named by CloudFormation.
        return values.get(node["Ref"], "stack-" + node["Ref"] + "-1A2B3C")
    if isinstance(node, dict) and set(node) == {"Fn::Join"}:
        separator, parts = node["Fn::Join"]
        return separator.join(_ref(part, values) for part in parts)
    assert isinstance(node, str), node
    return node


def function_environment(values):
    """The function's environment as CloudFormation would create it for these values."""
    conditions = TEMPLATE["Conditions"]
    truth = {name: evaluate(expr, values, conditions) for name, expr in conditions.items()}
    variables = TEMPLATE["Resources"]["PusherAuthFunction"]["Properties"]["Environment"]["Variables"]
    resolved = _resolve_ifs(variables, truth)
    return {k: _ref(v, values) for k, v in resolved.items()}


def check_config(binary, env):
    """(accepted, the variable the error names)."""
    # The stack runs in its secret's region (the function refuses a secret of another region,
    # which no parameter pattern can see: the region is the stack's, not a parameter).
    secret = env.get("PUSHER_SECRET_ID", "").split(":")
    region = {"AWS_REGION": secret[3]} if len(secret) > 3 and secret[0] == "arn" and secret[3] else {}
    done = subprocess.run([binary, "--check-config"], env={**LAMBDA_ENV, **region, **env}, capture_output=True,
                          text=True, timeout=30)
    if done.returncode == 0:
        assert "configuration OK" in done.stdout, done.stdout
        return True, None
    m = re.search(r"configuration error: ([A-Z0-9_]+) ", done.stderr)
    assert done.returncode == 1 and m, (done.returncode, done.stdout, done.stderr)
    return False, m.group(1)


def parser_verdict(binary, name, value):
    variable = SAMPLES[name][0]
    values = {**DEFAULTS, **BASELINE, name: value}
    env = function_environment(values)
    accepted, named = check_config(binary, env)
    return accepted, named


def test_every_parameter_that_becomes_a_setting_has_samples():
    """Each environment variable of the function that a parameter sets is covered here."""
    variables = TEMPLATE["Resources"]["PusherAuthFunction"]["Properties"]["Environment"]["Variables"]
    from test_template import references
    set_by = {name for node in variables.values() for name in references(node) if name in PARAMETERS}
    assert set_by == set(SAMPLES), set_by ^ set(SAMPLES)
    for name, (variable, _) in SAMPLES.items():
        assert name in references(variables[variable]), (name, variable)


def test_baseline_is_accepted_by_both(binary):
    values = {**DEFAULTS, **BASELINE}
    assert template_verdict(values) is None
    assert check_config(binary, function_environment(values)) == (True, None)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_template_and_parser_agree(binary, name):
    variable, samples = SAMPLES[name]
    narrowed, reason = NARROWED.get(name, (set(), ""))
    assert narrowed <= set(samples), narrowed - set(samples)
    mismatches = []
    for value in samples:
        template = template_verdict({**DEFAULTS, **BASELINE, name: value})
        accepted, named = parser_verdict(binary, name, value)
        if value in narrowed:
            if template is None:
                mismatches.append("%r: narrowed (%s) but the template accepts it" % (value, reason))
            continue
        if (template is None) != accepted:
            mismatches.append("%r: template %s, parser %s" % (
                value, "accepts" if template is None else "refuses (%s)" % template,
                "accepts" if accepted else "refuses (%s)" % named))
        elif not accepted:
            assert named in {variable} | RELATED.get(variable, set()), (name, value, named)
    assert not mismatches, "%s (%s):\n  %s" % (name, variable, "\n  ".join(mismatches))


def test_the_issue_20_cases_are_refused_by_the_template():
    base = {**DEFAULTS, **BASELINE}
    assert template_verdict({**base, "MetricsNamespace": "Pusher Auth"}) == "MetricsNamespace AllowedPattern"
    assert template_verdict({**base, "MetricsNamespace": "AWS/Lambda"}) == "MetricsNamespace AllowedPattern"
    assert template_verdict({**base, "PusherKey": "k" * 65}) == "PusherKey MaxLength"


def test_demo_is_refused_for_every_deployed_stack():
    for stage in ("staging", "production"):
        for door in ("rest-api", "http-api", "function-url"):
            values = {**DEFAULTS, **BASELINE, "StageName": stage, "FrontDoor": door, "AuthMode": "demo"}
            assert template_verdict(values) == "AuthMode AllowedValues", (stage, door)
    assert "demo" in PARAMETERS["AuthMode"]["ConstraintDescription"]


# ---------------------------------------------------------------- samconfig.toml's placeholders

@pytest.mark.parametrize("env", ["staging", "production"])
def test_samconfig_placeholders_fail_validation_naming_the_parameter(env, binary):
    """A forgotten <placeholder> fails `sam deploy` before anything is created: CloudFormation says
    "Parameter 'NAME' failed to satisfy constraint: <ConstraintDescription>", which says to replace
    it. Filled in, the same overrides pass the template and the function's check."""
    from test_template import fill_placeholders, overrides
    values = {k: str(v) for k, v in overrides(env).items()}
    placeholders = {name for name, value in values.items() if re.search(r"<[a-z-]+>", value)}
    assert placeholders == {"PusherAppId", "PusherKey", "PusherSecretArn", "AllowedOrigins", "JwtJwksUrl",
                            "JwtIssuer", "JwtAudience"}
    for name in placeholders:
        assert constraint_refuses(name, values[name]), (name, values[name])
        assert "replace the placeholder" in PARAMETERS[name]["ConstraintDescription"], name
    refused = {name for name, value in values.items() if constraint_refuses(name, value)}
    assert refused == placeholders
    filled = {**DEFAULTS, **{name: fill_placeholders(value) for name, value in values.items()}}
    assert template_verdict(filled) is None
    assert check_config(binary, function_environment(filled)) == (True, None)


# ---------------------------------------------------------------- generated values

def _generated(alphabet, pieces, n, seed):
    import random
    rng = random.Random(seed)
    out = set()
    while len(out) < n:
        out.add("".join(rng.choice(pieces + list(alphabet)) for _ in range(rng.randint(1, 6))))
    return sorted(out)


GENERATED = {
    # name: (values, whether the constraint is exact: the parser's refusals too are the template's)
    "ChannelRules": (_generated("*{}- ,.;a", ["private-", "presence-", "{sub}", "private-encrypted-", "x"], 200, 1), True),
    "MemberChannelRules": (_generated("*{}- ,.;a?", ["private-", "presence-", "{sub}", "?member", "?member "], 200, 7),
                           False),
    "MetricsNamespace": (_generated("aA/: #.-_", ["AWS/", "AWS", "x"], 100, 2), True),
    "JwtAlgorithms": (_generated(", ", ["RS256", "ES384", "HS256", "PS512", "rs256"], 100, 3), True),
    "JwtJwksUrl": (["https://" + v for v in _generated("a.-:/0%?#@ [_~", ["example.com", ":443", "/jwks", "..", "%2F"],
                                                       100, 4)], False),
    "AllowedOrigins": (_generated(",:/.-a1[]_", ["https://", "http://", "a.example", ":8080", "/"], 100, 5), False),
    "JwtIssuer": (["https://" + v for v in _generated("a.-:/%?#@[]\\^{}|\"`'_~2F", ["example.com", ":443", "/v2.0",
                                                                                "%2F", "%zz", "?a=b"], 200, 6)],
                  False),
}


@pytest.mark.parametrize("name", sorted(GENERATED))
def test_generated_values_the_template_accepts_the_parser_accepts(binary, name):
    """Seeded generated values from the characters that matter: whatever the template accepts the
    parser accepts (never a stack that fails every cold start); where the constraint is exact,
    the converse too."""
    values, exact = GENERATED[name]
    wrong = []
    for value in values:
        template = template_verdict({**DEFAULTS, **BASELINE, name: value})
        accepted, named = parser_verdict(binary, name, value)
        if template is None and not accepted:
            wrong.append("%r: template accepts, parser refuses (%s)" % (value, named))
        elif exact and template is not None and accepted:
            wrong.append("%r: template refuses (%s), parser accepts" % (value, template))
    assert not wrong, "\n".join(wrong)
