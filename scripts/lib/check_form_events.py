#!/usr/bin/env python3
"""Invokes the form intake function with every event of events/form-intake/
and checks each response against events/form-intake/expected.json.

Used by scripts/test, which starts `cargo lambda watch --only-lambda-apis`
and the function binary first. Standard library only.

    check_form_events.py --static
        only checks the event files themselves (every file is listed in
        expected.json and the other way round, bodies decode, Typeform
        signatures are what expected.json says they are); needs no server.

    check_form_events.py --cargo-lambda .venv/bin/cargo-lambda --port 9123 \
        [--blobs DIR|s3://BUCKET/PREFIX] [--tickets-cmd 'helpdesk tickets list --json']
        also invokes the function and checks the responses.

expected.json, per event file:
    status          the expected statusCode
    headers         {name: check}; names are case-insensitive
    json            [{path, <check>}]: checks on the JSON body; a path is
                    dotted ("errors[].field" collects a field of every
                    array item)
    invoke_twice    "same_ticket": invoked again after all other events, the
                    answer must carry the same ticket key (idempotency)
    creates_ticket  true when the first invocation creates one ticket
    ticket_fields   {path: check} on the stored ticket (from --tickets-cmd), found
                    by the response's ticket key or by find_ticket_by
                    {path: value}
    stored_blob_contains
                    text that a file under --blobs must contain after the
                    invocation (an attachment was stored)
    typeform_signature
                    {"secret": S, "valid": bool}: the event's
                    Typeform-Signature is (or is not) the HMAC of its body
A check is one of: equals V, matches REGEX, one_of [V...], contains_all
[V...] (a list holds every V), null_or_absent true, nonempty true.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MISSING = object()


# ------------------------------------------------------------------ helpers


def event_body(event: dict) -> bytes:
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        return base64.b64decode(body, validate=True)
    return body.encode("utf-8")


def lookup(value: object, path: str) -> object:
    """Follows a dotted path; `name[]` maps the rest of the path over a list."""
    if not path:
        return value
    head, _, rest = path.partition(".")
    if head.endswith("[]"):
        items = value.get(head[:-2], MISSING) if isinstance(value, dict) else MISSING
        if not isinstance(items, list):
            return MISSING
        out = [lookup(item, rest) for item in items]
        return [item for item in out if item is not MISSING]
    if not isinstance(value, dict) or head not in value:
        return MISSING
    return lookup(value[head], rest)


def check_value(value: object, check: dict) -> str | None:
    """None when the value passes the check, else what is wrong."""
    shown = "<absent>" if value is MISSING else json.dumps(value, ensure_ascii=False)
    if len(shown) > 120:
        shown = shown[:117] + "..."
    for op, want in check.items():
        if op in ("path", "why"):
            continue
        if op == "equals":
            if value is MISSING or value != want:
                return f"is {shown}, expected {json.dumps(want)}"
        elif op == "matches":
            if not isinstance(value, str) or not re.search(want, value):
                return f"is {shown}, expected to match /{want}/"
        elif op == "one_of":
            if value is MISSING or value not in want:
                return f"is {shown}, expected one of {json.dumps(want)}"
        elif op == "contains_all":
            if not isinstance(value, list) or any(w not in value for w in want):
                return f"is {shown}, expected to contain {json.dumps(want)}"
        elif op == "null_or_absent":
            if want and value is not MISSING and value is not None:
                return f"is {shown}, expected null or absent"
        elif op == "nonempty":
            if want and (value is MISSING or value in (None, "", [], {})):
                return f"is {shown}, expected a non-empty value"
        else:
            return f"unknown check `{op}` in expected.json"
    return None


# ------------------------------------------------------------ static checks


def static_problems(events_dir: Path, expected: dict) -> list[str]:
    problems = []
    listed = set(expected["events"])
    present = {p.name for p in events_dir.glob("*.json") if p.name != "expected.json"}
    for name in sorted(present - listed):
        problems.append(f"{name}: not listed in expected.json (every event needs expectations)")
    for name in sorted(listed - present):
        problems.append(f"{name}: listed in expected.json but missing from {events_dir}")
    for name in sorted(listed & present):
        spec = expected["events"][name]
        try:
            event = json.loads((events_dir / name).read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            problems.append(f"{name}: not JSON: {err}")
            continue
        try:
            body = event_body(event)
        except ValueError as err:
            problems.append(f"{name}: body is not valid base64: {err}")
            continue
        if not isinstance(spec.get("status"), int):
            problems.append(f"{name}: expected.json gives no integer `status`")
        sig = spec.get("typeform_signature")
        if sig:
            header = {k.lower(): v for k, v in (event.get("headers") or {}).items()}.get("typeform-signature", "")
            digest = hmac.new(sig["secret"].encode(), body, hashlib.sha256).digest()
            good = header == "sha256=" + base64.b64encode(digest).decode()
            if good != sig["valid"]:
                state = "valid" if good else "not valid"
                problems.append(
                    f"{name}: Typeform-Signature is {state} for secret {sig['secret']!r}, "
                    f"expected.json says valid={sig['valid']} (regenerate with scripts/lib/gen_form_events.py)"
                )
    return problems


# ---------------------------------------------------------------- invoking


class Invoker:
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
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        try:
            with open(f"/proc/{self.pid}/stat", encoding="ascii") as stat:
                return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
        except OSError:
            return True

    def invoke(self, event_file: Path) -> tuple[dict | None, str, float]:
        """(response or None, error text, seconds)."""
        if not self.function_alive():
            return None, f"the function process ({self.pid}) has exited: see its log", 0.0
        cmd = [
            self.cargo_lambda,
            "lambda",
            "invoke",
            self.function,
            "--data-file",
            str(event_file),
            "--invoke-address",
            "127.0.0.1",
            "--invoke-port",
            str(self.port),
            "--output-format",
            "json",
        ]
        started = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        while True:
            try:
                stdout, stderr = proc.communicate(timeout=0.25)
                break
            except subprocess.TimeoutExpired:
                pass
            gone = not self.function_alive()
            if gone or time.monotonic() - started > self.timeout:
                proc.kill()
                proc.communicate()
                if gone:
                    return None, f"the function process ({self.pid}) exited during the invocation: see its log", time.monotonic() - started
                return None, f"no answer within {self.timeout:.0f}s", time.monotonic() - started
        elapsed = time.monotonic() - started
        if proc.returncode != 0:
            text = (stderr.strip() or stdout.strip())[-600:]
            return None, f"invoke failed (exit {proc.returncode}): {text}", elapsed
        try:
            response = json.loads(stdout)
        except ValueError:
            return None, f"invoke printed no JSON: {stdout.strip()[:300]}", elapsed
        if not isinstance(response, dict) or "statusCode" not in response:
            return None, f"not an HTTP response: {stdout.strip()[:300]}", elapsed
        return response, "", elapsed


def response_json(response: dict) -> object:
    body = response.get("body")
    if body is None:
        return MISSING
    if response.get("isBase64Encoded"):
        try:
            body = base64.b64decode(body).decode("utf-8")
        except ValueError:
            return MISSING
    try:
        return json.loads(body)
    except ValueError:
        return MISSING


def response_headers(response: dict) -> dict[str, str]:
    headers = {k.lower(): str(v) for k, v in (response.get("headers") or {}).items()}
    for k, values in (response.get("multiValueHeaders") or {}).items():
        headers.setdefault(k.lower(), ", ".join(str(v) for v in values))
    return headers


def blob_texts(blobs: str) -> list[bytes]:
    """Contents of every stored file: blobs is a directory or s3://bucket/prefix
    (read through AWS_ENDPOINT_URL with boto3, as installed with moto)."""
    if blobs.startswith("s3://"):
        import boto3  # only needed for this case; comes with moto[server]

        bucket, _, prefix = blobs[len("s3://"):].partition("/")
        s3 = boto3.client("s3")
        out = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                out.append(s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read())
        return out
    root = Path(blobs)
    if not root.is_dir():
        return []
    out = []
    for path in root.rglob("*"):
        if path.is_file():
            try:
                out.append(path.read_bytes())
            except OSError:
                pass
    return out


def check_response(spec: dict, response: dict, blobs: str | None) -> list[str]:
    problems = []
    status = response.get("statusCode")
    if status != spec["status"]:
        problems.append(f"status {status}, expected {spec['status']}")
    headers = response_headers(response)
    for name, check in (spec.get("headers") or {}).items():
        value = headers.get(name.lower(), MISSING)
        wrong = check_value(value, check)
        if wrong:
            problems.append(f"header {name} {wrong}")
    checks = spec.get("json") or []
    if checks:
        body = response_json(response)
        if body is MISSING:
            raw = str(response.get("body"))[:200]
            problems.append(f"body is not JSON: {raw!r}")
        else:
            for check in checks:
                wrong = check_value(lookup(body, check["path"]), check)
                if wrong:
                    problems.append(f"body {check['path']} {wrong}")
    needle = spec.get("stored_blob_contains")
    if needle:
        if blobs is None:
            problems.append("stored_blob_contains needs --blobs")
        elif not any(needle.encode("utf-8") in blob for blob in blob_texts(blobs)):
            problems.append(f"no stored file under {blobs} contains {needle!r}")
    return problems


def ticket_of(response: dict | None) -> str | None:
    if response is None:
        return None
    body = response_json(response)
    value = lookup(body, "ticket") if body is not MISSING else MISSING
    return value if isinstance(value, str) else None


def list_tickets(tickets_cmd: str) -> tuple[list[dict] | None, str]:
    try:
        proc = subprocess.run(shlex.split(tickets_cmd), capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        return None, str(err)
    if proc.returncode != 0:
        return None, f"exit {proc.returncode}: {proc.stderr.strip()[-300:]}"
    try:
        data = json.loads(proc.stdout)
    except ValueError:
        return None, f"not JSON: {proc.stdout[:200]!r}"
    if isinstance(data, dict):
        data = data.get("tickets", MISSING)
    if not isinstance(data, list) or not all(isinstance(t, dict) for t in data):
        return None, "expected a JSON array of tickets (or an object with `tickets`)"
    return data, ""


def check_stored_tickets(
    expected: dict, first: dict[str, dict | None], tickets_cmd: str
) -> list[tuple[str, str, str, str, str]]:
    """Rows for the store: how many tickets exist, and each event's ticket fields."""
    rows = []
    tickets, error = list_tickets(tickets_cmd)
    want_count = sum(1 for spec in expected["events"].values() if spec.get("creates_ticket"))
    if tickets is None:
        return [("tickets in the store", str(want_count), "-", "FAIL", f"{tickets_cmd}: {error}")]
    ok = len(tickets) == want_count
    note = "" if ok else "errors, the honeypot and redeliveries must create no ticket"
    rows.append(("tickets in the store", str(want_count), str(len(tickets)), "pass" if ok else "FAIL", note))

    by_key = {t.get("key"): t for t in tickets}
    for name, spec in expected["events"].items():
        fields = spec.get("ticket_fields")
        if not fields:
            continue
        label = f"{name} (stored ticket)"
        key = ticket_of(first.get(name))
        ticket = by_key.get(key) if key else None
        find = spec.get("find_ticket_by")
        if ticket is None and find:
            found = [t for t in tickets if all(lookup(t, k) == v for k, v in find.items())]
            ticket = found[0] if len(found) == 1 else None
        if ticket is None:
            how = f"key {key}" if key else f"find_ticket_by {json.dumps(find)}"
            rows.append((label, "fields", "-", "FAIL", f"no single stored ticket with {how}"))
            continue
        problems = []
        for path, check in fields.items():
            wrong = check_value(lookup(ticket, path), check)
            if wrong:
                problems.append(f"{path} {wrong}")
        rows.append(
            (label, "fields", str(ticket.get("key")), "FAIL" if problems else "pass", "\n".join(problems))
        )
    return rows


