#!/usr/bin/env python3
"""Checks infra/template.yaml against what the function code needs.

    check_template.py [--template infra/template.yaml] [--config config/helpdesk.yaml]
    check_template.py --self-test

1. Every function crate (functions/*/Cargo.toml, its [[bin]]) has an
   AWS::Serverless::Function whose Metadata.BuildProperties.Binary is that
   binary, and every such function builds a crate's binary.
2. NEEDS below, the declared table of what each function's code needs, is
   compared with the code (scripts/lib/rust_reach.py reads the Rust source:
   shared/src, the function crate's src and that of the workspace crates it
   depends on by path, such as api/src for agent-api):
   the Store methods it reaches, the DynamoDB actions and indexes those make
   (from the DynamoDB store's own code), the S3, SES and EventBridge calls,
   and the HELPDESK_* variables it reads (literals in the code it reaches,
   plus the variables config/helpdesk.yaml names in the keys that code looks
   up: forms' secret_env, reply_token_secret_env, webhooks' url_env and
   chat_id_env). A difference either way is a finding: the table is stale.
3. The template gives each function what the table says: every variable in
   its Environment.Variables (or Globals) with the expected value, every
   action allowed by its Policies on the right resource (table, index,
   stream, objects under a prefix, SES identities, bus, queue, secret), plus
   what its event source mapping needs (stream reads, the on-failure
   queue). A secret the code looks up (NEEDS' "secrets") is either in the
   Environment or a key of the JSON object of the AWS::SecretsManager::Secret
   that the function's HELPDESK_SECRETS names, with GetSecretValue on it.
   Sending mail is needed from the MailDomain's addresses to any recipient:
   SES authorises a send against the sender's identity and, in the SES
   sandbox, each recipient's, so the grant must cover every identity of the
   account and region and be bound by a `ses:FromAddress` condition to
   `*@<MailDomain>`.
4. Least privilege: no Allow statement has a wildcard action (`*`,
   `dynamodb:*`, `s3:*`, `s3:Get*`, ...) or NotAction/NotResource; no
   policy template or managed policy (whose contents cannot be checked
   here); and nothing is granted that no code path needs: every grant is
   compared with each resource the check knows (the table, each index, the
   stream, the bucket and each prefix, SES identities, the bus, each queue,
   the secret) of its own service that its pattern covers. A grant on other
   SES identities than MailDomain's is needed only when its statement binds
   `ses:FromAddress` to MailDomain's addresses.

Every finding names the function and what is missing or extra; exit status 1
when there is any. --self-test loads the template, then for each function
removes one needed variable and one needed action from a copy in memory (and
adds a wildcard grant, drops a function resource, drops a Store method from
the table, removes the SES grant or its condition, a key of the secret, the
archive grant of failed stream records; for the agent API, drops from the
table what only its route handlers, its sign-in extractor and its listing
reach, and removes or widens its listing index grant) and asserts that the
check reports each.

Needs cfn-lint (its CloudFormation YAML loader) and PyYAML (both in .venv).
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
import tomllib
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

import yaml
from cfnlint.decode import cfn_yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import rust_reach  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]

# Secrets Manager's GetSecretValue (shared/src/secrets.rs), beside the SDK
# operations rust_reach.py maps itself.
rust_reach.SDK_OPERATIONS.setdefault("get_secret_value", "secretsmanager:GetSecretValue")

# ===================================================================== NEEDS
#
# What each function's code needs on AWS, read from the code (and checked
# against it on every run, see the module docs). Resources are named
# symbolically:
#   table              the table's ARN (items)
#   index:<name>       one of its global secondary indexes
#   stream / streams   the table's stream / ListStreams' stream/* resource
#   objects:<prefix>   objects under a prefix of the bucket (raw/, attachments/;
#                      objects:other/ stands for any other key)
#   ses:from-maildomain  sending From an address of MailDomain, to anyone:
#                      every SES identity of the account and region (the
#                      sender's, and in the sandbox the recipients'), bound
#                      by ses:FromAddress to *@<MailDomain>
#   bus                the ticket events bus
#   queue:<Logical>    an SQS queue of the template
#   secret             the HelpdeskSecrets secret
# "env": variables the function must have, with their value (as a !Sub
# string; None: any value, e.g. a parameter); "secrets": secrets the code
# looks up (by the names config/helpdesk.yaml gives), which may be keys of
# the secret that HELPDESK_SECRETS names instead of variables; "unset":
# variables the code reads that the function may leave unset, and why;
# "not_made": AWS calls the code can reach that this function never makes
# with its settings, and why.
#
# Settings::from_env (shared/src/app.rs) reads HELPDESK_STORE, _DB, _TABLE,
# _CONFIG, _BLOBS, _MAIL_TRANSPORT and _EVENTS in every function; the
# defaults are local (SQLite, folders under data/), so whatever a function
# uses must be set to its AWS value. TransactWriteItems has no IAM action of
# its own: its Put, Update, ConditionCheck and Delete items are authorised by
# PutItem, UpdateItem, ConditionCheckItem and DeleteItem (store/dynamo: every
# ticket and contact write is a transaction of Puts, the contact's email
# append an Update; no ConditionCheck or Delete items are built).

COMMON_ENV = {
    "HELPDESK_CONFIG": "/opt/helpdesk.yaml",
    "HELPDESK_STORE": "dynamodb",
    "HELPDESK_TABLE": "${HelpdeskTable}",
}

NEEDS: dict[str, dict] = {
    # intake::handle: idempotency claims (GetItem), the queue's key counter
    # and the forms' rate-limit counters (UpdateItem ADD), contact by email (GetItem x2) or a new contact
    # (transaction of Puts), the ticket with its entries and claims
    # (GetItem per claim, then a transaction of Puts); attachments under
    # attachments/<ticket>/ (BlobStore::put). No Query, no mail, no events.
    # The rating page (csat::page, /csat/{token}): the token checked with
    # the reply-token key (a secret), the ticket (GetItem), the rating
    # written by tickets::apply (transaction of Puts; a listing entry the
    # write changes is deleted).
    "form-intake": {
        "env": {
            **COMMON_ENV,
            "HELPDESK_BLOBS": "s3://${HelpdeskBucket}",
            "HELPDESK_SECRETS": "${HelpdeskSecrets}",
        },
        "secrets": {
            "HELPDESK_SECRET_TYPEFORM_FEEDBACK": None,
            "HELPDESK_REPLY_TOKEN_SECRET": None,
        },
        "unset": {
            "HELPDESK_DB": "SQLite only",
            "HELPDESK_SMTP_PASSWORD": "an SMTP relay's (HELPDESK_MAIL_TRANSPORT=smtp...) only",
            "HELPDESK_MAIL_TRANSPORT": "sends no mail (the default outbox is never written)",
            "HELPDESK_EVENTS": "publishes no events (the default events log is never written)",
        },
        "store": [
            "allocate_ticket_key", "create_contact", "create_ticket",
            "find_contact_by_email", "get_contact", "idempotency_record",
            "increment_counter", "get_ticket", "update_ticket",
        ],
        "actions": [
            ("dynamodb:GetItem", "table"),
            ("dynamodb:PutItem", "table"),
            ("dynamodb:UpdateItem", "table"),
            ("dynamodb:DeleteItem", "table"),
            ("s3:PutObject", "objects:attachments/"),
            # secrets::StoredSecrets, once per process (a provider's secret).
            ("secretsmanager:GetSecretValue", "secret"),
        ],
    },
    # handler: reads the raw message SES stored (S3RawMail: GetObject under
    # raw/; the key is always given, so mail::ingest never stores raw mail
    # itself), then mail::ingest: Message-ID claims and markers, the mail
    # log of messages not accepted (GetItem, PutItem), threading (GetItem), new ticket or reply (as above, plus
    # tickets::apply: GetItem, transaction of Puts), attachments under
    # attachments/ (BlobStore::put), acknowledgements through SES with rate
    # counters (UpdateItem ADD) and send claims released when SES refuses
    # (DeleteItem). No Query.
    "mail-intake": {
        "env": {
            **COMMON_ENV,
            "HELPDESK_BLOBS": "s3://${HelpdeskBucket}",
            "HELPDESK_RAW_MAIL": "s3://${HelpdeskBucket}/raw/",
            "HELPDESK_MAIL_TRANSPORT": "ses",
            "HELPDESK_SECRETS": "${HelpdeskSecrets}",
        },
        "secrets": {
            "HELPDESK_REPLY_TOKEN_SECRET": None,
        },
        "unset": {
            "HELPDESK_DB": "SQLite only",
            "HELPDESK_SMTP_PASSWORD": "an SMTP relay's (HELPDESK_MAIL_TRANSPORT=smtp...) only",
            "HELPDESK_EVENTS": "publishes no events (the default events log is never written)",
        },
        "store": [
            "allocate_ticket_key", "create_contact", "create_ticket", "delete_marker",
            "find_contact_by_email", "get_contact", "get_marker", "get_ticket",
            "idempotency_record", "increment_counter", "log_mail", "mail_log_entry",
            "put_marker", "update_ticket",
        ],
        "actions": [
            ("dynamodb:GetItem", "table"),
            ("dynamodb:PutItem", "table"),
            ("dynamodb:UpdateItem", "table"),
            ("dynamodb:DeleteItem", "table"),
            ("s3:GetObject", "objects:raw/"),
            # S3RawMail tells NoSuchKey from AccessDenied: S3 says NoSuchKey
            # only to a caller that may list the bucket.
            ("s3:ListBucket", "bucket"),
            ("s3:PutObject", "objects:attachments/"),
            ("ses:SendEmail", "ses:from-maildomain"),
            ("secretsmanager:GetSecretValue", "secret"),
            # EventInvokeConfig's on-failure destination (SAM adds the grant).
            ("sqs:SendMessage", "queue:MailIntakeFailureQueue"),
        ],
    },
    # automation::stream -> process: the entries of the written version
    # (Query on the table), the triggers' plan written with tickets::apply
    # (GetItem, transaction of Puts), group assignment counting an agent's
    # tickets in work (Query on gsi2) with round-robin counters (UpdateItem),
    # effect claims and markers (GetItem, PutItem, DeleteItem), webhooks
    # (HTTPS, no IAM), bus events (PutEvents), mail (SES, rate counters);
    # SLA notifications and sla::refresh (entries after a version: Query);
    # a record it gives up on (and the rest of its batch) archived as
    # failed-stream-records/<sequence number>-<event id>.json (BlobStore::put).
    # Reports: each changed ticket's rollups from its timeline (GetItem,
    # Query, a transaction of a Put and Updates) and the write's metric
    # events as metrics/day=<date>/<ticket>-v<version>.jsonl (BlobStore::put).
    # Invoked by the stream mapping (stream reads, failures to its queue:
    # these come from the template's AWS::Lambda::EventSourceMapping, and
    # are checked against it rather than the code).
    "ticket-triggers": {
        "env": {
            **COMMON_ENV,
            "HELPDESK_MAIL_TRANSPORT": "ses",
            "HELPDESK_EVENTS": "eventbridge:${TicketEventsBus}",
            "HELPDESK_BLOBS": "s3://${HelpdeskBucket}",
            "HELPDESK_TELEGRAM_CHAT_ID": None,
            "HELPDESK_SECRETS": "${HelpdeskSecrets}",
        },
        "secrets": {
            "HELPDESK_REPLY_TOKEN_SECRET": None,
            "HELPDESK_TELEGRAM_URL": None,
        },
        "unset": {
            "HELPDESK_DB": "SQLite only",
            "HELPDESK_SMTP_PASSWORD": "an SMTP relay's (HELPDESK_MAIL_TRANSPORT=smtp...) only",
        },
        "store": [
            "count_assigned", "delete_marker", "entries_after_version", "entries_of_version",
            "get_marker", "get_ticket", "idempotency_record", "increment_counter",
            "put_marker", "update_ticket",
            # The report rollups of every changed ticket, from its timeline.
            "timeline", "keep_counters",
        ],
        "actions": [
            ("dynamodb:GetItem", "table"),
            ("dynamodb:PutItem", "table"),
            ("dynamodb:UpdateItem", "table"),
            ("dynamodb:DeleteItem", "table"),
            ("dynamodb:Query", "table"),
            ("dynamodb:Query", "index:gsi2"),
            ("ses:SendEmail", "ses:from-maildomain"),
            ("events:PutEvents", "bus"),
            ("s3:PutObject", "objects:failed-stream-records/"),
            ("s3:PutObject", "objects:metrics/"),
            ("secretsmanager:GetSecretValue", "secret"),
            ("dynamodb:DescribeStream", "stream"),
            ("dynamodb:GetRecords", "stream"),
            ("dynamodb:GetShardIterator", "stream"),
            ("dynamodb:ListStreams", "streams"),
            ("sqs:SendMessage", "queue:TicketTriggersFailureQueue"),
        ],
    },
    # The agent API (api/src, routes of api/src/lib.rs): every request is
    # signed in first (the Agent extractor): a personal API token by its
    # hash (GetItem), or a Cognito JWT (the pool's key set over HTTPS, no
    # IAM). GET /tickets: one index range per queue, gsi1 (by age), gsi4
    # (by status or assignee) or gsi2 (both), then the tickets of the keys-
    # only ranges (BatchGetItem). GET /tickets/{key}: GetItem and the
    # timeline (Query on the table). PATCH and comments: tickets::apply
    # (GetItem, idempotency claims, transaction of Puts); a long comment to
    # attachments/ (BlobStore::put); a public one mailed through SES with
    # its thread's Message-IDs (Query), rate counters (UpdateItem ADD), a
    # send claim (PutItem, DeleteItem when SES refuses) and the reply-token
    # key. POST /tickets: tickets::open as the intake functions (key
    # counter, contact by email or a new one, transaction of Puts).
    # Publishes no events (triggers run on the stream).
    "agent-api": {
        "env": {
            **COMMON_ENV,
            "HELPDESK_BLOBS": "s3://${HelpdeskBucket}",
            "HELPDESK_MAIL_TRANSPORT": "ses",
            "HELPDESK_SECRETS": "${HelpdeskSecrets}",
            "HELPDESK_COGNITO_USER_POOL_ID": "${AgentUserPool}",
            "HELPDESK_COGNITO_CLIENT_ID": "${AgentUserPoolClient}",
        },
        "secrets": {
            "HELPDESK_REPLY_TOKEN_SECRET": None,
        },
        "unset": {
            "HELPDESK_DB": "SQLite only",
            "HELPDESK_SMTP_PASSWORD": "an SMTP relay's (HELPDESK_MAIL_TRANSPORT=smtp...) only",
            "HELPDESK_EVENTS": "publishes no events (the default events log is never written)",
        },
        "store": [
            "allocate_ticket_key", "api_token", "create_contact", "create_ticket",
            "delete_marker", "find_contact_by_email", "get_contact", "get_marker",
            "get_ticket", "idempotency_record", "increment_counter", "list_tickets",
            "put_marker", "timeline", "update_ticket", "count_tickets", "list_listing",
            "search_tickets",
            # The console: a ticket page's newest entries and its SLA timers
            # as of now, one attachment's entry, a local password (sessions
            # are markers).
            "timeline_page", "entries_after_version", "entries_of_version", "password_hash",
            # Reports: the rollups (kept by ticket-triggers; a store with a
            # change feed, SQLite, catches them up itself).
            "rollups", "keep_counters", "change_feed",
        ],
        "actions": [
            ("dynamodb:GetItem", "table"),
            ("dynamodb:PutItem", "table"),
            ("dynamodb:UpdateItem", "table"),
            ("dynamodb:DeleteItem", "table"),
            ("dynamodb:Query", "table"),
            ("dynamodb:BatchGetItem", "table"),
            ("dynamodb:Query", "index:gsi1"),
            ("dynamodb:Query", "index:gsi2"),
            ("dynamodb:Query", "index:gsi4"),
            ("s3:PutObject", "objects:attachments/"),
            # Attachments downloaded, and uploads attached to a mailed answer.
            ("s3:GetObject", "objects:attachments/"),
            ("ses:SendEmail", "ses:from-maildomain"),
            ("secretsmanager:GetSecretValue", "secret"),
        ],
    },
    # sla::check: the due index, one Query per shard of gsi3; per due ticket
    # sla::refresh: GetItem, the entries after a version (Query on the
    # table), one transaction of Puts. Sends, stores and publishes nothing
    # (notifications follow on the change path).
    # A satisfaction survey that fell due (csat::ask::rating_due): the
    # mail through SES as the stream function sends it (send claim, rate
    # counters, the reply-token key for its links), then the ticket write.
    "sla-check": {
        "env": {
            **COMMON_ENV,
            "HELPDESK_MAIL_TRANSPORT": "ses",
            "HELPDESK_SECRETS": "${HelpdeskSecrets}",
        },
        "secrets": {
            "HELPDESK_REPLY_TOKEN_SECRET": None,
        },
        "unset": {
            "HELPDESK_DB": "SQLite only",
            "HELPDESK_BLOBS": "stores no files",
            "HELPDESK_EVENTS": "publishes no events",
            "HELPDESK_SMTP_PASSWORD": "an SMTP relay's (HELPDESK_MAIL_TRANSPORT=smtp...) only",
        },
        "store": [
            "entries_after_version", "get_ticket", "sla_due", "update_ticket",
            "delete_marker", "get_marker", "put_marker",
            "idempotency_record", "increment_counter",
        ],
        "actions": [
            ("dynamodb:GetItem", "table"),
            ("dynamodb:PutItem", "table"),
            ("dynamodb:UpdateItem", "table"),
            ("ses:SendEmail", "ses:from-maildomain"),
            ("secretsmanager:GetSecretValue", "secret"),
            # A ticket that breaches leaves its "at risk" listing entry.
            ("dynamodb:DeleteItem", "table"),
            ("dynamodb:Query", "table"),
            ("dynamodb:Query", "index:gsi3"),
            # EventInvokeConfig's on-failure destination (SAM adds the grant).
            ("sqs:SendMessage", "queue:SlaCheckFailureQueue"),
        ],
    },
}

# What a port call or an SDK operation means for the table's actions, and
# the variable that must point the port at AWS.
PORT_ACTIONS = {
    ("BlobStore", "put"): "s3:PutObject",
    ("BlobStore", "get"): "s3:GetObject",
    ("MailTransport", "send"): "ses:SendEmail",
    ("EventPublisher", "publish"): "events:PutEvents",
}
PORT_VARIABLES = {
    "Store": "HELPDESK_STORE",
    "BlobStore": "HELPDESK_BLOBS",
    "MailTransport": "HELPDESK_MAIL_TRANSPORT",
    "EventPublisher": "HELPDESK_EVENTS",
}
# SES authorises the SES v2 SendEmail call the transport makes as
# ses:SendEmail; ses:SendRawEmail (the v1 raw action) on the same identities
# is tolerated beside it, not required.
TOLERATED_WITH = {"ses:SendRawEmail": "ses:SendEmail"}
# An action a call needs beside its own, for the answer it gets rather than
# for the call: S3 answers a GetObject of a missing key with NoSuchKey only
# to a caller that may list the bucket (AccessDenied otherwise). NEEDS may
# list the companion of a call the code makes.
COMPANIONS = {"s3:ListBucket": "s3:GetObject"}
# Stream reads an event source mapping needs from its function's role.
STREAM_READS = ("dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator")

# ============================================================ the template

PSEUDO = {
    "AWS::Partition": "aws",
    "AWS::Region": "us-east-1",
    "AWS::AccountId": "123456789012",
    "AWS::StackName": "helpdesk",
    "AWS::URLSuffix": "amazonaws.com",
}


class Template:
    """The template as plain data, with references resolved to stand-in
    ARNs, so that resources and patterns compare as strings."""

    def __init__(self, data: dict) -> None:
        self.data = data
        self.resources: dict = data.get("Resources") or {}
        self.parameters: dict = data.get("Parameters") or {}

    @classmethod
    def load(cls, path: Path) -> "Template":
        return cls(json.loads(json.dumps(cfn_yaml.load(str(path)))))

    def ref(self, name: str) -> str:
        if name in PSEUDO:
            return PSEUDO[name]
        if name in self.parameters:
            default = self.parameters[name].get("Default", f"<{name}>")
            return ",".join(default) if isinstance(default, list) else str(default)
        if name in self.resources:
            if self.resources[name].get("Type") == "AWS::SecretsManager::Secret":
                # Ref of a secret is its ARN (name, a dash, 6 random characters).
                return f"arn:aws:secretsmanager:{PSEUDO['AWS::Region']}:{PSEUDO['AWS::AccountId']}:secret:{name}-AbCdEf"
            return name
        return f"<unknown {name}>"

    def get_att(self, name: str, attr: str) -> str:
        kind = (self.resources.get(name) or {}).get("Type", "")
        region, account = PSEUDO["AWS::Region"], PSEUDO["AWS::AccountId"]
        if kind == "AWS::DynamoDB::Table":
            arn = f"arn:aws:dynamodb:{region}:{account}:table/{name}"
            return {"Arn": arn, "StreamArn": f"{arn}/stream/2000-01-01T00:00:00.000"}.get(attr, f"<{name}.{attr}>")
        if kind == "AWS::S3::Bucket" and attr == "Arn":
            return f"arn:aws:s3:::{name}"
        if kind == "AWS::Events::EventBus" and attr == "Arn":
            return f"arn:aws:events:{region}:{account}:event-bus/{name}"
        if kind == "AWS::SQS::Queue" and attr == "Arn":
            return f"arn:aws:sqs:{region}:{account}:{name}"
        if kind == "AWS::Serverless::Function" and attr == "Arn":
            return f"arn:aws:lambda:{region}:{account}:function:{name}"
        return f"<{name}.{attr}>"

    def sub(self, text: str, variables: dict | None = None) -> str:
        def one(m: re.Match) -> str:
            inner = m.group(1)
            if inner.startswith("!"):
                return "${" + inner[1:] + "}"
            if variables and inner in variables:
                return self.render(variables[inner])
            if "." in inner and not inner.startswith("AWS::"):
                name, attr = inner.split(".", 1)
                return self.get_att(name, attr)
            return self.ref(inner)

        return re.sub(r"\$\{([^}]+)\}", one, text)

    def render(self, value) -> str:
        """A string for a template value (intrinsic functions resolved)."""
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float, bool)):
            return str(value)
        if isinstance(value, dict) and len(value) == 1:
            (fn, arg), = value.items()
            if fn == "Ref":
                return self.ref(arg)
            if fn == "Fn::GetAtt":
                name, attr = arg if isinstance(arg, list) else arg.split(".", 1)
                return self.get_att(name, attr)
            if fn == "Fn::Sub":
                return self.sub(arg[0], arg[1]) if isinstance(arg, list) else self.sub(arg)
            if fn == "Fn::Join":
                return arg[0].join(self.render(v) for v in arg[1])
        return f"<unresolved {json.dumps(value)}>"

    def functions(self) -> dict[str, str]:
        """Binary name -> logical id of each AWS::Serverless::Function."""
        out = {}
        for name, res in self.resources.items():
            if res.get("Type") == "AWS::Serverless::Function":
                binary = ((res.get("Metadata") or {}).get("BuildProperties") or {}).get("Binary")
                out[binary or f"<no Binary: {name}>"] = name
        return out

    def environment(self, logical: str) -> dict:
        glob = (((self.data.get("Globals") or {}).get("Function") or {}).get("Environment") or {}).get("Variables") or {}
        own = ((self.resources[logical].get("Properties") or {}).get("Environment") or {}).get("Variables") or {}
        return {**glob, **own}

    def mappings_of(self, logical: str) -> list[tuple[str, dict]]:
        out = []
        for name, res in self.resources.items():
            if res.get("Type") != "AWS::Lambda::EventSourceMapping":
                continue
            target = (res.get("Properties") or {}).get("FunctionName")
            if target in ({"Ref": logical}, logical) or (isinstance(target, dict) and target.get("Fn::GetAtt") in ([logical, "Arn"], f"{logical}.Arn")):
                out.append((name, res.get("Properties") or {}))
        return out


@dataclass
class Grant:
    action: str
    resource: str      # the rendered pattern
    shown: str         # as written
    where: str         # the statement's Sid or SAM's name for it
    condition: dict | None = None   # the statement's Condition, rendered

    def from_bound(self, domain: str) -> bool:
        """Whether the statement lets SES send only From addresses of the
        domain: a StringEquals or StringLike on ses:FromAddress (IAM's keys
        are case-insensitive) whose every value ends in @<domain>."""
        for operator, keys in (self.condition or {}).items():
            if operator not in ("StringEquals", "StringLike") or not isinstance(keys, dict):
                continue
            for key, values in keys.items():
                values = values if isinstance(values, list) else [values]
                if key.lower() == "ses:fromaddress" and values and all(
                    isinstance(v, str) and v.lower().endswith("@" + domain.lower()) for v in values
                ):
                    return True
        return False


def render_condition(template: "Template", condition) -> dict | None:
    if not isinstance(condition, dict):
        return None
    out: dict = {}
    for operator, keys in condition.items():
        out[operator] = {}
        for key, values in (keys or {}).items():
            if isinstance(values, list):
                out[operator][key] = [template.render(v) for v in values]
            else:
                out[operator][key] = template.render(values)
    return out


def statements(template: Template, logical: str, findings: list) -> list[Grant]:
    """Every Allow of the function's role, as (action, resource) grants."""
    props = template.resources[logical].get("Properties") or {}
    fn_name = logical
    grants: list[Grant] = []
    if "Role" in props:
        findings.append((fn_name, "Role", "the SAM-made role", "Role is set: its policies are not checked here"))
    policies = props.get("Policies") or []
    if isinstance(policies, (str, dict)):
        policies = [policies]
    for i, policy in enumerate(policies):
        if isinstance(policy, str):
            findings.append((fn_name, "Policies", "inline statements", f"managed policy {policy}: its contents cannot be checked"))
            continue
        if "Statement" not in policy:
            findings.append((fn_name, "Policies", "inline statements", f"policy template {', '.join(policy)}: grants more than the code needs and cannot be checked"))
            continue
        for j, st in enumerate(policy["Statement"] if isinstance(policy["Statement"], list) else [policy["Statement"]]):
            sid = st.get("Sid") or f"statement {i}.{j}"
            if st.get("Effect") != "Allow":
                continue
            for key in ("NotAction", "NotResource"):
                if key in st:
                    findings.append((fn_name, sid, "Action and Resource", f"{key} grants everything it does not name"))
            actions = st.get("Action") or []
            resources = st.get("Resource") or []
            for action in actions if isinstance(actions, list) else [actions]:
                if "*" in action or "?" in action:
                    findings.append((fn_name, sid, "named actions", f"wildcard action {action}"))
                for res in resources if isinstance(resources, list) else [resources]:
                    rendered = template.render(res)
                    shown = res if isinstance(res, str) else (res.get("Fn::Sub") if isinstance(res.get("Fn::Sub"), str) else json.dumps(res))
                    if isinstance(res, dict) and "Fn::GetAtt" in res:
                        arg = res["Fn::GetAtt"]
                        shown = "!GetAtt " + (".".join(arg) if isinstance(arg, list) else arg)
                    elif isinstance(res, dict) and "Ref" in res:
                        shown = "!Ref " + res["Ref"]
                    grants.append(Grant(action, rendered, shown, sid, render_condition(template, st.get("Condition"))))
    # SAM adds the permission for an on-failure / on-success destination of
    # EventInvokeConfig; the check counts it as granted.
    destination = (((props.get("EventInvokeConfig") or {}).get("DestinationConfig") or {}).get("OnFailure") or {})
    if destination.get("Type") == "SQS" and destination.get("Destination"):
        grants.append(Grant("sqs:SendMessage", template.render(destination["Destination"]), "EventInvokeConfig", "SAM (EventInvokeConfig)"))
    for name, event in (props.get("Events") or {}).items():
        if event.get("Type") in ("DynamoDB", "Kinesis", "SQS", "MSK"):
            findings.append((fn_name, f"event {name}", "an explicit event source mapping",
                             f"a SAM {event['Type']} event attaches a managed policy that reads every stream or queue"))
    return grants


