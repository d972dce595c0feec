#!/usr/bin/env python3
"""Writes the sample events of the form intake function (events/form-intake/).

The events are our own: API Gateway HTTP API (payload format 2.0) and Lambda
Function URL requests for the forms of config/helpdesk.yaml. They are kept
in git; this script only makes them reproducible (base64 multipart bodies,
the Typeform signature over the exact body string). Run it after changing a
body, then commit the regenerated files:

    python3 scripts/lib/gen_form_events.py            # rewrite the files
    python3 scripts/lib/gen_form_events.py --check    # fail if a file differs

Standard library only.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import sys
from datetime import datetime
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "events" / "form-intake"

# The secret that scripts/test gives the function as
# HELPDESK_SECRET_TYPEFORM_FEEDBACK; a test value, never a real one.
TYPEFORM_TEST_SECRET = "test-typeform-secret"

API_ID = "h7dk2q9xa1"
API_DOMAIN = f"{API_ID}.execute-api.eu-central-1.amazonaws.com"
URL_ID = "q4m8w2v6z0c3b5n7x9l1k3j5h7g9f1d3"
URL_DOMAIN = f"{URL_ID}.lambda-url.eu-central-1.on.aws"

BROWSER_UA = (
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
)


def http_api_event(
    *,
    form_id: str,
    headers: dict[str, str],
    body: bytes,
    base64_body: bool,
    request_id: str,
    time: str,
    source_ip: str,
) -> dict:
    """An API Gateway HTTP API (payload 2.0) request on POST /forms/{form_id}."""
    path = f"/forms/{form_id}"
    time_epoch = epoch_millis(time)
    all_headers = {
        "content-length": str(len(body)),
        "host": API_DOMAIN,
        "x-amzn-trace-id": trace_id(request_id, time_epoch),
        "x-forwarded-for": source_ip,
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
    }
    all_headers.update(headers)
    return {
        "version": "2.0",
        "routeKey": "POST /forms/{form_id}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": dict(sorted(all_headers.items())),
        "requestContext": {
            "accountId": "123456789012",
            "apiId": API_ID,
            "domainName": API_DOMAIN,
            "domainPrefix": API_ID,
            "http": {
                "method": "POST",
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": all_headers.get("user-agent", ""),
            },
            "requestId": request_id,
            "routeKey": "POST /forms/{form_id}",
            "stage": "$default",
            "time": time,
            "timeEpoch": time_epoch,
        },
        "pathParameters": {"form_id": form_id},
        "body": base64.b64encode(body).decode("ascii") if base64_body else body.decode("utf-8"),
        "isBase64Encoded": base64_body,
    }


def rating_page_event(*, token: str, request_id: str, time: str, source_ip: str) -> dict:
    """An API Gateway HTTP API (payload 2.0) GET of the rating page,
    ANY /csat/{token}, as a customer's browser opens a survey link."""
    path = f"/csat/{token}"
    time_epoch = epoch_millis(time)
    user_agent = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
    headers = {
        "accept": "text/html,application/xhtml+xml",
        "host": API_DOMAIN,
        "user-agent": user_agent,
        "x-amzn-trace-id": trace_id(request_id, time_epoch),
        "x-forwarded-for": source_ip,
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
    }
    return {
        "version": "2.0",
        "routeKey": "ANY /csat/{token}",
        "rawPath": path,
        "rawQueryString": "score=good",
        "queryStringParameters": {"score": "good"},
        "headers": dict(sorted(headers.items())),
        "requestContext": {
            "accountId": "123456789012",
            "apiId": API_ID,
            "domainName": API_DOMAIN,
            "domainPrefix": API_ID,
            "http": {
                "method": "GET",
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": user_agent,
            },
            "requestId": request_id,
            "routeKey": "ANY /csat/{token}",
            "stage": "$default",
            "time": time,
            "timeEpoch": time_epoch,
        },
        "pathParameters": {"token": token},
        "isBase64Encoded": False,
    }


