#!/usr/bin/env python3
"""README.md's teardown, run against SES on a moto server.

    check_teardown.py --endpoint http://127.0.0.1:PORT [--readme README.md] [--template infra/template.yaml]

An active receipt rule set cannot be deleted (SES answers CannotDelete), so a
bare `sam delete` of a desk whose rule set is active fails half-way. The
README's "Removing" block first deactivates the stack's own rule set when it
is the active one, then deletes the stack. This script checks that the block
holds the commands listed in TEARDOWN below, then makes the API calls those
commands make, through boto3, after creating what the stack creates:

1. The stack's own rule set (named the way CloudFormation names it), its rule
   (S3 action, then Lambda action) and the set active. DeleteReceiptRuleSet
   is refused while the set is active: what `sam delete` alone runs into.
   Then the README's calls: which set the stack made (DescribeStackResource,
   answered here from what step 1 created: moto's CloudFormation cannot run
   this template), which set is active (DescribeActiveReceiptRuleSet), no
   active set (SetActiveReceiptRuleSet without a name), and what `sam
   delete` has CloudFormation do with the two SES resources
   (DeleteReceiptRule, DeleteReceiptRuleSet). No set is active afterwards,
   and the set is gone.
2. ExistingRuleSetName: the stack's rule in another, active set that holds
   another rule too. The README's guard leaves that set active; the stack's
   delete removes only the stack's rule.
3. A new stack of the same name: CloudFormation gives its rule set a new
   name (a random suffix), so a set left behind by an earlier stack (a
   delete that failed) does not block it, where a fixed name would
   (AlreadyExists, shown here). check_deploy.py's fixed_names must find no
   fixed name in the template for anything that can outlive a stack.

moto, like SES, refuses to delete the active set: the script asserts that
refusal, so a moto that stopped refusing would fail the check instead of
letting it pass without showing anything. What moto cannot show:
DeleteReceiptRule, which moto 5.2 does not implement (it answers 500): the
script says so and goes on; for the stack's own set, DeleteReceiptRuleSet
then removes the set with its rule, as SES does, and for a shared set the
check is that the set stays active, not that the rule left it. Nor
CloudFormation's delete itself (its order, rule before set, follows from
the rule's reference to the set).

Every run also breaks things and expects each break to show: the README's
block without the deactivation, the teardown without it (SES refuses the
set's delete), a template that names its rule set.

Exit status 0 when every step held, 1 otherwise (each failure printed).
"""

from __future__ import annotations

import argparse
import io
import json
import re
import sys
import urllib.request
import uuid
import zipfile
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.parsers import ResponseParserError

sys.path.insert(0, str(Path(__file__).resolve().parent))
import check_deploy  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"

# The commands of README.md's "Removing" block, whitespace collapsed; each
# must be there, in this order. The script makes the calls they make.
TEARDOWN = [
    "OWN_SET=$(aws cloudformation describe-stack-resource --stack-name helpdesk "
    "--logical-resource-id ReceiptRuleSet --query StackResourceDetail.PhysicalResourceId "
    "--output text 2>/dev/null)",
    "ACTIVE_SET=$(aws ses describe-active-receipt-rule-set --query Metadata.Name --output text)",
    'if [ -n "$OWN_SET" ] && [ "$OWN_SET" = "$ACTIVE_SET" ]; then',
    "aws ses set-active-receipt-rule-set",
    "fi",
    "sam delete --stack-name helpdesk",
]


class Failures(list):
    def expect(self, ok: bool, what: str) -> None:
        print(f"  {'ok  ' if ok else 'FAIL'} {what}")
        if not ok:
            self.append(what)


def removing_block(readme: str) -> list[str]:
    """The commands of the first sh block after **Removing.**, comments
    dropped, continuation lines joined, whitespace collapsed."""
    start = readme.find("**Removing.**")
    if start < 0:
        return []
    block = re.search(r"```sh\n(.*?)```", readme[start:], re.S)
    if not block:
        return []
    text = block.group(1).replace("\\\n", " ")
    lines = []
    for line in text.splitlines():
        line = re.sub(r"\s+#.*$", "", line).strip()
        if line and not line.startswith("#"):
            # The pinned SAM CLI (.venv-sam/bin/sam) or one on PATH.
            lines.append(re.sub(r"^\S*/sam ", "sam ", re.sub(r"\s+", " ", line)))
    return lines


def readme_runs(readme: str) -> list[tuple[str, bool]]:
    """Each command of TEARDOWN, and whether the block runs it in order."""
    lines = removing_block(readme)
    at, out = 0, []
    for command in TEARDOWN:
        found = command in lines[at:]
        out.append((command, found))
        if found:
            at = lines.index(command, at) + 1
    return out


def check_readme(readme: str, failures: Failures) -> None:
    print("README.md's Removing block")
    for command, found in readme_runs(readme):
        failures.expect(found, f"runs: {command}")


