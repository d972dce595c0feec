#!/usr/bin/env python3
"""Invokes the ticket triggers function with every event of
events/ticket-triggers/, twice, and checks the answers (the partial batch
responses), what the function logged for each record, the stored tickets,
the webhook calls and the bus events against events/ticket-triggers/
expected.json (all three files are written by gen_trigger_events.py).

Used by scripts/test, which starts `cargo lambda watch --only-lambda-apis`
and the function binary first (and moto for the DynamoDB pass).

    check_trigger_events.py --static
        only checks the files: every event is listed in expected.json and the
        other way round, the listed record ids are the event's records in
        order, every expected batchItemFailure is a SequenceNumber of the
        event, and every ticket record of a good event is seeded.

    check_trigger_events.py --cargo-lambda .venv/bin/cargo-lambda --port 9123 \
        --seed 'env ... target/debug/examples/seed-store' \
        --helpdesk 'env ... target/debug/helpdesk' --log FUNCTION_LOG \
        [--webhook-port PORT] (--events-log FILE | --eventbridge BUS) \
        [--dynamodb-table TABLE] [--label NAME]
        1. replays seed.json into the function's store (--seed, the
           seed-store example with the function's HELPDESK_* variables);
           with --dynamodb-table, reads the items back (boto3, through
           AWS_ENDPOINT_URL) and compares them with the events' images
        2. invokes every event in order, then every event again, and checks
           each answer's batchItemFailures and the per-record reports the
           function logged (`stream record` lines of --log)
        3. checks the stored tickets (helpdesk tickets show --json)
        4. --webhook-port: serves HELPDESK_TELEGRAM_URL on 127.0.0.1:PORT
           and checks that exactly the expected calls came, once each;
           without it the URL is unset and each webhook effect must fail and
           leave one note on its ticket
        5. checks the bus: the JSON lines of --events-log (HELPDESK_EVENTS=
           log:FILE), or the events a rule on the EventBridge bus --eventbridge
           (created here on moto, HELPDESK_EVENTS=eventbridge:BUS) delivered
           to an SQS queue: exactly the expected events, once each
"""

from __future__ import annotations

import argparse
import http.server
import json
import re
import shlex
import subprocess
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from check_form_events import MISSING, check_value, lookup, print_table  # noqa: E402
from check_mail_events import Invoker, run_json  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
Row = tuple[str, str, str, str, str]
NOT_EVENTS = ("expected.json", "seed.json")


# ------------------------------------------------------------ static checks


def load(events_dir: Path) -> tuple[dict, dict, dict[str, dict]]:
    expected = json.loads((events_dir / "expected.json").read_text(encoding="utf-8"))
    seed = json.loads((events_dir / "seed.json").read_text(encoding="utf-8"))
    events = {}
    for path in sorted(events_dir.glob("*.json")):
        if path.name not in NOT_EVENTS:
            events[path.name] = json.loads(path.read_text(encoding="utf-8"))
    return expected, seed, events


def s(image: dict, name: str) -> str | None:
    value = image.get(name) if isinstance(image, dict) else None
    return value.get("S") if isinstance(value, dict) else None


