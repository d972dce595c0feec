#!/usr/bin/env python3
"""Invokes the agent API function with the events of events/agent-api/, in
the order of events/agent-api/expected.json, and checks every answer, the
ticket they worked on and the mail they sent.

Used by scripts/test, which starts `cargo lambda watch --only-lambda-apis`,
moto (Cognito, and DynamoDB, S3 and SES for the deployed pass) and the
function binary first.

    check_agent_api_events.py --static
        only checks the event files (each listed in expected.json and the
        other way round, each an HTTP API v2 request of the route, every
        placeholder one the check knows); needs no server.

    check_agent_api_events.py --cargo-lambda .venv/bin/cargo-lambda --port P \\
        --helpdesk 'env HELPDESK_...=... target/debug/helpdesk' \\
        --moto http://127.0.0.1:PORT --user-pool FILE (--outbox DIR | --ses)

Before the first event, as an agent's day would start:
- a customer's mail (Jane, "Printer on fire") is delivered with
  `helpdesk mailgate`, over the same store as the function; its ticket is
  {{ticket}};
- personal API tokens are made with `helpdesk agents token` (and one is
  revoked at once with `helpdesk agents revoke`);
- anna and boris are created in the user pool of --user-pool ({"pool",
  "client"} from moto_setup.py --user-pool) and signed in through moto's
  Cognito (USER_PASSWORD_AUTH), whose JWTs the function verifies against
  the pool's key set; an expired JWT is signed with the pool's own key
  (moto's, from the moto package) and a tampered one changes one character
  of a real one's claims.
Then each event's placeholders (see scripts/lib/gen_agent_api_events.py)
are filled in, the event is invoked, and its answer checked: status,
headers and JSON checks as in events/form-intake/expected.json
(scripts/lib/check_form_events.py's checks). At the end the stored ticket
(`helpdesk tickets list --json`) and the mail sent (the outbox directory,
or moto's SES through /moto-api/data.json with --ses) are checked against
expected.json's "ticket" and "mail".

Needs boto3 and joserfc (both installed with moto[server]).
"""

from __future__ import annotations

import argparse
import base64
import email
import email.policy
import gzip
import json
import re
import shlex
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from check_form_events import MISSING, Invoker, check_value, lookup, response_headers, response_json  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events" / "agent-api"
PLACEHOLDER = re.compile(r"\{\{([^{}]+)\}\}")
KNOWN = re.compile(
    r"^(ticket|etag|etag@[\w.-]+|token:\w+|token:\w+:revoked|jwt:\w+|id-jwt:\w+|jwt:\w+:tampered|jwt:\w+:expired"
    r"|password:\w+|session)$"
)
# The function's routes: the API, and the console at every other path.
ROUTES = {"ANY /api/v1/{proxy+}", "GET /", "ANY /{proxy+}"}
PASSWORD = "Lambda-check-9-password"
SEED_MESSAGE_ID = "lambda-check-printer@customer.example"
SEED_MAIL = (
    "From: Jane Doe <jane@customer.example>\r\n"
    "To: support@example.com\r\n"
    "Subject: Printer on fire\r\n"
    f"Message-ID: <{SEED_MESSAGE_ID}>\r\n"
    "Date: Mon, 2 Mar 2026 09:00:00 +0000\r\n"
    "\r\n"
    "The office printer smells of smoke. Please help.\r\n"
)


def static_problems(expected: dict) -> list[str]:
    problems = []
    listed = [step["event"] for step in expected["sequence"]]
    files = sorted(p.name for p in EVENTS.glob("*.json") if p.name != "expected.json")
    for name in files:
        if name not in listed:
            problems.append(f"{name}: not in expected.json's sequence")
    for name in listed:
        path = EVENTS / name
        if not path.exists():
            problems.append(f"{name}: listed in expected.json but missing")
            continue
        event = json.loads(path.read_text(encoding="utf-8"))
        if event.get("version") != "2.0" or event.get("routeKey") not in ROUTES:
            problems.append(f"{name}: not an HTTP API v2 request of {' or '.join(sorted(ROUTES))}")
        for found in PLACEHOLDER.findall(path.read_text(encoding="utf-8")):
            if not KNOWN.match(found):
                problems.append(f"{name}: unknown placeholder {{{{{found}}}}}")
    return problems


