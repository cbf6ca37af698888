"""Sets a secret's current value on a moto server, as a rotation would, with boto3:
put-secret-value, or create-secret when moto does not have it (a restarted server).

Usage: moto_put_secret.py http://127.0.0.1:PORT KEY_ID KEY_SECRET NAME  (the value on stdin)
"""

import sys

import boto3

endpoint, key_id, key_secret, name = sys.argv[1:5]
value = sys.stdin.read()
sm = boto3.client("secretsmanager", endpoint_url=endpoint, region_name="eu-west-1",
                  aws_access_key_id=key_id, aws_secret_access_key=key_secret)
try:
    sm.put_secret_value(SecretId=name, SecretString=value)
except sm.exceptions.ResourceNotFoundException:
    sm.create_secret(Name=name, SecretString=value)
