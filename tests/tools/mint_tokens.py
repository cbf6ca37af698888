#!/usr/bin/env python3
"""Mints the JWT test fixtures (tests/fixtures/tokens.json) with PyJWT and
`cryptography`, an implementation independent of the Rust code under test.

    python3 -m pip install 'pyjwt[crypto]==2.15.1'
    python3 tests/tools/mint_tokens.py > tests/fixtures/tokens.json

Keys are generated afresh on each run; the committed file is one run's output.
Valid tokens expire in 2100; the refused ones each break exactly one rule.
"""
import base64
import hashlib
import hmac
import json

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

FUTURE = 4102444800  # 2100-01-01
PAST = 1600000000  # 2020-09-13
ISSUER = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_TEST"
AUDIENCE = "pusher-auth-test"
HS_SECRET = "test-jwt-secret-0123456789abcdef-0123456789"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwk(public_key, algorithm, kid, alg):
    key = json.loads(algorithm.to_jwk(public_key))
    key.update({"kid": kid, "alg": alg, "use": "sig"})
    return key


rsa1 = rsa.generate_private_key(public_exponent=65537, key_size=2048)
rsa2 = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ec1 = ec.generate_private_key(ec.SECP256R1())

jwks = {"keys": [jwk(rsa1.public_key(), RSAAlgorithm, "rsa-1", "RS256"), jwk(ec1.public_key(), ECAlgorithm, "ec-1", "ES256")]}
jwks_rotated = {"keys": jwks["keys"] + [jwk(rsa2.public_key(), RSAAlgorithm, "rsa-2", "RS256")]}

base = {"sub": "user-1", "name": "Ada Lovelace", "org": "acme", "iss": ISSUER, "aud": AUDIENCE, "exp": FUTURE}


def without(*names):
    return {k: v for k, v in base.items() if k not in names}


def rs(claims, kid="rsa-1", key=rsa1, alg="RS256", headers=None):
    return jwt.encode(claims, key, algorithm=alg, headers={"kid": kid, **(headers or {})})


def rs_raw(claims):
    """Claims PyJWT's encoder refuses (an `iss` that is not a string), signed as they are."""
    return jwt.PyJWS().encode(json.dumps(claims).encode(), rsa1, algorithm="RS256", headers={"kid": "rsa-1", "typ": "JWT"})


def hand_signed(header, claims, secret: bytes):
    signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
    sig = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64url(sig)


rsa1_public_pem = rsa1.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
valid_rs = rs(base)
tampered = valid_rs.rsplit(".", 1)[0] + "." + b64url(b"\0" * 256)