def run(cmd: str, stdin: str | None = None) -> str:
    proc = subprocess.run(shlex.split(cmd), input=stdin, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise SystemExit(f"`{cmd}` failed (exit {proc.returncode}): {proc.stderr.strip()[-600:]}")
    return proc.stdout


class Credentials:
    """Tokens and JWTs by placeholder, made on first use."""

    def __init__(self, helpdesk: str, moto: str, pool: str, client: str) -> None:
        import boto3

        self.helpdesk = helpdesk
        self.pool = pool
        self.client = client
        self.cognito = boto3.client(
            "cognito-idp",
            endpoint_url=moto,
            region_name=pool.split("_", 1)[0],
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        self.made: dict[str, str] = {}

    def token(self, login: str, revoked: bool) -> str:
        label = "lambda-check-revoked" if revoked else "lambda-check"
        secret = run(f"{self.helpdesk} agents token {login} --name {label}").strip()
        if not re.fullmatch(r"hd_[A-Za-z0-9_-]{43}", secret):
            raise SystemExit(f"`helpdesk agents token` printed {secret!r}, not a token alone")
        if revoked:
            run(f"{self.helpdesk} agents revoke {login} {label}")
        return secret

    def sign_in(self, login: str) -> dict:
        users = {u["Username"] for u in self.cognito.list_users(UserPoolId=self.pool)["Users"]}
        if login not in users:
            self.cognito.admin_create_user(UserPoolId=self.pool, Username=login, MessageAction="SUPPRESS")
            self.cognito.admin_set_user_password(UserPoolId=self.pool, Username=login, Password=PASSWORD, Permanent=True)
        return self.cognito.initiate_auth(
            ClientId=self.client,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": login, "PASSWORD": PASSWORD},
        )["AuthenticationResult"]

    def expired(self, login: str) -> str:
        """An access token of the pool's own key (moto signs with the key
        of its package) that expired an hour ago."""
        from joserfc import jwk, jwt
        import moto

        key_file = Path(moto.__file__).parent / "cognitoidp" / "resources" / "jwks-private.json.gz"
        key = jwk.RSAKey.import_key(json.loads(gzip.decompress(key_file.read_bytes())))
        now = int(time.time())
        claims = {
            "iss": f"https://cognito-idp.{self.pool.split('_', 1)[0]}.amazonaws.com/{self.pool}",
            "sub": "00000000-0000-0000-0000-000000000000",
            "client_id": self.client,
            "token_use": "access",
            "username": login,
            "iat": now - 7200,
            "auth_time": now - 7200,
            "exp": now - 3600,
            "jti": "lambda-check-expired",
        }
        return jwt.encode({"kid": "dummy", "alg": "RS256"}, claims, key)

    def get(self, name: str) -> str:
        if name not in self.made:
            kind, _, rest = name.partition(":")
            login, _, variant = rest.partition(":")
            if kind == "token":
                self.made[name] = self.token(login, variant == "revoked")
            elif kind == "password":
                self.sign_in(login)
                self.made[name] = PASSWORD
            elif kind == "id-jwt":
                self.made[name] = self.sign_in(login)["IdToken"]
            elif variant == "expired":
                self.made[name] = self.expired(login)
            elif variant == "tampered":
                header, claims, signature = self.get(f"jwt:{login}").split(".")
                flipped = "B" if claims[-2] == "A" else "A"
                self.made[name] = ".".join([header, claims[:-2] + flipped + claims[-1], signature])
            else:
                self.made[name] = self.sign_in(login)["AccessToken"]
        return self.made[name]


def fill(text: str, values: dict, credentials: Credentials) -> str:
    """The event's JSON text with its placeholders filled in (as JSON
    string content: an ETag is quoted)."""

    def one(match: re.Match) -> str:
        name = match.group(1)
        if name in values:
            value = values[name]
        elif name.startswith("etag"):
            raise SystemExit(f"no answer had an ETag for {{{{{name}}}}} yet")
        else:
            value = credentials.get(name)
        return json.dumps(value)[1:-1]

    return PLACEHOLDER.sub(one, text)


def check_answer(step: dict, response: dict) -> list[str]:
    problems = []
    if response.get("statusCode") != step["status"]:
        body = str(response.get("body"))[:300]
        problems.append(f"status {response.get('statusCode')}, expected {step['status']}: {body}")
    headers = response_headers(response)
    for name, check in (step.get("headers") or {}).items():
        value = headers.get(name.lower(), MISSING)
        wrong = check_value(value, check)
        if wrong:
            problems.append(f"header {name} {wrong}")
    if "cookies" in step:
        wrong = check_value("; ".join(response.get("cookies") or []), step["cookies"])
        if wrong:
            problems.append(f"cookies {wrong}")
    text = response_text(response)
    for part in step.get("body_contains") or []:
        if part not in text:
            problems.append(f"the body does not contain {part!r}: {text[:300]!r}")
    body = response_json(response)
    for check in step.get("json") or []:
        wrong = check_value(lookup(body, check["path"]), check)
        if wrong:
            problems.append(f"{check['path']} {wrong}")
    return problems


def response_text(response: dict) -> str:
    body = response.get("body") or ""
    if response.get("isBase64Encoded"):
        body = base64.b64decode(body).decode("utf-8", errors="replace")
    return body


def sent_mail(args) -> list[email.message.EmailMessage]:
    if args.outbox:
        raws = [p.read_bytes() for p in sorted(Path(args.outbox).glob("*.eml"))]
    else:
        with urllib.request.urlopen(f"{args.moto.rstrip('/')}/moto-api/data.json", timeout=30) as answer:
            data = json.load(answer)
        raws = [m["raw_data"].encode("utf-8") for m in data.get("ses", {}).get("RawMessage", [])]
    return [email.message_from_bytes(raw, policy=email.policy.default) for raw in raws]


def body_text(message: email.message.EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    return part.get_content() if part is not None else ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--static", action="store_true")
    parser.add_argument("--cargo-lambda")
    parser.add_argument("--port", type=int)
    parser.add_argument("--function-pid", type=int)
    parser.add_argument("--helpdesk", help="the helpdesk command, with the function's store settings")
    parser.add_argument("--moto", help="moto's endpoint (Cognito; SES with --ses)")
    parser.add_argument("--user-pool", type=Path, help='{"pool": ID, "client": ID} from moto_setup.py')
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--outbox", help="the function's outbox directory")
    where.add_argument("--ses", action="store_true", help="mail went through SES on moto")
    parser.add_argument("--label", default="")
    parser.add_argument("--timeout", type=float, default=60)
    args = parser.parse_args()

    expected = json.loads((EVENTS / "expected.json").read_text(encoding="utf-8"))
    problems = static_problems(expected)
    if problems or args.static:
        for problem in problems:
            print(f"FAIL {problem}")
        print(f"agent-api events: {len(expected['sequence'])} listed, {len(problems)} problems")
        return 1 if problems else 0
    if not (args.cargo_lambda and args.port and args.helpdesk and args.moto and args.user_pool and (args.outbox or args.ses)):
        parser.error("--cargo-lambda, --port, --helpdesk, --moto, --user-pool and --outbox or --ses are needed unless --static")

    label = f" ({args.label})" if args.label else ""
    mail_before = len(sent_mail(args))
    run(f"{args.helpdesk} mailgate", stdin=SEED_MAIL)
    tickets = json.loads(run(f"{args.helpdesk} tickets list --json"))
    seeded = [t for t in tickets if t.get("requester_email") == "jane@customer.example"]
    if len(seeded) != 1:
        raise SystemExit(f"the customer's mail made {len(seeded)} tickets, expected one")
    ticket = seeded[0]["key"]
    pool = json.loads(args.user_pool.read_text(encoding="utf-8"))
    credentials = Credentials(args.helpdesk, args.moto, pool["pool"], pool["client"])
    values = {"ticket": ticket}

    invoker = Invoker(args.cargo_lambda, "agent-api", args.port, args.timeout, args.function_pid)
    failed = 0
    with tempfile.TemporaryDirectory() as scratch:
        for step in expected["sequence"]:
            name = step["event"]
            text = fill((EVENTS / name).read_text(encoding="utf-8"), values, credentials)
            filled = Path(scratch) / name
            filled.write_text(text, encoding="utf-8")
            response, error, secs = invoker.invoke(filled)
            want = json.loads(PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), json.dumps(step)))
            problems = [error] if response is None else check_answer(want, response)
            if response is not None:
                for cookie in response.get("cookies") or []:
                    pair = cookie.split(";", 1)[0]
                    if pair.startswith("hd_session=") and pair != "hd_session=":
                        values["session"] = pair
                etag = response_headers(response).get("etag")
                if etag:
                    values["etag"] = etag
                    values[f"etag@{name}"] = etag
            state = "ok  " if not problems else "FAIL"
            failed += bool(problems)
            print(f"{state} {name}{label} ({secs * 1000:.0f} ms): {step['description']}")
            for problem in problems:
                print(f"       {problem}")

    stored = {t["key"]: t for t in json.loads(run(f"{args.helpdesk} tickets list --json"))}
    for path, check in expected["ticket"].items():
        wrong = check_value(lookup(stored.get(ticket, {}), path), check)
        print(f"{'FAIL' if wrong else 'ok  '} ticket {ticket}.{path}{label}" + (f": {wrong}" if wrong else ""))
        failed += bool(wrong)
    phoned = [t for t in stored.values() if t.get("channel") == "phone"]
    wrong = None if len(phoned) == 1 else f"{len(phoned)} tickets with channel phone, expected one"
    print(f"{'FAIL' if wrong else 'ok  '} one ticket opened by phone{label}" + (f": {wrong}" if wrong else ""))
    failed += bool(wrong)

    mail = sent_mail(args)[mail_before:]
    want = expected["mail"]
    answers = [m for m in mail if want["answer_contains"] in body_text(m)]
    checks = [
        (f"one answer mailed to {want['to']}", len(answers) == 1 and want["to"] in str(answers[0]["To"])),
        (
            "the answer is In-Reply-To the customer's mail",
            len(answers) == 1 and str(answers[0]["In-Reply-To"]).strip() == f"<{SEED_MESSAGE_ID}>",
        ),
        ("the internal note is not mailed", not any(want["note_not_mailed"] in body_text(m) for m in mail)),
    ]
    for what, ok in checks:
        print(f"{'ok  ' if ok else 'FAIL'} {what}{label}")
        failed += not ok
    if not answers:
        print(f"       mail sent: {[str(m['Subject']) for m in mail]}")
    print(f"agent-api lambda invoke checks{label}: {'all passed' if not failed else f'{failed} failed'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
