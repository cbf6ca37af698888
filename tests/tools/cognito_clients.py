"""Creates a user pool with a custom attribute and one app client per WriteAttributes case in
a fresh moto server, for tests/e2e/deploy_sh.test.mjs (the Cognito check of scripts/deploy.sh);
and, for docs/deploy.md's ID-token recipe, an app client allowing USER_PASSWORD_AUTH with two
users: one with a permanent password (every character the CLI's shorthand syntax trips on), one
with a temporary password only (FORCE_CHANGE_PASSWORD).

Usage: cognito_clients.py http://127.0.0.1:PORT
  -> prints {"pool": ID, "clients": {case: CLIENT_ID},
             "users": {name: {"sub": SUB, "password": PASSWORD}}} on stdout."""

import json
import sys

import boto3

cognito = boto3.client("cognito-idp", endpoint_url=sys.argv[1], region_name="eu-west-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
pool = cognito.create_user_pool(
    PoolName="deploy-check",
    Schema=[{"Name": "org_id", "AttributeDataType": "String", "Mutable": True}],
)["UserPool"]["Id"]
cases = {
    "org-writable": ["name", "custom:org_id"],
    "read-only-org": ["name", "email"],  # email without email_verified: never trusted unverified
    "email-and-verified": ["email", "email_verified"],
    "no-write-attributes": None,  # absent: every attribute is writable
}
clients = {}
for case, write in cases.items():
    extra = {} if write is None else {"WriteAttributes": write}
    clients[case] = cognito.create_user_pool_client(UserPoolId=pool, ClientName=case, **extra)["UserPoolClient"]["ClientId"]
clients["password-auth"] = cognito.create_user_pool_client(
    UserPoolId=pool, ClientName="password-auth",
    ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
)["UserPoolClient"]["ClientId"]
# The recipe's test user, with a permanent password holding what breaks the CLI's shorthand
# syntax (`--auth-parameters "USERNAME=...,PASSWORD=..."`: , " ' ] }) and what breaks
# careless shell quoting ($ ` \ and a space); and a user with a temporary password only.
passwords = {"smoke-user": "Pa,ss=w\"o'r{d}[1] $x`y`\\z!", "new-user": "Temporary1!"}
cognito.admin_create_user(UserPoolId=pool, Username="smoke-user", MessageAction="SUPPRESS")
cognito.admin_set_user_password(UserPoolId=pool, Username="smoke-user", Password=passwords["smoke-user"],
                                Permanent=True)
cognito.admin_create_user(UserPoolId=pool, Username="new-user", TemporaryPassword=passwords["new-user"],
                          MessageAction="SUPPRESS")
users = {}
for name, password in passwords.items():
    attributes = cognito.admin_get_user(UserPoolId=pool, Username=name)["UserAttributes"]
    users[name] = {"sub": next(a["Value"] for a in attributes if a["Name"] == "sub"), "password": password}
print(json.dumps({"pool": pool, "clients": clients, "users": users}))