tokens = {
    "valid_rs256": valid_rs,
    "valid_es256": jwt.encode({**base, "sub": "user-2"}, ec1, algorithm="ES256", headers={"kid": "ec-1"}),
    "valid_hs256": jwt.encode({**base, "sub": "user-3"}, HS_SECRET, algorithm="HS256"),
    "valid_rs256_rotated_key": rs({**base, "sub": "user-4"}, kid="rsa-2", key=rsa2),
    "valid_rs256_other_user": rs({**base, "sub": "user-5", "name": "Grace Hopper"}),
    "expired": rs({**base, "exp": PAST}),
    "not_yet_valid": rs({**base, "nbf": FUTURE - 10}),
    "exp_as_string": rs({**base, "exp": str(FUTURE)}),
    "nbf_as_string": rs({**base, "nbf": "0"}),
    "no_exp": rs({k: v for k, v in base.items() if k != "exp"}),
    "no_sub": rs({k: v for k, v in base.items() if k != "sub"}),
    "sub_too_long": rs({**base, "sub": "u" * 129}),
    "wrong_issuer": rs({**base, "iss": "https://evil.example"}),
    "wrong_audience": rs({**base, "aud": "someone-else"}),
    "alg_none": jwt.encode(base, None, algorithm="none"),
    "alg_not_allowed": rs(base, alg="RS384"),
    "hs_rs_confusion": hand_signed({"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}, base, rsa1_public_pem),
    "jku_header": rs(base, headers={"jku": "https://evil.example/jwks.json"}),
    "x5u_header": rs(base, headers={"x5u": "https://evil.example/cert.pem"}),
    "jwk_header": rs(base, headers={"jwk": jwk(rsa1.public_key(), RSAAlgorithm, "rsa-1", "RS256")}),
    "bad_signature": tampered,
    "malformed": "not.a.token!",
    "too_large": rs({**base, "pad": "x" * 9000}),
    "hs256_wrong_secret": jwt.encode(base, "another-secret-0123456789abcdef-0123", algorithm="HS256"),
    # Issuer and audience are required claims when configured (issue 9, hole 1).
    "no_issuer": rs(without("iss")),
    "issuer_null": rs_raw({**base, "iss": None}),
    "issuer_as_list": rs_raw({**base, "iss": [ISSUER]}),
    "no_audience": rs(without("aud")),
    "audience_null": rs({**base, "aud": None}),
    "audience_list_with_ours": rs({**base, "sub": "user-6", "aud": ["other-client", AUDIENCE]}),
    "audience_list_without_ours": rs({**base, "aud": ["other-client"]}),
    "audience_list_not_strings": rs({**base, "aud": [AUDIENCE, 7]}),
    "audience_number": rs({**base, "aud": 7}),
    # Cognito: ID tokens carry aud and token_use "id"; access tokens carry no aud,
    # token_use "access" and client_id.
    "cognito_id_token": rs({**base, "sub": "user-7", "token_use": "id", "cognito:username": "ada"}),
    "cognito_access_token": rs({**without("aud"), "sub": "user-8", "token_use": "access", "client_id": AUDIENCE}),
    "access_token_other_client": rs({**without("aud"), "token_use": "access", "client_id": "other-client"}),
    "access_token_without_client_id": rs({**without("aud"), "token_use": "access"}),
    "id_token_without_audience": rs({**without("aud"), "token_use": "id", "client_id": AUDIENCE}),
    "token_use_refresh": rs({**base, "token_use": "refresh"}),
    "token_use_not_a_string": rs({**base, "token_use": ["id"]}),
    "client_id_without_token_use": rs({**without("aud"), "client_id": AUDIENCE}),
    # RFC 7515 §4.1.11: no JWS extension is understood, so any `crit` is refused.
    "crit_header": rs(base, headers={"crit": ["exp"]}),
    "crit_header_b64": rs(base, headers={"crit": ["b64"], "b64": True}),
    # Users whose claim values would cross tenants under ambiguous rules (hole 4).
    "org_acme_corp": rs({**base, "sub": "user-10", "org": "acme-corp"}),
    "org_a_sub_b_c": rs({**base, "sub": "b-c", "org": "a"}),
    "org_a_b_sub_c": rs({**base, "sub": "c", "org": "a-b"}),
    # USER_ID_CLAIM, WATCHLIST_CLAIM and list claims (issue 12).
    "cognito_username": rs({**base, "sub": "0d6e2f4a-7b1c-4e5f-9a8b-3c2d1e0f9a8b", "cognito:username": "ada.lovelace",
                            "email": "ada@example.com", "cognito:groups": ["staff", "admins"]}),
    "username_with_control_character": rs({**base, "cognito:username": "ada\nlovelace"}),
    "username_too_long": rs({**base, "cognito:username": "a" * 129}),
    "with_watchlist": rs({**base, "sub": "user-11", "friends": ["user-1", "user-2"]}),
    "watchlist_too_long": rs({**base, "sub": "user-12", "friends": [f"user-{i}" for i in range(101)]}),
    "watchlist_not_strings": rs({**base, "sub": "user-13", "friends": ["user-1", 2]}),
    "watchlist_bad_id": rs({**base, "sub": "user-14", "friends": ["user-1", ""]}),
    "watchlist_not_a_list": rs({**base, "sub": "user-15", "friends": "user-1"}),
    # HMAC with no JWT_AUDIENCE configured: a token with an aud is refused (RFC 7519 §4.1.3).
    "hs256_with_audience": jwt.encode({**base, "sub": "user-9"}, HS_SECRET, algorithm="HS256"),
    "hs256_without_audience": jwt.encode({**without("aud"), "sub": "user-9"}, HS_SECRET, algorithm="HS256"),
}

print(json.dumps({
    "generator": f"PyJWT {jwt.__version__} (tests/tools/mint_tokens.py)",
    "issuer": ISSUER,
    "audience": AUDIENCE,
    "hs_secret": HS_SECRET,
    "jwks": jwks,
    "jwks_rotated": jwks_rotated,
    "tokens": tokens,
}, indent=2))
