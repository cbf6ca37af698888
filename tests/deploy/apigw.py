"""A small emulation of what API Gateway (REST API) does around a Lambda custom
(non-proxy) integration, for the deploy checks:

- renders mapping templates with a real Velocity engine (LocalStack's
  ``template_mapping`` on ``airspeed-ext``), but with a ``$util`` whose
  ``escapeJavaScript`` behaves as AWS documents it (Java commons-lang
  ``escapeJavaScript``: ``'`` becomes ``\\'``, which is not valid JSON) and returns a
  Java-String-like value whose ``replaceAll`` has Java semantics;
- picks the request template by Content-Type (none means ``application/json``)
  and applies the passthrough behaviour;
- selects the integration response by matching Java regexes (full match) against
  a function error's ``errorMessage``, and applies its template and header mappings.

Only the Python standard library and the packages pinned in
``requirements-vtl.txt`` are used.
"""
import copy
import json
import re

import yaml

from localstack.services.apigateway.next_gen.execute_api.template_mapping import (
    ApiGatewayVtlTemplate,
    VelocityUtilApiGateway,
)


# --------------------------------------------------------------------------
# $util.escapeJavaScript as AWS documents it (Java commons-lang)
# --------------------------------------------------------------------------

_CONTROL = {0x08: "\\b", 0x09: "\\t", 0x0A: "\\n", 0x0C: "\\f", 0x0D: "\\r"}
_PLAIN = {"'": "\\'", '"': '\\"', "\\": "\\\\", "/": "\\/"}


def java_escape_javascript(text):
    """commons-lang ``StringEscapeUtils.escapeJavaScript``: works on UTF-16 code
    units, so a character outside the BMP becomes a surrogate pair."""
    if text is None:
        return None
    units = text.encode("utf-16-be", "surrogatepass")
    out = []
    for i in range(0, len(units), 2):
        code = (units[i] << 8) | units[i + 1]
        ch = chr(code) if not 0xD800 <= code <= 0xDFFF else None
        if code > 0x7F:
            out.append("\\u%04X" % code)
        elif code < 0x20:
            out.append(_CONTROL.get(code, "\\u%04X" % code))
        else:
            out.append(_PLAIN.get(ch, ch))
    return "".join(out)


# --------------------------------------------------------------------------
# Java regular expressions, for the subset these templates use
# --------------------------------------------------------------------------

_JAVA_ONLY = re.compile(r"\\[zZGRXhHvVpPQE]|[*+?}]\+|\(\?<[A-Za-z]|&&|\(\?[a-zA-Z]*[uUdx]")


def java_regex(pattern):
    """Translate a Java regex into an equivalent Python one.

    Refuses constructs whose meaning differs between the two engines (possessive
    quantifiers, ``\\z``/``\\Z``, named groups, ``\\p{…}``, …). Outside a character
    class, Java's ``.`` excludes every line terminator and its ``$`` also matches
    before a final one; both are rewritten so Python behaves the same."""
    if _JAVA_ONLY.search(pattern):
        raise ValueError("regex construct not emulated: %r" % pattern)
    out, i, in_class = [], 0, False
    dotall = pattern.startswith("(?s)")
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            if c == "]":
                in_class = False
            out.append(c)
        elif c == "[":
            in_class = True
            out.append(c)
            if pattern[i + 1 : i + 2] == "^":
                out.append("^")
                i += 1
            if pattern[i + 1 : i + 2] == "]":
                out.append("\\]")
                i += 1
        elif c == "." and not dotall:
            out.append("[^\\n\\r\\u0085\\u2028\\u2029]")
        elif c == "$":
            out.append("(?=(?:\\r\\n|[\\n\\r\\u0085\\u2028\\u2029])?\\Z)")
        else:
            out.append(c)
        i += 1
    return re.compile("".join(out))


def java_full_match(pattern, text):
    """``Pattern.matches(pattern, text)``."""
    return java_regex(pattern).fullmatch(text) is not None


def java_replacement(match, replacement):
    """Expand a ``Matcher.replaceAll`` replacement: ``$n`` and ``${name}`` are
    groups, a backslash takes the next character literally."""
    out, i = [], 0
    while i < len(replacement):
        c = replacement[i]
        if c == "\\":
            if i + 1 >= len(replacement):
                raise ValueError("character to be escaped is missing")
            out.append(replacement[i + 1])
            i += 2
        elif c == "$":
            if replacement[i + 1 : i + 2] == "{":
                end = replacement.index("}", i)
                out.append(match.group(replacement[i + 2 : end]) or "")
                i = end + 1
                continue
            j = i + 1
            if j >= len(replacement) or not replacement[j].isdigit():
                raise ValueError("illegal group reference")
            group = int(replacement[j])
            j += 1
            while j < len(replacement) and replacement[j].isdigit() and group * 10 + int(replacement[j]) <= match.re.groups:
                group = group * 10 + int(replacement[j])
                j += 1
            if group > match.re.groups:
                raise IndexError("no group %d" % group)
            out.append(match.group(group) or "")
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


