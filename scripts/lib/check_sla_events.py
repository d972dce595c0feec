#!/usr/bin/env python3
"""Invokes the SLA check function with events/sla-check/scheduled.json after
seed.json's overdue tickets were created, twice, and checks the answers (the
check reports), the function's `sla check` log lines and the stored
tickets' timelines against events/sla-check/expected.json.

Used by scripts/test, which starts `cargo lambda watch --only-lambda-apis`
and the function binary first (and moto for the DynamoDB pass).

    check_sla_events.py --static
        only checks the files: scheduled.json is an EventBridge scheduled
        event, every ticket of seed.json has its expectation in
        expected.json and the other way round, and the expected answers
        agree with the expected timelines.

    check_sla_events.py --cargo-lambda .venv/bin/cargo-lambda --port 9123 \
        --seed 'env ... target/debug/examples/seed-due' \
        --helpdesk 'env ... target/debug/helpdesk' --log FUNCTION_LOG \
        [--label NAME]
        1. creates seed.json's tickets in the function's store (--seed, the
           seed-due example with the function's HELPDESK_* variables): each
           is at version 2 with its timers started days ago
        2. invokes scheduled.json once per entry of expected.json's
           `invocations` (the same event each time: the second is what a
           schedule that fires twice, or a retried invocation, delivers) and
           checks each answer field by field, and that the function logged
           one `sla check` line per invocation carrying the same report
        3. runs seed-due again: every ticket is named as seeded before
           (its idempotency claim), nothing is created or refreshed
        4. checks every seeded ticket (helpdesk tickets show --json): its
           version, and per metric the kinds of its `sla` timeline entries
           in order, so each breach is on the timeline exactly once; every
           warning and breach is written by the system, timed at the instant
           it fell due (after the creation, before the first invocation),
           not when the check ran
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from check_form_events import print_table  # noqa: E402
from check_mail_events import Invoker, run_json  # noqa: E402
from check_trigger_events import FunctionLog  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
Row = tuple[str, str, str, str, str]
REPORT_FIELDS = ("due_read", "tickets", "written", "warnings", "breaches", "failed", "finished")


# ------------------------------------------------------------ static checks


def load(events_dir: Path) -> tuple[dict, dict, dict]:
    def read(name: str) -> dict:
        return json.loads((events_dir / name).read_text(encoding="utf-8"))

    expected = read("expected.json")
    return expected, read("seed.json"), read(expected["event"])


def static_problems(expected: dict, seed: dict, event: dict) -> list[str]:
    problems = []
    if event.get("source") != "aws.events" or event.get("detail-type") != "Scheduled Event":
        problems.append(f"{expected['event']}: not an EventBridge scheduled event (source aws.events, "
                        "detail-type Scheduled Event)")
    resources = event.get("resources") or []
    if len(resources) != 1 or ":rule/" not in resources[0]:
        problems.append(f"{expected['event']}: resources must be the one rule ARN")
    try:
        datetime.fromisoformat(str(event.get("time")).replace("Z", "+00:00"))
    except ValueError:
        problems.append(f"{expected['event']}: time {event.get('time')!r} is not an RFC 3339 instant")
    ids = [t["id"] for t in seed["tickets"]]
    if len(set(ids)) != len(ids):
        problems.append("seed.json: ticket ids are not unique")
    for name in sorted(set(ids) - set(expected["tickets"])):
        problems.append(f"seed.json's {name}: no expectation in expected.json")
    for name in sorted(set(expected["tickets"]) - set(ids)):
        problems.append(f"expected.json's {name}: not in seed.json")
    for i, spec in enumerate(expected["invocations"]):
        missing = [f for f in REPORT_FIELDS if f not in spec]
        if missing:
            problems.append(f"invocation {i + 1}: expected.json lacks {missing}")
    if not expected["invocations"] or len(expected["invocations"]) < 2:
        problems.append("expected.json: at least two invocations (the second is the redelivery)")
        return problems
    # The answers and the timelines must tell the same story.
    kinds = [k for t in expected["tickets"].values() for ks in t["sla"].values() for k in ks]
    want = {"warnings": kinds.count("warned"), "breaches": kinds.count("breached")}
    got = {k: sum(spec.get(k, 0) for spec in expected["invocations"]) for k in want}
    if want != got:
        problems.append(f"expected.json: the timelines hold {want}, the answers add up to {got}")
    written = sum(1 for t in expected["tickets"].values() if t["version"] > 2)
    if written != sum(spec.get("written", 0) for spec in expected["invocations"]):
        problems.append(f"expected.json: {written} tickets move past version 2, the answers write another number")
    for name, spec in expected["tickets"].items():
        for metric, events in spec["sla"].items():
            if events.count("breached") > 1 or events.count("warned") > 1:
                problems.append(f"{name} {metric}: a warning or breach listed twice")
    return problems


# ----------------------------------------------------------------- seeding


def seed_store(seed_cmd: str, seed_file: Path) -> tuple[dict | None, str]:
    try:
        proc = subprocess.run(shlex.split(seed_cmd) + [str(seed_file)], capture_output=True, text=True,
                              timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        return None, str(err)
    if proc.returncode != 0:
        return None, (proc.stdout + proc.stderr).strip()[-600:]
    try:
        return json.loads(proc.stdout)["tickets"], ""
    except (ValueError, KeyError, TypeError):
        return None, f"seed-due printed no ticket list: {proc.stdout[:300]!r}"


def answer_problems(want: dict, got: object) -> list[str]:
    if not isinstance(got, dict) or not set(REPORT_FIELDS) <= set(got):
        return [f"not a check report: {json.dumps(got)[:200]}"]
    problems = []
    for field in REPORT_FIELDS:
        value = len(got["failed"]) if field == "failed" and isinstance(got["failed"], list) else got[field]
        if value != want[field]:
            extra = f": {got['failed']}" if field == "failed" else ""
            problems.append(f"{field} {value}, expected {want[field]}{extra}")
    return problems


def short(report: object) -> str:
    if not isinstance(report, dict):
        return "-"
    return (f"{report.get('warnings')}w {report.get('breaches')}b, {report.get('written')} written"
            f"{'' if report.get('finished') else ', unfinished'}")


# ------------------------------------------------------------ store checks


def instant(value: object) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def store_rows(expected: dict, seeded: dict, helpdesk: list[str], first_invoked: datetime) -> list[Row]:
    rows: list[Row] = []
    for name, spec in expected["tickets"].items():
        key = (seeded.get(name) or {}).get("key")
        label = f"{name} ({key or '?'})"
        if not key:
            rows.append((label, "stored", "-", "FAIL", "seed-due named no key for it"))
            continue
        shown, error = run_json(helpdesk + ["tickets", "show", key, "--json"])
        if not isinstance(shown, dict):
            rows.append((label, "ticket", "-", "FAIL", error or "not a JSON object"))
            continue
        created = instant(seeded[name].get("created_at"))
        problems = []
        if shown.get("version") != spec["version"]:
            problems.append(f"version {shown.get('version')}, expected {spec['version']}")
        by_metric: dict[str, list[str]] = {}
        for entry in shown.get("timeline") or []:
            if entry.get("type") != "sla":
                continue
            metric, kind = entry.get("metric", "?"), entry.get("event", "?")
            by_metric.setdefault(metric, []).append(kind)
            if kind in ("warned", "breached"):
                at = instant(entry.get("at"))
                if (entry.get("actor") or {}).get("kind") != "system":
                    problems.append(f"{metric} {kind} by {entry.get('actor')}, expected the system")
                if at is None or created is None or not created < at < first_invoked:
                    problems.append(f"{metric} {kind} at {entry.get('at')}: not between the creation "
                                    f"({seeded[name].get('created_at')}) and the first run "
                                    f"({first_invoked.isoformat()}), so not timed when it fell due")
        if by_metric != spec["sla"]:
            problems.append(f"sla entries {by_metric}, expected {spec['sla']}")
        breaches = sum(kinds.count("breached") for kinds in by_metric.values())
        got = f"v{shown.get('version')}, {breaches} breached"
        want_breaches = sum(kinds.count("breached") for kinds in spec["sla"].values())
        rows.append((label, f"v{spec['version']}, {want_breaches} breached", got,
                     "FAIL" if problems else "pass", "\n".join(problems)))
    return rows


# --------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events-dir", type=Path, default=ROOT / "events" / "sla-check")
    parser.add_argument("--static", action="store_true", help="check the event files only")
    parser.add_argument("--cargo-lambda")
    parser.add_argument("--port", type=int)
    parser.add_argument("--function", default="sla-check")
    parser.add_argument("--function-pid", type=int)
    parser.add_argument("--label", default="")
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--seed", help="command line of seed-due with the function's environment")
    parser.add_argument("--helpdesk", help="command line of the helpdesk CLI over the function's store")
    parser.add_argument("--log", type=Path, help="the function's log file (JSON lines)")
    args = parser.parse_args()

    expected, seed, event = load(args.events_dir)
    problems = static_problems(expected, seed, event)
    if problems:
        print("event files do not match expected.json / seed.json:")
        for p in problems:
            print(f"  - {p}")
        return 1
    print(f"event files: {expected['event']} is a scheduled event; {len(seed['tickets'])} tickets in seed.json, "
          f"all expected in expected.json; {len(expected['invocations'])} invocations")
    if args.static:
        return 0
    if not (args.cargo_lambda and args.port and args.seed and args.helpdesk and args.log):
        parser.error("--cargo-lambda, --port, --seed, --helpdesk and --log are needed unless --static")

    rows: list[Row] = []
    seeded, error = seed_store(args.seed, args.events_dir / "seed.json")
    fresh = seeded is not None and all(not t.get("replayed") and t.get("version") == 2 for t in seeded.values())
    rows.append(("seed.json into the store", "new, v2", "ok" if fresh else "error", "pass" if fresh else "FAIL",
                 error or ("" if fresh else f"not a fresh store: {json.dumps(seeded)[:300]}")
                 or ", ".join(f"{n} {t['key']}" for n, t in seeded.items())))
    if not fresh or seeded is None:
        print_table(rows)
        return 1

    log = FunctionLog(args.log, "sla check", lambda fields: {"unreadable": fields.get("report")})
    invoker = Invoker(args.cargo_lambda, args.function, args.port, args.timeout, args.function_pid)
    first_invoked = datetime.now(timezone.utc)
    for i, want in enumerate(expected["invocations"]):
        label = f"{expected['event']} #{i + 1}"
        kind, value, secs = invoker.invoke(args.events_dir / expected["event"])
        want_text = f"{want['warnings']}w {want['breaches']}b, {want['written']} written"
        if kind != "ok":
            rows.append((label, want_text, kind, "FAIL", str(value)))
            continue
        problems = answer_problems(want, value)
        # The log line is written before the answer goes out; allow the
        # pipe a moment.
        logged: list[dict] = []
        for _ in range(20):
            logged += log.reports()
            if logged:
                break
            time.sleep(0.1)
        if logged != [value]:
            problems.append(f"logged `sla check` reports {json.dumps(logged)[:300]}, expected exactly the answer")
        rows.append((label, want_text, short(value), "FAIL" if problems else "pass",
                     "\n".join(problems) or f"{secs:.2f}s"))

    again, error = seed_store(args.seed, args.events_dir / "seed.json")
    same = again is not None and all(
        t.get("replayed") and t.get("key") == seeded[n]["key"] for n, t in again.items()
    ) and set(again) == set(seeded)
    rows.append(("seed.json again", "replayed", "replayed" if same else "error", "pass" if same else "FAIL",
                 error or ("same keys, nothing created or refreshed" if same else json.dumps(again)[:300])))

    rows += store_rows(expected, seeded, shlex.split(args.helpdesk), first_invoked)

    print()
    print_table(rows)
    failed = sum(1 for row in rows if row[3] == "FAIL")
    print()
    label = f" ({args.label})" if args.label else ""
    print(f"SLA check checks{label}: {len(rows) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
