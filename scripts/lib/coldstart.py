#!/usr/bin/env python3
"""Cold start and memory of the Lambda functions (issue 7): for each function
binary, the time from process start to its first event answered, and its
peak RSS, next to a hello-world lambda_runtime binary measured the same way.

Used through scripts/coldstart (see there for the build commands). Standard
library only.

    coldstart.py [--runs N] [--only NAME ...] [--event NAME=FILE ...]
                 [--env NAME=VALUE ...] [--target-dir DIR] [--profile PROFILE] [--build]
                 [--timeout SECONDS] [--settle SECONDS] [--new-store | --folded-store]
                 [--no-snapshot] [--instructions] [--answers-only] [--keep] [--json]

How one run goes:
  1. A Lambda runtime API of its own (http.server on 127.0.0.1, a free
     port) is started, holding one event: GET
     /2018-06-01/runtime/invocation/next answers it with the headers Lambda
     sends (Lambda-Runtime-Aws-Request-Id, Lambda-Runtime-Deadline-Ms, a real
     epoch-ms deadline 60 s ahead, Lambda-Runtime-Invoked-Function-Arn,
     Lambda-Runtime-Trace-Id); POST .../invocation/{id}/response and
     .../invocation/{id}/error take the answer, POST
     /2018-06-01/runtime/init/error a failed start. A second GET .../next
     is held open, as Lambda holds it while no event waits.
  2. The release binary is spawned directly (no shell, no `env`) in a clean
     environment: what Lambda sets (AWS_LAMBDA_RUNTIME_API=127.0.0.1:PORT,
     AWS_LAMBDA_FUNCTION_NAME, AWS_LAMBDA_FUNCTION_VERSION,
     AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256, AWS_LAMBDA_LOG_GROUP_NAME,
     AWS_LAMBDA_LOG_STREAM_NAME, AWS_REGION, AWS_DEFAULT_REGION, dummy
     AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN, TZ, LANG,
     PATH) and the HELPDESK_* variables of scripts/test's SQLite passes,
     each path fresh per run: HELPDESK_STORE=sqlite, HELPDESK_DB (a new
     file), HELPDESK_CONFIG (a copy of config/, see below), HELPDESK_BLOBS (a new
     directory), HELPDESK_MAIL_TRANSPORT=outbox:DIR, HELPDESK_EVENTS=log:FILE,
     plus the dummy secrets and the RUST_LOG=info that scripts/test sets.
     Nothing of the caller's environment is passed on. The SQLite store is
     a copy of one that has its schema and the function's seed tickets
     (made once, before the measured runs, by an unmeasured sla-check run
     and the seed example), left as every start but the very first one
     finds it: the database file with the WAL and WAL index beside it (the
     store does not checkpoint on close, and Lambda stops a function with
     SIGTERM), so the first write appends to the WAL, which SQLite syncs
     only at checkpoints (synchronous=NORMAL). The WAL is as the store
     leaves it right after its own fold (one page, see `restart_wal`): a
     start pays a fold (two syncs) only when its own writes fill the WAL
     to 128 pages, which the "WAL pages" column (frames each event wrote)
     says how often happens. Two other states, each measured on request:
     --new-store gives each run a new file, so that the first start's
     schema creation is measured too; --folded-store gives each run the
     file alone, its WAL folded in, as a foreign SQLite client (the sqlite3
     shell, Python) leaves it when it closes last: then the first write
     creates the WAL, and SQLite syncs its header and its directory.
  3. Measured: "init", spawn to the first GET .../next (main's setup done);
     "first event", spawn to the arrival of the answer's POST (response or
     error). Peak RSS is VmHWM of /proc/PID/status, read right after the
     answer and again --settle seconds later, just before SIGTERM (the
     larger counts); "cpu" is the CPU time of all its threads at the answer
     (/proc/PID/task/*/schedstat), "faults" its minor page faults then
     (/proc/PID/stat).
The configuration is a copy of config/ with the snapshot that `helpdesk
config compile` writes next to helpdesk.yaml, as scripts/build-lambdas
ships the configuration layer (made once, before the runs, with the first
`helpdesk` binary found in the profile's directory, target/release or
target/debug; the snapshot does not depend on the build); --no-snapshot
measures the YAML alone.
Runs go round-robin (run 1 of every binary, then run 2, ...) so that a
noisy moment hits all of them alike.

Targets, per function: the median first-event time at most 2x
hello-lambda's median, and the largest peak RSS under 32 MiB. The exit
status is 0 when every function meets both, 1 when one misses (or a run
failed: no answer, an init error, or not the answer the sample event must
get), 2 on a usage error or a missing binary.

The sample events, each over an SQLite store that the function opens at
start (every function builds its services in main before the first
event; with --new-store it also creates the schema then), holding what
the event is about: the tickets of the function's seed.json in events/,
written by the seed example that scripts/test seeds the function's store
with (debug builds: target/debug/examples/seed-store, seed-due), once
per measurement into the store every run then copies:
  form-intake      apigw-v2-support-json-billing.json: a JSON form post that
                   creates a ticket (answer statusCode 201); empty store
  mail-intake      not-an-event.json: an EventBridge schedule event, refused
                   (error UnrecognisedEvent) before any S3 read, so no S3 is
                   needed; the S3 client and the AWS configuration (region
                   and credentials from the environment, as on Lambda) are
                   still built at start (the HTTPS connector, with its root
                   certificates, is built at the first S3 request, which
                   this event does not make; see shared/src/aws.rs)
  ticket-triggers  insert-ticket.json: one stream record of a new ticket
                   (SUP-1, seeded by seed-store from
                   events/ticket-triggers/seed.json): its triggers run, two
                   fire, and their changes are written in one conditional
                   update (answer: no batchItemFailures). With --new-store
                   the store is empty: the ticket is not found (answer: the
                   record in batchItemFailures)
  sla-check        scheduled.json: the EventBridge schedule, over the
                   overdue tickets seed-due creates from
                   events/sla-check/seed.json: the warnings and breaches
                   they passed are recorded on each (answer: the report of
                   events/sla-check/expected.json's first invocation). With
                   --new-store one due-index read that finds nothing (answer:
                   an empty report)
  agent-api        02-show-ticket-token.json: an agent opens a ticket with a
                   personal API token (answer statusCode 200): the ticket
                   (from a customer's mail, delivered with `helpdesk
                   mailgate`) and the token (`helpdesk agents token anna`)
                   are made in the seed store by the `helpdesk` binary, and
                   the event's placeholders filled in. With --new-store
                   there is no token: answer 401
  hello-lambda     the sla-check scheduled.json event (it ignores it)
--event NAME=FILE measures with another event (then any answer counts);
--env NAME=VALUE adds or overrides a variable of every binary's environment,
for experiments (say SSL_CERT_DIR=/nonexistent to see what reading the
certificate directory costs).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import closing
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[2]
RUNTIME_PREFIX = "/2018-06-01/runtime"
TIME_FACTOR = 2.0  # a function's median first-event time vs hello-lambda's
RSS_LIMIT_KIB = 32 * 1024  # 32 MiB
HELLO = "hello-lambda"
# An SQLite store's files: the database, its WAL, the WAL index.
STORE_FILES = ("helpdesk.db", "helpdesk.db-wal", "helpdesk.db-shm")
ACCOUNT = "123456789012"


# ------------------------------------------------------------- functions


def _status(code: int) -> Callable[[str, object], str | None]:
    def check(kind: str, body: object) -> str | None:
        if kind != "response" or not isinstance(body, dict) or body.get("statusCode") != code:
            return f"expected a response with statusCode {code}"
        return None

    return check


def _error(error_type: str) -> Callable[[str, object], str | None]:
    def check(kind: str, body: object) -> str | None:
        if kind != "error" or not isinstance(body, dict) or body.get("errorType") != error_type:
            return f"expected error {error_type}"
        return None

    return check


def _one_batch_failure(kind: str, body: object) -> str | None:
    failures = body.get("batchItemFailures") if isinstance(body, dict) else None
    if kind != "response" or not isinstance(failures, list) or len(failures) != 1:
        return "expected a response naming the one record in batchItemFailures"
    return None


def _no_batch_failures(kind: str, body: object) -> str | None:
    failures = body.get("batchItemFailures") if isinstance(body, dict) else None
    if kind != "response" or failures != []:
        return "expected a response with no batchItemFailures"
    return None


def _response(kind: str, body: object) -> str | None:
    return None if kind == "response" else "expected a response"


def _report(wanted: dict) -> Callable[[str, object], str | None]:
    def check(kind: str, body: object) -> str | None:
        if kind != "response" or not isinstance(body, dict):
            return "expected a response"
        got = {name: len(body[name]) if name == "failed" and isinstance(body.get(name), list) else body.get(name)
               for name in wanted}
        return None if got == wanted else f"expected the report {wanted}, got {got}"

    return check


@dataclass
class Function:
    name: str
    binary: str  # relative to the profile directory
    event: Path
    check: Callable[[str, object], str | None] | None  # None: any answer counts
    env: dict[str, str] = field(default_factory=dict)
    # What the store holds before the event: the seed example (a binary in
    # the debug examples) and its seed file; and the check when the store is
    # empty instead (--new-store).
    seed: tuple[str, Path] | None = None
    check_empty: Callable[[str, object], str | None] | None = None
    # Seeded by the helpdesk command instead: a customer's mail and an
    # agent's token, filled into the event's {{ticket}} and {{token:anna}}.
    seed_agent: bool = False
    placeholders: dict[str, str] = field(default_factory=dict)

    def event_bytes(self) -> bytes:
        text = self.event.read_text(encoding="utf-8")
        for name, value in self.placeholders.items():
            text = text.replace("{{" + name + "}}", value)
        return text.encode("utf-8")


def functions() -> list[Function]:
    raw_mail = json.loads((ROOT / "events/mail-intake/objects.json").read_text())["raw_mail"]
    sla_report = json.loads((ROOT / "events/sla-check/expected.json").read_text())["invocations"][0]
    return [
        Function(HELLO, f"examples/{HELLO}", ROOT / "events/sla-check/scheduled.json", _response),
        Function(
            "form-intake",
            "form-intake",
            ROOT / "events/form-intake/apigw-v2-support-json-billing.json",
            _status(201),
            {"HELPDESK_SECRET_TYPEFORM_FEEDBACK": "test-typeform-secret"},
        ),
        Function(
            "mail-intake",
            "mail-intake",
            ROOT / "events/mail-intake/not-an-event.json",
            _error("UnrecognisedEvent"),
            {"HELPDESK_RAW_MAIL": raw_mail, "HELPDESK_REPLY_TOKEN_SECRET": "test-reply-token-secret-of-32-chars"},
        ),
        Function(
            "ticket-triggers",
            "ticket-triggers",
            ROOT / "events/ticket-triggers/insert-ticket.json",
            _no_batch_failures,
            {"HELPDESK_TELEGRAM_CHAT_ID": "-1001234567890"},
            seed=("seed-store", ROOT / "events/ticket-triggers/seed.json"),
            check_empty=_one_batch_failure,
        ),
        Function(
            "sla-check",
            "sla-check",
            ROOT / "events/sla-check/scheduled.json",
            _report(sla_report),
            seed=("seed-due", ROOT / "events/sla-check/seed.json"),
            check_empty=_response,
        ),
        Function(
            "agent-api",
            "agent-api",
            ROOT / "events/agent-api/02-show-ticket-token.json",
            _status(200),
            {"HELPDESK_REPLY_TOKEN_SECRET": "test-reply-token-secret-of-32-chars"},
            check_empty=_status(401),
            seed_agent=True,
        ),
    ]


# The customer's mail that makes the agent API's ticket in its seed store.
AGENT_SEED_MAIL = (
    "From: Jane Doe <jane@customer.example>\r\nTo: support@example.com\r\n"
    "Subject: Printer on fire\r\nMessage-ID: <coldstart-printer@customer.example>\r\n"
    "Date: Mon, 2 Mar 2026 09:00:00 +0000\r\n\r\nThe office printer smells of smoke.\r\n"
)


def seed_agent(fn: Function, seed: Path, helpdesk: Path | None, timeout: float) -> str | None:
    """A ticket and anna's token in the store of `seed`, by the helpdesk
    command; the event's placeholders set. None, or what failed."""
    if helpdesk is None:
        return "no helpdesk binary to seed the agent API's store with"
    env = lambda_env(fn, "127.0.0.1:9", seed, 0)
    env["HELPDESK_DB"] = str(seed / "helpdesk.db")
    steps = [(["mailgate"], AGENT_SEED_MAIL), (["tickets", "list", "--json"], None),
             (["agents", "token", "anna", "--name", "coldstart"], None)]
    outputs = []
    for args, stdin in steps:
        done = subprocess.run([str(helpdesk), *args], cwd=ROOT, env=env, input=stdin, capture_output=True,
                              text=True, timeout=max(timeout, 60.0))
        if done.returncode != 0:
            return f"helpdesk {' '.join(args)}: {done.stderr.strip()[-400:]}"
        outputs.append(done.stdout)
    fn.placeholders = {"ticket": json.loads(outputs[1])[0]["key"], "token:anna": outputs[2].strip()}
    return None


