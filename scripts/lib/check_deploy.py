#!/usr/bin/env python3
"""The deploy path the READMEs describe, checked against the template.

What cfn-lint and `sam validate` cannot see, and an operator following
README.md's "Deploying to AWS" would trip over:

- every stack output the READMEs name exists, and infra/README.md lists
  exactly the template's outputs;
- every parameter the README's non-guided `sam deploy` passes exists;
- `ReplyTokenSecret` takes nothing or 32 characters and more, not 31;
- the rule `SesReceivesMailHere` exists, and the regions it allows are the
  ones the README names;
- every DynamoDB table and S3 bucket is kept on delete, but not after a
  failed first create (`RetainExceptOnCreate`), and no table has deletion
  protection, which would stop that rollback;
- no name built from the stack name can pass its length limit, whatever
  the stack is called (CloudFormation names what need not be named).

Usage: check_deploy.py [--template infra/template.yaml]; exit 1 on any
finding, each printed with what to fix.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from cfnlint.decode import cfn_yaml

ROOT = Path(__file__).resolve().parents[2]
STATEFUL = ("AWS::DynamoDB::Table", "AWS::S3::Bucket")


def load(path: Path) -> dict:
    return json.loads(json.dumps(cfn_yaml.load(str(path))))


def named_outputs(readme: str) -> set[str]:
    """Outputs a README names: `X` output, <X output>, OutputKey=='X'."""
    found = set(re.findall(r"`(\w+)` output", readme))
    found |= set(re.findall(r"<(\w+) output>", readme))
    found |= set(re.findall(r"OutputKey==\s*'(\w+)'", readme))
    return found


def deploy_overrides(readme: str) -> set[str]:
    """Parameter names of the README's `--parameter-overrides`."""
    names: set[str] = set()
    for block in re.findall(r"--parameter-overrides(.*?)```", readme, re.S):
        names |= set(re.findall(r"(?:^|\s)([A-Z]\w+)=", block))
    return names


def allowed_regions(template: dict) -> list[str] | None:
    rule = (template.get("Rules") or {}).get("SesReceivesMailHere")
    if not rule:
        return None
    for assertion in rule.get("Assertions") or []:
        contains = assertion.get("Assert", {}).get("Fn::Contains")
        if contains and contains[1] == {"Ref": "AWS::Region"}:
            return list(contains[0])
    return None


def check(template: dict, readme: str, infra_readme: str) -> list[str]:
    findings: list[str] = []
    outputs = set(template.get("Outputs") or {})
    parameters = template.get("Parameters") or {}

    for name in sorted(named_outputs(readme) - outputs):
        findings.append(f"README.md names the output {name}, which the template does not have")
    listed = re.search(r"^Outputs: (.*)$", infra_readme, re.M)
    listed_names = set(re.findall(r"`(\w+)`", listed.group(1))) if listed else set()
    for name in sorted(outputs - listed_names):
        findings.append(f"infra/README.md's Outputs line does not list the output {name}")
    for name in sorted(listed_names - outputs):
        findings.append(f"infra/README.md lists an output {name} that the template does not have")

    overrides = deploy_overrides(readme)
    if not overrides:
        findings.append("README.md has no non-guided `sam deploy --parameter-overrides` command")
    for name in sorted(overrides - set(parameters)):
        findings.append(f"README.md's sam deploy passes {name}, which is not a template parameter")

    pattern = (parameters.get("ReplyTokenSecret") or {}).get("AllowedPattern")
    if pattern is None:
        findings.append("ReplyTokenSecret has no AllowedPattern (empty or 32+ characters)")
    else:
        for value, ok in [("", True), ("k" * 32, True), ("k" * 31, False), ("x", False)]:
            if bool(re.fullmatch(pattern, value)) != ok:
                findings.append(
                    f"ReplyTokenSecret's pattern {pattern!r} {'refuses' if ok else 'takes'} "
                    f"a {len(value)}-character secret"
                )

    regions = allowed_regions(template)
    if regions is None:
        findings.append("no rule SesReceivesMailHere asserting AWS::Region is a region where SES receives mail")
    else:
        for region in regions:
            if region not in readme:
                findings.append(f"the rule SesReceivesMailHere allows {region}, which README.md does not name")

    for logical, resource in sorted((template.get("Resources") or {}).items()):
        if resource.get("Type") in STATEFUL and resource.get("DeletionPolicy") != "RetainExceptOnCreate":
            findings.append(
                f"{logical} ({resource['Type']}) has DeletionPolicy "
                f"{resource.get('DeletionPolicy', 'Delete')}, not RetainExceptOnCreate"
            )
        if resource.get("Type") == "AWS::DynamoDB::Table" and (resource.get("Properties") or {}).get(
            "DeletionProtectionEnabled"
        ):
            findings.append(
                f"{logical} has deletion protection, which keeps the rollback of a failed first "
                "create from deleting it"
            )
    findings += long_names(template)
    return findings


