#!/usr/bin/env python3
"""Creates, in a running moto server, the table and the bucket that
infra/template.yaml creates on AWS, so that the form intake Lambda can be
run locally exactly as deployed (HELPDESK_STORE=dynamodb, HELPDESK_BLOBS
s3://...).

    moto_setup.py --endpoint http://127.0.0.1:PORT --table NAME --bucket NAME
                  [--template infra/template.yaml]

The table is made from the template's own HelpdeskTable properties (keys,
index, billing, stream, TTL), so a function that works against it works
against the table the template deploys. Needs boto3 (installed with moto)
and cfn-lint (for its CloudFormation YAML loader).
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
    parser.add_argument("--table", required=True)
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--template", type=Path, default=ROOT / "infra" / "template.yaml")
    parser.add_argument("--region", default="us-east-1")
    args = parser.parse_args()

    template = json.loads(json.dumps(cfn_yaml.load(str(args.template))))
    props = template["Resources"]["HelpdeskTable"]["Properties"]

    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=args.region
    )
    dynamodb = session.client("dynamodb", endpoint_url=args.endpoint)
    s3 = session.client("s3", endpoint_url=args.endpoint)

    dynamodb.create_table(**table_request(props, args.table))
    dynamodb.get_waiter("table_exists").wait(TableName=args.table, WaiterConfig={"Delay": 0.2, "MaxAttempts": 50})
    ttl = props.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        dynamodb.update_time_to_live(
            TableName=args.table,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
        )
    s3.create_bucket(Bucket=args.bucket)
    print(f"moto: table {args.table} (as infra/template.yaml's HelpdeskTable) and bucket {args.bucket} created")
    return 0


if __name__ == "__main__":
    sys.exit(main())