# ------------------------------------------------------- runtime API server


class Invocation:
    """One event to hand out and what became of it (times: perf_counter)."""

    def __init__(self, function: str, event: bytes) -> None:
        self.function = function
        self.event = event
        self.request_id = str(uuid.uuid4())
        self.lock = threading.Lock()
        self.handed_out = False
        self.first_next: float | None = None
        self.answered_at: float | None = None
        self.kind: str | None = None  # response | error | init_error
        self.body: object = None
        self.answered = threading.Event()
        self.closing = threading.Event()


class RuntimeApi(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, invocation: Invocation) -> None:
        super().__init__(("127.0.0.1", 0), RuntimeHandler)
        self.invocation = invocation
        self.thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def address(self) -> str:
        host, port = self.server_address[:2]
        return f"{host}:{port}"

    def __enter__(self) -> RuntimeApi:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.invocation.closing.set()
        self.shutdown()
        self.server_close()


class RuntimeHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as lambda_runtime's pooled client expects
    server: RuntimeApi

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def _reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def do_GET(self) -> None:  # noqa: N802
        now = time.perf_counter()
        inv = self.server.invocation
        if self.path != f"{RUNTIME_PREFIX}/invocation/next":
            self._reply(404, b'{"errorMessage":"not found"}')
            return
        with inv.lock:
            first = not inv.handed_out
            inv.handed_out = True
            if inv.first_next is None:
                inv.first_next = now
        if not first:
            # No second event: hold the poll open, as Lambda does, until the
            # run ends; then drop the connection.
            inv.closing.wait()
            self.close_connection = True
            return
        deadline_ms = int((time.time() + 60) * 1000)
        trace = f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Parent={uuid.uuid4().hex[:16]};Sampled=0"
        self._reply(
            200,
            inv.event,
            {
                "Lambda-Runtime-Aws-Request-Id": inv.request_id,
                "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
                "Lambda-Runtime-Invoked-Function-Arn": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{inv.function}",
                "Lambda-Runtime-Trace-Id": trace,
            },
        )

    def do_POST(self) -> None:  # noqa: N802
        now = time.perf_counter()
        inv = self.server.invocation
        body = self._read_body()
        base = f"{RUNTIME_PREFIX}/invocation/{inv.request_id}"
        if self.path == f"{base}/response":
            kind = "response"
        elif self.path == f"{base}/error":
            kind = "error"
        elif self.path == f"{RUNTIME_PREFIX}/init/error":
            kind = "init_error"
        else:
            self._reply(404, b'{"errorMessage":"no such invocation"}')
            return
        with inv.lock:
            if inv.kind is None:
                inv.answered_at = now
                inv.kind = kind
                try:
                    inv.body = json.loads(body) if body else None
                except ValueError:
                    inv.body = body.decode("utf-8", "replace")
        self._reply(202, b'{"status":"OK"}')
        inv.answered.set()


