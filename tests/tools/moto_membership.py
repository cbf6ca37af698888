"""Prepares a fresh moto server for tests/it/membership.rs (and the browser scenario), with boto3.

  moto_membership.py setup URL [--no-iam]  -> JSON on stdout: the keys made
  moto_membership.py put URL KEY_ID SECRET CHANNEL USER [USER_INFO_JSON]
  moto_membership.py delete URL KEY_ID SECRET CHANNEL USER

setup (moto with INITIAL_NO_AUTH_ACTION_COUNT=3, unless --no-iam): an admin user; the table
`chat-members` as template.yaml creates it (on-demand, string keys `channel` and `user_id`) and a
second table `other-members`; the IAM user `function` with the function role's actions
(dynamodb:GetItem and dynamodb:BatchGetItem; moto checks actions, not a policy's resources, so
the table-alone resource is checked on template.yaml by tests/deploy instead); the IAM user
`nobody` with no permission; a few items.
"""

import json
import sys

import boto3
from boto3.dynamodb.types import TypeSerializer

region = "eu-west-1"
TABLE = "chat-members"


def client(service, endpoint, key_id="testing", secret="testing"):
    return boto3.client(service, endpoint_url=endpoint, region_name=region,
                        aws_access_key_id=key_id, aws_secret_access_key=secret)


def create_table(ddb, name):
    ddb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "channel", "AttributeType": "S"},
                              {"AttributeName": "user_id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "channel", "KeyType": "HASH"},
                   {"AttributeName": "user_id", "KeyType": "RANGE"}],
    )
    return ddb.describe_table(TableName=name)["Table"]["TableArn"]


def put(ddb, table, channel, user, user_info=None):
    item = {"channel": {"S": channel}, "user_id": {"S": user}}
    if user_info is not None:
        item["user_info"] = TypeSerializer().serialize(user_info)
    ddb.put_item(TableName=table, Item=item)


def setup(endpoint, iam_on):
    admin = {"id": "testing", "secret": "testing"}
    if iam_on:
        allow_all = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
        iam = client("iam", endpoint)
        iam.create_user(UserName="admin")
        iam.put_user_policy(UserName="admin", PolicyName="all", PolicyDocument=json.dumps(allow_all))
        key = iam.create_access_key(UserName="admin")["AccessKey"]
        admin = {"id": key["AccessKeyId"], "secret": key["SecretAccessKey"]}
    ddb = client("dynamodb", endpoint, admin["id"], admin["secret"])
    arn = create_table(ddb, TABLE)
    create_table(ddb, "other-members")
    function = nobody = admin
    if iam_on:
        iam = client("iam", endpoint, admin["id"], admin["secret"])
        read = {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:BatchGetItem"], "Resource": "*"}]}
        iam.create_user(UserName="function")
        iam.put_user_policy(UserName="function", PolicyName="read", PolicyDocument=json.dumps(read))
        key = iam.create_access_key(UserName="function")["AccessKey"]
        function = {"id": key["AccessKeyId"], "secret": key["SecretAccessKey"]}
        iam.create_user(UserName="nobody")
        key = iam.create_access_key(UserName="nobody")["AccessKey"]
        nobody = {"id": key["AccessKeyId"], "secret": key["SecretAccessKey"]}
    put(ddb, TABLE, "presence-chat-42", "demo-user", {"name": "Not Demo", "role": "moderator", "since": 2024})
    put(ddb, TABLE, "private-chat-42", "demo-user")
    put(ddb, TABLE, "private-chat-7", "demo-user")
    put(ddb, TABLE, "private-chat-9", "someone-else")
    put(ddb, "other-members", "private-chat-1", "demo-user")
    json.dump({"admin": admin, "function": function, "nobody": nobody, "table_arn": arn}, sys.stdout)


def main(argv):
    command, endpoint = argv[1], argv[2]
    if command == "setup":
        setup(endpoint, "--no-iam" not in argv)
        return
    key_id, secret, channel, user = argv[3:7]
    ddb = client("dynamodb", endpoint, key_id, secret)
    if command == "put":
        put(ddb, TABLE, channel, user, json.loads(argv[7]) if len(argv) > 7 else None)
    elif command == "delete":
        ddb.delete_item(TableName=TABLE, Key={"channel": {"S": channel}, "user_id": {"S": user}})
    else:
        sys.exit(f"unknown command {command}")


if __name__ == "__main__":
    main(sys.argv)
