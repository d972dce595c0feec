#!/usr/bin/env python3
"""Writes the sample events of the mail intake function (events/mail-intake/).

The raw messages are our own, in events/mail-intake/messages/ (kept in git,
edited by hand). This script makes the events that point at them: SES
receipt-rule Lambda-action events (the rule's S3 action stored the message
at raw/<SES message id>; `mail.headers` and `commonHeaders` are taken from
the message, as SES does) and S3 ObjectCreated notifications, plus
objects.json, the manifest of the objects the events expect in the raw-mail
bucket (scripts/lib/moto_setup.py --objects uploads them; the function's
unit tests read them from the repository). Run it after changing a message
or a scenario, then commit the regenerated files:

    python3 scripts/lib/gen_mail_events.py            # rewrite the files
    python3 scripts/lib/gen_mail_events.py --check    # fail if a file differs

Standard library only.
"""

from __future__ import annotations

import argparse
import email
import email.header
import email.policy
import hashlib
import json
import sys
from pathlib import Path
from urllib.parse import quote_plus

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "events" / "mail-intake"
MESSAGES = OUT / "messages"

# The raw-mail bucket and prefix of the samples: scripts/test creates this
# bucket on moto and gives the function HELPDESK_RAW_MAIL=s3://BUCKET/PREFIX.
BUCKET = "helpdesk-mail-example"
PREFIX = "raw/"
REGION = "eu-west-1"
ACCOUNT = "123456789012"
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:helpdesk-mail-intake"
RULE_SET = "helpdesk-receipt-rules"


def ses_message_id(name: str) -> str:
    """A stable, SES-shaped (lower-case letters and digits) message id."""
    digest = hashlib.sha512(name.encode()).digest()
    alphabet = "0123456789abcdefghijklmnopqrstuv"
    return "".join(alphabet[b % 32] for b in digest[:40])


def headers_of(raw: bytes) -> list[tuple[str, str]]:
    """The message's header fields, unfolded, in order (SES's own X-SES-*
    verdict headers are left out, as in SES's events)."""
    message = email.message_from_bytes(raw, policy=email.policy.compat32)
    out = []
    for name, value in message.items():
        if name.lower().startswith("x-ses-"):
            continue
        out.append((name, " ".join(str(value).split())))
    return out


def common_headers(headers: list[tuple[str, str]]) -> dict:
    """SES's commonHeaders: the usual fields, decoded (RFC 2047)."""
    def get(name: str) -> str | None:
        for n, v in headers:
            if n.lower() == name.lower():
                return v
        return None

    def decoded(value: str | None) -> str | None:
        if value is None:
            return None
        return str(email.header.make_header(email.header.decode_header(value)))

    common: dict = {"from": [decoded(get("From"))] if get("From") else []}
    if get("Return-Path"):
        common["returnPath"] = get("Return-Path").strip("<>")
    if get("Date"):
        common["date"] = get("Date")
    to = get("To")
    if to and "undisclosed-recipients" not in to:
        common["to"] = [decoded(to)]
    if get("Message-ID"):
        common["messageId"] = get("Message-ID")
    if get("Subject") is not None:
        common["subject"] = decoded(get("Subject"))
    return common


def verdict(status: str) -> dict:
    return {"status": status}


def ses_event(
    *,
    raw: bytes,
    message_id: str,
    recipients: list[str],
    timestamp: str,
    spam: str = "PASS",
    virus: str = "PASS",
    invocation: str = "Event",
) -> dict:
    """An SES receipt rule's Lambda action event for a stored message."""
    headers = headers_of(raw)
    common = common_headers(headers)
    source = common.get("returnPath", "")
    return {
        "Records": [
            {
                "eventSource": "aws:ses",
                "eventVersion": "1.0",
                "ses": {
                    "mail": {
                        "timestamp": timestamp,
                        "source": source,
                        "messageId": message_id,
                        "destination": recipients,
                        "headersTruncated": False,
                        "headers": [{"name": n, "value": v} for n, v in headers],
                        "commonHeaders": common,
                    },
                    "receipt": {
                        "timestamp": timestamp,
                        "processingTimeMillis": 412,
                        "recipients": recipients,
                        "spamVerdict": verdict(spam),
                        "virusVerdict": verdict(virus),
                        "spfVerdict": verdict("PASS"),
                        "dkimVerdict": verdict("PASS"),
                        "dmarcVerdict": verdict("PASS"),
                        "dmarcPolicy": "none",
                        "action": {
                            "type": "Lambda",
                            "functionArn": FUNCTION_ARN,
                            "invocationType": invocation,
                        },
                    },
                },
            }
        ]
    }


def s3_event(*, key: str, size: int, time: str, sequencer: str, event_name: str = "ObjectCreated:Put") -> dict:
    """An S3 event notification record for one object (key URL-encoded, as S3 sends it)."""
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": REGION,
                "eventTime": time,
                "eventName": event_name,
                "userIdentity": {"principalId": "AWS:AROAEXAMPLEROLEID:ses"},
                "requestParameters": {"sourceIPAddress": "10.0.12.34"},
                "responseElements": {
                    "x-amz-request-id": "3F1B6C2D8E7A9B0C",
                    "x-amz-id-2": "p1Q2r3S4t5U6v7W8x9Y0z1A2b3C4d5E6f7G8h9I0j1K2l3M4n5O6p7Q8r9S0t1U2v3W4x5Y6z7A8=",
                },
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "helpdesk-raw-mail",
                    "bucket": {
                        "name": BUCKET,
                        "ownerIdentity": {"principalId": "A3EXAMPLEOWNER"},
                        "arn": f"arn:aws:s3:::{BUCKET}",
                    },
                    "object": {
                        "key": quote_plus(key, safe="/"),
                        "size": size,
                        "eTag": hashlib.md5(key.encode()).hexdigest(),
                        "sequencer": sequencer,
                    },
                },
            }
        ]
    }