# -------------------------------------------------------------- one run


@dataclass
class Run:
    ok: bool
    init_ms: float | None = None
    first_event_ms: float | None = None
    peak_rss_kib: int | None = None
    cpu_ms: float | None = None
    faults: int | None = None
    # Frames the run added to the WAL (after the run, minus before it).
    wal_pages: int | None = None
    answer: str = ""
    problem: str | None = None


def proc_status_kib(pid: int, key: str) -> int | None:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def proc_minor_faults(pid: int) -> int | None:
    """Minor page faults of the process so far (/proc/PID/stat field 10)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    try:
        return int(fields[7])  # field 10 of the file; fields[0] is field 3 (state)
    except (IndexError, ValueError):
        return None


def proc_cpu_ms(pid: int) -> float | None:
    """CPU time of all the process's threads so far (schedstat, in ns)."""
    total, seen = 0, False
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return None
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat", encoding="ascii") as stat:
                total += int(stat.read().split()[0])
                seen = True
        except (OSError, ValueError, IndexError):
            continue
    return total / 1e6 if seen else None


def describe_answer(kind: str | None, body: object) -> str:
    if kind is None:
        return "no answer"
    if isinstance(body, dict):
        if kind != "response":
            return f"{kind} {body.get('errorType', '?')}"
        if "statusCode" in body:
            return f"statusCode {body['statusCode']}"
        if "batchItemFailures" in body:
            return f"batchItemFailures {len(body['batchItemFailures'])}"
        return "response {" + ", ".join(list(body)[:3]) + ("…" if len(body) > 3 else "") + "}"
    return kind