# The longest stack name CloudFormation takes, and the length limits of the
# names the template may build from it, by resource type and property.
MAX_STACK_NAME = 128
NAME_LIMITS = {
    ("AWS::Serverless::Function", "FunctionName"): 64,
    ("AWS::Lambda::Function", "FunctionName"): 64,
    ("AWS::SQS::Queue", "QueueName"): 80,
    ("AWS::SES::ReceiptRuleSet", "RuleSetName"): 64,
    ("AWS::Events::Rule", "Name"): 64,
    ("AWS::Events::EventBus", "Name"): 256,
    ("AWS::SNS::Topic", "TopicName"): 256,
    ("AWS::CloudWatch::Alarm", "AlarmName"): 255,
    ("AWS::Logs::LogGroup", "LogGroupName"): 512,
}


def long_names(template: dict) -> list[str]:
    """Names built from the stack name that a long stack name pushes past
    their limit (a deploy that fails half-way for the name alone)."""
    findings = []
    for logical, resource in sorted((template.get("Resources") or {}).items()):
        for (kind, prop), limit in NAME_LIMITS.items():
            if resource.get("Type") != kind:
                continue
            value = (resource.get("Properties") or {}).get(prop)
            sub = value.get("Fn::Sub") if isinstance(value, dict) else None
            if not isinstance(sub, str) or "${AWS::StackName}" not in sub:
                continue
            longest = len(sub.replace("${AWS::StackName}", "s" * MAX_STACK_NAME))
            if longest > limit:
                findings.append(
                    f"{logical}.{prop} {sub!r} is {longest} characters for a {MAX_STACK_NAME}-character "
                    f"stack name, over the limit of {limit}: let CloudFormation name it"
                )
    return findings


def self_test(template: dict, readme: str, infra_readme: str) -> list[str]:
    """Each break of a good template must be reported."""
    problems = []
    breaks = {
        "an output the README names removed": lambda t: t["Outputs"].pop("ApiUrl"),
        "the secret pattern dropped": lambda t: t["Parameters"]["ReplyTokenSecret"].pop("AllowedPattern"),
        "a pattern taking 31 characters": lambda t: t["Parameters"]["ReplyTokenSecret"].update(
            AllowedPattern="^(.{31,})?$"
        ),
        "the region rule removed": lambda t: t.pop("Rules"),
        "the table kept after a failed create": lambda t: t["Resources"]["HelpdeskTable"].update(
            DeletionPolicy="Retain"
        ),
        "deletion protection on the table": lambda t: t["Resources"]["HelpdeskTable"]["Properties"].update(
            DeletionProtectionEnabled=True
        ),
        "a function named after the stack": lambda t: t["Resources"]["SlaCheckFunction"]["Properties"].update(
            FunctionName={"Fn::Sub": "${AWS::StackName}-sla-check"}
        ),
    }
    for name, apply in breaks.items():
        broken = json.loads(json.dumps(template))
        apply(broken)
        if not check(broken, readme, infra_readme):
            problems.append(f"self-test: {name} was not reported")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--template", type=Path, default=ROOT / "infra/template.yaml")
    args = parser.parse_args()
    template = load(args.template)
    readme = (ROOT / "README.md").read_text()
    infra_readme = (ROOT / "infra/README.md").read_text()
    findings = check(template, readme, infra_readme) + self_test(template, readme, infra_readme)
    for finding in findings:
        print(f"deploy check: {finding}")
    if findings:
        return 1
    print(
        "deploy check: outputs and parameters the READMEs name exist; secret pattern, "
        "SES region rule and retention on failed creates hold (and each break is reported)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