def read(name: str) -> bytes:
    return (MESSAGES / name).read_bytes()


def build() -> tuple[dict[str, dict], dict]:
    """(event files by name, objects manifest)."""
    events: dict[str, dict] = {}
    objects: dict[str, str] = {}

    def stored(message: str) -> tuple[bytes, str]:
        """The message's bytes and its SES id; registers raw/<id> as an object."""
        message_id = ses_message_id(message)
        objects[PREFIX + message_id] = f"messages/{message}"
        return read(message), message_id

    support = ["support@example.com"]
    for event_name, message, when, extra in [
        ("ses-new-mail.json", "new-mail.eml", "2026-03-02T09:00:04.511Z", {}),
        ("ses-reply-by-header.json", "reply-by-header.eml", "2026-03-02T09:20:11.207Z", {}),
        ("ses-reply-by-subject-key.json", "reply-by-subject-key.eml", "2026-03-02T11:02:45.930Z", {}),
        ("ses-spam-fail.json", "spam.eml", "2026-03-02T09:05:00.118Z", {"spam": "FAIL"}),
        ("ses-virus-fail.json", "virus.eml", "2026-03-02T09:06:30.640Z", {"virus": "FAIL"}),
        ("ses-autoresponder.json", "autoresponder.eml", "2026-03-02T09:30:02.377Z", {}),
        ("ses-not-mail.json", "not-mail.bin", "2026-03-02T12:44:19.052Z", {}),
    ]:
        raw, message_id = stored(message)
        events[event_name] = ses_event(
            raw=raw, message_id=message_id, recipients=support, timestamp=when, **extra
        )

    raw, message_id = stored("sync-help.eml")
    events["ses-sync-request-response.json"] = ses_event(
        raw=raw,
        message_id=message_id,
        recipients=["help@example.com"],
        timestamp="2026-03-02T13:15:09.781Z",
        invocation="RequestResponse",
    )

    # SES says it stored this one, but there is no such object: the read fails.
    ghost = (
        b"Return-Path: <ghost@nowhere.example>\r\nFrom: Ghost <ghost@nowhere.example>\r\n"
        b"To: support@example.com\r\nSubject: Is anybody there?\r\n"
        b"Date: Mon, 2 Mar 2026 14:00:00 +0000\r\nMessage-ID: <ghost-1@nowhere.example>\r\n\r\nHello?\r\n"
    )
    events["ses-raw-missing.json"] = ses_event(
        raw=ghost,
        message_id=ses_message_id("missing"),
        recipients=support,
        timestamp="2026-03-02T14:00:03.004Z",
    )

    # A message put into the raw-mail prefix by hand (or by another MTA),
    # Bcc'd to support: the key has a space and a plus sign.
    upload_key = PREFIX + "uploads/bcc mail+1.eml"
    objects[upload_key] = "messages/bcc-upload.eml"
    events["s3-object-created-bcc.json"] = s3_event(
        key=upload_key,
        size=len(read("bcc-upload.eml")),
        time="2026-03-02T15:40:33.212Z",
        sequencer="0066D2E9A1B2C3D4E5",
    )

    # The S3 notification for an object SES stored and announced already.
    same_key = PREFIX + ses_message_id("new-mail.eml")
    events["s3-object-created-same-as-ses.json"] = s3_event(
        key=same_key,
        size=len(read("new-mail.eml")),
        time="2026-03-02T09:00:04.498Z",
        sequencer="0066D2B0F4A1E2D3C4",
    )

    # Not raw mail: an attachment the pipeline stored, and SES's setup object.
    events["s3-object-created-attachment.json"] = s3_event(
        key="attachments/SUP-1/mail-0a1b2c3d4e5f-1-invoices.csv",
        size=100,
        time="2026-03-02T09:00:05.020Z",
        sequencer="0066D2B0F5B2F3E4D5",
    )
    events["s3-ses-setup-notification.json"] = s3_event(
        key=PREFIX + "AMAZON_SES_SETUP_NOTIFICATION",
        size=594,
        time="2026-03-01T08:00:00.000Z",
        sequencer="0066D16A3C0000000A",
    )

    # Not an event this function takes (an EventBridge schedule).
    events["not-an-event.json"] = {
        "version": "0",
        "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "time": "2026-03-02T09:00:00Z",
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/helpdesk-sla-check"],
        "detail": {},
    }

    manifest = {
        "$comment": (
            "Objects the sample events expect in the raw-mail bucket (written by "
            "scripts/lib/gen_mail_events.py; scripts/lib/moto_setup.py --objects uploads them)."
        ),
        "bucket": BUCKET,
        "raw_mail": f"s3://{BUCKET}/{PREFIX}",
        "objects": dict(sorted(objects.items())),
    }
    return events, manifest


def render(value: dict) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="compare with the files instead of writing them")
    args = parser.parse_args()

    events, manifest = build()
    files = {name: render(event) for name, event in events.items()}
    files["objects.json"] = render(manifest)
    stale = []
    for name, text in files.items():
        path = OUT / name
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(ROOT)}")
    if args.check:
        for key, file in manifest["objects"].items():
            if not (OUT / file).is_file():
                stale.append(f"{file} (object {key})")
    if stale:
        print("events differ from scripts/lib/gen_mail_events.py: " + ", ".join(stale), file=sys.stderr)
        return 1
    if args.check:
        print(f"mail events: {len(events)} events and {len(manifest['objects'])} objects as generated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