def covers(pattern: str, resource: str) -> bool:
    """Whether an IAM resource pattern covers a resource (a `*` in the
    resource itself is matched as a character by the pattern's `*`)."""
    return fnmatchcase(resource, pattern.replace("[", "[[]"))


def same_service(action: str, arn: str) -> bool:
    """Whether an action is of the service an ARN belongs to (a grant of
    ses:SendEmail on `*` says nothing about the table)."""
    parts = arn.split(":")
    return len(parts) > 2 and parts[2] == action.split(":", 1)[0]


class Resources:
    """The symbolic resource names of NEEDS, resolved, and every resource of
    the template the check knows (to tell a grant that covers too much)."""

    def __init__(self, template: Template) -> None:
        self.t = template
        table = next((n for n, r in template.resources.items() if r.get("Type") == "AWS::DynamoDB::Table"), "HelpdeskTable")
        bucket = next((n for n, r in template.resources.items() if r.get("Type") == "AWS::S3::Bucket"), "HelpdeskBucket")
        bus = next((n for n, r in template.resources.items() if r.get("Type") == "AWS::Events::EventBus"), "TicketEventsBus")
        self.table, self.bucket, self.bus = table, bucket, bus
        table_arn = template.get_att(table, "Arn")
        bucket_arn = template.get_att(bucket, "Arn")
        domain = template.ref("MailDomain")
        ses = f"arn:aws:ses:{PSEUDO['AWS::Region']}:{PSEUDO['AWS::AccountId']}:identity/"
        indexes = [i["IndexName"] for i in ((template.resources.get(table) or {}).get("Properties") or {}).get("GlobalSecondaryIndexes") or []]
        self.indexes = indexes
        self.known: dict[str, str] = {"table": table_arn}
        for index in indexes:
            self.known[f"index:{index}"] = f"{table_arn}/index/{index}"
        self.known["stream"] = template.get_att(table, "StreamArn")
        self.known["streams"] = f"{table_arn}/stream/*"
        self.known["bucket"] = bucket_arn
        for prefix in ("raw/", "attachments/", "failed-stream-records/", "metrics/", "other/"):
            self.known[f"objects:{prefix}"] = f"{bucket_arn}/{prefix}*"
        self.domain = domain
        self.known["ses:identities"] = f"{ses}{domain}"
        self.known["ses:addresses"] = f"{ses}*@{domain}"
        # Any other identity: a recipient's, verified while in the sandbox.
        self.known["ses:other"] = f"{ses}other.invalid"
        self.known["bus"] = template.get_att(bus, "Arn")
        self.known["bus:default"] = f"arn:aws:events:{PSEUDO['AWS::Region']}:{PSEUDO['AWS::AccountId']}:event-bus/default"
        for name, res in template.resources.items():
            if res.get("Type") == "AWS::SQS::Queue":
                self.known[f"queue:{name}"] = template.get_att(name, "Arn")
        secret = next((n for n, r in template.resources.items() if r.get("Type") == "AWS::SecretsManager::Secret"), None)
        self.secret = secret
        if secret:
            self.known["secret"] = template.ref(secret)
        self.known["secret:other"] = (f"arn:aws:secretsmanager:{PSEUDO['AWS::Region']}:{PSEUDO['AWS::AccountId']}"
                                      ":secret:other-AbCdEf")

    def need_patterns(self, symbol: str) -> list[str]:
        """What a need's resource must be granted on (all of them)."""
        if symbol == "ses:from-maildomain":
            return [self.known["ses:identities"], self.known["ses:addresses"], self.known["ses:other"]]
        return [self.known.get(symbol, f"<unknown resource {symbol}>")]

    def bound_needed(self, symbol: str) -> bool:
        """Whether a need is met only by a grant bound to MailDomain's From
        addresses."""
        return symbol == "ses:from-maildomain"

    def samples(self) -> dict[str, str]:
        """Concrete resources (a `*` stands for one sample name) by symbol."""
        return {k: v.replace("*", "sample") if k != "streams" else v for k, v in self.known.items()}

    def symbol_of(self, sample_key: str) -> str:
        return "ses:identities" if sample_key == "ses:addresses" else sample_key

    def secret_keys(self, logical: str | None = None) -> set[str] | None:
        """The keys of the JSON object the secret's SecretString holds (a
        !Sub of the parameters), None when it is not such an object."""
        res = self.t.resources.get(logical or self.secret or "") or {}
        value = (res.get("Properties") or {}).get("SecretString")
        text = value.get("Fn::Sub") if isinstance(value, dict) else value
        text = text[0] if isinstance(text, list) else text
        if not isinstance(text, str):
            return None
        try:
            data = json.loads(text)
        except ValueError:
            return None
        return set(data) if isinstance(data, dict) else None


