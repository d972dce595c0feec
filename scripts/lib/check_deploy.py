#!/usr/bin/env python3
"""The deploy path the READMEs describe, checked against the template.

What cfn-lint and `sam validate` cannot see, and an operator following
README.md's "Deploying to AWS" would trip over:

- every stack output the READMEs name exists, and infra/README.md lists
  exactly the template's outputs;
- every parameter the README's non-guided deploy passes exists, and it
  passes MailDomain, MailRecipients and AllowedOrigins (scripts/build-lambdas
  checks the configuration against them);
- `ReplyTokenSecret` takes nothing or 32 characters and more, not 31;
- no function's environment holds a NoEcho parameter (anyone allowed
  `lambda:GetFunctionConfiguration` reads it there); every parameter the
  secret's JSON object is built from refuses `"`, `\\` and control
  characters, which would break the JSON;
- every grant of `ses:SendEmail`/`ses:SendRawEmail` is bound by a
  `ses:FromAddress` condition to `*@${MailDomain}`;
- the forms route (the form intake function's HttpApi event) has throttle
  limits of its own in the API's RouteSettings, and the stage has default
  route limits;
- the form intake function's reserved concurrency is unset with the
  parameters' defaults (an account with a concurrency quota of 10 cannot
  reserve any), and no Lambda Function URL is open to anyone (AuthType NONE);
- the agent API's route has no API Gateway authorizer (neither its own nor
  the API's default): the function checks every request itself, and an
  authorizer would refuse personal API tokens (`hd_...`), which are not
  JWTs;
- the bucket expires the archived failed stream records
  (`failed-stream-records/`) by a lifecycle rule;
- the rule `SesReceivesMailHere` exists, and the regions it allows are the
  ones the README names;
- every DynamoDB table, S3 bucket and Cognito user pool is kept on delete,
  but not after a failed first create (`RetainExceptOnCreate`), and no
  table or user pool has deletion protection, which would stop that
  rollback;
- no name built from the stack name can pass its length limit, whatever
  the stack is called (CloudFormation names what need not be named);
- nothing that can outlive a deleted stack (kept tables and buckets, the
  receipt rule set while it is active, a secret in its recovery window)
  has a fixed name, which would collide when a stack of the same name is
  created again.

Usage: check_deploy.py [--template infra/template.yaml]; exit 1 on any
finding, each printed with what to fix. Every run also breaks copies of the
template and README in memory and expects each break to be reported.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from cfnlint.decode import cfn_yaml

ROOT = Path(__file__).resolve().parents[2]
STATEFUL = ("AWS::DynamoDB::Table", "AWS::S3::Bucket", "AWS::Cognito::UserPool")


def load(path: Path) -> dict:
    return json.loads(json.dumps(cfn_yaml.load(str(path))))


def named_outputs(readme: str) -> set[str]:
    """Outputs a README names: `X` output, <X output>, OutputKey=='X'."""
    found = set(re.findall(r"`(\w+)` output", readme))
    found |= set(re.findall(r"<(\w+) output>", readme))
    found |= set(re.findall(r"OutputKey==\s*'(\w+)'", readme))
    return found


def deploy_overrides(readme: str) -> set[str]:
    """Parameter names the README's code blocks with `--parameter-overrides`
    pass (after it, or in a shell variable such as PARAMS="Name=value ...");
    parameter names are CamelCase, shell variables are not."""
    names: set[str] = set()
    for block in re.findall(r"```sh\n(.*?)```", readme, re.S):
        if "--parameter-overrides" in block:
            names |= set(re.findall(r"""(?:^|[\s"'])([A-Z][a-z]\w*)=""", block, re.M))
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
    for name in STACK_CHECKED:
        if overrides and name not in overrides:
            findings.append(f"README.md's overrides do not pass {name}, which scripts/build-lambdas "
                            "checks the configuration against")

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
        props = resource.get("Properties") or {}
        if (resource.get("Type") == "AWS::DynamoDB::Table" and props.get("DeletionProtectionEnabled")) or (
            resource.get("Type") == "AWS::Cognito::UserPool" and props.get("DeletionProtection") == "ACTIVE"
        ):
            findings.append(
                f"{logical} has deletion protection, which keeps the rollback of a failed first "
                "create from deleting it"
            )
    findings += long_names(template)
    findings += fixed_names(template)
    findings += secrets_out_of_environment(template)
    findings += ses_grants_bound(template)
    findings += forms_throttled(template)
    findings += agent_route_unauthorized(template)
    findings += failed_records_expire(template)
    return findings


# The parameters `helpdesk config check --against-stack` compares with
# config/helpdesk.yaml.
STACK_CHECKED = ("MailDomain", "MailRecipients", "AllowedOrigins")


