#!/usr/bin/env python3
"""Creates, in a running moto server, what infra/template.yaml creates on
AWS (and what SES would have stored), so that the Lambda functions can be
run locally exactly as deployed (HELPDESK_STORE=dynamodb, HELPDESK_BLOBS
s3://..., HELPDESK_MAIL_TRANSPORT=ses).

    moto_setup.py --endpoint http://127.0.0.1:PORT [--table NAME]
                  [--bucket NAME ...] [--ses-identity ADDRESS ...]
                  [--objects MANIFEST] [--secret NAME=JSON ...]
                  [--template infra/template.yaml]

--table      a table made from the template's own HelpdeskTable properties
             (keys, index, billing, stream, TTL), so a function that works
             against it works against the table the template deploys
--bucket     a bucket (repeatable)
--ses-identity
             an SES sender identity, created (and thereby verified: moto
             verifies at once) through SES v2 and v1, which the `ses` mail
             transport needs before it may send from ADDRESS (repeatable)
--objects    a manifest such as events/mail-intake/objects.json
             ({"bucket": B, "objects": {KEY: FILE}}, FILE relative to the
             manifest): creates the bucket if needed and uploads every
             object, the way SES's S3 action would have stored raw mail
--secret     a Secrets Manager secret NAME whose value is JSON (an object of
             secret names to values, as the template's HelpdeskSecrets),
             which a function named by HELPDESK_SECRETS=NAME reads at start
             (repeatable)
--user-pool  a Cognito user pool NAME with an app client that allows
             USER_PASSWORD_AUTH, as the template's AgentUserPool and its
             client; their ids are written as JSON ({"pool": ID,
             "client": ID}) to --user-pool-out FILE

Needs boto3 (installed with moto) and cfn-lint (for its CloudFormation YAML
loader).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import boto3
from cfnlint.decode import cfn_yaml

ROOT = Path(__file__).resolve().parents[2]


def table_request(props: dict, name: str) -> dict:
    """CreateTable parameters from AWS::DynamoDB::Table properties."""
    request: dict = {
        "TableName": name,
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": props.get("BillingMode", "PROVISIONED"),
    }
    if props.get("GlobalSecondaryIndexes"):
        request["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
    stream = props.get("StreamSpecification")
    if stream:
        request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
    return request


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--table")
    parser.add_argument("--bucket", action="append", default=[])
    parser.add_argument("--ses-identity", action="append", default=[])
    parser.add_argument("--objects", type=Path, help="manifest of objects to upload")
    parser.add_argument("--secret", action="append", default=[])
    parser.add_argument("--user-pool")
    parser.add_argument("--user-pool-out", type=Path)
    parser.add_argument("--template", type=Path, default=ROOT / "infra" / "template.yaml")
    parser.add_argument("--region", default="us-east-1")
    args = parser.parse_args()

    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=args.region
    )
    done = []

    if args.table:
        template = json.loads(json.dumps(cfn_yaml.load(str(args.template))))
        props = template["Resources"]["HelpdeskTable"]["Properties"]
        dynamodb = session.client("dynamodb", endpoint_url=args.endpoint)
        dynamodb.create_table(**table_request(props, args.table))
        dynamodb.get_waiter("table_exists").wait(TableName=args.table, WaiterConfig={"Delay": 0.2, "MaxAttempts": 50})
        ttl = props.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            dynamodb.update_time_to_live(
                TableName=args.table,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
            )
        done.append(f"table {args.table} (as infra/template.yaml's HelpdeskTable)")

    s3 = session.client("s3", endpoint_url=args.endpoint)
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}

    def bucket(name: str) -> None:
        if name not in existing:
            s3.create_bucket(Bucket=name)
            existing.add(name)
            done.append(f"bucket {name}")

    for name in args.bucket:
        bucket(name)

    if args.objects:
        manifest = json.loads(args.objects.read_text(encoding="utf-8"))
        bucket(manifest["bucket"])
        for key, file in manifest["objects"].items():
            body = (args.objects.parent / file).read_bytes()
            s3.put_object(Bucket=manifest["bucket"], Key=key, Body=body, ContentType="message/rfc822")
        done.append(f"{len(manifest['objects'])} objects in {manifest['bucket']} (from {args.objects.name})")

    if args.ses_identity:
        sesv2 = session.client("sesv2", endpoint_url=args.endpoint)
        ses = session.client("ses", endpoint_url=args.endpoint)
        for address in args.ses_identity:
            sesv2.create_email_identity(EmailIdentity=address)
            ses.verify_email_identity(EmailAddress=address)
            done.append(f"SES identity {address}")

    if args.secret:
        secretsmanager = session.client("secretsmanager", endpoint_url=args.endpoint)
        for given in args.secret:
            name, value = given.split("=", 1)
            json.loads(value)  # the functions refuse anything but JSON
            secretsmanager.create_secret(Name=name, SecretString=value)
            done.append(f"secret {name}")

    if args.user_pool:
        if not args.user_pool_out:
            parser.error("--user-pool needs --user-pool-out FILE")
        cognito = session.client("cognito-idp", endpoint_url=args.endpoint)
        pool = cognito.create_user_pool(
            PoolName=args.user_pool,
            Policies={"PasswordPolicy": {"MinimumLength": 12}},
            AdminCreateUserConfig={"AllowAdminCreateUserOnly": True},
        )["UserPool"]["Id"]
        client = cognito.create_user_pool_client(
            UserPoolId=pool,
            ClientName="agents",
            GenerateSecret=False,
            ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        )["UserPoolClient"]["ClientId"]
        args.user_pool_out.write_text(json.dumps({"pool": pool, "client": client}), encoding="utf-8")
        done.append(f"user pool {args.user_pool} ({pool}) and its app client")

    print("moto: " + ("; ".join(done) if done else "nothing to do"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
