"""Creates a user pool with a custom attribute and one app client per WriteAttributes case in
a fresh moto server, for tests/e2e/deploy_sh.test.mjs (the Cognito check of scripts/deploy.sh).

Usage: cognito_clients.py http://127.0.0.1:PORT
  -> prints {"pool": ID, "clients": {case: CLIENT_ID}} on stdout."""

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
print(json.dumps({"pool": pool, "clients": clients}))