def functions(template: dict) -> dict[str, dict]:
    return {name: r for name, r in (template.get("Resources") or {}).items()
            if r.get("Type") in ("AWS::Serverless::Function", "AWS::Lambda::Function")}


def names_parameter(value, name: str) -> bool:
    """Whether a template value refers to a parameter (Ref or ${name})."""
    if isinstance(value, dict):
        if value.get("Ref") == name:
            return True
        sub = value.get("Fn::Sub")
        text = sub[0] if isinstance(sub, list) and sub else sub
        if isinstance(text, str) and "${" + name + "}" in text:
            return True
        return any(names_parameter(v, name) for v in value.values())
    if isinstance(value, list):
        return any(names_parameter(v, name) for v in value)
    return False


def secrets_out_of_environment(template: dict) -> list[str]:
    """No NoEcho parameter in a function's environment; the secret's JSON
    object only from parameters whose pattern keeps it JSON."""
    findings = []
    parameters = template.get("Parameters") or {}
    secret_params = [n for n, p in parameters.items() if str(p.get("NoEcho")).lower() == "true"]
    globals_env = (((template.get("Globals") or {}).get("Function") or {}).get("Environment") or {}).get("Variables") or {}
    for logical, resource in sorted(functions(template).items()):
        env = {**globals_env, **(((resource.get("Properties") or {}).get("Environment") or {}).get("Variables") or {})}
        for variable, value in sorted(env.items()):
            for param in secret_params:
                if names_parameter(value, param):
                    findings.append(
                        f"{logical}'s environment has {variable} from the NoEcho parameter {param}: "
                        "GetFunctionConfiguration shows it; put it in the Secrets Manager secret")
    for logical, resource in sorted((template.get("Resources") or {}).items()):
        if resource.get("Type") != "AWS::SecretsManager::Secret":
            continue
        value = (resource.get("Properties") or {}).get("SecretString")
        for param in parameters:
            if not names_parameter(value, param):
                continue
            pattern = parameters[param].get("AllowedPattern")
            bad = [v for v in ('a"b', "a\\b", "a\nb") if pattern is None or re.fullmatch(pattern, v)]
            if bad:
                findings.append(f"{param} goes into {logical}'s JSON but its AllowedPattern takes "
                                f"{', '.join(repr(v) for v in bad)}")
    return findings


def ses_grants_bound(template: dict) -> list[str]:
    """Every SES send grant is bound to the MailDomain's From addresses."""
    findings = []
    for logical, resource in sorted(functions(template).items()):
        for policy in (resource.get("Properties") or {}).get("Policies") or []:
            for st in policy.get("Statement", []) if isinstance(policy, dict) else []:
                actions = st.get("Action")
                actions = actions if isinstance(actions, list) else [actions]
                if st.get("Effect") != "Allow" or not any(str(a).startswith("ses:Send") for a in actions):
                    continue
                values = []
                for operator in ("StringLike", "StringEquals"):
                    for key, value in ((st.get("Condition") or {}).get(operator) or {}).items():
                        if key.lower() == "ses:fromaddress":
                            values += value if isinstance(value, list) else [value]
                bound = values and all(
                    isinstance(v, dict) and isinstance(v.get("Fn::Sub"), str) and v["Fn::Sub"].endswith("@${MailDomain}")
                    for v in values)
                if not bound:
                    findings.append(f"{logical}'s statement {st.get('Sid', '?')} grants SES sending without a "
                                    "ses:FromAddress condition bound to *@${MailDomain}")
    return findings


def forms_throttled(template: dict) -> list[str]:
    """The forms route has limits of its own, the stage defaults too; the
    form function's reserved concurrency is off by default; no Function
    URL without auth."""
    findings = []
    resources = template.get("Resources") or {}
    form = next((r for r in functions(template).values()
                 if ((r.get("Metadata") or {}).get("BuildProperties") or {}).get("Binary") == "form-intake"), None)
    events = ((form or {}).get("Properties") or {}).get("Events") or {}
    routes = [(e["Properties"].get("ApiId", {}).get("Ref"), f"{e['Properties']['Method'].upper()} {e['Properties']['Path']}")
              for e in events.values() if e.get("Type") == "HttpApi"]
    if not routes:
        findings.append("the form intake function has no HttpApi event: no forms route to throttle")
    limits = ("ThrottlingBurstLimit", "ThrottlingRateLimit")
    for api, route in routes:
        props = (resources.get(api) or {}).get("Properties") or {}
        own = (props.get("RouteSettings") or {}).get(route) or {}
        if not all(k in own for k in limits):
            findings.append(f"{api}'s RouteSettings give the forms route {route!r} no throttle limits of its own")
        if not all(k in (props.get("DefaultRouteSettings") or {}) for k in limits):
            findings.append(f"{api} has no default route throttle limits")
    reserved = ((form or {}).get("Properties") or {}).get("ReservedConcurrentExecutions")
    if reserved is not None and resolve(template, reserved) is not None:
        findings.append("the form intake function reserves concurrency with the parameters' defaults; "
                        "an account with a concurrency quota of 10 cannot, and its deploy fails")
    for logical, resource in sorted(resources.items()):
        props = resource.get("Properties") or {}
        if resource.get("Type") == "AWS::Lambda::Url" and props.get("AuthType") != "AWS_IAM":
            findings.append(f"{logical} is a Function URL with AuthType {props.get('AuthType')}: "
                            "a way around the API's throttling")
        if resource.get("Type") == "AWS::Lambda::Permission" and props.get("FunctionUrlAuthType") == "NONE":
            findings.append(f"{logical} lets anyone invoke a Function URL")
        if resource.get("Type") == "AWS::Serverless::Function" and props.get("FunctionUrlConfig", {}).get("AuthType") == "NONE":
            findings.append(f"{logical} has a Function URL with AuthType NONE")
    return findings


