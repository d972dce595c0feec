#!/usr/bin/env python3
"""Writes the sample events of the agent API function (events/agent-api/).

API Gateway HTTP API (payload format 2.0) requests for the route
`ANY /api/v1/{proxy+}`, in the order of one agent's morning: list the
unassigned tickets, open one, take it, move it to line 2, answer the
customer, add a note; a second agent's stale change; an agent of another
queue; an agent who opens a ticket after a phone call; and the credentials
that must be refused. They are kept in git; this script only makes them
reproducible. Run it after changing one, then commit the files:

    python3 scripts/lib/gen_agent_api_events.py            # rewrite the files
    python3 scripts/lib/gen_agent_api_events.py --check    # fail if a file differs

Credentials, the ticket key and versions cannot be fixed in a file (a JWT
expires within the hour; the ticket is made by the check), so the events
hold placeholders that scripts/lib/check_agent_api_events.py fills in
before each `cargo lambda invoke`:

    {{ticket}}           the key of the ticket the check's customer mail made
    {{token:LOGIN}}      a personal API token of LOGIN (helpdesk agents token)
    {{token:LOGIN:revoked}}  one that was revoked at once
    {{jwt:LOGIN}}        an access token of LOGIN from the user pool
                         (moto's Cognito)
    {{id-jwt:LOGIN}}     an ID token of LOGIN
    {{jwt:LOGIN:tampered}}  an access token with one character of its
                         claims changed
    {{jwt:LOGIN:expired}}   an access token of the pool's key that expired
                         an hour ago
    {{etag}}             the ETag of the last answer that had one
    {{etag@FILE}}        the ETag of the answer to event FILE
    {{password:LOGIN}}   LOGIN's password in the user pool (the user is
                         made first when needed)
    {{session}}          the console's session cookie (`hd_session=...`)
                         of the last answer that set one

The events from 15 on are the agent console's pages, which the same
function serves at every other path (`GET /`, `ANY /{proxy+}`): sign in
with the user pool's password, the list, the ticket page, and a page
asked for without a session.

Standard library only.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "events" / "agent-api"

API_ID = "h7dk2q9xa1"
API_DOMAIN = f"{API_ID}.execute-api.eu-central-1.amazonaws.com"
CLIENT_UA = "curl/8.11.1"
TIME_EPOCH_MS = 1795248001000


def event(
    method: str,
    path: str,
    credential: str | None,
    *,
    query: dict | None = None,
    body: dict | None = None,
    headers: dict | None = None,
) -> dict:
    """One HTTP API v2 request to `/api/v1{path}`."""
    raw_path = f"/api/v1{path}"
    raw_query = urlencode(query or {})
    all_headers = {
        "accept": "application/json",
        "host": API_DOMAIN,
        "user-agent": CLIENT_UA,
        "x-forwarded-for": "198.51.100.7",
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
    }
    if credential is not None:
        all_headers["authorization"] = f"Bearer {credential}"
    text = None
    if body is not None:
        text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        all_headers["content-type"] = "application/json"
        all_headers["content-length"] = str(len(text.encode("utf-8")))
    all_headers.update(headers or {})
    out = {
        "version": "2.0",
        "routeKey": "ANY /api/v1/{proxy+}",
        "rawPath": raw_path,
        "rawQueryString": raw_query,
        "headers": dict(sorted(all_headers.items())),
    }
    if query:
        out["queryStringParameters"] = dict(query)
    out["requestContext"] = {
        "accountId": "123456789012",
        "apiId": API_ID,
        "domainName": API_DOMAIN,
        "domainPrefix": API_ID,
        "http": {
            "method": method,
            "path": raw_path,
            "protocol": "HTTP/1.1",
            "sourceIp": "198.51.100.7",
            "userAgent": CLIENT_UA,
        },
        "requestId": "Ag" + hashlib.sha256(f"{method} {path} {credential}".encode()).hexdigest()[:12] + "=",
        "routeKey": "ANY /api/v1/{proxy+}",
        "stage": "$default",
        "time": "21/Nov/2026:08:00:01 +0000",
        "timeEpoch": TIME_EPOCH_MS,
    }
    out["pathParameters"] = {"proxy": path.lstrip("/")}
    if text is not None:
        out["body"] = text
    out["isBase64Encoded"] = False
    return out


def console(
    method: str,
    path: str,
    *,
    query: dict | None = None,
    form: str | None = None,
    cookie: str | None = None,
) -> dict:
    """One HTTP API v2 request of a browser to the console at `path`
    (cookies as API Gateway passes them: the `cookies` array)."""
    route = "GET /" if path == "/" else "ANY /{proxy+}"
    raw_query = urlencode(query or {})
    all_headers = {
        "accept": "text/html,application/xhtml+xml",
        "accept-language": "en-GB,en;q=0.9",
        "host": API_DOMAIN,
        "user-agent": BROWSER_UA,
        "x-forwarded-for": "198.51.100.7",
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
    }
    if form is not None:
        all_headers["content-type"] = "application/x-www-form-urlencoded"
        all_headers["content-length"] = str(len(form.encode("utf-8")))
        all_headers["origin"] = f"https://{API_DOMAIN}"
        all_headers["sec-fetch-site"] = "same-origin"
    out = {
        "version": "2.0",
        "routeKey": route,
        "rawPath": path,
        "rawQueryString": raw_query,
    }
    if cookie is not None:
        out["cookies"] = [cookie]
    out["headers"] = dict(sorted(all_headers.items()))
    if query:
        out["queryStringParameters"] = dict(query)
    out["requestContext"] = {
        "accountId": "123456789012",
        "apiId": API_ID,
        "domainName": API_DOMAIN,
        "domainPrefix": API_ID,
        "http": {
            "method": method,
            "path": path,
            "protocol": "HTTP/1.1",
            "sourceIp": "198.51.100.7",
            "userAgent": BROWSER_UA,
        },
        "requestId": "Co" + hashlib.sha256(f"{method} {path} {cookie}".encode()).hexdigest()[:12] + "=",
        "routeKey": route,
        "stage": "$default",
        "time": "21/Nov/2026:08:05:01 +0000",
        "timeEpoch": TIME_EPOCH_MS + 300_000,
    }
    if path != "/":
        out["pathParameters"] = {"proxy": path.lstrip("/")}
    if form is not None:
        out["body"] = form
    out["isBase64Encoded"] = False
    return out


BROWSER_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/148.0 Safari/537.36"
TICKET = "/tickets/{{ticket}}"

EVENTS: dict[str, dict] = {
    "01-list-unassigned-jwt.json": event(
        "GET", "/tickets", "{{jwt:anna}}", query={"view": "unassigned", "limit": "25"}
    ),
    "02-show-ticket-token.json": event("GET", TICKET, "{{token:anna}}"),
    "03-take-ticket.json": event(
        "PATCH", TICKET, "{{jwt:anna}}", body={"assignee": "anna"}, headers={"if-match": "{{etag}}"}
    ),
    "04-move-to-line-2.json": event(
        "PATCH", TICKET, "{{id-jwt:anna}}", body={"line": 2}, headers={"if-match": "{{etag}}"}
    ),
    "05-stale-change.json": event(
        "PATCH",
        TICKET,
        "{{token:boris}}",
        body={"priority": "low"},
        headers={"if-match": "{{etag@02-show-ticket-token.json}}"},
    ),
    "06-answer-publicly.json": event(
        "POST",
        TICKET + "/comments",
        "{{jwt:anna}}",
        body={
            "body": "Hello Jane, the second line is looking at the printer now. Please keep it switched off until we call.",
            "public": True,
        },
        headers={"idempotency-key": "0b6f3f52-2a51-4c47-9d2e-5d8f4d1b7a10"},
    ),
    "07-internal-note.json": event(
        "POST",
        TICKET + "/comments",
        "{{token:anna}}",
        body={"body": "Fuser unit suspected; spare part ordered.", "public": False},
    ),
    "08-other-queue-404.json": event("GET", TICKET, "{{token:erik}}"),
    "09-unknown-field.json": event(
        "PATCH", TICKET, "{{token:anna}}", body={"colour": "red"}, headers={"if-match": "{{etag}}"}
    ),
    "10-open-by-phone.json": event(
        "POST",
        "/tickets",
        "{{token:carla}}",
        body={
            "queue": "SUP",
            "summary": "Phone: cannot sign in after the password reset",
            "description": "Called at 09:12. Reset mail arrived, but the new password is refused.",
            "channel": "phone",
            "requester": {"name": "Ravi Patel", "phone": "+44 20 7946 0958"},
        },
        headers={"idempotency-key": "5e0b1c8d-7f2a-4e6b-8c3d-1a9f0e2b4c6d"},
    ),
    "11-no-credentials.json": event("GET", "/tickets", None),
    "12-revoked-token.json": event("GET", "/tickets", "{{token:boris:revoked}}"),
    "13-tampered-jwt.json": event("GET", "/tickets", "{{jwt:anna:tampered}}"),
    "14-expired-jwt.json": event("GET", "/tickets", "{{jwt:anna:expired}}"),
    "15-console-sign-in.json": console(
        "POST",
        "/signin",
        form="login=anna&password={{password:anna}}&next=%2Ftickets%3Fview%3Dmine",
    ),
    "16-console-list.json": console(
        "GET", "/tickets", query={"view": "mine"}, cookie="{{session}}"
    ),
    "17-console-ticket.json": console("GET", TICKET, cookie="{{session}}"),
    "18-console-without-session.json": console("GET", TICKET),
}


def render(value: dict) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="fail if a file differs from what this script writes")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    stale = []
    for name, value in EVENTS.items():
        path = OUT / name
        text = render(value)
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            path.write_text(text, encoding="utf-8")
    if stale:
        print("stale sample events (run scripts/lib/gen_agent_api_events.py): " + ", ".join(stale), file=sys.stderr)
        return 1
    print(f"{len(EVENTS)} agent-api events {'checked' if args.check else 'written'} in {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