def static_problems(expected: dict, seed: dict, events: dict[str, dict]) -> list[str]:
    problems = []
    listed = expected["events"]
    for name in sorted(set(events) - set(listed)):
        problems.append(f"{name}: not listed in expected.json")
    seeded = {key: len(writes) for key, writes in seed["tickets"].items()}
    # Every image of a seeded item is the seed's item of that version.
    seed_items: dict[tuple, dict] = {}
    for writes in seed["tickets"].values():
        for write in writes:
            t = write["ticket"]
            seed_items[(t["pk"]["S"], t["sk"]["S"], t["version"]["N"])] = t
            for e in write["entries"]:
                seed_items[(e["pk"]["S"], e["sk"]["S"], None)] = e
    for name, spec in listed.items():
        event = events.get(name)
        if event is None:
            problems.append(f"{name}: listed in expected.json but missing")
            continue
        records = event.get("Records") or []
        ids = [r.get("eventID") for r in records]
        want = [r["id"] for r in spec["records"]]
        if "Records" not in event:
            # Not a stream batch: one report for the whole batch, and one
            # failure with an empty identifier.
            if want != ["batch"] or spec["batch_item_failures"] != [""]:
                problems.append(f"{name}: no Records, so expected.json must list the report `batch` and the failure \"\"")
            continue
        if ids != want:
            problems.append(f"{name}: records {ids}, expected.json lists {want}")
        sequences = [r.get("dynamodb", {}).get("SequenceNumber") for r in records]
        if sorted(sequences) != sequences or len(set(sequences)) != len(sequences):
            problems.append(f"{name}: sequence numbers are not increasing")
        for failure in spec["batch_item_failures"]:
            if failure not in sequences:
                problems.append(f"{name}: expected failure {failure} is no record's SequenceNumber")
        for record, want_record in zip(records, spec["records"]):
            change = record.get("dynamodb", {})
            for which in ("NewImage", "OldImage"):
                image = change.get(which) or {}
                version = (image.get("version") or {}).get("N") if s(image, "item_type") == "ticket" else None
                seeded_item = seed_items.get((s(image, "pk"), s(image, "sk"), version))
                if seeded_item is not None and seeded_item != image:
                    problems.append(f"{name} {record.get('eventID')}: {which} differs from seed.json's item")
            if change.get("StreamViewType") != "NEW_AND_OLD_IMAGES":
                problems.append(f"{name} {record.get('eventID')}: StreamViewType is not NEW_AND_OLD_IMAGES")
            new = change.get("NewImage") or {}
            if want_record["result"] == "processed":
                key = s(new, "key")
                version = int(new.get("version", {}).get("N", "0"))
                if seeded.get(key, 0) < version:
                    problems.append(f"{name}: {key} v{version} is not in seed.json (the function would not find it)")
    return problems


# ------------------------------------------------------- seeding, DynamoDB