class Account:
    """moto's SES, S3, IAM and Lambda, with what the stack makes."""

    def __init__(self, endpoint: str) -> None:
        kw = dict(endpoint_url=endpoint, region_name=REGION,
                  aws_access_key_id="testing", aws_secret_access_key="testing",
                  config=Config(retries={"max_attempts": 1}))
        self.ses = boto3.client("ses", **kw)
        self.s3 = boto3.client("s3", **kw)
        self.iam = boto3.client("iam", **kw)
        self.awslambda = boto3.client("lambda", **kw)
        run = uuid.uuid4().hex[:8]
        self.bucket = f"helpdesk-helpdeskbucket-{run}"
        self.s3.create_bucket(Bucket=self.bucket)
        role = self.iam.create_role(
            RoleName=f"helpdesk-MailIntakeFunctionRole-{run}",
            AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}),
        )["Role"]["Arn"]
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as archive:
            archive.writestr("bootstrap", "#!/bin/sh\n")
        self.function = self.awslambda.create_function(
            FunctionName=f"helpdesk-MailIntakeFunction-{run}", Runtime="provided.al2023", Role=role,
            Handler="bootstrap", Code={"ZipFile": code.getvalue()},
        )["FunctionArn"]

    def close(self) -> None:
        """Resets moto: the server is shared with later steps of scripts/test
        (run before anything else is on it), and the Lambda function made
        here, even deleted, breaks moto's /moto-api/data.json (which asks
        docker for every function it ever had), which the SES tests read."""
        endpoint = self.ses.meta.endpoint_url
        request = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=30) as answer:
            answer.read()

    @staticmethod
    def cfn_name(stack: str, logical: str) -> str:
        """A name the way CloudFormation makes one: stack, logical id, suffix."""
        return f"{stack}-{logical}-{uuid.uuid4().hex[:12].upper()}"

    def make_rule(self, rule_set: str) -> str:
        """The stack's ReceiptRule in a set: S3 action, then Lambda action."""
        name = self.cfn_name("helpdesk", "ReceiptRule")
        self.ses.create_receipt_rule(RuleSetName=rule_set, Rule={
            "Name": name, "Enabled": True, "ScanEnabled": True, "TlsPolicy": "Optional",
            "Recipients": ["support@example.com", "help@example.com"],
            "Actions": [
                {"S3Action": {"BucketName": self.bucket, "ObjectKeyPrefix": "raw/"}},
                {"LambdaAction": {"FunctionArn": self.function, "InvocationType": "Event"}},
            ],
        })
        return name

    def active(self) -> str | None:
        return (self.ses.describe_active_receipt_rule_set().get("Metadata") or {}).get("Name")

    def sets(self) -> set[str]:
        return {s["Name"] for s in self.ses.list_receipt_rule_sets().get("RuleSets", [])}

    def rules(self, rule_set: str) -> set[str]:
        return {r["Name"] for r in self.ses.describe_receipt_rule_set(RuleSetName=rule_set).get("Rules", [])}

    def error_code(self, call, **kw) -> str | None:
        try:
            call(**kw)
        except ClientError as err:
            return err.response["Error"]["Code"]
        return None

    def teardown(self, own_set: str | None, rule: str, rule_set: str, deactivate: bool = True) -> bool:
        """The README's block: the guard, the deactivation, `sam delete`
        (CloudFormation deletes the rule, then the set it made). False when
        moto could not delete the rule."""
        active = self.active()                      # describe-active-receipt-rule-set
        if deactivate and own_set and own_set == active:   # OWN_SET from describe-stack-resource
            self.ses.set_active_receipt_rule_set()  # set-active-receipt-rule-set, no name
        try:
            self.ses.delete_receipt_rule(RuleSetName=rule_set, RuleName=rule)
            deleted = True
        except ResponseParserError:                 # moto: "not implemented", a 500 page
            print("  note DeleteReceiptRule is not implemented by this moto; the rule stays in moto")
            deleted = False
        if own_set:
            self.ses.delete_receipt_rule_set(RuleSetName=own_set)
        return deleted


def own_set(account: Account, failures: Failures) -> None:
    print("1. the stack's own rule set, active")
    rule_set = account.cfn_name("helpdesk", "ReceiptRuleSet")
    account.ses.create_receipt_rule_set(RuleSetName=rule_set)
    rule = account.make_rule(rule_set)
    account.ses.set_active_receipt_rule_set(RuleSetName=rule_set)
    failures.expect(account.active() == rule_set, "the set is active after set-active-receipt-rule-set --rule-set-name")
    code = account.error_code(account.ses.delete_receipt_rule_set, RuleSetName=rule_set)
    failures.expect(code == "CannotDelete",
                    f"deleting the active set is refused, as `sam delete` alone would be (moto answered {code or 'OK'})")
    account.teardown(rule_set, rule, rule_set)
    failures.expect(account.active() is None, "after the README's block no rule set is active")
    failures.expect(rule_set not in account.sets(), "and the stack's rule set is deleted")