# -------------------------------------------------------------------- table


def print_table(rows: list[tuple[str, str, str, str, str]]) -> None:
    headers = ("event", "expected", "got", "result", "notes")
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    widths[4] = len(headers[4])
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths))
    print(line)
    print("  ".join("-" * w for w in widths))
    for row in rows:
        first = "  ".join(c.ljust(w) for c, w in zip(row[:4], widths[:4]))
        notes = row[4].split("\n") if row[4] else [""]
        print(f"{first}  {notes[0]}")
        pad = " " * (len(first) + 2)
        for note in notes[1:]:
            print(f"{pad}{note}")


# --------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events-dir", type=Path, default=ROOT / "events" / "form-intake")
    parser.add_argument("--expected", type=Path, help="default: EVENTS_DIR/expected.json")
    parser.add_argument("--static", action="store_true", help="check the event files only")
    parser.add_argument("--cargo-lambda", help="path of the cargo-lambda executable")
    parser.add_argument("--port", type=int, help="invoke port of `cargo lambda watch`")
    parser.add_argument("--function", default="form-intake")
    parser.add_argument("--label", default="", help="names this run in the summary line (e.g. sqlite)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per invocation")
    parser.add_argument("--blobs", help="the function's HELPDESK_BLOBS (a directory or s3://bucket/prefix)")
    parser.add_argument("--function-pid", type=int, help="pid of the function process, to fail fast once it died")
    parser.add_argument("--tickets-cmd", help="command printing every ticket as a JSON array, to check the store")
    args = parser.parse_args()

    expected_path = args.expected or args.events_dir / "expected.json"
    expected = json.loads(expected_path.read_text(encoding="utf-8"))

    problems = static_problems(args.events_dir, expected)
    if problems:
        print("event files do not match expected.json:")
        for p in problems:
            print(f"  - {p}")
        return 1
    print(f"event files: {len(expected['events'])} events, all listed, bodies and signatures as expected")
    if args.static:
        return 0
    if not args.cargo_lambda or not args.port:
        parser.error("--cargo-lambda and --port are needed unless --static")

    invoker = Invoker(args.cargo_lambda, args.function, args.port, args.timeout, args.function_pid)
    rows: list[tuple[str, str, str, str, str]] = []
    failed = 0
    first: dict[str, dict | None] = {}

    for name, spec in expected["events"].items():
        response, error, secs = invoker.invoke(args.events_dir / name)
        first[name] = response
        want = str(spec["status"])
        if response is None:
            rows.append((name, want, "-", "FAIL", error))
            failed += 1
            continue
        got = str(response.get("statusCode"))
        ticket = ticket_of(response)
        if ticket:
            got += f" {ticket}"
        problems = check_response(spec, response, args.blobs)
        if problems:
            failed += 1
            body = str(response.get("body"))
            problems.append(f"body: {body[:300]}")
        rows.append((name, want, got, "FAIL" if problems else "pass", "\n".join(problems) or f"{secs:.2f}s"))

    # Redeliveries, after every other event: the same ticket again.
    for name, spec in expected["events"].items():
        if spec.get("invoke_twice") != "same_ticket":
            continue
        label = f"{name} (again)"
        want = f"{spec['status']} same"
        before = ticket_of(first.get(name))
        response, error, secs = invoker.invoke(args.events_dir / name)
        if response is None:
            rows.append((label, want, "-", "FAIL", error))
            failed += 1
            continue
        after = ticket_of(response)
        got = f"{response.get('statusCode')} {after or '-'}"
        problems = check_response(spec, response, args.blobs)
        if before is None or after != before:
            problems.append(f"ticket {after!r} on redelivery, first delivery gave {before!r}")
        if problems:
            failed += 1
        rows.append((label, want, got, "FAIL" if problems else "pass", "\n".join(problems) or f"{secs:.2f}s"))

    # Different submissions must not share a ticket.
    seen: dict[str, str] = {}
    for name, response in first.items():
        ticket = ticket_of(response)
        if ticket is None:
            continue
        if ticket in seen:
            rows.append((name, "own ticket", ticket, "FAIL", f"same ticket as {seen[ticket]}"))
            failed += 1
        seen[ticket] = name

    if args.tickets_cmd:
        store_rows = check_stored_tickets(expected, first, args.tickets_cmd)
        failed += sum(1 for row in store_rows if row[3] == "FAIL")
        rows.extend(store_rows)

    print()
    print_table(rows)
    passed = len(rows) - failed
    print()
    label = f" ({args.label})" if args.label else ""
    print(f"lambda invoke checks{label}: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