def seed_store(seed_cmd: str, seed_file: Path) -> tuple[bool, str]:
    try:
        proc = subprocess.run(shlex.split(seed_cmd) + [str(seed_file)], capture_output=True, text=True,
                              timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        return False, str(err)
    out = (proc.stdout + proc.stderr).strip()
    return proc.returncode == 0, out


def dynamodb_rows(table: str, seed: dict) -> list[Row]:
    """The items the store wrote while seeding, compared with seed.json (whose
    items the static checks found equal to the events' images)."""
    import boto3  # comes with moto[server]; reads AWS_ENDPOINT_URL

    client = boto3.client("dynamodb")
    wanted: dict[tuple[str, str], tuple[str, dict]] = {}
    for key, writes in seed["tickets"].items():
        last = writes[-1]["ticket"]
        wanted[(last["pk"]["S"], last["sk"]["S"])] = (f"{key} v{last['version']['N']}", last)
        for write in writes:
            for entry in write["entries"]:
                wanted[(entry["pk"]["S"], entry["sk"]["S"])] = (f"{key} {entry['sk']['S']}", entry)
    mismatches = []
    for (pk, sk), (label, image) in sorted(wanted.items()):
        stored = client.get_item(TableName=table, Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True).get("Item")
        if stored is None:
            mismatches.append(f"{label}: not stored")
            continue
        if stored != image:
            names = sorted(set(stored) | set(image))
            differ = [n for n in names if stored.get(n) != image.get(n)]
            detail = "; ".join(
                f"{n}: stored {json.dumps(stored.get(n))[:80]}, image {json.dumps(image.get(n))[:80]}" for n in differ[:4]
            )
            mismatches.append(f"{label}: {detail}")
    problems = mismatches
    return [(
        "seeded items == images", f"{len(wanted)} items", f"{len(wanted) - len(mismatches)} equal",
        "FAIL" if problems else "pass",
        "\n".join(problems[:12]) or "the DynamoDB store writes exactly the events' images",
    )]


# ----------------------------------------------------------- function log


class FunctionLog:
    """The reports a Lambda function logged since the last read: its JSON
    log lines whose `fields.message` is `message`, each line's
    `fields.report` parsed as JSON (`unreadable(fields)` when it is not)."""

    def __init__(self, path: Path, message: str = "stream record", unreadable=None) -> None:
        self.path = path
        self.message = message
        self.unreadable = unreadable or (lambda fields: {"result": "?", "id": fields.get("record")})
        self.offset = path.stat().st_size if path.exists() else 0

    def reports(self) -> list[dict]:
        if not self.path.exists():
            return []
        with self.path.open("rb") as f:
            f.seek(self.offset)
            data = f.read()
        # Only whole lines; a partial last line is read next time.
        end = data.rfind(b"\n") + 1
        self.offset += end
        out = []
        for line in data[:end].decode("utf-8", "replace").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            fields = entry.get("fields") if isinstance(entry, dict) else None
            if not isinstance(fields, dict) or fields.get("message") != self.message:
                continue
            try:
                out.append(json.loads(fields.get("report", "")))
            except ValueError:
                out.append(self.unreadable(fields))
        return out


def effect_status(kind: str, phase: str, webhook_url_set: bool) -> str:
    if kind == "webhook" and not webhook_url_set:
        return "failed"
    return "done" if phase == "first" else "already_done"


def check_records(want: list[dict], got: list[dict], phase: str, webhook_url_set: bool) -> list[str]:
    problems = []
    if [g.get("id") for g in got] != [w["id"] for w in want]:
        return [f"logged reports for {[g.get('id') for g in got]}, expected {[w['id'] for w in want]}"]
    for i, (w, g) in enumerate(zip(want, got)):
        tag = f"[{i}]"
        if g.get("result") != w["result"]:
            problems.append(f"{tag} {g.get('result')}, expected {w['result']}: {json.dumps(g)[:200]}")
            continue
        for field in ("reason", "error"):
            pattern = w.get(f"{field}_matches")
            if pattern and not re.search(pattern, str(g.get(field, ""))):
                problems.append(f"{tag} {field} {g.get(field)!r} does not match /{pattern}/")
        if w["result"] != "processed":
            continue
        outcome = g.get("outcome") or {}
        fired = (outcome.get("plan") or {}).get("fired")
        if fired != w["fired"]:
            problems.append(f"{tag} fired {fired}, expected {w['fired']}")
        write = (outcome.get("write") or {}).get("result")
        want_write = w["write"] if phase == "first" or w["write"] == "nothing" else "already_written"
        if write != want_write:
            problems.append(f"{tag} write {write}, expected {want_write}")
        effects = [(e.get("kind"), e.get("status", {}).get("status")) for e in outcome.get("effects") or []]
        want_effects = [(e["kind"], effect_status(e["kind"], phase, webhook_url_set)) for e in w["effects"]]
        if effects != want_effects:
            problems.append(f"{tag} effects {effects}, expected {want_effects}")
    return problems


ARCHIVE_PREFIX = "failed-stream-records/"


def read_archives(location: str) -> dict[str, bytes]:
    """The archived failed records under the function's blob store
    (a directory, or s3://bucket on moto through AWS_ENDPOINT_URL)."""
    if location.startswith("s3://"):
        import boto3  # noqa: PLC0415 (only the deployed pass needs it)

        bucket = location[len("s3://"):].split("/", 1)[0]
        s3 = boto3.client("s3", region_name="us-east-1")
        listed = s3.list_objects_v2(Bucket=bucket, Prefix=ARCHIVE_PREFIX).get("Contents", [])
        return {o["Key"]: s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in listed}
    root = Path(location)
    folder = root / ARCHIVE_PREFIX
    if not folder.is_dir():
        return {}
    return {f"{ARCHIVE_PREFIX}{p.name}": p.read_bytes() for p in sorted(folder.iterdir())}


def archive_rows(expected: dict, events_dir: Path, archived: dict[str, bytes]) -> list[tuple]:
    """Each failed record and the records after it in its batch are archived
    as an event of their own; an event that is no batch is archived whole;
    nothing else is archived."""
    rows = []
    want: dict[str, object] = {}
    whole: list[object] = []
    for name, spec in expected["events"].items():
        failures = spec["batch_item_failures"]
        if not failures:
            continue
        event = json.loads((events_dir / name).read_text(encoding="utf-8"))
        if failures == [""]:
            whole.append(event)
            continue
        records = event["Records"]
        first = next(i for i, r in enumerate(records) if r["dynamodb"]["SequenceNumber"] == failures[0])
        for record in records[first:]:
            key = f"{ARCHIVE_PREFIX}{record['dynamodb']['SequenceNumber']}-{record['eventID']}.json"
            want[key] = {"Records": [record]}
    for key, event in want.items():
        got = archived.get(key)
        ok = got is not None and json.loads(got) == event
        rows.append((f"archive {key[len(ARCHIVE_PREFIX):]}", "the record as an event", "present" if got else "missing",
                     "pass" if ok else "FAIL", "" if ok else "absent or not the record"))
    unrecognised = {k: v for k, v in archived.items() if k.startswith(f"{ARCHIVE_PREFIX}unrecognised-")}
    got_whole = sorted(json.dumps(json.loads(v), sort_keys=True) for v in unrecognised.values())
    ok = got_whole == sorted(json.dumps(e, sort_keys=True) for e in whole)
    rows.append(("archive of events that are no batch", f"{len(whole)} whole", f"{len(unrecognised)}",
                 "pass" if ok else "FAIL", "" if ok else "the archived events differ from the event files"))
    extra = sorted(set(archived) - set(want) - set(unrecognised))
    rows.append(("nothing else archived", "none", f"{len(extra)}", "FAIL" if extra else "pass", ", ".join(extra)))
    return rows


def summary(reports: list[dict]) -> str:
    counts: dict[str, int] = {}
    for r in reports:
        counts[r.get("result", "?")] = counts.get(r.get("result", "?"), 0) + 1
    return ", ".join(f"{n} {k}" for k, n in counts.items()) or "no reports"


# --------------------------------------------------------------- webhooks


class Receiver:
    """HELPDESK_TELEGRAM_URL: records every POST and answers like Telegram."""

    def __init__(self, port: int) -> None:
        calls: list[dict] = []
        self.calls = calls

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                try:
                    parsed = json.loads(body)
                except ValueError:
                    parsed = None
                calls.append({
                    "path": self.path,
                    "idempotency_key": self.headers.get("Idempotency-Key"),
                    "content_type": self.headers.get("Content-Type"),
                    "body": parsed,
                })
                answer = json.dumps({"ok": True, "result": {"message_id": len(calls)}}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def webhook_rows(expected: list[dict], calls: list[dict], chat_id: str | None) -> list[Row]:
    rows: list[Row] = []
    ok = len(calls) == len(expected)
    rows.append(("webhook calls (both phases)", str(len(expected)), str(len(calls)), "pass" if ok else "FAIL",
                 "" if ok else "every status change is announced exactly once, redeliveries included:\n"
                 + "\n".join(json.dumps(c["body"])[:150] for c in calls)))
    keys = [c["idempotency_key"] for c in calls]
    if len(set(keys)) != len(keys) or None in keys:
        rows.append(("webhook Idempotency-Key", "one per call", str(keys), "FAIL", "each call carries its effect id"))
    for want in expected:
        label = f"telegram: {want['ticket']}"
        mine = [c for c in calls if isinstance(c["body"], dict) and c["body"].get("text") == want["text"]]
        problems = []
        if len(mine) != 1:
            problems.append(f"{len(mine)} calls with the text {want['text']!r}")
        for call in mine[:1]:
            if not call["path"].endswith("/sendMessage"):
                problems.append(f"POST {call['path']}, expected .../sendMessage")
            if chat_id is not None:
                want_chat = int(chat_id) if re.fullmatch(r"-?\d+", chat_id) else chat_id
                if call["body"].get("chat_id") != want_chat:
                    problems.append(f"chat_id {call['body'].get('chat_id')!r}, expected {want_chat!r}")
            if "application/json" not in (call["content_type"] or ""):
                problems.append(f"Content-Type {call['content_type']}")
        rows.append((label, "1 call", str(len(mine)), "FAIL" if problems else "pass", "\n".join(problems) or want["text"]))
    return rows


# -------------------------------------------------------------------- bus


class EventBridgeTap:
    """A rule on the bus that copies every helpdesk event to an SQS queue."""

    def __init__(self, bus: str) -> None:
        import boto3

        self.events = boto3.client("events")
        self.sqs = boto3.client("sqs")
        self.bus = bus
        existing = [b["Name"] for b in self.events.list_event_buses().get("EventBuses", [])]
        if bus not in existing:
            self.events.create_event_bus(Name=bus)
        self.queue = self.sqs.create_queue(QueueName=f"{bus}-tap")["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.events.put_rule(Name=f"{bus}-tap", EventBusName=bus, EventPattern=json.dumps({"source": ["helpdesk"]}))
        self.events.put_targets(Rule=f"{bus}-tap", EventBusName=bus, Targets=[{"Id": "tap", "Arn": arn}])

    def received(self) -> list[dict]:
        out = []
        while True:
            messages = self.sqs.receive_message(QueueUrl=self.queue, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages") or []
            if not messages:
                return out
            for m in messages:
                body = json.loads(m["Body"])
                out.append({"detail_type": body.get("detail-type"), "source": body.get("source"), "detail": body.get("detail") or {}})
                self.sqs.delete_message(QueueUrl=self.queue, ReceiptHandle=m["ReceiptHandle"])


def log_events(path: Path) -> list[dict]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            e = json.loads(line)
            out.append({"detail_type": e.get("detail_type"), "source": e.get("source"), "detail": e.get("detail") or {}})
    return out


def bus_rows(expected: list[dict], got: list[dict], where: str) -> list[Row]:
    rows: list[Row] = []
    ok = len(got) == len(expected)
    rows.append(("bus events (both phases)", str(len(expected)), str(len(got)), "pass" if ok else "FAIL",
                 where if ok else f"{where}: " + ", ".join(f"{e['detail_type']} {e['detail'].get('ticket')}" for e in got)))
    for want in expected:
        mine = [e for e in got if e["detail_type"] == want["detail_type"] and e["detail"].get("ticket") == want["ticket"]]
        problems = []
        if len(mine) != 1:
            problems.append(f"{len(mine)} {want['detail_type']} events for {want['ticket']}")
        for e in mine[:1]:
            if e["source"] != "helpdesk":
                problems.append(f"source {e['source']}")
            if e["detail"].get("trigger") != want["trigger"]:
                problems.append(f"trigger {e['detail'].get('trigger')}")
        rows.append((f"{want['detail_type']}: {want['ticket']}", "1 event", str(len(mine)),
                     "FAIL" if problems else "pass", "\n".join(problems)))
    return rows


# ------------------------------------------------------------ store checks


def store_rows(expected: dict, helpdesk: list[str], webhook_url_set: bool) -> list[Row]:
    rows: list[Row] = []
    mode = "webhook_url_set" if webhook_url_set else "webhook_url_unset"
    for key, spec in expected.items():
        fields = dict(spec.get("fields", {}))
        timeline_want = dict(spec.get("timeline", {}))
        fields.update(spec.get(mode, {}).get("fields", {}))
        timeline_want.update(spec.get(mode, {}).get("timeline", {}))
        shown, error = run_json(helpdesk + ["tickets", "show", key, "--json"])
        label = f"{key} (stored)"
        if not isinstance(shown, dict):
            rows.append((label, "ticket", "-", "FAIL", error or "not a JSON object"))
            continue
        problems = []
        for path, value in fields.items():
            got = lookup(shown, path)
            wrong = check_value(None if got is MISSING and value is None else got, {"equals": value})
            if wrong:
                problems.append(f"{path} {wrong}")
        counts: dict[str, int] = {}
        for entry in shown.get("timeline") or []:
            counts[entry.get("type", "?")] = counts.get(entry.get("type", "?"), 0) + 1
        for kind, want in timeline_want.items():
            if counts.get(kind, 0) != want:
                problems.append(f"timeline has {counts.get(kind, 0)} {kind}, expected {want}")
        got = f"{shown.get('status')}, v{shown.get('version')}"
        want_text = f"{fields.get('status')}, v{fields.get('version', '?')}"
        rows.append((label, want_text, got, "FAIL" if problems else "pass", "\n".join(problems)))
    return rows


# --------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events-dir", type=Path, default=ROOT / "events" / "ticket-triggers")
    parser.add_argument("--static", action="store_true", help="check the event files only")
    parser.add_argument("--cargo-lambda")
    parser.add_argument("--port", type=int)
    parser.add_argument("--function", default="ticket-triggers")
    parser.add_argument("--function-pid", type=int)
    parser.add_argument("--label", default="")
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--seed", help="command line of seed-store with the function's environment")
    parser.add_argument("--helpdesk", help="command line of the helpdesk CLI over the function's store")
    parser.add_argument("--log", type=Path, help="the function's log file (JSON lines)")
    parser.add_argument("--webhook-port", type=int, help="serve HELPDESK_TELEGRAM_URL on this port")
    parser.add_argument("--chat-id", help="the function's HELPDESK_TELEGRAM_CHAT_ID")
    parser.add_argument("--archive", help="the function's HELPDESK_BLOBS: check the archived failed records there and redrive one")
    bus = parser.add_mutually_exclusive_group()
    bus.add_argument("--events-log", type=Path, help="the function's HELPDESK_EVENTS=log:FILE")
    bus.add_argument("--eventbridge", help="the function's HELPDESK_EVENTS=eventbridge:BUS (on moto)")
    parser.add_argument("--dynamodb-table", help="compare the seeded items with the images (boto3)")
    args = parser.parse_args()

    expected, seed, events = load(args.events_dir)
    problems = static_problems(expected, seed, events)
    if problems:
        print("event files do not match expected.json / seed.json:")
        for p in problems:
            print(f"  - {p}")
        return 1
    records = sum(len(e.get("Records") or []) for e in events.values())
    print(f"event files: {len(events)} events ({records} records), all listed in expected.json; "
          f"{len(seed['tickets'])} tickets in seed.json")
    if args.static:
        return 0
    if not (args.cargo_lambda and args.port and args.seed and args.helpdesk and args.log
            and (args.events_log or args.eventbridge)):
        parser.error("--cargo-lambda, --port, --seed, --helpdesk, --log and --events-log or --eventbridge "
                     "are needed unless --static")

    rows: list[Row] = []
    ok, out = seed_store(args.seed, args.events_dir / "seed.json")
    rows.append(("seed.json into the store", "stored", "ok" if ok else "error", "pass" if ok else "FAIL",
                 out if not ok else f"{len(out.splitlines())} tickets"))
    if not ok:
        print_table(rows)
        return 1
    if args.dynamodb_table:
        rows += dynamodb_rows(args.dynamodb_table, seed)

    tap = EventBridgeTap(args.eventbridge) if args.eventbridge else None
    receiver = Receiver(args.webhook_port) if args.webhook_port else None
    webhook_url_set = receiver is not None
    log = FunctionLog(args.log)
    invoker = Invoker(args.cargo_lambda, args.function, args.port, args.timeout, args.function_pid)
    answers: dict[str, object] = {}
    try:
        for phase in ("first", "again"):
            for name, spec in expected["events"].items():
                kind, value, secs = invoker.invoke(args.events_dir / name)
                label = name if phase == "first" else f"{name} (again)"
                want = spec["batch_item_failures"]
                shown_want = "[]" if not want else f"[{len(want)}: {want[0][-6:]!r}]"
                if kind != "ok":
                    rows.append((label, shown_want, kind, "FAIL", str(value)))
                    continue
                problems = []
                failures = value.get("batchItemFailures") if isinstance(value, dict) else None
                if not isinstance(failures, list) or set(value) != {"batchItemFailures"}:
                    problems.append(f"not a partial batch response: {json.dumps(value)[:200]}")
                    failures = []
                ids = [f.get("itemIdentifier") for f in failures]
                if ids != want:
                    problems.append(f"batchItemFailures {ids}, expected {want}")
                if phase == "again" and value != answers.get(name):
                    problems.append(f"answer {json.dumps(value)} differs from the first {json.dumps(answers.get(name))}")
                answers.setdefault(name, value)
                reports = log.reports()
                problems += check_records(spec["records"], reports, phase, webhook_url_set)
                got = ("[]" if not ids else f"[{len(ids)}: {str(ids[0])[-6:]!r}]") + f" ({summary(reports)})"
                rows.append((label, shown_want, got, "FAIL" if problems else "pass", "\n".join(problems) or f"{secs:.2f}s"))
    finally:
        if receiver:
            receiver.stop()

    rows += store_rows(expected["tickets"], shlex.split(args.helpdesk), webhook_url_set)
    if args.archive:
        archived = read_archives(args.archive)
        rows += archive_rows(expected, args.events_dir, archived)
        # The redrive the README describes: an archive handed back to the
        # function as it is. The record after a failed one was never
        # attempted; redriven, it is processed (after the store checks
        # above, which expect it untouched).
        redrive = [k for k in archived if not k.startswith(f"{ARCHIVE_PREFIX}unrecognised-")]
        if redrive:
            key = max(redrive)
            path = args.log.parent / f"redrive-{args.label or 'run'}.json"
            path.write_bytes(archived[key])
            kind, value, secs = invoker.invoke(path)
            failures = value.get("batchItemFailures") if kind == "ok" and isinstance(value, dict) else None
            results = [r.get("result") for r in log.reports()]
            ok = failures == [] and results == ["processed"]
            rows.append((f"redrive {key[len(ARCHIVE_PREFIX):]}", "processed, no failure",
                         f"{failures} {results}", "pass" if ok else "FAIL", f"{secs:.2f}s" if ok else str(value)[:200]))
    if receiver:
        rows += webhook_rows(expected["webhooks"], receiver.calls, args.chat_id)
    if tap:
        rows += bus_rows(expected["bus_events"], tap.received(), f"EventBridge bus {args.eventbridge} on moto")
    else:
        rows += bus_rows(expected["bus_events"], log_events(args.events_log), f"events log {args.events_log.name}")

    print()
    print_table(rows)
    failed = sum(1 for row in rows if row[3] == "FAIL")
    invocations = [r for r in rows if r[0].split(" ")[0] in expected["events"]]
    passed_invocations = sum(1 for r in invocations if r[3] == "pass")
    print()
    label = f" ({args.label})" if args.label else ""
    print(f"ticket trigger checks{label}: {len(rows) - failed} passed, {failed} failed "
          f"({passed_invocations} of {len(invocations)} invocations as expected)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