def function_url_event(
    *,
    form_id: str,
    headers: dict[str, str],
    body: bytes,
    request_id: str,
    time: str,
    source_ip: str,
) -> dict:
    """A Lambda Function URL request (no route, no path parameters)."""
    path = f"/forms/{form_id}"
    time_epoch = epoch_millis(time)
    all_headers = {
        "content-length": str(len(body)),
        "host": URL_DOMAIN,
        "x-amzn-tls-cipher-suite": "TLS_AES_128_GCM_SHA256",
        "x-amzn-tls-version": "TLSv1.3",
        "x-amzn-trace-id": trace_id(request_id, time_epoch),
        "x-forwarded-for": source_ip,
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
    }
    all_headers.update(headers)
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": dict(sorted(all_headers.items())),
        "requestContext": {
            "accountId": "anonymous",
            "apiId": URL_ID,
            "domainName": URL_DOMAIN,
            "domainPrefix": URL_ID,
            "http": {
                "method": "POST",
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": all_headers.get("user-agent", ""),
            },
            "requestId": request_id,
            "routeKey": "$default",
            "stage": "$default",
            "time": time,
            "timeEpoch": time_epoch,
        },
        "body": body.decode("utf-8"),
        "isBase64Encoded": False,
    }


def trace_id(request_id: str, time_epoch: int) -> str:
    """An X-Ray trace id (Root=1-<epoch seconds hex>-<96 bits hex>), derived from the request id."""
    return f"Root=1-{time_epoch // 1000:08x}-{hashlib.sha1(request_id.encode()).hexdigest()[:24]}"


def epoch_millis(time: str) -> int:
    """Milliseconds since the epoch of a requestContext.time ("21/Nov/2026:08:00:01 +0000")."""
    return int(datetime.strptime(time, "%d/%b/%Y:%H:%M:%S %z").timestamp()) * 1000


def compact_json(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def multipart(boundary: str, parts: list[tuple[str, str | None, str | None, bytes]]) -> bytes:
    """A multipart/form-data body with CRLF line ends.

    Each part is (name, file name or None, content type or None, bytes)."""
    out = bytearray()
    for name, file_name, content_type, data in parts:
        out += f"--{boundary}\r\n".encode()
        disposition = f'Content-Disposition: form-data; name="{name}"'
        if file_name is not None:
            disposition += f'; filename="{file_name}"'
        out += disposition.encode("utf-8") + b"\r\n"
        if content_type is not None:
            out += f"Content-Type: {content_type}\r\n".encode()
        out += b"\r\n" + data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out)


def typeform_signature(secret: str, body: bytes) -> str:
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return "sha256=" + base64.b64encode(digest).decode("ascii")