def agent_route_unauthorized(template: dict) -> list[str]:
    """The agent API function's HttpApi routes reach it without an API
    Gateway authorizer: it takes Cognito JWTs and personal API tokens
    (`hd_...`) and checks both itself; a JWT authorizer would refuse the
    tokens before the function saw them."""
    findings = []
    resources = template.get("Resources") or {}
    agent = next(((n, r) for n, r in functions(template).items()
                  if ((r.get("Metadata") or {}).get("BuildProperties") or {}).get("Binary") == "agent-api"), None)
    if agent is None:
        return ["no function builds agent-api: the agent API is not deployed"]
    logical, resource = agent
    events = {n: e for n, e in (((resource.get("Properties") or {}).get("Events")) or {}).items()
              if e.get("Type") == "HttpApi"}
    if not events:
        findings.append(f"{logical} has no HttpApi event: the agent API has no route")
    for name, event in sorted(events.items()):
        props = event.get("Properties") or {}
        own = (props.get("Auth") or {}).get("Authorizer")
        api = (props.get("ApiId") or {}).get("Ref") if isinstance(props.get("ApiId"), dict) else None
        default = ((((resources.get(api) or {}).get("Properties") or {}).get("Auth")) or {}).get("DefaultAuthorizer")
        authorizer = own if own is not None else default
        if authorizer not in (None, "NONE"):
            findings.append(f"{logical}'s route {name} has the authorizer {authorizer}: it would refuse personal "
                            "API tokens (hd_...), which are not JWTs; the function checks credentials itself")
    return findings


def resolve(template: dict, value):
    """A value with the parameters' defaults (Ref, Fn::If over Fn::Equals,
    Fn::Not, AWS::NoValue as None); what it cannot resolve is returned."""
    parameters = template.get("Parameters") or {}
    if isinstance(value, dict) and len(value) == 1:
        (fn, arg), = value.items()
        if fn == "Ref":
            if arg == "AWS::NoValue":
                return None
            return str(parameters.get(arg, {}).get("Default", value))
        if fn == "Fn::If":
            condition = (template.get("Conditions") or {}).get(arg[0])
            return resolve(template, arg[1] if resolve(template, condition) else arg[2])
        if fn == "Fn::Equals":
            return str(resolve(template, arg[0])) == str(resolve(template, arg[1]))
        if fn == "Fn::Not":
            return not resolve(template, arg[0])
        if fn == "Condition":
            return resolve(template, (template.get("Conditions") or {}).get(arg))
    return value


def failed_records_expire(template: dict) -> list[str]:
    for logical, resource in (template.get("Resources") or {}).items():
        if resource.get("Type") != "AWS::S3::Bucket":
            continue
        rules = (((resource.get("Properties") or {}).get("LifecycleConfiguration") or {}).get("Rules")) or []
        for rule in rules:
            prefix = rule.get("Prefix") or (rule.get("Filter") or {}).get("Prefix")
            if prefix == "failed-stream-records/" and rule.get("Status") == "Enabled" and (
                    rule.get("ExpirationInDays") or rule.get("ExpirationDate")):
                return []
    return ["no bucket lifecycle rule expires failed-stream-records/ (the archived failed stream records)"]


# The property that names a resource of each type (a receipt rule's is
# Rule.Name; its RuleSetName names the set it is in), and the types whose
# resources can outlive a deleted stack: kept on delete, a rule set SES
# refuses to delete while it is active (and a rule in it), a secret in its
# recovery window.
NAME_PROPERTIES = {
    "AWS::DynamoDB::Table": "TableName",
    "AWS::S3::Bucket": "BucketName",
    "AWS::SES::ReceiptRuleSet": "RuleSetName",
    "AWS::SES::ReceiptRule": "Rule.Name",
    "AWS::SecretsManager::Secret": "Name",
}
OUTLIVING = ("AWS::SES::ReceiptRuleSet", "AWS::SES::ReceiptRule", "AWS::SecretsManager::Secret")


