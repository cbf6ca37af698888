#!/usr/bin/env python3
"""What scripts/deploy.sh checks before it builds anything (Python 3.11+, standard library and
the AWS CLI):

  python3 scripts/deploy_preflight.py STAGE [SAMCONFIG]    prints "STACK_NAME REGION" when all hold

1. The samconfig environment STAGE (SAMCONFIG, default samconfig.toml): every `<placeholder>`
   left in it, by key or parameter, and every parameter value template.yaml refuses (its
   parameters' AllowedPattern, AllowedValues, MinLength and MaxLength, read from the template),
   unknown parameters and required ones missing: all listed at once, then exit 1.
2. With the AWS CLI and credentials: the Cognito app client the stage trusts (JwtAudience, in
   the user pool of JwtIssuer or CognitoUserPoolArn), read with `aws cognito-idp
   describe-user-pool-client`. Exit 1 when its users may write a claim that a ChannelRules
   placeholder or UserIdClaim trusts: a custom attribute (custom:*) or a standard one in its
   WriteAttributes (no WriteAttributes: every attribute is writable), `email` / `phone_number`
   only together with their `*_verified` flag (the function never trusts an unverified one).
   Without the AWS CLI or credentials it says it skipped the check, and why.
Never prints a secret: samconfig.toml holds none (the Pusher secret is in Secrets Manager)."""
import json
import re
import shlex
import subprocess
import sys
import tomllib

PLACEHOLDER = re.compile(r"<[^<>]*>")
# User pool attributes a user may write when the app client lists no WriteAttributes.
STANDARD_ATTRIBUTES = {
    "address", "birthdate", "email", "email_verified", "family_name", "gender", "given_name", "locale",
    "middle_name", "name", "nickname", "phone_number", "phone_number_verified", "picture",
    "preferred_username", "profile", "updated_at", "website", "zoneinfo"}


def say(line):
    print(f"deploy: {line}", file=sys.stderr, flush=True)


def scalar(text):
    """One YAML scalar as template.yaml writes its parameters' attributes."""
    text = text.strip()
    if text.startswith("'") and text.endswith("'"):
        return text[1:-1].replace("''", "'")
    if text.startswith("[") and text.endswith("]"):
        return [scalar(item) for item in text[1:-1].split(",")]
    return text


def template_parameters(path):
    """{name: {attribute: value}} of the template's Parameters section (attributes on one line,
    or a `>-` folded block)."""
    params, current, folding, in_section = {}, None, None, False
    with open(path, encoding="utf-8") as f:
        for line in f:
            if re.match(r"\S", line):
                in_section = line.startswith("Parameters:")
                continue
            if not in_section or not line.strip() or line.lstrip().startswith("#"):
                continue
            if folding and line.startswith("      "):
                current[folding] = (current[folding] + " " + line.strip()).strip()
                continue
            folding = None
            if m := re.fullmatch(r"  ([A-Za-z0-9]+):\s*", line):
                current = params.setdefault(m[1], {})
            elif (m := re.fullmatch(r"    ([A-Za-z]+):(.*)", line.rstrip("\n"))) and current is not None:
                if m[2].strip() in (">-", ">"):
                    current[m[1]], folding = "", m[1]
                else:
                    current[m[1]] = scalar(m[2])
    return params


def overrides(deploy):
    value = deploy.get("parameter_overrides", [])
    words = shlex.split(" ".join(value) if isinstance(value, list) else value)
    return dict(word.split("=", 1) for word in words if "=" in word)


def refusal(spec, value):
    """Why the template refuses this parameter value (None if it does not)."""
    why = spec.get("ConstraintDescription") or "see template.yaml"
    if "AllowedValues" in spec and value not in spec["AllowedValues"]:
        return f"not one of {', '.join(spec['AllowedValues'])}"
    if "MinLength" in spec and len(value) < int(spec["MinLength"]):
        return f"shorter than {spec['MinLength']}: {why}"
    if "MaxLength" in spec and len(value) > int(spec["MaxLength"]):
        return f"longer than {spec['MaxLength']}: {why}"
    if "AllowedPattern" in spec and not re.fullmatch(spec["AllowedPattern"], value):
        return f"refused by its AllowedPattern: {why}"
    return None


