"""Prepares a fresh moto server for tests/it/secrets_manager.rs, with boto3.

moto runs with INITIAL_NO_AUTH_ACTION_COUNT=3: its first three requests are
unauthenticated and create an admin user; from then on moto checks every
request's SigV4 signature and IAM policy, including the function's.

Usage: moto_setup.py http://127.0.0.1:PORT  -> prints JSON on stdout.
"""

import json
import sys

import boto3

endpoint = sys.argv[1]
region = "eu-west-1"


def client(service, key_id="testing", secret="testing"):
    return boto3.client(service, endpoint_url=endpoint, region_name=region,
                        aws_access_key_id=key_id, aws_secret_access_key=secret)


allow_all = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
iam = client("iam")
iam.create_user(UserName="admin")
iam.put_user_policy(UserName="admin", PolicyName="all", PolicyDocument=json.dumps(allow_all))
admin_key = iam.create_access_key(UserName="admin")["AccessKey"]

iam = client("iam", admin_key["AccessKeyId"], admin_key["SecretAccessKey"])
sm = client("secretsmanager", admin_key["AccessKeyId"], admin_key["SecretAccessKey"])
read_secrets = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]}
iam.create_user(UserName="function")
iam.put_user_policy(UserName="function", PolicyName="read", PolicyDocument=json.dumps(read_secrets))
function_key = iam.create_access_key(UserName="function")["AccessKey"]
iam.create_user(UserName="nobody")
nobody_key = iam.create_access_key(UserName="nobody")["AccessKey"]

staging_value = "moto-staging-app-secret-7f3a"
production_secret = "moto-production-app-secret-91c2"
production_master = "bW90by1wcm9kdWN0aW9uLW1hc3Rlci1rZXktMzJiISE="  # "moto-production-master-key-32b!!"
staging = sm.create_secret(Name="pusher/staging", SecretString=staging_value)
production = sm.create_secret(
    Name="pusher/production",
    SecretString=json.dumps({"secret": production_secret, "encryptionMasterKeyBase64": production_master}),
)
broken = sm.create_secret(Name="pusher/broken", SecretString=" padded-secret\n")

json.dump({
    "admin": {"id": admin_key["AccessKeyId"], "secret": admin_key["SecretAccessKey"]},
    "function": {"id": function_key["AccessKeyId"], "secret": function_key["SecretAccessKey"]},
    "nobody": {"id": nobody_key["AccessKeyId"], "secret": nobody_key["SecretAccessKey"]},
    "staging": {"arn": staging["ARN"], "secret": staging_value},
    "production": {"arn": production["ARN"], "secret": production_secret, "master": production_master},
    "broken": {"arn": broken["ARN"]},
}, sys.stdout)
