"""Writes tests/fixtures/sigv4.json: the Authorization header botocore (the
AWS SDK for Python) computes for a Secrets Manager GetSecretValue request with
a session token, at a fixed time. src/aws/secrets_manager.rs's tests check the crate's signer
gives the same. Run with the moto venv's python (it has botocore):
  ~/.cache/pusher-auth-lambda/venv-moto/bin/python tests/tools/sigv4_vector.py
"""

import datetime
import json
from unittest import mock

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

case = {
    "url": "https://secretsmanager.eu-west-1.amazonaws.com/",
    "region": "eu-west-1",
    "service": "secretsmanager",
    "amz_date": "20261121T120000Z",
    "access_key_id": "ASIAEXAMPLEKEYID0001",
    "secret_access_key": "exampleSecretAccessKey/with+chars=",
    "session_token": "IQoJb3JpZ2luX2VjEXAMPLE//token+with/slashes==",
    "body": '{"SecretId":"arn:aws:secretsmanager:eu-west-1:123456789012:secret:pusher/staging-AbCdEf"}',
    "target": "secretsmanager.GetSecretValue",
}
request = AWSRequest(method="POST", url=case["url"], data=case["body"].encode(), headers={
    "Content-Type": "application/x-amz-json-1.1",
    "X-Amz-Target": case["target"],
})
fixed = datetime.datetime(2026, 11, 21, 12, 0, 0)
with mock.patch("botocore.auth.get_current_datetime", return_value=fixed):
    SigV4Auth(Credentials(case["access_key_id"], case["secret_access_key"], case["session_token"]),
              case["service"], case["region"]).add_auth(request)
assert request.headers["X-Amz-Date"] == case["amz_date"], request.headers["X-Amz-Date"]
case["authorization"] = request.headers["Authorization"]
with open("tests/fixtures/sigv4.json", "w") as f:
    json.dump(case, f, indent=2)
    f.write("\n")
print(case["authorization"])
