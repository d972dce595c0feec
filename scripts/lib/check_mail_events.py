#!/usr/bin/env python3
"""Invokes the mail intake function with every event of events/mail-intake/,
twice, and checks the answers, the stored tickets, the raw-mail keys on
their timelines and the acknowledgements sent, against
events/mail-intake/expected.json.

Used by scripts/test, which starts `cargo lambda watch --only-lambda-apis`,
moto (the raw-mail bucket, filled by moto_setup.py --objects) and the
function binary first.

    check_mail_events.py --static
        only checks the files: every event is listed in expected.json and
        the other way round, each with `first` and `again`.

    check_mail_events.py --cargo-lambda .venv/bin/cargo-lambda --port 9123 \
        --helpdesk 'env HELPDESK_DB=... target/debug/helpdesk' \
        --blobs DIR|s3://BUCKET[/PREFIX] \
        (--outbox DIR | --moto http://127.0.0.1:PORT) [--label NAME]
        invokes every event once in order, then every event again (a
        redelivery), and checks everything. `--outbox`: acknowledgements are
        files in DIR (HELPDESK_MAIL_TRANSPORT=outbox:DIR); `--moto`: they
        were sent through SES on moto and are read from
        GET /moto-api/data.json (only messages that were not there before
        the first invocation count).

S3 is read with boto3 (installed with moto) through AWS_ENDPOINT_URL.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import json
import os
import re
import shlex
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from check_form_events import MISSING, check_value, list_tickets, lookup, print_table  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
Row = tuple[str, str, str, str, str]


# ------------------------------------------------------------ static checks


def static_problems(events_dir: Path, expected: dict) -> list[str]:
    problems = []
    listed = list(expected["events"])
    present = {p.name for p in events_dir.glob("*.json") if p.name not in ("expected.json", "objects.json")}
    for name in sorted(present - set(listed)):
        problems.append(f"{name}: not listed in expected.json (every event needs expectations)")
    for name in listed:
        if name not in present:
            problems.append(f"{name}: listed in expected.json but missing from {events_dir}")
            continue
        spec = expected["events"][name]
        for phase in ("first", "again"):
            if not isinstance(spec.get(phase), dict) or not spec[phase]:
                problems.append(f"{name}: no `{phase}` expectation")
        try:
            json.loads((events_dir / name).read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            problems.append(f"{name}: not JSON: {err}")
    return problems


# ---------------------------------------------------------------- invoking


class Invoker:
    """`cargo lambda invoke` of one function; answers are (ok, value, text, secs)."""

    def __init__(self, cargo_lambda: str, function: str, port: int, timeout: float, pid: int | None) -> None:
        self.cargo_lambda = cargo_lambda
        self.function = function
        self.port = port
        self.timeout = timeout
        self.pid = pid

    def function_alive(self) -> bool:
        if self.pid is None:
            return True
        try:
            with open(f"/proc/{self.pid}/stat", encoding="ascii") as stat:
                return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
        except OSError:
            return False

    def invoke(self, event_file: Path) -> tuple[str, object, float]:
        """("ok", answer) | ("error", errorType) | ("broken", text), seconds."""
        if not self.function_alive():
            return "broken", f"the function process ({self.pid}) has exited: see its log", 0.0
        cmd = [
            self.cargo_lambda, "lambda", "invoke", self.function,
            "--data-file", str(event_file),
            "--invoke-address", "127.0.0.1", "--invoke-port", str(self.port),
            "--output-format", "json",
        ]
        started = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        while True:
            try:
                stdout, stderr = proc.communicate(timeout=0.25)
                break
            except subprocess.TimeoutExpired:
                pass
            if not self.function_alive() or time.monotonic() - started > self.timeout:
                proc.kill()
                proc.communicate()
                why = "exited during the invocation" if not self.function_alive() else f"gave no answer within {self.timeout:.0f}s"
                return "broken", f"the function {why}: see its log", time.monotonic() - started
        secs = time.monotonic() - started
        if proc.returncode == 0:
            try:
                return "ok", json.loads(stdout), secs
            except ValueError:
                return "broken", f"invoke printed no JSON: {stdout.strip()[:300]}", secs
        # A function error: cargo lambda prints the error response's
        # errorType ("Error: RawMailMissing", then the message).
        text = stderr + stdout
        match = re.search(r"^Error:\s*([A-Za-z][\w.:]*)\s*$", text, re.MULTILINE) or re.search(
            r'"errorType"\s*:\s*"([^"]+)"', text
        )
        if match:
            return "error", match.group(1), secs
        return "broken", f"invoke failed (exit {proc.returncode}): {text.strip()[-400:]}", secs


# ------------------------------------------------------------ answer checks


def check_fields(got: dict, want: dict) -> list[str]:
    problems = []
    for field, value in want.items():
        if field.endswith("_matches"):
            name = field[: -len("_matches")]
            wrong = check_value(got.get(name, MISSING), {"matches": value})
        else:
            name = field
            wrong = check_value(got.get(name, MISSING), {"equals": value})
        if wrong:
            problems.append(f"{name} {wrong}")
    return problems


def expected_raw_key(bucket: str, key: str, blobs: str) -> str:
    """What the function must record as raw_key (see functions/mail-intake/src/raw.rs)."""
    if blobs.startswith("s3://"):
        blob_bucket, _, prefix = blobs[len("s3://"):].partition("/")
        prefix = prefix.strip("/")
        if blob_bucket == bucket:
            if not prefix:
                return key
            if key.startswith(prefix + "/") and len(key) > len(prefix) + 1:
                return key[len(prefix) + 1:]
    return f"s3://{bucket}/{key}"


def summary(report: dict) -> str:
    """`outcome ticket` (or `not_accepted quarantined`)."""
    second = report.get("ticket") or (report.get("detail") if report.get("outcome") == "not_accepted" else None)
    return " ".join(filter(None, (report.get("outcome"), second)))


def check_answer(want: dict, kind: str, value: object, blobs: str) -> tuple[str, list[str]]:
    """(what we got, problems)."""
    if kind == "broken":
        return "-", [str(value)]
    if "error" in want:
        if kind != "error":
            return "ok", [f"answered {json.dumps(value)[:200]}, expected the error {want['error']}"]
        return f"error {value}", [] if value == want["error"] else [f"errorType {value}, expected {want['error']}"]
    if kind == "error":
        return f"error {value}", ["the invocation failed"]
    if "answer" in want:
        got = json.dumps(value, sort_keys=True)
        return got, [] if value == want["answer"] else [f"answer {got}, expected {json.dumps(want['answer'], sort_keys=True)}"]
    messages = value.get("messages") if isinstance(value, dict) else None
    if not isinstance(messages, list):
        return "?", [f"no `messages` in the answer: {json.dumps(value)[:200]}"]
    got = ", ".join(summary(m) for m in messages)
    problems = []
    if len(messages) != len(want["messages"]):
        problems.append(f"{len(messages)} message reports, expected {len(want['messages'])}")
    for i, (report, expect) in enumerate(zip(messages, want["messages"])):
        problems += [f"[{i}] {p}" for p in check_fields(report, expect)]
        if report.get("raw_key") is not None:
            should = expected_raw_key(report.get("bucket", ""), report.get("key", ""), blobs)
            if report["raw_key"] != should:
                problems.append(f"[{i}] raw_key {report['raw_key']!r}, expected {should!r}")
    return got, problems


# ----------------------------------------------------------- store checks


def run_json(cmd: list[str]) -> tuple[object, str]:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        return None, str(err)
    if proc.returncode != 0:
        return None, f"exit {proc.returncode}: {proc.stderr.strip()[-300:]}"
    try:
        return json.loads(proc.stdout), ""
    except ValueError:
        return None, f"not JSON: {proc.stdout[:200]!r}"


def s3_client():
    import boto3  # comes with moto[server]; reads AWS_ENDPOINT_URL

    return boto3.client("s3")


def object_exists(raw_key: str, blobs: str) -> bool:
    if raw_key.startswith("s3://"):
        bucket, _, key = raw_key[len("s3://"):].partition("/")
    elif blobs.startswith("s3://"):
        bucket, _, prefix = blobs[len("s3://"):].partition("/")
        prefix = prefix.strip("/")
        key = f"{prefix}/{raw_key}" if prefix else raw_key
    else:
        return (Path(blobs) / raw_key).is_file()
    try:
        s3_client().head_object(Bucket=bucket, Key=key)
        return True
    except Exception:  # noqa: BLE001 - any failure means "not there" here
        return False


def check_store(expected: dict, helpdesk: list[str], blobs: str) -> list[Row]:
    rows: list[Row] = []
    tickets, error = list_tickets(shlex.join(helpdesk + ["tickets", "list", "--json"]))
    want_keys = sorted(expected["tickets"])
    if tickets is None:
        return [("tickets in the store", str(len(want_keys)), "-", "FAIL", error)]
    keys = sorted(str(t.get("key")) for t in tickets)
    ok = keys == want_keys
    rows.append((
        "tickets in the store", " ".join(want_keys), " ".join(keys), "pass" if ok else "FAIL",
        "" if ok else "spam, virus, not-mail, skipped and failed events and every redelivery must create no ticket",
    ))
    for key, spec in expected["tickets"].items():
        shown, error = run_json(helpdesk + ["tickets", "show", key, "--json"])
        label = f"{key} (stored)"
        if not isinstance(shown, dict):
            rows.append((label, "ticket", "-", "FAIL", error or "not a JSON object"))
            continue
        problems = []
        for path, check in spec.get("fields", {}).items():
            wrong = check_value(lookup(shown, path), check)
            if wrong:
                problems.append(f"{path} {wrong}")
        timeline = shown.get("timeline") or []
        counts: dict[str, int] = {}
        for entry in timeline:
            counts[entry.get("type", "?")] = counts.get(entry.get("type", "?"), 0) + 1
        for kind, want in spec.get("timeline", {}).items():
            if counts.get(kind, 0) != want:
                problems.append(f"timeline has {counts.get(kind, 0)} {kind}, expected {want}")
        raw_keys = [e.get("raw_key") for e in timeline if e.get("type") == "email_in"]
        for raw_key in raw_keys:
            if not raw_key:
                problems.append("an email_in without raw_key")
            elif not object_exists(raw_key, blobs):
                problems.append(f"raw_key {raw_key!r} names no stored object (blobs {blobs})")
        blob_keys = [e.get("blob_key") for e in timeline if e.get("type") == "attachment_added"]
        for blob_key in blob_keys:
            if not blob_key or not object_exists(blob_key, blobs):
                problems.append(f"attachment blob_key {blob_key!r} names no stored object (blobs {blobs})")
        got = " ".join(f"{k}={v}" for k, v in sorted(counts.items()) if k in spec.get("timeline", {}))
        found = f"{len(raw_keys)} raw_key(s)" + (f", {len(blob_keys)} attachment(s)" if blob_keys else "")
        rows.append((label, "fields, timeline", got or "-", "FAIL" if problems else "pass",
                     "\n".join(problems) or f"{found} stored"))
    return rows


# ------------------------------------------------------ acknowledgements


def outbox_messages(outbox: Path) -> list[bytes]:
    if not outbox.is_dir():
        return []
    return [p.read_bytes() for p in sorted(outbox.glob("*.eml"))]


def moto_sent(endpoint: str) -> dict[str, bytes]:
    with urllib.request.urlopen(f"{endpoint.rstrip('/')}/moto-api/data.json", timeout=30) as response:
        data = json.load(response)
    out = {}
    for message in (data.get("ses") or {}).get("RawMessage") or []:
        out[str(message.get("id"))] = str(message.get("raw_data", "")).encode("utf-8")
    return out


def check_acknowledgements(expected: list[dict], sent: list[bytes], where: str) -> list[Row]:
    rows: list[Row] = []
    parsed = []
    for raw in sent:
        message = email.message_from_bytes(raw, policy=email.policy.default)
        parsed.append({
            "to": str(message.get("To", "")),
            "subject": str(message.get("Subject", "")),
            "in_reply_to": str(message.get("In-Reply-To", "")),
            "auto_submitted": str(message.get("Auto-Submitted", "")),
            "reply_to": str(message.get("Reply-To", "")),
        })
    ok = len(parsed) == len(expected)
    rows.append(("acknowledgements sent", str(len(expected)), str(len(parsed)), "pass" if ok else "FAIL",
                 f"{where}" if ok else f"{where}: to {[p['to'] for p in parsed]}"))
    for want in expected:
        label = f"ack to {want['to']}"
        mine = [p for p in parsed if want["to"] in p["to"]]
        if len(mine) != 1:
            rows.append((label, "1", str(len(mine)), "FAIL", "exactly one acknowledgement per new ticket"))
            continue
        problems = check_fields(mine[0], {k: v for k, v in want.items() if k != "to"})
        rows.append((label, "1", "1", "FAIL" if problems else "pass", "\n".join(problems) or mine[0]["subject"]))
    return rows


# --------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events-dir", type=Path, default=ROOT / "events" / "mail-intake")
    parser.add_argument("--static", action="store_true", help="check the event files only")
    parser.add_argument("--cargo-lambda")
    parser.add_argument("--port", type=int)
    parser.add_argument("--function", default="mail-intake")
    parser.add_argument("--function-pid", type=int)
    parser.add_argument("--label", default="")
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--helpdesk", help="command line of the helpdesk CLI over the function's store")
    parser.add_argument("--blobs", help="the function's HELPDESK_BLOBS")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--outbox", type=Path, help="the function's outbox directory")
    where.add_argument("--moto", help="moto's endpoint, for SES sent mail")
    args = parser.parse_args()

    expected = json.loads((args.events_dir / "expected.json").read_text(encoding="utf-8"))
    problems = static_problems(args.events_dir, expected)
    if problems:
        print("event files do not match expected.json:")
        for p in problems:
            print(f"  - {p}")
        return 1
    print(f"event files: {len(expected['events'])} events, all listed with first and again expectations")
    if args.static:
        return 0
    if not (args.cargo_lambda and args.port and args.helpdesk and args.blobs and (args.outbox or args.moto)):
        parser.error("--cargo-lambda, --port, --helpdesk, --blobs and --outbox or --moto are needed unless --static")

    before = set(moto_sent(args.moto)) if args.moto else set()
    invoker = Invoker(args.cargo_lambda, args.function, args.port, args.timeout, args.function_pid)
    rows: list[Row] = []
    for phase in ("first", "again"):
        for name, spec in expected["events"].items():
            want = spec[phase]
            kind, value, secs = invoker.invoke(args.events_dir / name)
            got, problems = check_answer(want, kind, value, args.blobs)
            label = name if phase == "first" else f"{name} (again)"
            shown_want = (
                f"error {want['error']}" if "error" in want
                else "answer" if "answer" in want
                else ", ".join(summary(m) for m in want["messages"])
            )
            if len(got) > 40:
                got = got[:37] + "..."
            rows.append((label, shown_want, got, "FAIL" if problems else "pass", "\n".join(problems) or f"{secs:.2f}s"))

    rows += check_store(expected, shlex.split(args.helpdesk), args.blobs)
    if args.moto:
        sent = moto_sent(args.moto)
        rows += check_acknowledgements(
            expected["acknowledgements"], [raw for mid, raw in sent.items() if mid not in before], "moto SES sent mail"
        )
    else:
        rows += check_acknowledgements(expected["acknowledgements"], outbox_messages(args.outbox), f"outbox {args.outbox.name}/")

    print()
    print_table(rows)
    failed = sum(1 for row in rows if row[3] == "FAIL")
    print()
    label = f" ({args.label})" if args.label else ""
    print(f"mail intake checks{label}: {len(rows) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