def const_variables(code: rust_reach.Code, crate: str, reach: rust_reach.Reach) -> set[str]:
    """HELPDESK_* variables named by a constant (`const SECRETS_ENV: &str =
    "HELPDESK_SECRETS"`) that a reached function mentions: rust_reach.py
    reads string literals in function bodies only."""
    consts: dict[str, str] = {}
    for path in code.source_files(crate):
        for m in re.finditer(r'\bconst\s+(\w+)\s*:\s*&(?:\'static\s+)?str\s*=\s*"(HELPDESK_[A-Z0-9_]+)"',
                             path.read_text(encoding="utf-8")):
            consts[m.group(1)] = m.group(2)
    found = set()
    for fn in code.library + code.crate(crate):
        if fn.label not in reach.functions:
            continue
        for name, value in consts.items():
            if re.search(rf"\b{name}\b", fn.body):
                found.add(value)
    return found


# ================================================================= checking

HEADERS = ("function", "check", "needs", "template", "result")


def print_table(rows: list[tuple[str, str, str, str, str]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(HEADERS)]
    widths[3] = min(widths[3], 48)
    print("  ".join(h.ljust(w) for h, w in zip(HEADERS, widths)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())


def crates() -> dict[str, str]:
    """Binary name -> crate directory name of every function crate."""
    out = {}
    for manifest in sorted((ROOT / "functions").glob("*/Cargo.toml")):
        data = tomllib.loads(manifest.read_text(encoding="utf-8"))
        bins = [b["name"] for b in data.get("bin", [])] or [data["package"]["name"]]
        for name in bins:
            out[name] = manifest.parent.name
    return out


def config_variables(config_path: Path) -> dict[str, set[str]]:
    """Config key (CONFIG_LOOKUPS) -> the variable names config/helpdesk.yaml gives it."""
    data = yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}
    found: dict[str, set[str]] = {key: set() for key in rust_reach.CONFIG_LOOKUPS}

    def walk(node) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in found and isinstance(value, str):
                    found[key].add(value)
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(data)
    if not found["reply_token_secret_env"]:
        found["reply_token_secret_env"].add("HELPDESK_REPLY_TOKEN_SECRET")  # the default (config/model.rs)
    return found


class Check:
    def __init__(self, template: Template, needs: dict, code: rust_reach.Code | None, config: dict[str, set[str]] | None) -> None:
        self.t = template
        self.needs = needs
        self.code = code
        self.config = config
        self.rows: list[tuple[str, str, str, str, str]] = []
        self.failed = 0

    def row(self, function: str, check: str, needs: str, got: str, ok: bool, why: str = "") -> None:
        self.rows.append((function, check, needs, got, "pass" if ok else f"FAIL: {why}"))
        self.failed += not ok

    def findings(self) -> list[str]:
        return [" | ".join(r) for r in self.rows if r[4].startswith("FAIL")]

    # ---------------------------------------------------------- 1. resources

    def resources(self) -> dict[str, str]:
        functions = self.t.functions()
        found = {}
        for binary, crate in crates().items():
            logical = functions.get(binary)
            self.row(binary, "function resource", f"Binary: {binary}", logical or "(none)", logical is not None,
                     f"crate functions/{crate} has no AWS::Serverless::Function with BuildProperties.Binary {binary}")
            if logical:
                found[binary] = logical
            if binary not in self.needs:
                self.row(binary, "needs table", "an entry in NEEDS", "(none)", False,
                         "add the function to NEEDS in scripts/lib/check_template.py")
        for binary, logical in functions.items():
            if binary not in crates():
                self.row(binary, "function resource", "a crate's binary", logical, False,
                         f"{logical} builds {binary}, which no functions/*/Cargo.toml defines")
        for name in self.needs:
            if name not in crates():
                self.row(name, "needs table", "a function crate", "(none)", False, f"NEEDS has {name}, which is no crate's binary")
        return found

    # ------------------------------------------------------ 2. code vs table

    def code_vs_table(self, binary: str, crate: str) -> None:
        if self.code is None:
            return
        need = self.needs[binary]
        reach = self.code.reach(crate)
        ports = self.code.port_operations()

        def compare(check: str, in_code: set, in_table: set, code_only: str, table_only: str, shown=str) -> None:
            problems = [(item, code_only) for item in sorted(in_code - in_table)]
            problems += [(item, table_only) for item in sorted(in_table - in_code)]
            if not problems:
                self.row(binary, check, f"{len(in_table)} in NEEDS", f"{len(in_code)} in the code", True)
            for item, why in problems:
                self.row(binary, check, shown(item), "in the code" if item in in_code else "not in the code", False, why)

        compare("code: Store methods", set(reach.store_methods), set(need["store"]),
                "the code calls it, NEEDS does not list it", "NEEDS lists it, no code path calls it")

        # DynamoDB actions with their resources, from the Store methods the
        # code calls; other services' actions from port calls and direct SDK
        # calls (their resources, e.g. a bucket prefix, are NEEDS' word).
        implied = {(a, r) for a, r, _ in self.implied(binary)}
        derived: set[tuple[str, str]] = set()
        for method in reach.store_methods:
            for action, hint in ports.get(("Store", method), set()):
                if action.startswith("dynamodb:"):
                    derived.add((action, hint.replace("index/", "index:")))
        # DynamoDB called directly, not through the Store: on the table
        # (an index would need NEEDS' word, and shows as a difference).
        derived |= {(a, "table") for a in reach.direct_ops if a.startswith("dynamodb:")}
        declared = {(a, r) for a, r in need["actions"] if (a, r) not in implied}
        compare("code: DynamoDB actions", derived, {(a, r) for a, r in declared if a.startswith("dynamodb:")},
                "the code needs it, NEEDS does not list it", "NEEDS lists it, no code path needs it",
                lambda item: " ".join(item))
        calls = {PORT_ACTIONS[c] for c in reach.port_calls if c in PORT_ACTIONS}
        calls |= {a for a in reach.direct_ops if not a.startswith(("(", "dynamodb:"))}
        for action in sorted(need.get("not_made", {})):
            if action in calls:
                calls.discard(action)
            else:
                self.row(binary, "code: calls not made", action, "not in the code", False,
                         "NEEDS excuses a call no code path makes")
        declared_other = {a for a, _ in declared if not a.startswith("dynamodb:")}
        declared_other -= {a for a, base in COMPANIONS.items() if base in calls}
        compare("code: other AWS actions", calls, declared_other,
                "the code makes this call, NEEDS does not list it", "NEEDS lists it, no code path makes the call")

        code_env = set(reach.env_names) | const_variables(self.code, crate, reach)
        for key in reach.config_env:
            code_env |= (self.config or {}).get(key, set())
        known = set(need["env"]) | set(need.get("secrets", {})) | set(need.get("unset", {}))
        compare("code: HELPDESK_* read", code_env, known,
                "the code reads it, NEEDS neither requires nor excuses it", "NEEDS names it, no code path reads it")
        for trait, method in sorted(reach.port_calls | {("Store", m) for m in reach.store_methods}):
            variable = PORT_VARIABLES.get(trait)
            if variable and variable not in need["env"]:
                self.row(binary, "code: port variable", variable, f"{trait}::{method} reached", False,
                         f"the code calls {trait}::{method}, NEEDS does not require {variable}")

    def secret_rows(self, binary: str, logical: str, env: dict, grants: list[Grant], res: "Resources") -> None:
        """Each secret the code looks up: in the Environment, or a key of
        the secret HELPDESK_SECRETS names, which the function may read."""
        holder = self.t.render(env["HELPDESK_SECRETS"]) if "HELPDESK_SECRETS" in env else None
        secret = next((n for n, r in self.t.resources.items()
                       if r.get("Type") == "AWS::SecretsManager::Secret" and self.t.ref(n) == holder), None)
        keys = res.secret_keys(secret) if secret else None
        readable = secret is not None and any(
            covers(g.resource, holder) and fnmatchcase("secretsmanager:GetSecretValue", g.action) for g in grants)
        for name in self.needs[binary].get("secrets", {}):
            if name in env:
                self.row(binary, "secret", name, "in the Environment", True)
            elif secret is None:
                self.row(binary, "secret", name, "(nowhere)", False,
                         f"{logical} has neither {name} nor a HELPDESK_SECRETS naming an AWS::SecretsManager::Secret")
            elif keys is None or name not in keys:
                self.row(binary, "secret", name, f"not a key of {secret}", False,
                         f"{name} is not a key of the JSON object in {secret}'s SecretString")
            elif not readable:
                self.row(binary, "secret", name, f"key of {secret}", False,
                         f"{logical}'s policies do not allow secretsmanager:GetSecretValue on {secret}")
            else:
                self.row(binary, "secret", name, f"key of {secret} (HELPDESK_SECRETS)", True)

    def implied(self, binary: str) -> list[tuple[str, str, str]]:
        """Needs that come from the template's wiring: stream reads and the
        on-failure queue of an event source mapping invoking the function."""
        logical = self.t.functions().get(binary)
        out = []
        if not logical:
            return out
        res = Resources(self.t)
        for name, props in self.t.mappings_of(logical):
            source = self.t.render(props.get("EventSourceArn"))
            if source == res.known["stream"]:
                out += [(a, "stream", name) for a in STREAM_READS] + [("dynamodb:ListStreams", "streams", name)]
            else:
                out.append(("(unknown event source)", source, name))
            dest = ((props.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
            if dest:
                rendered = self.t.render(dest)
                symbol = next((k for k, v in res.known.items() if v == rendered and k.startswith("queue:")), rendered)
                out.append(("sqs:SendMessage", symbol, name))
        props = self.t.resources[logical].get("Properties") or {}
        dest = (((props.get("EventInvokeConfig") or {}).get("DestinationConfig") or {}).get("OnFailure") or {})
        if dest.get("Type") == "SQS" and dest.get("Destination"):
            rendered = self.t.render(dest["Destination"])
            symbol = next((k for k, v in res.known.items() if v == rendered and k.startswith("queue:")), rendered)
            out.append(("sqs:SendMessage", symbol, "EventInvokeConfig"))
        return out

    # ------------------------------------------------------- 3./4. template

    def template_side(self, binary: str, logical: str) -> None:
        need = self.needs[binary]
        env = self.t.environment(logical)
        for name, want in need["env"].items():
            if name not in env:
                self.row(binary, "variable", name, "(not set)", False, f"{logical} does not set {name}")
                continue
            got = self.t.render(env[name])
            if want is None:
                self.row(binary, "variable", name, got or "(a parameter)", True)
            else:
                expect = self.t.sub(want)
                self.row(binary, "variable", f"{name}={want}", got, got == expect, f"{name} is {got!r}, expected {expect!r}")

        local: list = []
        grants = statements(self.t, logical, local)
        for fn, where, expected, problem in local:
            self.row(binary, f"policy: {where}", expected, "", False, problem)
        res = Resources(self.t)
        self.secret_rows(binary, logical, env, grants, res)
        table_actions = list(need["actions"])
        for action, symbol, mapping in self.implied(binary):
            if (action, symbol) not in table_actions:
                self.row(binary, "needs table", f"{action} {symbol}", f"for {mapping}", False,
                         f"{mapping} needs {action} on {symbol}, NEEDS does not list it")
        for action, symbol in table_actions:
            bound = res.bound_needed(symbol)
            for pattern in res.need_patterns(symbol):
                by = [g for g in grants if covers(g.resource, pattern) and fnmatchcase(action, g.action)
                      and (not bound or g.from_bound(res.domain))]
                shown = symbol
                if symbol.startswith("ses:"):
                    shown = pattern.rsplit(":", 1)[-1] + (f" From *@{res.domain}" if bound else "")
                why = f"{logical}'s policies do not allow {action} on {pattern}"
                if bound:
                    why += f" in a statement whose condition binds ses:FromAddress to *@{res.domain}"
                self.row(binary, "allowed", f"{action} {shown}", ", ".join(sorted({g.where for g in by})) or "(not allowed)",
                         bool(by), why)
        # Least privilege: every resource of its service a grant covers must
        # be needed for that action (a resource that only a From-bound
        # grant may cover, only by such a grant). Findings are grouped by
        # statement and resource.
        samples = res.samples()
        needed: dict[str, list[tuple[str, bool]]] = {}
        for action, symbol in table_actions:
            patterns = res.need_patterns(symbol)
            # Only the identities beyond MailDomain's need the condition.
            needed.setdefault(action, []).extend(
                (p, res.bound_needed(symbol) and p == res.known["ses:other"]) for p in patterns)
        extra: dict[tuple[str, str], dict[str, list[str]]] = {}
        for g in grants:
            base_action = TOLERATED_WITH.get(g.action, g.action)
            hit = [key for key, sample in samples.items() if same_service(g.action, sample) and covers(g.resource, sample)]
            group = extra.setdefault((g.where, g.shown), {})
            if not hit:
                group.setdefault("(a resource the check does not know)", []).append(g.action)
            for key in hit:
                sample = samples[key]
                ok = any((covers(p, sample) or p == res.known[key]) and (not bound or g.from_bound(res.domain))
                         for a, pats in needed.items()
                         if fnmatchcase(a, base_action) or fnmatchcase(base_action, a) for p, bound in pats)
                if not ok:
                    group.setdefault(res.symbol_of(key), []).append(g.action)
        problems = 0
        for (where, shown), by_resource in extra.items():
            for symbol, actions in by_resource.items():
                problems += 1
                names = ", ".join(dict.fromkeys(actions))
                self.row(binary, "not needed", f"{names} on {symbol}", f"{where}: {shown}", False,
                         "no code path needs it")
        if not problems:
            self.row(binary, "least privilege", f"{len(grants)} grants", "each needed", True)

    def run(self) -> int:
        found = self.resources()
        for binary, crate in crates().items():
            if binary not in self.needs:
                continue
            self.code_vs_table(binary, crate)
            if binary in found:
                self.template_side(binary, found[binary])
        return self.failed


# ================================================================ self-test

def remove_action(template: Template, logical: str, action: str) -> bool:
    props = template.resources[logical]["Properties"]
    removed = False
    for policy in props.get("Policies") or []:
        if not isinstance(policy, dict) or "Statement" not in policy:
            continue
        keep = []
        for st in policy["Statement"]:
            actions = st.get("Action")
            actions = actions if isinstance(actions, list) else [actions]
            left = [a for a in actions if a != action]
            removed |= len(left) != len(actions)
            if left:
                st["Action"] = left
                keep.append(st)
        policy["Statement"] = keep
    return removed


def must(done: bool, why: str) -> None:
    if not done:
        raise AssertionError(why)


def statement(template: Template, logical: str, sid: str) -> dict:
    """The policy statement of a function with this Sid."""
    for policy in template.resources[logical]["Properties"].get("Policies") or []:
        for st in policy.get("Statement", []) if isinstance(policy, dict) else []:
            if st.get("Sid") == sid:
                return st
    raise AssertionError(f"{logical} has no statement {sid}")


def drop_statement(template: Template, logical: str, sid: str) -> None:
    statement(template, logical, sid)   # it must be there
    for policy in template.resources[logical]["Properties"].get("Policies") or []:
        if isinstance(policy, dict) and "Statement" in policy:
            policy["Statement"] = [st for st in policy["Statement"] if st.get("Sid") != sid]


def drop_secret_key(template: Template, key: str) -> None:
    """Removes a key of the JSON object in the secret's SecretString."""
    name = next(n for n, r in template.resources.items() if r.get("Type") == "AWS::SecretsManager::Secret")
    props = template.resources[name]["Properties"]
    text = props["SecretString"]["Fn::Sub"]
    data = json.loads(text)
    must(key in data, f"{name} has no key {key}")
    data.pop(key)
    props["SecretString"]["Fn::Sub"] = json.dumps(data)


def self_test(template_path: Path, config: dict[str, set[str]], code: rust_reach.Code) -> int:
    base = Template.load(template_path)
    cases = []   # (name, mutate(template, needs), the finding's expected words)
    for binary, logical in base.functions().items():
        need = NEEDS.get(binary)
        if not need:
            continue
        # The most specific ones: the last variable and the last action the
        # function's own policies grant (SAM grants the sqs: destinations).
        variable = list(need["env"])[-1]
        cases.append((f"{binary}: {variable} removed",
                      lambda t, n, lg=logical, v=variable: t.resources[lg]["Properties"]["Environment"]["Variables"].pop(v),
                      (binary, "variable", variable, "does not set")))
        action = [a for a, _ in need["actions"] if not a.startswith("sqs:")][-1]
        cases.append((f"{binary}: {action} removed",
                      lambda t, n, lg=logical, a=action: must(remove_action(t, lg, a), f"{lg} grants no {a}"),
                      (binary, "allowed", action, "do not allow")))
    first_binary, first_logical = next(iter(base.functions().items()))
    cases.append((f"{first_binary}: dynamodb:* added",
                  lambda t, n: t.resources[first_logical]["Properties"]["Policies"][0]["Statement"].append(
                      {"Sid": "Everything", "Effect": "Allow", "Action": "dynamodb:*", "Resource": {"Fn::GetAtt": ["HelpdeskTable", "Arn"]}}),
                  (first_binary, "policy: Everything", "", "wildcard action dynamodb:*")))
    cases.append((f"{first_binary}: s3:GetObject on the whole bucket added",
                  lambda t, n: t.resources[first_logical]["Properties"]["Policies"][0]["Statement"].append(
                      {"Sid": "WholeBucket", "Effect": "Allow", "Action": "s3:GetObject", "Resource": {"Fn::Sub": "${HelpdeskBucket.Arn}/*"}}),
                  (first_binary, "not needed", "s3:GetObject", "no code path")))
    cases.append((f"{first_binary}: function resource removed",
                  lambda t, n: t.resources.pop(first_logical),
                  (first_binary, "function resource", first_binary, "has no AWS::Serverless::Function")))
    store_binary = next(b for b in NEEDS if NEEDS[b]["store"])
    dropped = NEEDS[store_binary]["store"][0]
    cases.append((f"{store_binary}: Store method {dropped} dropped from NEEDS",
                  lambda t, n: n[store_binary]["store"].remove(dropped),
                  (store_binary, "code: Store method", dropped, "NEEDS does not list it")))

    # Sending: the grant, its From condition, a condition that binds
    # nothing; the secret; the archive of failed stream records.
    functions = base.functions()
    mail, triggers, form = functions.get("mail-intake"), functions.get("ticket-triggers"), functions.get("form-intake")
    cases.append(("mail-intake: the SES send grant removed",
                  lambda t, n: drop_statement(t, mail, "SendAcknowledgements"),
                  ("mail-intake", "allowed", "ses:SendEmail", "do not allow")))
    cases.append(("ticket-triggers: the ses:FromAddress condition removed",
                  lambda t, n: statement(t, triggers, "SendTriggerMail").pop("Condition"),
                  ("ticket-triggers", "allowed", "ses:SendEmail", "ses:FromAddress")))
    cases.append(("ticket-triggers: the SES grant unbound, left on every identity",
                  lambda t, n: statement(t, triggers, "SendTriggerMail").pop("Condition"),
                  ("ticket-triggers", "not needed", "ses:SendEmail, ses:SendRawEmail on ses:other", "no code path")))
    cases.append(("mail-intake: ses:FromAddress bound to any address",
                  lambda t, n: statement(t, mail, "SendAcknowledgements").update(
                      Condition={"StringLike": {"ses:FromAddress": "*"}}),
                  ("mail-intake", "allowed", "ses:SendEmail", "ses:FromAddress")))
    cases.append(("form-intake: its secret's key dropped from the secret",
                  lambda t, n: drop_secret_key(t, "HELPDESK_SECRET_TYPEFORM_FEEDBACK"),
                  ("form-intake", "secret", "HELPDESK_SECRET_TYPEFORM_FEEDBACK", "not a key")))
    cases.append(("mail-intake: GetSecretValue on every secret",
                  lambda t, n: statement(t, mail, "ReadSecrets").update(
                      Resource={"Fn::Sub": "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:*"}),
                  ("mail-intake", "not needed", "secretsmanager:GetSecretValue on secret:other", "no code path")))
    cases.append(("ticket-triggers: the failed stream records' archive grant removed",
                  lambda t, n: drop_statement(t, triggers, "ArchiveFailedStreamRecords"),
                  ("ticket-triggers", "allowed", "s3:PutObject objects:failed-stream-records/", "do not allow")))
    cases.append(("ticket-triggers: the archive grant widened to the bucket",
                  lambda t, n: statement(t, triggers, "ArchiveFailedStreamRecords").update(
                      Resource={"Fn::Sub": "${HelpdeskBucket.Arn}/*"}),
                  ("ticket-triggers", "not needed", "s3:PutObject on objects:attachments/", "no code path")))
    cases.append(("ticket-triggers: its bucket writes dropped from NEEDS",
                  lambda t, n: [n["ticket-triggers"]["actions"].remove(("s3:PutObject", f"objects:{p}"))
                                for p in ("failed-stream-records/", "metrics/")],
                  ("ticket-triggers", "code: other AWS actions", "s3:PutObject", "NEEDS does not list it")))
    cases.append(("form-intake: HELPDESK_SECRETS pointing at no secret",
                  lambda t, n: t.resources[form]["Properties"]["Environment"]["Variables"].update(HELPDESK_SECRETS="elsewhere"),
                  ("form-intake", "secret", "HELPDESK_SECRET_TYPEFORM_FEEDBACK", "neither")))

    # The agent API: its handlers are reached as function values
    # (`get(tickets::list)`), its sign-in through the extractor axum runs
    # (no call by name), its listing indexes through the listing's `Range`.
    api = functions.get("agent-api")
    cases.append(("agent-api: list_tickets (a route handler's) dropped from NEEDS",
                  lambda t, n: n["agent-api"]["store"].remove("list_tickets"),
                  ("agent-api", "code: Store method", "list_tickets", "NEEDS does not list it")))
    cases.append(("agent-api: api_token (the Agent extractor's) dropped from NEEDS",
                  lambda t, n: n["agent-api"]["store"].remove("api_token"),
                  ("agent-api", "code: Store method", "api_token", "NEEDS does not list it")))
    cases.append(("agent-api: Query on gsi4 dropped from NEEDS",
                  lambda t, n: n["agent-api"]["actions"].remove(("dynamodb:Query", "index:gsi4")),
                  ("agent-api", "code: DynamoDB actions", "dynamodb:Query index:gsi4", "NEEDS does not list it")))
    cases.append(("agent-api: the gsi4 grant removed",
                  lambda t, n: statement(t, api, "ListingIndexes").update(Resource=[
                      r for r in statement(t, api, "ListingIndexes")["Resource"] if "gsi4" not in json.dumps(r)]),
                  ("agent-api", "allowed", "dynamodb:Query index:gsi4", "do not allow")))
    cases.append(("agent-api: the listing grant widened to every index",
                  lambda t, n: statement(t, api, "ListingIndexes").update(
                      Resource={"Fn::Sub": "${HelpdeskTable.Arn}/index/*"}),
                  ("agent-api", "not needed", "dynamodb:Query on index:gsi3", "no code path")))

    env_binary = next(b for b in NEEDS if "HELPDESK_RAW_MAIL" in NEEDS[b]["env"])
    cases.append((f"{env_binary}: HELPDESK_RAW_MAIL dropped from NEEDS",
                  lambda t, n: n[env_binary]["env"].pop("HELPDESK_RAW_MAIL"),
                  (env_binary, "code: HELPDESK_* read", "HELPDESK_RAW_MAIL", "the code reads it")))

    rows = []
    failed = 0
    for name, mutate, words in cases:
        template = Template(copy.deepcopy(base.data))
        needs = copy.deepcopy(NEEDS)
        try:
            mutate(template, needs)
            check = Check(template, needs, code, config)
            check.run()
            findings = check.findings()
            hit = [f for f in findings if all(w in f for w in words)]
            ok = bool(hit)
            got = hit[0] if hit else f"{len(findings)} findings, none naming {' / '.join(w for w in words if w)}"
        except AssertionError as err:
            ok, got = False, f"could not break the copy: {err}"
        failed += not ok
        rows.append((name, "reported" if ok else "NOT REPORTED", got))
    width = max(len(r[0]) for r in rows)
    print(f"{'broken copy'.ljust(width)}  result        finding")
    print(f"{'-' * width}  ------------  -------")
    for name, result, got in rows:
        print(f"{name.ljust(width)}  {result.ljust(12)}  {got}")
    print()
    print(f"template check self-test: {len(rows) - failed} of {len(rows)} broken copies reported")
    return 1 if failed else 0


# ==================================================================== main

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--template", type=Path, default=ROOT / "infra" / "template.yaml")
    parser.add_argument("--config", type=Path, default=ROOT / "config" / "helpdesk.yaml")
    parser.add_argument("--self-test", action="store_true", help="break copies of the template and expect findings")
    args = parser.parse_args()

    config = config_variables(args.config)
    code = rust_reach.Code()
    if args.self_test:
        return self_test(args.template, config, code)

    check = Check(Template.load(args.template), NEEDS, code, config)
    check.run()
    print_table(check.rows)
    print()
    passed = len(check.rows) - check.failed
    print(f"template checks: {passed} passed, {check.failed} failed "
          f"({len(crates())} function crates; code read from shared/src, functions/*/src "
          "and the workspace crates they depend on by path)")
    if check.failed:
        print("\nfindings:", file=sys.stderr)
        for row in check.rows:
            if row[4].startswith("FAIL"):
                where = f" ({row[3]})" if row[3] else ""
                print(f"  {row[0]}: {row[1]}: {row[2]}{where}: {row[4][6:]}", file=sys.stderr)
    return 1 if check.failed else 0


if __name__ == "__main__":
    sys.exit(main())