def log_tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join("    " + line for line in text[-lines:])


def lambda_env(fn: Function, api: str, run_dir: Path, index: int) -> dict[str, str]:
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "TZ": ":UTC",
        "AWS_LAMBDA_RUNTIME_API": api,
        "AWS_LAMBDA_FUNCTION_NAME": fn.name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{fn.name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": f"coldstart/{index}",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "RUST_LOG": "info",
        "HELPDESK_STORE": "sqlite",
        "HELPDESK_DB": str(run_dir / "helpdesk.db"),
        "HELPDESK_CONFIG": "config/helpdesk.yaml",
        "HELPDESK_BLOBS": str(run_dir / "blobs"),
        "HELPDESK_MAIL_TRANSPORT": f"outbox:{run_dir / 'outbox'}",
        "HELPDESK_EVENTS": f"log:{run_dir / 'events.jsonl'}",
    }
    env.update(fn.env)
    return env


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def measure(
    fn: Function,
    binary: Path,
    event: bytes,
    run_dir: Path,
    index: int,
    timeout: float,
    settle: float,
    store_seed: Path | None = None,
    wrapper: tuple[str, ...] = (),
) -> Run:
    run_dir.mkdir(parents=True)
    (run_dir / "blobs").mkdir()
    if store_seed is not None:
        for part in STORE_FILES:
            if (store_seed / part).is_file():
                shutil.copyfile(store_seed / part, run_dir / part)
    pages_before = wal_pages(run_dir)
    log_path = run_dir / "function.log"
    invocation = Invocation(fn.name, event)
    with RuntimeApi(invocation) as api, open(log_path, "wb") as log:
        env = lambda_env(fn, api.address, run_dir, index)
        started = time.perf_counter()
        process = subprocess.Popen(
            [*wrapper, str(binary)], cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            deadline = started + timeout
            while not invocation.answered.wait(0.01):
                if process.poll() is not None:
                    why = f"exited with {process.returncode} before answering"
                    return Run(False, problem=f"{why}\n{log_tail(log_path)}")
                if time.perf_counter() > deadline:
                    return Run(False, problem=f"no answer within {timeout:g} s\n{log_tail(log_path)}")
            hwm = proc_status_kib(process.pid, "VmHWM")
            cpu = proc_cpu_ms(process.pid)
            faults = proc_minor_faults(process.pid)
            time.sleep(settle)
            later = proc_status_kib(process.pid, "VmHWM")
            peaks = [v for v in (hwm, later) if v is not None]
        finally:
            stop(process)
    kind, body = invocation.kind, invocation.body
    run = Run(
        True,
        init_ms=None if invocation.first_next is None else (invocation.first_next - started) * 1000,
        first_event_ms=((invocation.answered_at or started) - started) * 1000,
        peak_rss_kib=max(peaks) if peaks else None,
        cpu_ms=cpu,
        faults=faults,
        wal_pages=wal_pages(run_dir) - pages_before if store_seed is not None else None,
        answer=describe_answer(kind, body),
    )
    if kind == "init_error":
        run.ok, run.problem = False, f"init error: {json.dumps(body)[:300]}\n{log_tail(log_path)}"
    elif run.peak_rss_kib is None:
        run.ok, run.problem = False, "could not read VmHWM (process gone?)"
    elif fn.check is not None and (why := fn.check(kind or "", body)):
        run.ok, run.problem = False, f"{why}, got {run.answer}: {json.dumps(body)[:300]}\n{log_tail(log_path)}"
    return run


def helpdesk_binary(bin_dir: Path, target_dir: Path) -> Path | None:
    for candidate in (bin_dir / "helpdesk", target_dir / "release/helpdesk", target_dir / "debug/helpdesk"):
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def prepare_config(work: Path, helpdesk: Path | None, snapshot: bool) -> Path | None:
    """A copy of config/ for the runs, with helpdesk.yaml's snapshot unless
    snapshot is False (then any snapshot in the copy is removed)."""
    config_dir = work / "config"
    shutil.copytree(ROOT / "config", config_dir)
    config = config_dir / "helpdesk.yaml"
    for stale in config_dir.glob("*.snapshot.json"):
        stale.unlink()
    if not snapshot:
        return config
    if helpdesk is None:
        print(
            "coldstart: no helpdesk binary to compile the configuration snapshot with; "
            "run `cargo build -p helpdesk-cli` (or pass --no-snapshot)",
            file=sys.stderr,
        )
        return None
    done = subprocess.run(
        [str(helpdesk), "config", "compile", str(config)], cwd=ROOT, capture_output=True, text=True
    )
    if done.returncode != 0 or not (config_dir / "helpdesk.snapshot.json").is_file():
        print(f"coldstart: helpdesk config compile failed:\n{done.stderr}", file=sys.stderr)
        return None
    return config


def wal_pages(store: Path) -> int:
    """The frames in the WAL beside `store`'s database (32-byte header,
    then per frame a 24-byte header and a page)."""
    wal = store / "helpdesk.db-wal"
    if not wal.is_file() or wal.stat().st_size < 32:
        return 0
    with open(wal, "rb") as f:
        page_size = int.from_bytes(f.read(32)[8:12], "big")
    return (wal.stat().st_size - 32) // (24 + page_size)


def restart_wal(seed: Path, scratch: Path) -> None:
    """Leaves the store in `seed` as the store leaves it right after its own
    fold (shared/src/store/sqlite.rs, `fold`): the WAL checkpointed into the
    database, then one write (the same user_version) that starts it again
    from its first page. The seed examples stop wherever their writes left
    the WAL (sla-check's at 113 of the 128 pages at which a short-lived
    process folds), so every measured start would pay the fold that, over
    the WAL's cycle, comes once every 128 / (pages per event) starts; the
    pages each function's event writes are reported beside its figures.
    Python's close would fold and remove the WAL again, so the files are
    copied while the connection that wrote them is still open."""
    scratch.mkdir()
    with closing(sqlite3.connect(seed / "helpdesk.db", isolation_level=None)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        conn.execute(f"PRAGMA user_version = {int(version)}")
        for part in STORE_FILES:
            shutil.copyfile(seed / part, scratch / part)
    for part in STORE_FILES:
        shutil.move(scratch / part, seed / part)
    scratch.rmdir()


def seed_stores(
    selected: list[Function], work: Path, bin_dir: Path, examples_dir: Path, timeout: float, folded: bool,
    helpdesk: Path | None = None,
) -> dict[str, Path] | None:
    """Per function, a directory with the SQLite store its runs start from:
    the schema, made by one unmeasured run of the sla-check binary with its
    schedule event (which creates it and writes nothing on an empty store),
    and what the function's seed example writes into it. The files are
    left as the store leaves them after its own fold (database, a WAL of
    one page, WAL index: see `restart_wal`), or with `folded` the WAL is
    folded into the database file and removed, as a foreign SQLite client
    leaves it.
    Checked here: the schema is there, and unless folded, the WAL is (a
    store that checkpoints on close would make the default state the folded
    one)."""
    sla = next(fn for fn in functions() if fn.name == "sla-check")
    sla.check = sla.check_empty  # the store is empty yet
    made = work / "store-made"
    run = measure(sla, bin_dir / sla.binary, sla.event_bytes(), made, 0, timeout, 0.0)
    if not run.ok:
        print(f"coldstart: could not make the store to start from: {run.problem}", file=sys.stderr)
        return None
    seeds: dict[str, Path] = {}
    for fn in selected:
        if fn.name == HELLO:
            continue
        seed = work / f"store-{fn.name}"
        seed.mkdir()
        for part in STORE_FILES:
            if (made / part).is_file():
                shutil.copyfile(made / part, seed / part)
        if fn.seed is not None:
            example, seed_file = fn.seed
            env = lambda_env(fn, "127.0.0.1:9", seed, 0)
            env["HELPDESK_DB"] = str(seed / "helpdesk.db")
            done = subprocess.run(
                [str(examples_dir / example), str(seed_file)], cwd=ROOT, env=env, capture_output=True, text=True,
                timeout=max(timeout, 60.0),
            )
            if done.returncode != 0:
                print(f"coldstart: {example} {seed_file.name} failed for {fn.name}:\n{done.stderr}", file=sys.stderr)
                return None
        if fn.seed_agent:
            problem = seed_agent(fn, seed, helpdesk, timeout)
            if problem is not None:
                print(f"coldstart: seeding {fn.name}: {problem}", file=sys.stderr)
                return None
        if not (seed / "helpdesk.db-wal").is_file():
            print(f"coldstart: no WAL beside the store of {fn.name}", file=sys.stderr)
            return None
        if folded:
            with closing(sqlite3.connect(seed / "helpdesk.db")) as conn:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            for part in STORE_FILES[1:]:
                (seed / part).unlink(missing_ok=True)
        else:
            restart_wal(seed, work / f"fold-{fn.name}")
        seeds[fn.name] = seed
    # Python's close folds the WAL in and removes it: inspect `made` last.
    with closing(sqlite3.connect(made / "helpdesk.db")) as conn:
        tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    if "tickets" not in tables:
        print(f"coldstart: the store to start from has no tickets table ({tables})", file=sys.stderr)
        return None
    return seeds


def count_instructions(
    selected: list[Function], bin_dir: Path, events: dict[str, bytes], work: Path, timeout: float,
    store_seeds: dict[str, Path],
) -> int:
    """--instructions: one run of each binary under callgrind (valgrind),
    which counts the instructions it executes in user space from exec to
    its stop (after the answer it waits in GET .../next, executing
    nothing): a figure that does not depend on the machine's load, unlike
    the times. Kernel work (exec, page faults, thread creation) is not in it."""
    if shutil.which("valgrind") is None:
        print("coldstart: --instructions needs valgrind (Debian package valgrind)", file=sys.stderr)
        return 2
    counts: dict[str, int | None] = {}
    for fn in selected:
        run_dir = work / f"{fn.name}-callgrind"
        out = run_dir / "callgrind.out"
        wrapper = ("valgrind", "--tool=callgrind", "-q", f"--callgrind-out-file={out}")
        run = measure(
            fn, bin_dir / fn.binary, events[fn.name], run_dir, 0, timeout, 0.0, store_seeds.get(fn.name), wrapper
        )
        total = None
        if run.ok and out.is_file():
            for line in out.read_text(errors="replace").splitlines():
                if line.startswith(("summary:", "totals:")):
                    total = int(line.split()[1])
                    break
        counts[fn.name] = total
        if not run.ok:
            print(f"{fn.name}: {run.problem}", file=sys.stderr)
    hello = counts.get(HELLO)
    print("instructions from exec to the first event answered (callgrind, user space, one run each)")
    for name, total in counts.items():
        ratio = "" if not total or not hello else f"  {total / hello:5.2f}x {HELLO}"
        print(f"  {name:<16} {'-' if total is None else f'{total:>12,}'}{ratio}")
    return 0 if all(total is not None for total in counts.values()) else 1


# ---------------------------------------------------------------- report


def summarise(fn: Function, runs: list[Run], hello_median: float | None) -> dict:
    good = [r for r in runs if r.ok]
    times = [r.first_event_ms for r in good if r.first_event_ms is not None]
    inits = [r.init_ms for r in good if r.init_ms is not None]
    rss = [r.peak_rss_kib for r in good if r.peak_rss_kib is not None]
    cpu = [r.cpu_ms for r in good if r.cpu_ms is not None]
    faults = [r.faults for r in good if r.faults is not None]
    pages = [r.wal_pages for r in good if r.wal_pages is not None]
    problems = [r.problem for r in runs if not r.ok and r.problem]
    median = statistics.median(times) if times else None
    ratio = median / hello_median if median is not None and hello_median else None
    time_ok = bool(good) and not problems and ratio is not None and ratio <= TIME_FACTOR
    rss_ok = bool(good) and not problems and max(rss, default=RSS_LIMIT_KIB) < RSS_LIMIT_KIB
    return {
        "function": fn.name,
        "event": str(fn.event.relative_to(ROOT)) if fn.event.is_relative_to(ROOT) else str(fn.event),
        "answers": sorted({r.answer for r in good}),
        "runs": len(runs),
        "failed_runs": len(runs) - len(good),
        "problems": problems,
        "init_ms": {"median": _round(statistics.median(inits)) if inits else None, "all": [_round(t) for t in inits]},
        "first_event_ms": {
            "median": _round(median),
            "worst": _round(max(times)) if times else None,
            "all": [_round(t) for t in times],
        },
        "cpu_ms_at_answer": {"median": _round(statistics.median(cpu)) if cpu else None},
        "minor_faults_at_answer": {"median": int(statistics.median(faults)) if faults else None},
        "wal_pages_written": {"median": int(statistics.median(pages)) if pages else None},
        "peak_rss_kib": {"max": max(rss) if rss else None, "all": rss},
        "ratio_to_hello": _round(ratio, 2),
        "time_target": f"<= {TIME_FACTOR:g}x {HELLO} median",
        "time_pass": time_ok,
        "rss_target_kib": RSS_LIMIT_KIB,
        "rss_pass": rss_ok,
    }


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def _fmt(value: float | None, suffix: str = "") -> str:
    return "-" if value is None else f"{value:.1f}{suffix}"


def _verdict(passed: bool) -> str:
    return "PASS" if passed else "FAIL"


def print_table(rows: list[dict], meta: dict) -> None:
    headers = (
        "function",
        "event",
        "answer",
        "init ms",
        "1st event ms",
        "worst ms",
        "cpu ms",
        "faults",
        "WAL pages",
        "x hello",
        "peak RSS MiB",
        "time",
        "RSS",
    )
    checked = not meta.get("answers_only")
    table = []
    for row in rows:
        rss = row["peak_rss_kib"]["max"]
        time_verdict = "ref" if row["function"] == HELLO and row["time_pass"] else _verdict(row["time_pass"])
        table.append(
            (
                row["function"],
                Path(row["event"]).name,
                ", ".join(row["answers"]) or "-",
                _fmt(row["init_ms"]["median"]),
                _fmt(row["first_event_ms"]["median"]),
                _fmt(row["first_event_ms"]["worst"]),
                _fmt(row["cpu_ms_at_answer"]["median"]),
                str(row["minor_faults_at_answer"]["median"] or "-"),
                "-" if row["wal_pages_written"]["median"] is None else str(row["wal_pages_written"]["median"]),
                "-" if row["ratio_to_hello"] is None else f"{row['ratio_to_hello']:.2f}",
                "-" if rss is None else f"{rss / 1024:.1f}",
                time_verdict if checked else "-",
                _verdict(row["rss_pass"]) if checked else "-",
            )
        )
    widths = [max(len(h), *(len(r[i]) for r in table)) for i, h in enumerate(headers)]
    print(
        f"cold start: {meta['runs']} runs each, {meta['profile']} binaries in {meta['bin_dir']}, "
        f"load average {meta['loadavg_before']} before / {meta['loadavg_after']} after"
    )
    print(f"SQLite store: {meta['store']}; configuration: {meta['config']}")
    if meta.get("answers_only"):
        print("targets: not checked (--answers-only): each run must get its sample event's answer")
    else:
        print(
            f"targets: median time to first event <= {TIME_FACTOR:g}x {HELLO}'s, "
            f"peak RSS (VmHWM) < {RSS_LIMIT_KIB // 1024} MiB"
        )
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip())
    print("  ".join("-" * w for w in widths))
    for line in table:
        print("  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip())
    for row in rows:
        for problem in row["problems"]:
            print(f"\n{row['function']}: {problem}")


# ------------------------------------------------------------------ main


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def build(profile: str, target_dir: Path) -> None:
    common = ["--profile", profile, "--target-dir", str(target_dir)]
    commands = [
        ["cargo", "build", *common, "--bins"]
        + [arg for name in ("form-intake", "mail-intake", "ticket-triggers", "sla-check", "agent-api") for arg in ("-p", name)],
        ["cargo", "build", *common, "-p", "ticket-triggers", "--example", HELLO],
        # Only compiles the configuration snapshot: any profile will do.
        ["cargo", "build", "--target-dir", str(target_dir), "-p", "helpdesk-cli", "--bin", "helpdesk"],
        # The seed examples only fill the stores before the runs: debug builds.
        ["cargo", "build", "--target-dir", str(target_dir), "-p", "ticket-triggers", "--example", "seed-store"],
        ["cargo", "build", "--target-dir", str(target_dir), "-p", "sla-check", "--example", "seed-due"],
    ]
    for command in commands:
        print("+ " + " ".join(command), file=sys.stderr, flush=True)
        subprocess.run(command, cwd=ROOT, check=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="runs per binary (default 5)")
    parser.add_argument(
        "--only", action="append", default=[], metavar="NAME",
        help="measure only NAME (repeatable; hello-lambda is always measured)",
    )
    parser.add_argument(
        "--event", action="append", default=[], metavar="NAME=FILE",
        help="measure NAME with FILE instead of its sample event (then any answer counts)",
    )
    parser.add_argument(
        "--target-dir", type=Path, default=Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target"),
        help="cargo's target directory (default $CARGO_TARGET_DIR or target/)",
    )
    parser.add_argument(
        "--env", action="append", default=[], metavar="NAME=VALUE",
        help="one more variable for every binary, or one to override (for experiments; repeatable)",
    )
    parser.add_argument("--profile", default="release", help="cargo profile of the binaries (default release)")
    parser.add_argument(
        "--build", action="store_true", help="run the cargo build commands of scripts/coldstart first (default: build nothing)"
    )
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds a run may take to answer (default 30)")
    parser.add_argument("--settle", type=float, default=0.2, help="seconds between the two VmHWM reads (default 0.2)")
    stores = parser.add_mutually_exclusive_group()
    stores.add_argument(
        "--new-store",
        action="store_true",
        help="a new SQLite file per run, schema created at start (default: a copy of an existing store "
        "with the WAL its last process left)",
    )
    stores.add_argument(
        "--folded-store",
        action="store_true",
        help="a copy of an existing store with its WAL folded in, as a foreign SQLite client leaves it: "
        "the first write creates the WAL and syncs it",
    )
    parser.add_argument(
        "--no-snapshot",
        action="store_true",
        help="no configuration snapshot: every start parses the YAML (default: with one, as deployed)",
    )
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="count each binary's instructions to its first answer under callgrind instead (one run each; needs valgrind)",
    )
    parser.add_argument(
        "--answers-only",
        action="store_true",
        help="exit status from the answers alone (every run got its sample event's answer), not the targets: "
        "for a quick check of the harness and the sample events on any build, as scripts/test runs it",
    )
    parser.add_argument("--keep", action="store_true", help="keep the per-run directories (logs, SQLite files)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON instead of a table")
    args = parser.parse_args()

    if args.runs < 1:
        parser.error("--runs must be at least 1")
    target_dir = args.target_dir if args.target_dir.is_absolute() else ROOT / args.target_dir
    bin_dir = target_dir / ("debug" if args.profile in ("dev", "test") else args.profile)
    selected = functions()
    names = [fn.name for fn in selected]
    for name in args.only:
        if name not in names:
            parser.error(f"--only {name}: not one of {', '.join(names)}")
    if args.only:
        selected = [fn for fn in selected if fn.name == HELLO or fn.name in args.only]
    for spec in args.event:
        name, sep, file = spec.partition("=")
        if not sep or name not in names:
            parser.error(f"--event {spec}: expected NAME=FILE with NAME among {', '.join(names)}")
        for fn in selected:
            if fn.name == name:
                fn.event, fn.check = Path(file).resolve(), None

    extra_env = {}
    for spec in args.env:
        name, sep, value = spec.partition("=")
        if not sep or not name:
            parser.error(f"--env {spec}: expected NAME=VALUE")
        extra_env[name] = value
    for fn in selected:
        fn.env.update(extra_env)

    if args.build:
        build(args.profile, target_dir)
    missing = [str(bin_dir / fn.binary) for fn in selected if not os.access(bin_dir / fn.binary, os.X_OK)]
    if not args.new_store:
        examples_dir = target_dir / "debug/examples"
        missing += [
            str(examples_dir / fn.seed[0])
            for fn in selected
            if fn.seed is not None and not os.access(examples_dir / fn.seed[0], os.X_OK)
        ]
    if missing:
        print("coldstart: missing binaries (build them, see scripts/coldstart, or pass --build):", file=sys.stderr)
        for path in missing:
            print(f"  {path}", file=sys.stderr)
        return 2

    work = Path(tempfile.mkdtemp(prefix="helpdesk-coldstart-"))
    meta = {
        "runs": args.runs,
        "profile": args.profile,
        "bin_dir": str(bin_dir),
        "store": "new file per run"
        if args.new_store
        else "existing, its WAL folded in (schema and seed tickets made by unmeasured runs)"
        if args.folded_store
        else "existing, with the WAL its last process left (schema and seed tickets made by unmeasured runs)",
        "config": "YAML only" if args.no_snapshot else "YAML and its snapshot (helpdesk config compile)",
        "answers_only": args.answers_only,
        "loadavg_before": loadavg(),
    }
    results: dict[str, list[Run]] = {fn.name: [] for fn in selected}
    progress = not args.json and sys.stderr.isatty()
    try:
        helpdesk = helpdesk_binary(bin_dir, target_dir)
        config = prepare_config(work, helpdesk, not args.no_snapshot)
        if config is None:
            return 2
        for fn in selected:
            fn.env.setdefault("HELPDESK_CONFIG", str(config))
        store_seeds: dict[str, Path] = {}
        if args.new_store:
            for fn in selected:
                if fn.check is not None and fn.check_empty is not None:
                    fn.check = fn.check_empty
        else:
            seeds = seed_stores(
                selected, work, bin_dir, target_dir / "debug/examples", args.timeout, args.folded_store, helpdesk
            )
            if seeds is None:
                return 2
            store_seeds = seeds
        # After seeding: the agent API's event names what its seed made.
        events = {fn.name: fn.event_bytes() for fn in selected}
        if args.instructions:
            return count_instructions(selected, bin_dir, events, work, max(args.timeout, 120.0), store_seeds)
        for index in range(1, args.runs + 1):
            for fn in selected:
                if progress:
                    print(f"\rrun {index}/{args.runs}: {fn.name:<16}", end="", file=sys.stderr, flush=True)
                run_dir = work / f"{fn.name}-{index}"
                results[fn.name].append(
                    measure(
                        fn,
                        bin_dir / fn.binary,
                        events[fn.name],
                        run_dir,
                        index,
                        args.timeout,
                        args.settle,
                        store_seeds.get(fn.name),
                    )
                )
        if progress:
            print("\r" + " " * 40 + "\r", end="", file=sys.stderr, flush=True)
    finally:
        meta["loadavg_after"] = loadavg()
        if args.keep:
            print(f"coldstart: run directories kept in {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)

    hello = [r.first_event_ms for r in results[HELLO] if r.ok and r.first_event_ms is not None]
    hello_median = statistics.median(hello) if hello else None
    rows = [summarise(fn, results[fn.name], hello_median) for fn in selected]
    if args.json:
        print(json.dumps({**meta, "functions": rows}, indent=2))
    else:
        print_table(rows, meta)
    if args.answers_only:
        answered = all(row["failed_runs"] == 0 and not row["problems"] for row in rows)
        if not args.json:
            print(f"\nanswers only (targets not checked): {'every run answered as it must' if answered else 'FAIL'}")
        return 0 if answered else 1
    return 0 if all(row["time_pass"] and row["rss_pass"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