def existing_set(account: Account, failures: Failures) -> None:
    print("2. ExistingRuleSetName: the stack's rule in the account's active set")
    shared = "mail-routing"
    account.ses.create_receipt_rule_set(RuleSetName=shared)
    account.ses.create_receipt_rule(RuleSetName=shared, Rule={
        "Name": "other-desk", "Enabled": True, "Recipients": ["sales@example.com"],
        "Actions": [{"S3Action": {"BucketName": account.bucket, "ObjectKeyPrefix": "sales/"}}],
    })
    account.ses.set_active_receipt_rule_set(RuleSetName=shared)
    rule = account.make_rule(shared)
    rule_deleted = account.teardown(None, rule, shared)
    failures.expect(account.active() == shared, "the shared set is still active")
    failures.expect("other-desk" in account.rules(shared), "the other desk's rule is still in it")
    if rule_deleted:
        failures.expect(rule not in account.rules(shared), "the stack's rule left it")
    account.ses.set_active_receipt_rule_set()
    account.ses.delete_receipt_rule_set(RuleSetName=shared)


def recreate(account: Account, template: dict, failures: Failures) -> None:
    print("3. a new stack of the same name, with the old stack's set left behind")
    left = account.cfn_name("helpdesk", "ReceiptRuleSet")
    account.ses.create_receipt_rule_set(RuleSetName=left)
    account.ses.set_active_receipt_rule_set(RuleSetName=left)
    new = account.cfn_name("helpdesk", "ReceiptRuleSet")
    code = account.error_code(account.ses.create_receipt_rule_set, RuleSetName=new)
    failures.expect(code is None and new != left, "the new stack's set (a new CloudFormation name) is created")
    code = account.error_code(account.ses.create_receipt_rule_set, RuleSetName=left)
    failures.expect(code == "AlreadyExists",
                    f"a fixed name would collide with the set left behind (moto answered {code or 'OK'})")
    fixed = check_deploy.fixed_names(template)
    failures.expect(not fixed, "the template gives nothing that can outlive a stack a fixed name"
                    + "".join(f"\n       {f}" for f in fixed))
    account.ses.set_active_receipt_rule_set()
    for name in (left, new):
        account.ses.delete_receipt_rule_set(RuleSetName=name)


def breaks(account: Account, readme: str, template: dict) -> list[str]:
    """Each break must show; the names of those that did not."""
    missed = []
    without = readme.replace("\n  aws ses set-active-receipt-rule-set", "\n  true")
    if without == readme or all(found for _, found in readme_runs(without)):
        missed.append("the README's block without the deactivation was not told apart")
    rule_set = account.cfn_name("helpdesk", "ReceiptRuleSet")
    account.ses.create_receipt_rule_set(RuleSetName=rule_set)
    rule = account.make_rule(rule_set)
    account.ses.set_active_receipt_rule_set(RuleSetName=rule_set)
    try:
        account.teardown(rule_set, rule, rule_set, deactivate=False)
        missed.append("the teardown without the deactivation deleted the active set")
    except ClientError as err:
        if err.response["Error"]["Code"] != "CannotDelete":
            missed.append(f"the teardown without the deactivation failed with {err.response['Error']['Code']}")
    account.ses.set_active_receipt_rule_set()
    account.ses.delete_receipt_rule_set(RuleSetName=rule_set)
    named = json.loads(json.dumps(template))
    named["Resources"]["ReceiptRuleSet"].setdefault("Properties", {})["RuleSetName"] = {
        "Fn::Sub": "${AWS::StackName}-receipt-rules"}
    if not check_deploy.fixed_names(named):
        missed.append("a template that names its rule set was not reported")
    return missed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoint", required=True, help="moto server URL, http://127.0.0.1:PORT")
    parser.add_argument("--readme", type=Path, default=ROOT / "README.md")
    parser.add_argument("--template", type=Path, default=ROOT / "infra" / "template.yaml")
    args = parser.parse_args()

    failures = Failures()
    check_readme(args.readme.read_text(encoding="utf-8"), failures)
    account = Account(args.endpoint)
    try:
        return check(account, args, failures)
    finally:
        account.close()


def check(account: "Account", args: argparse.Namespace, failures: "Failures") -> int:
    if account.active() is not None:
        print(f"moto has an active rule set already ({account.active()}); run against a fresh or reset server",
              file=sys.stderr)
        return 1
    own_set(account, failures)
    existing_set(account, failures)
    template = check_deploy.load(args.template)
    recreate(account, template, failures)
    print("breaks (each must show)")
    missed = breaks(account, args.readme.read_text(encoding="utf-8"), template)
    for what in missed:
        failures.expect(False, what)
    if not missed:
        print("  ok   the README without the deactivation, the teardown without it, a named rule set")
    if failures:
        print(f"teardown check: {len(failures)} failed", file=sys.stderr)
        return 1
    print("teardown check: the README's removal deactivates only the stack's own set, the stack's SES "
          "resources then delete, and a new stack of the same name is not blocked")
    return 0


if __name__ == "__main__":
    sys.exit(main())