def check_config(stage, samconfig, deploy, template="template.yaml"):
    """Lists what the template and CloudFormation would refuse; True when nothing."""
    placeholders, refused = [], []
    for section, table in samconfig[stage].items():
        for key, value in table.get("parameters", {}).items():
            if key != "parameter_overrides" and isinstance(value, str) and PLACEHOLDER.search(value):
                placeholders.append(f"{key} ({section}): {', '.join(PLACEHOLDER.findall(value))}")
    params = template_parameters(template)
    given = overrides(deploy)
    for name, value in given.items():
        if PLACEHOLDER.search(value):
            placeholders.append(f"{name}: {', '.join(PLACEHOLDER.findall(value))}")
        elif name not in params:
            refused.append(f"{name}: not a parameter of {template}")
        elif why := refusal(params[name], value):
            refused.append(f"{name}={value!r}: {why}")
    for name, spec in params.items():
        if "Default" not in spec and name not in given:
            refused.append(f"{name}: required (no default in {template}), not in parameter_overrides")
    if placeholders:
        say(f"[{stage}] still has {len(placeholders)} placeholder(s) to replace with your values:")
        for line in placeholders:
            print(f"  {line}", file=sys.stderr)
    if refused:
        say(f"[{stage}] has {len(refused)} value(s) {template} refuses:")
        for line in refused:
            print(f"  {line}", file=sys.stderr)
    return not placeholders and not refused


def trusted_claims(given):
    claims = {}
    for claim in re.findall(r"\{([^{}]+)\}", given.get("ChannelRules", "")):
        claims.setdefault(claim, "ChannelRules")
    claims.setdefault(given.get("UserIdClaim") or "sub", "UserIdClaim")
    return claims


def check_cognito(deploy, given):
    """The app client's WriteAttributes against the claims the configuration trusts."""
    skipped = "Cognito attribute check skipped: "
    pool = region = None
    if m := re.fullmatch(r"https://cognito-idp\.([a-z0-9-]+)\.amazonaws\.com/([\w-]+)", given.get("JwtIssuer", "")):
        region, pool = m[1], m[2]
    elif m := re.fullmatch(r"arn:aws[a-z-]*:cognito-idp:([a-z0-9-]+):\d{12}:userpool/([\w-]+)",
                           given.get("CognitoUserPoolArn", "")):
        region, pool = m[1], m[2]
    client = given.get("JwtAudience", "")
    if not pool or not client:
        say(skipped + "no Cognito user pool (JwtIssuer, CognitoUserPoolArn) and app client (JwtAudience)")
        return True
    command = ["aws", "cognito-idp", "describe-user-pool-client", "--user-pool-id", pool, "--client-id", client,
               "--region", region, "--output", "json"]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        say(skipped + "no AWS CLI (`aws`) on PATH")
        return True
    if result.returncode != 0:
        error = (result.stderr.strip().splitlines() or ["no output"])[-1]
        if "Unable to locate credentials" in result.stderr:
            say(skipped + f"no AWS credentials (aws: {error})")
            return True
        say(f"cannot read app client {client} of user pool {pool} ({region}) to check which claims its users "
            f"may write (needs cognito-idp:DescribeUserPoolClient): {error}")
        return False
    write = json.loads(result.stdout)["UserPoolClient"].get("WriteAttributes")

    def writable(attribute):
        return attribute in write if write is not None else (
            attribute.startswith("custom:") or attribute in STANDARD_ATTRIBUTES)

    claims = trusted_claims(given)
    unsafe = []
    for claim, source in claims.items():
        if claim in ("email", "phone_number"):
            if writable(claim) and writable(claim + "_verified"):
                unsafe.append(f"{claim} with {claim}_verified ({source})")
        elif writable(claim):
            unsafe.append(f"{claim} ({source})")
    whose = f"app client {client} of user pool {pool}"
    if unsafe:
        say(f"{whose} lets every user write claims this configuration trusts: {', '.join(unsafe)}"
            f"{'' if write is not None else ' (it lists no WriteAttributes: every attribute is writable)'}. "
            "A user could set them and be signed for channels that are not theirs: take them out of the app "
            "client's attribute write permissions, or trust claims only administrators set (cognito:groups).")
        return False
    say(f"{whose}: its users cannot write a claim this configuration trusts ({', '.join(claims)})")
    return True


def main(argv):
    stage, path = argv[0], argv[1] if len(argv) > 1 else "samconfig.toml"
    with open(path, "rb") as f:
        samconfig = tomllib.load(f)
    deploy = samconfig.get(stage, {}).get("deploy", {}).get("parameters")
    if deploy is None:
        say(f"{path} has no [{stage}.deploy.parameters]")
        return 1
    if not check_config(stage, samconfig, deploy):
        say(f"fix {path} [{stage}] (above); nothing was built or deployed")
        return 1
    if not check_cognito(deploy, overrides(deploy)):
        return 1
    print(deploy.get("stack_name", ""), deploy.get("region", ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