def fixed_names(template: dict) -> list[str]:
    findings = []
    for logical, resource in sorted((template.get("Resources") or {}).items()):
        kind = resource.get("Type")
        kept = resource.get("DeletionPolicy") in ("Retain", "RetainExceptOnCreate", "Snapshot")
        if not kept and kind not in OUTLIVING:
            continue
        value = resource.get("Properties") or {}
        prop = NAME_PROPERTIES.get(kind, "Name")
        for part in prop.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if value is not None:
            findings.append(f"{logical}.{prop} is a fixed name, and {logical} can outlive a deleted stack: "
                            "a new stack of the same name would collide with it; let CloudFormation name it")
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
    ("AWS::Cognito::UserPool", "UserPoolName"): 128,
    ("AWS::Cognito::UserPoolClient", "ClientName"): 128,
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
        "a rule set named after the stack": lambda t: t["Resources"]["ReceiptRuleSet"].setdefault(
            "Properties", {}).update(RuleSetName={"Fn::Sub": "${AWS::StackName}-rules"}),
        "the reply-token key back in an environment": lambda t: t["Resources"]["MailIntakeFunction"]["Properties"][
            "Environment"]["Variables"].update(HELPDESK_REPLY_TOKEN_SECRET={"Ref": "ReplyTokenSecret"}),
        "a secret's pattern taking a double quote": lambda t: t["Parameters"]["TelegramWebhookUrl"].update(
            AllowedPattern="^.*$"),
        "an SES grant without its condition": lambda t: next(
            st for st in t["Resources"]["TicketTriggersFunction"]["Properties"]["Policies"][0]["Statement"]
            if st.get("Sid") == "SendTriggerMail").pop("Condition"),
        "the forms route's own limits removed": lambda t: t["Resources"]["HttpApi"]["Properties"].pop("RouteSettings"),
        "the default route limits removed": lambda t: t["Resources"]["HttpApi"]["Properties"].pop("DefaultRouteSettings"),
        "reserved concurrency on by default": lambda t: t["Parameters"]["FormIntakeReservedConcurrency"].update(
            Default=5),
        "an open Function URL": lambda t: t["Resources"].update(FormUrl={
            "Type": "AWS::Lambda::Url",
            "Properties": {"TargetFunctionArn": {"Fn::GetAtt": ["FormIntakeFunction", "Arn"]}, "AuthType": "NONE"}}),
        "the user pool deleted with the stack": lambda t: t["Resources"]["AgentUserPool"].update(
            DeletionPolicy="Delete"),
        "deletion protection on the user pool": lambda t: t["Resources"]["AgentUserPool"]["Properties"].update(
            DeletionProtection="ACTIVE"),
        "a JWT authorizer on the agent API's route": lambda t: t["Resources"]["AgentApiFunction"]["Properties"][
            "Events"]["AgentApi"]["Properties"].update(Auth={"Authorizer": "AgentJwt"}),
        "a default JWT authorizer on the API": lambda t: t["Resources"]["HttpApi"]["Properties"].update(
            Auth={"DefaultAuthorizer": "AgentJwt", "Authorizers": {"AgentJwt": {
                "IdentitySource": "$request.header.Authorization",
                "JwtConfiguration": {"issuer": "https://example.invalid", "audience": ["x"]}}}}),
        "a user pool named after the stack": lambda t: t["Resources"]["AgentUserPool"]["Properties"].update(
            UserPoolName={"Fn::Sub": "${AWS::StackName}-agents"}),
        "the failed records' lifecycle rule removed": lambda t: t["Resources"]["HelpdeskBucket"]["Properties"][
            "LifecycleConfiguration"].update(Rules=[
                r for r in t["Resources"]["HelpdeskBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
                if r.get("Id") != "expire-failed-stream-records"]),
    }
    for name, apply in breaks.items():
        broken = json.loads(json.dumps(template))
        apply(broken)
        if not check(broken, readme, infra_readme):
            problems.append(f"self-test: {name} was not reported")
    # The README's overrides without MailDomain.
    if not check(template, re.sub(r"MailDomain=\S*", "", readme), infra_readme):
        problems.append("self-test: README overrides without MailDomain were not reported")
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
        "deploy check: outputs and parameters the READMEs name exist; secret patterns, secrets out of the "
        "environment, SES grants bound to MailDomain, forms route throttle, no open Function URL, "
        "no API Gateway authorizer in front of the agent API, "
        "failed stream records expire, SES region rule, retention on failed creates, no fixed names "
        "that outlive a stack (and each break is reported)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