def jotform_json(value: object) -> str:
    """JSON the way Jotform's PHP encoder writes rawRequest (escaped slashes)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).replace("/", "\\/")


# ------------------------------------------------------------------ bodies

SUPPORT_JSON_BILLING = {
    "name": "Grace Hopper",
    "email": "grace.hopper@example.org",
    "subject": "Invoice 2026-1142 charged twice",
    "message": "Hello, my card was charged twice for invoice 2026-1142 on 3 November. "
    "Could you refund the second charge?",
    "topic": "billing",
    "customer_id": "CUST-00417",
}

SUPPORT_JSON_OUTAGE = {
    "name": "Linus Pauling",
    "email": "linus@example.net",
    "subject": "Dashboard returns 502 for everyone",
    "message": "Since 09:40 UTC every page of the dashboard answers 502 Bad Gateway.",
    "topic": "outage",
    "customer_id": "CUST-00988",
}

TYPEFORM_DELIVERY = {
    "event_id": "01JDK4S8W2M6Q0T3V7X9Z1B5D8",
    "event_type": "form_response",
    "form_response": {
        "form_id": "Fb7kQ2xa",
        "token": "r8u2k5t9w3y6b1n4m7q0",
        "landed_at": "2026-11-20T10:14:03Z",
        "submitted_at": "2026-11-20T10:15:41Z",
        "hidden": {},
        "definition": {
            "id": "Fb7kQ2xa",
            "title": "Product feedback",
            "fields": [
                {"id": "kD1sE9", "ref": "email", "type": "email", "title": "Your email"},
                {"id": "pR4tY7", "ref": "subject", "type": "short_text", "title": "In a few words"},
                {"id": "mN2bV5", "ref": "message", "type": "long_text", "title": "Tell us more"},
                {
                    "id": "xC8zL3",
                    "ref": "topic",
                    "type": "multiple_choice",
                    "title": "What is it about?",
                    "choices": [
                        {"id": "c1", "label": "billing"},
                        {"id": "c2", "label": "login"},
                        {"id": "c3", "label": "outage"},
                        {"id": "c4", "label": "other"},
                    ],
                },
                {"id": "sQ6wE1", "ref": "score", "type": "opinion_scale", "title": "How likely are you to recommend us?"},
            ],
        },
        "answers": [
            {"type": "email", "email": "zoe.muller@example.com", "field": {"id": "kD1sE9", "type": "email", "ref": "email"}},
            {"type": "text", "text": "CSV export is slow", "field": {"id": "pR4tY7", "type": "short_text", "ref": "subject"}},
            {
                "type": "text",
                "text": "Exporting 20 000 tickets to CSV takes over five minutes. Grüße, Zoë",
                "field": {"id": "mN2bV5", "type": "long_text", "ref": "message"},
            },
            {"type": "choice", "choice": {"id": "c4", "label": "other"}, "field": {"id": "xC8zL3", "type": "multiple_choice", "ref": "topic"}},
            {"type": "number", "number": 8, "field": {"id": "sQ6wE1", "type": "opinion_scale", "ref": "score"}},
        ],
    },
}

JOTFORM_FORM_ID = "253201948817046"
JOTFORM_SUBMISSION_ID = "6391825047112233445"
JOTFORM_RAW_REQUEST = {
    "slug": f"submit/{JOTFORM_FORM_ID}",
    "jsExecutionTracker": "build-date-1763540000000=>init-started:1763625601200=>submit-validation-passed:1763625644810",
    "submitSource": "form",
    "buildDate": "1763540000000",
    "q3_studentsName": {"first": "Mira", "last": "Jovanović"},
    "q4_email": "mira.j@example.net",
    "q33_typeOf": "In-person Tutoring",
    "q34_subjectFor": "Chemistry",
    "q35_grade": "10",
    "q27_priorTutoring": "Yes",
    "q28_appointment": {"implementation": "new", "date": "2026-12-02 16:00", "duration": "60", "timezone": "Europe/Belgrade (GMT+01:00)"},
    "q7_description": "Preparing for the regional chemistry olympiad.",
    "timeToSubmit": "41",
    "preview": "true",
    "path": f"/submit/{JOTFORM_FORM_ID}",
}
JOTFORM_PRETTY = (
    "Student's Name:Mira Jovanović, Email:mira.j@example.net, Type of Tutoring:In-person Tutoring, "
    "Subject for Tutoring:Chemistry, Grade:10, Prior Tutoring?:Yes, "
    "Appointment:2026-12-02 16:00 (60 min), Description:Preparing for the regional chemistry olympiad."
)


def jotform_body(boundary: str) -> bytes:
    fields = [
        ("action", ""),
        ("webhookURL", f"https://helpdesk.example.com/forms/jotform-tutoring"),
        ("username", "ExampleTutoring"),
        ("formID", JOTFORM_FORM_ID),
        ("type", "WEB"),
        ("customParams", ""),
        ("product", ""),
        ("formTitle", "Tutor Appointment Form"),
        ("customTitle", ""),
        ("submissionID", JOTFORM_SUBMISSION_ID),
        ("event", ""),
        ("documentID", ""),
        ("teamID", ""),
        ("subject", ""),
        ("isSilent", ""),
        ("customBody", ""),
        ("rawRequest", jotform_json(JOTFORM_RAW_REQUEST)),
        ("fromTable", ""),
        ("appID", ""),
        ("pretty", JOTFORM_PRETTY),
        ("unread", ""),
        ("parent", ""),
        ("ip", "198.51.100.77"),
    ]
    return multipart(boundary, [(n, None, None, v.encode("utf-8")) for n, v in fields])


ATTACHMENT_TEXT = (
    "helpdesk attachment fixture\n"
    "2026-11-21 08:02:11 ERROR login: token expired for user 4417\n"
    "2026-11-21 08:02:12 ERROR login: token expired for user 4417\n"
)


def build_events() -> dict[str, dict]:
    events: dict[str, dict] = {}
    json_headers = {
        "accept": "application/json",
        "content-type": "application/json",
        "origin": "https://www.example.com",
        "referer": "https://www.example.com/support",
        "user-agent": BROWSER_UA,
    }

    # 1. JSON from fetch() on the support page, with an Idempotency-Key.
    body = compact_json(SUPPORT_JSON_BILLING)
    events["apigw-v2-support-json-billing.json"] = http_api_event(
        form_id="support",
        headers={**json_headers, "idempotency-key": "8c1f4e2a-6b3d-4f9a-9e7c-2d5b8a0f1c34"},
        body=body,
        base64_body=False,
        request_id="Tq1aXjV3FiAEJ2w=",
        time="21/Nov/2026:08:00:01 +0000",
        source_ip="203.0.113.24",
    )

    # 2. A plain HTML form post from a browser (HTTP API base64-encodes it).
    body = urlencode(
        [
            ("name", "Ada Lovelace"),
            ("email", "ada@example.com"),
            ("subject", "Cannot sign in after password reset"),
            ("message", "The reset link works, but the new password is refused & I'm locked out."),
            ("topic", "login"),
            ("customer_id", ""),
            ("website", ""),
        ]
    ).encode("ascii")
    events["apigw-v2-support-urlencoded-browser.json"] = http_api_event(
        form_id="support",
        headers={
            "accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
            "accept-language": "en-GB,en;q=0.5",
            "content-type": "application/x-www-form-urlencoded",
            "origin": "https://www.example.com",
            "referer": "https://www.example.com/support",
            "user-agent": BROWSER_UA,
        },
        body=body,
        base64_body=True,
        request_id="Tq1bKhR7FiAEJ5Q=",
        time="21/Nov/2026:08:01:15 +0000",
        source_ip="203.0.113.51",
    )

    # 3. Multipart with a small text file in the `attachment` field.
    boundary = "----geckoformboundary7f3b1c9e5a2d4086"
    body = multipart(
        boundary,
        [
            ("name", None, None, b"Alan Turing"),
            ("email", None, None, b"alan@example.org"),
            ("subject", None, None, b"Login errors in the attached log"),
            ("message", None, None, b"Users are logged out every few minutes, log attached."),
            ("topic", None, None, b"login"),
            ("website", None, None, b""),
            ("attachment", "login-errors.txt", "text/plain", ATTACHMENT_TEXT.encode("utf-8")),
        ],
    )
    events["apigw-v2-support-multipart-attachment.json"] = http_api_event(
        form_id="support",
        headers={
            "accept": "application/json",
            "content-type": f"multipart/form-data; boundary={boundary}",
            "origin": "https://www.example.com",
            "user-agent": BROWSER_UA,
        },
        body=body,
        base64_body=True,
        request_id="Tq1cPzM2FiAEJ8A=",
        time="21/Nov/2026:08:02:40 +0000",
        source_ip="203.0.113.88",
    )

    # 4. The same kind of JSON post through a Function URL (topic outage).
    body = compact_json(SUPPORT_JSON_OUTAGE)
    events["function-url-support-json-outage.json"] = function_url_event(
        form_id="support",
        headers={
            "accept": "application/json",
            "content-type": "application/json",
            "user-agent": "curl/8.11.1",
        },
        body=body,
        request_id="d3a9c6e1-4b7f-4e2a-8c5d-1f0b9a7e3c62",
        time="21/Nov/2026:09:41:07 +0000",
        source_ip="198.51.100.19",
    )

    # 5. The required fields email and message are missing: two field errors.
    body = compact_json({"name": "No Contact", "subject": "Something is off", "topic": "other"})
    events["apigw-v2-support-invalid.json"] = http_api_event(
        form_id="support",
        headers=json_headers,
        body=body,
        base64_body=False,
        request_id="Tq1dWcE5FiAEJ1g=",
        time="21/Nov/2026:08:03:05 +0000",
        source_ip="203.0.113.24",
    )

    # 6. A form id that the configuration does not have.
    body = compact_json(SUPPORT_JSON_BILLING)
    events["apigw-v2-unknown-form.json"] = http_api_event(
        form_id="no-such-form",
        headers=json_headers,
        body=body,
        base64_body=False,
        request_id="Tq1eYbN8FiAEJ3w=",
        time="21/Nov/2026:08:03:30 +0000",
        source_ip="203.0.113.24",
    )

    # 7. text/plain is not a form encoding.
    body = b"email=someone@example.com\nsubject=hello\nmessage=plain text body\n"
    events["apigw-v2-support-text-plain.json"] = http_api_event(
        form_id="support",
        headers={**json_headers, "content-type": "text/plain; charset=utf-8"},
        body=body,
        base64_body=False,
        request_id="Tq1fRsK4FiAEJ6Q=",
        time="21/Nov/2026:08:04:00 +0000",
        source_ip="203.0.113.24",
    )

    # 8. A bot filled the honeypot field `website`: success, no ticket.
    body = urlencode(
        [
            ("name", "Best SEO"),
            ("email", "offers@seo-spam.example"),
            ("subject", "Rank #1 on search engines"),
            ("message", "Cheap backlinks, visit our site"),
            ("topic", "other"),
            ("website", "http://seo-spam.example/"),
        ]
    ).encode("ascii")
    events["apigw-v2-support-honeypot.json"] = http_api_event(
        form_id="support",
        headers={
            "accept": "application/json",
            "content-type": "application/x-www-form-urlencoded",
            "user-agent": "python-requests/2.32.3",
        },
        body=body,
        base64_body=True,
        request_id="Tq1gTqL6FiAEJ9g=",
        time="21/Nov/2026:08:04:41 +0000",
        source_ip="192.0.2.200",
    )

    # 9. A Typeform delivery with a valid signature over the exact body.
    body = compact_json(TYPEFORM_DELIVERY)
    typeform_headers = {
        "accept": "*/*",
        "content-type": "application/json",
        "user-agent": "Typeform Webhooks",
    }
    events["apigw-v2-typeform-feedback.json"] = http_api_event(
        form_id="typeform-feedback",
        headers={**typeform_headers, "typeform-signature": typeform_signature(TYPEFORM_TEST_SECRET, body)},
        body=body,
        base64_body=False,
        request_id="Tq1hUvP1FiAEJ2A=",
        time="20/Nov/2026:10:15:42 +0000",
        source_ip="198.51.100.140",
    )

    # 10. The same delivery signed with another secret.
    events["apigw-v2-typeform-feedback-bad-signature.json"] = http_api_event(
        form_id="typeform-feedback",
        headers={**typeform_headers, "typeform-signature": typeform_signature("not-the-secret", body)},
        body=body,
        base64_body=False,
        request_id="Tq1iVwQ3FiAEJ4Q=",
        time="20/Nov/2026:10:15:43 +0000",
        source_ip="198.51.100.140",
    )

    # 11. The same delivery with no signature header at all.
    events["apigw-v2-typeform-feedback-unsigned.json"] = http_api_event(
        form_id="typeform-feedback",
        headers=typeform_headers,
        body=body,
        base64_body=False,
        request_id="Tq1jXyR5FiAEJ6w=",
        time="20/Nov/2026:10:15:44 +0000",
        source_ip="198.51.100.140",
    )

    # 12. A Jotform webhook delivery (multipart, the fields Jotform sends).
    boundary = "------------------------Xq7RmT2vKp9LsW4eNc8Hb1"
    body = jotform_body(boundary)
    events["apigw-v2-jotform-tutoring.json"] = http_api_event(
        form_id="jotform-tutoring",
        headers={
            "accept": "*/*",
            "content-type": f"multipart/form-data; boundary={boundary}",
        },
        body=body,
        base64_body=True,
        request_id="Tq1kZaS7FiAEJ8w=",
        time="21/Nov/2026:10:00:45 +0000",
        source_ip="198.51.100.77",
    )

    # 13. A JSON body that is not JSON.
    body = b'{"email": "broken@example.com", "subject": "cut off'
    events["apigw-v2-support-malformed-json.json"] = http_api_event(
        form_id="support",
        headers=json_headers,
        body=body,
        base64_body=False,
        request_id="Tq1mBcU9FiAEJ0Q=",
        time="21/Nov/2026:08:05:10 +0000",
        source_ip="203.0.113.24",
    )

    # 13. The rating page with a link whose signature is made up: the form
    # intake function serves /csat/{token} and refuses it (404, an HTML
    # page that keeps the token to itself).
    events["apigw-v2-csat-forged-link.json"] = rating_page_event(
        token="SUP-1.1799277699.AAAAAAAAAAAAAAAAAAAAAA",
        request_id="Tq1kLmN2FiAEJ9z=",
        time="21/Nov/2026:08:06:10 +0000",
        source_ip="203.0.113.24",
    )

    return events


def render(event: dict) -> str:
    return json.dumps(event, indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="compare with the files instead of writing them")
    args = parser.parse_args()

    OUT.mkdir(parents=True, exist_ok=True)
    stale = []
    for name, event in build_events().items():
        path = OUT / name
        text = render(event)
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(ROOT)}")
    if stale:
        print("events differ from scripts/lib/gen_form_events.py: " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