class JavaString(str):
    """A ``str`` with ``java.lang.String.replaceAll`` semantics."""

    def replaceAll(self, regex, replacement):  # noqa: N802 (Java name)
        compiled = java_regex(str(regex))
        return JavaString(compiled.sub(lambda m: java_replacement(m, str(replacement)), self))

    def toString(self):  # noqa: N802
        return self


class AwsVelocityUtil(VelocityUtilApiGateway):
    """``$util`` with AWS's (Java) ``escapeJavaScript``; LocalStack's escapes with
    JSON rules and keeps ``'`` as it is, which would hide the trap."""

    def escapeJavaScript(self, obj):  # noqa: N802
        if obj is None:
            return None
        if isinstance(obj, bool):
            obj = "true" if obj else "false"
        return JavaString(java_escape_javascript(str(obj)))


class AwsVtlTemplate(ApiGatewayVtlTemplate):
    def prepare_namespace(self, variables, source=None):
        if source is None:
            namespace = super().prepare_namespace(variables)
        else:
            namespace = super().prepare_namespace(variables, source)
        namespace["util"] = AwsVelocityUtil()
        return namespace


def render(template, body=None, params=None, context=None, stage_variables=None):
    """Render a mapping template as API Gateway does: ``$input`` over ``body`` and
    ``params`` ({"path","querystring","header"}), ``$context``, ``$stageVariables``."""
    variables = {
        "input": {"body": body, "params": copy.deepcopy(params or {"path": {}, "querystring": {}, "header": {}})},
        "context": copy.deepcopy(context or {}),
        "stageVariables": copy.deepcopy(stage_variables or {}),
    }
    return AwsVtlTemplate().render_vtl(template, variables)


# --------------------------------------------------------------------------
# template.yaml
# --------------------------------------------------------------------------


class CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation's short tags (!Ref, !Sub, !GetAtt, …) as their long form."""


def _cfn_tag(loader, tag_suffix, node):
    name = "Ref" if tag_suffix == "Ref" else "Fn::" + tag_suffix
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if tag_suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


CfnLoader.add_multi_constructor("!", _cfn_tag)


def load_template(path):
    with open(path, encoding="utf-8") as f:
        return yaml.load(f, Loader=CfnLoader)


def openapi_integration(template, path, method):
    api = template["Resources"]["PusherAuthApi"]["Properties"]["DefinitionBody"]
    return api["paths"][path][method]["x-amazon-apigateway-integration"]


# --------------------------------------------------------------------------
# The request and response sides of a non-proxy integration
# --------------------------------------------------------------------------


class GatewayRefusal(Exception):
    def __init__(self, status, body):
        super().__init__("%s %s" % (status, body))
        self.status = status
        self.body = body


def request_template_for(integration, content_type):
    """The template API Gateway applies: a request without Content-Type is taken
    as ``application/json``; with passthroughBehavior ``never`` an unmapped type
    is refused with 415."""
    media = (content_type or "application/json").split(";")[0].strip().lower()
    templates = integration.get("requestTemplates") or {}
    if media in templates:
        return templates[media]
    if integration.get("passthroughBehavior", "when_no_match").lower() == "never":
        raise GatewayRefusal(415, '{"message":"Unsupported Media Type"}')
    return None


def select_integration_response(integration, function_error_message):
    """The integration response for an invocation: a function error's
    ``errorMessage`` is matched (Java regex, whole string) against every
    selectionPattern; a success is matched as the empty string (so a pattern that
    matches "" would catch successes too). No match: the ``default`` response.
    Returns (pattern, response). More than one match is an error here: API
    Gateway does not promise an order."""
    subject = function_error_message if function_error_message is not None else ""
    matched = [
        (pattern, response)
        for pattern, response in integration["responses"].items()
        if pattern != "default" and java_full_match(pattern, subject)
    ]
    if len(matched) > 1:
        raise AssertionError("overlapping selection patterns for %r: %r" % (subject, [p for p, _ in matched]))
    if matched:
        return matched[0]
    return "default", integration["responses"]["default"]


def method_response_headers(response):
    headers = {}
    for target, source in (response.get("responseParameters") or {}).items():
        prefix = "method.response.header."
        assert target.startswith(prefix), target
        assert source.startswith("'") and source.endswith("'"), "only constant header values are used: %r" % source
        headers[target[len(prefix) :]] = source[1:-1]
    return headers


def integration_response(integration, lambda_payload=None, error=None):
    """Apply the integration response to an invocation's result: ``lambda_payload``
    (the success payload's JSON text) or ``error`` (the function error object).
    Returns (status, headers, body)."""
    message = None if error is None else error.get("errorMessage", "")
    _pattern, response = select_integration_response(integration, message)
    templates = response.get("responseTemplates") or {}
    template = templates.get("application/json")
    payload = lambda_payload if error is None else json.dumps(error)
    body = payload if template is None else render(template, body=payload)
    return int(response["statusCode"]), method_response_headers(response), body
