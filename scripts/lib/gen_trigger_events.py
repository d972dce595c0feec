#!/usr/bin/env python3
"""Writes the sample events of the ticket triggers function
(events/ticket-triggers/): DynamoDB stream batches (NEW_AND_OLD_IMAGES) of
the helpdesk table, as Lambda's event source mapping delivers them, plus

- seed.json: the ticket writes those records describe (each ticket's
  versions in order, with the timeline items written with each), which
  `seed-store` (functions/ticket-triggers/examples/seed_store.rs) replays
  into the store before the function is invoked: a stream record reports a
  write that already happened, so the ticket is in the table when the
  function runs. Removed tickets and the malformed item are not seeded.
- expected.json: what each event must do under config/helpdesk.yaml (its
  SUP triggers), checked by scripts/lib/check_trigger_events.py.

The images are the items the DynamoDB store writes (shared/src/store/dynamo:
items.rs, keys.rs): the Ticket and TimelineEntry fields as serde_dynamo
encodes them (strings S, numbers N, lists L, maps M, booleans BOOL, JSON null
NULL, dates as RFC 3339 strings in UTC with their microseconds, optional
fields left out when empty, `trigger_depth` only when not zero) plus pk/sk,
item_type and the index keys gsi1pk/gsi1sk (the queue), gsi2pk/gsi2sk (the
assignee, or the queue's unassigned partition, then status and age) and
gsi4pk/gsi4sk (the same holder, then age). In the DynamoDB pass the checker compares the items the
store wrote while seeding with these images, attribute by attribute.

The scenario (times are UTC; the "office" calendar is Europe/Berlin,
Mon-Fri 09-13 and 14-18, so 08:00-12:00 and 13:00-17:00 UTC in March):

| event | records | expected outcome |
|---|---|---|
| insert-ticket.json | SUP-1 INSERT v1: billing form ticket, line 1, [Billing], New, Monday 10:14 Berlin | processed; fires "Line 1 goes to the first line" and "Billing goes to its owner": one write, v2 = First line, assignee anna |
| modify-line2.json | SUP-2 MODIFY v2 -> v3: agent anna moves the billing ticket to line 2 with an internal comment | processed; fires "Line 2 goes to the second line": v4 = Second line |
| modify-status.json | SUP-3 MODIFY v3 -> v4: agent dmitri takes the outage ticket from Second line to In progress | processed; fires the Telegram trigger: one webhook call (or, with HELPDESK_TELEGRAM_URL unset, one failure note on the ticket), nothing else written |
| remove-ticket.json | SUP-4 REMOVE (OldImage only): a spam ticket deleted | skipped: a removed ticket fires no triggers |
| timeline-insert.json | INSERT of SUP-1's form_submitted timeline item | skipped: evaluated with its ticket's record |
| malformed.json | SUP-5 INSERT v1 (arrived 22:47 Berlin), then a ticket item of a legacy import whose NewImage is not a ticket, then SUP-6 INSERT v1 | SUP-5 processed (the out-of-office comment, v2); the malformed record fails and is the only batchItemFailure; SUP-6 is not attempted and stays untouched (Lambda retries from the failed record) |
| not-a-stream-event.json | an EventBridge schedule event, no Records | the whole batch fails: one batchItemFailure with an empty itemIdentifier, which makes Lambda retry the batch (and, after the retries, send it to the failure queue) |
| batch.json | SUP-7 INSERT v1 (critical outage), its two timeline items, SUP-8 MODIFY v1 -> v2 written by the triggers (depth 1: New -> First line, anna), its status timeline item | SUP-7: "Line 2 goes to the second line" and "Publish escalations" (v2 = Second line, one TicketEscalated bus event); timeline items skipped; SUP-8: the Telegram trigger (one call or one failure note) |

Every event is invoked twice (a redelivery): the answer is the same, and
nothing is written, called or published a second time.

    python3 scripts/lib/gen_trigger_events.py            # rewrite the files
    python3 scripts/lib/gen_trigger_events.py --check    # fail if a file differs

Standard library only.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import sys
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "events" / "ticket-triggers"

REGION = "eu-west-1"
ACCOUNT = "123456789012"
TABLE = "helpdesk-HelpdeskTable-1R2S3T4U5V6W"
STREAM_ARN = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{TABLE}/stream/2026-03-01T08:00:00.000"
ENTRIES_PER_VERSION = 1000

# The configured trigger names (config/helpdesk.yaml, queue SUP).
LINE_1 = "Line 1 goes to the first line"
BILLING = "Billing goes to its owner"
LINE_2 = "Line 2 goes to the second line"
TELEGRAM = "Tell the team in Telegram about status changes"
ESCALATIONS = "Publish escalations"
OFF_HOURS = "Note requests that arrive out of office hours"
SUPPORT_ROUTING = {
    "billing": "Billing questions go to the first line",
    "outage": "Outages go to the second line as critical",
}

# --------------------------------------------------------------- encoding


def dynamo(value: object) -> dict:
    """A JSON value as serde_dynamo encodes it (DynamoDB JSON)."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, (int, float)):
        return {"N": str(value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, list):
        return {"L": [dynamo(v) for v in value]}
    if isinstance(value, dict):
        return {"M": {k: dynamo(v) for k, v in value.items()}}
    raise TypeError(f"cannot encode {value!r}")


def item(fields: dict) -> dict:
    return {k: dynamo(v) for k, v in fields.items()}


def at(text: str) -> datetime:
    """A UTC time with microseconds, as the stores keep it."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)


def rfc3339(t: datetime) -> str:
    """chrono's serde form of a DateTime<Utc> (fraction: 0, 3, 6 or 9 digits, as needed)."""
    base = t.strftime("%Y-%m-%dT%H:%M:%S")
    micros = t.microsecond
    if micros == 0:
        return base + "Z"
    if micros % 1000 == 0:
        return f"{base}.{micros // 1000:03d}Z"
    return f"{base}.{micros:06d}Z"


def number_of(key: str) -> int:
    return int(key.split("-")[1])


def ticket_item(t: dict) -> dict:
    """The item of a ticket (items.rs ticket_item): fields, keys, index keys."""
    fields: dict = {
        "key": t["key"],
        "queue": t["queue"],
        "summary": t["summary"],
        "description": t["description"],
        "status": t["status"],
    }
    if t.get("resolution") is not None:
        fields["resolution"] = t["resolution"]
    fields["priority"] = t["priority"]
    if t.get("line") is not None:
        fields["line"] = t["line"]
    fields["components"] = t["components"]
    fields["tags"] = t["tags"]
    if t.get("assignee") is not None:
        fields["assignee"] = t["assignee"]
    fields["requester"] = {k: v for k, v in t["requester"].items() if v is not None}
    fields["participants"] = t["participants"]
    fields["channel"] = t["channel"]
    fields["custom_fields"] = t["custom_fields"]
    fields["created_at"] = rfc3339(t["created_at"])
    fields["updated_at"] = rfc3339(t["updated_at"])
    for optional in ("first_response_at", "resolved_at"):
        if t.get(optional) is not None:
            fields[optional] = rfc3339(t[optional])
    fields["reopen_count"] = t["reopen_count"]
    if t["trigger_depth"]:
        fields["trigger_depth"] = t["trigger_depth"]
    fields["version"] = t["version"]
    out = item(fields)
    out["pk"] = {"S": f"TICKET#{t['key']}"}
    out["sk"] = {"S": "TICKET"}
    out["item_type"] = {"S": "ticket"}
    created = t["created_at"].strftime("%Y-%m-%dT%H:%M:%S") + f".{t['created_at'].microsecond * 1000:09d}Z"
    out["gsi1pk"] = {"S": f"QUEUE#{t['queue']}"}
    out["gsi1sk"] = {"S": f"{created}#{number_of(t['key']):020d}"}
    holder = (
        f"ASSIGNEE#{t['queue']}#{t['assignee']}" if t.get("assignee") is not None else f"UNASSIGNED#{t['queue']}"
    )
    out["gsi2pk"] = {"S": holder}
    out["gsi2sk"] = {"S": f"{t['status']}#{created}#{number_of(t['key']):020d}"}
    out["gsi4pk"] = {"S": holder}
    out["gsi4sk"] = {"S": f"{created}#{number_of(t['key']):020d}"}
    return out


def timeline_item(entry: dict) -> dict:
    """The item of a timeline entry (items.rs timeline_item)."""
    fields = {
        "ticket": entry["ticket"],
        "seq": entry["seq"],
        "at": rfc3339(entry["at"]),
        "actor": entry["actor"],
        **entry["event"],
    }
    out = item(fields)
    out["pk"] = {"S": f"TICKET#{entry['ticket']}"}
    out["sk"] = {"S": f"TL#{entry['seq']:020d}"}
    out["item_type"] = {"S": "timeline"}
    return out


# --------------------------------------------------------------- tickets


def customer(email: str) -> dict:
    return {"kind": "customer", "email": email}


def agent(login: str) -> dict:
    return {"kind": "agent", "login": login}


def trigger(name: str) -> dict:
    return {"kind": "trigger", "name": name}


class History:
    """One ticket's writes: version 1 from a form, then changes."""

    def __init__(self, **first: object) -> None:
        ticket = {
            "resolution": None,
            "line": None,
            "components": [],
            "tags": [],
            "assignee": None,
            "participants": [],
            "custom_fields": {},
            "first_response_at": None,
            "resolved_at": None,
            "reopen_count": 0,
            "trigger_depth": 0,
            "version": 1,
            "status": "New",
            "priority": "normal",
            "channel": "form",
            "queue": "SUP",
            **first,
        }
        ticket["updated_at"] = ticket["created_at"]
        self.key = ticket["key"]
        self.versions: list[dict] = [ticket]
        self.entries: list[list[dict]] = [[]]

    @property
    def last(self) -> dict:
        return self.versions[-1]

    def add_entries(self, actor: dict, events: list[dict], when: datetime) -> None:
        version = self.last["version"]
        mine = self.entries[-1]
        for event in events:
            mine.append({
                "ticket": self.key,
                "seq": version * ENTRIES_PER_VERSION + len(mine),
                "at": when,
                "actor": actor,
                "event": event,
            })

    def created_by_form(self, answers: dict, routing: list[str]) -> "History":
        actor = customer(self.last["requester"]["email"])
        self.add_entries(actor, [
            {"type": "created", "channel": "form"},
            {"type": "form_submitted", "form": "support", "answers": answers, "routing_rules": routing},
        ], self.last["created_at"])
        return self

    def write(self, when: str, actor: dict, depth: int, changes: dict, extra: list[dict] | None = None,
              field_actors: dict | None = None) -> "History":
        """A new version: `changes` applied, one field_changed entry per
        field (by `field_actors[field]`, default `actor`), then `extra`."""
        t = copy.deepcopy(self.last)
        before = self.last
        t.update(changes)
        t["version"] = before["version"] + 1
        t["updated_at"] = at(when)
        t["trigger_depth"] = depth
        self.versions.append(t)
        self.entries.append([])
        for field in changes:
            by = (field_actors or {}).get(field, actor)
            self.add_entries(by, [{"type": "field_changed", "field": field, "old": before[field], "new": t[field]}], t["updated_at"])
        if extra:
            self.add_entries(actor, extra, t["updated_at"])
        return self

    def image(self, version: int) -> dict:
        return ticket_item(self.versions[version - 1])

    def entry_items(self, version: int) -> list[dict]:
        return [timeline_item(e) for e in self.entries[version - 1]]

    def seed(self, up_to: int | None = None) -> list[dict]:
        last = up_to or len(self.versions)
        return [
            {"ticket": self.image(v), "entries": self.entry_items(v)}
            for v in range(1, last + 1)
        ]


def requester(email: str, name: str, contact: str) -> dict:
    return {"contact_id": contact, "email": email, "name": name}


def contact_id(email: str) -> str:
    return "c_" + hashlib.md5(email.encode()).hexdigest()


def tickets() -> dict[str, History]:
    out: dict[str, History] = {}

    jane = "jane.doe@customer.example"
    out["SUP-1"] = History(
        key="SUP-1",
        summary="Invoice INV-2026-0113 charged twice",
        description="Hello, my card was charged twice for invoice INV-2026-0113 (EUR 49.00 each). "
        "Please refund one of the payments.",
        line=1,
        components=["Billing"],
        requester=requester(jane, "Jane Doe", contact_id(jane)),
        custom_fields={"customer_id": "C-20417", "topic": "billing"},
        created_at=at("2026-03-02T09:14:07.318412Z"),
    ).created_by_form(
        {"name": "Jane Doe", "email": jane, "subject": "Invoice INV-2026-0113 charged twice",
         "message": "Hello, my card was charged twice for invoice INV-2026-0113 (EUR 49.00 each). "
         "Please refund one of the payments.", "topic": "billing", "customer_id": "C-20417"},
        [SUPPORT_ROUTING["billing"]],
    )

    omar = "omar.haddad@northwind.example"
    sup2 = History(
        key="SUP-2",
        summary="Refund for the annual plan",
        description="We cancelled within the 30 days; please refund the annual plan (EUR 1,188.00).",
        line=1,
        components=["Billing"],
        requester=requester(omar, "Omar Haddad", contact_id(omar)),
        custom_fields={"customer_id": "C-11873", "topic": "billing"},
        created_at=at("2026-03-02T10:02:51.604877Z"),
    ).created_by_form(
        {"name": "Omar Haddad", "email": omar, "subject": "Refund for the annual plan",
         "message": "We cancelled within the 30 days; please refund the annual plan (EUR 1,188.00).",
         "topic": "billing", "customer_id": "C-11873"},
        [SUPPORT_ROUTING["billing"]],
    )
    # The triggers' own write for version 1 (depth 1), then anna escalates.
    sup2.write("2026-03-02T10:02:52.113095Z", trigger(LINE_1), 1,
               {"status": "First line", "assignee": "anna"}, field_actors={"assignee": trigger(BILLING)})
    sup2.write("2026-03-02T13:41:09.270533Z", agent("anna"), 0, {"line": 2},
               [{"type": "comment", "public": False,
                 "body": "Refund above my limit (EUR 1,188.00): moving to the second line."}])
    out["SUP-2"] = sup2

    lena = "lena.fischer@contoso.example"
    sup3 = History(
        key="SUP-3",
        summary="Payments API returns 502",
        description="Since 16:05 every POST /v2/payments answers 502 Bad Gateway. Our checkout is down.",
        line=2,
        components=["Outages"],
        priority="critical",
        requester=requester(lena, "Lena Fischer", contact_id(lena)),
        custom_fields={"customer_id": "C-30551", "topic": "outage"},
        created_at=at("2026-03-02T15:20:33.907154Z"),
    ).created_by_form(
        {"name": "Lena Fischer", "email": lena, "subject": "Payments API returns 502",
         "message": "Since 16:05 every POST /v2/payments answers 502 Bad Gateway. Our checkout is down.",
         "topic": "outage", "customer_id": "C-30551"},
        [SUPPORT_ROUTING["outage"]],
    )
    sup3.write("2026-03-02T15:20:34.402871Z", trigger(LINE_2), 1, {"status": "Second line"})
    sup3.write("2026-03-02T15:24:10.550219Z", agent("dmitri"), 0, {"assignee": "dmitri"})
    sup3.write("2026-03-02T15:31:47.812306Z", agent("dmitri"), 0, {"status": "In progress"})
    out["SUP-3"] = sup3

    spam = "promo@cruise-winner.example"
    sup4 = History(
        key="SUP-4",
        summary="YOU WON A FREE CRUISE",
        description="Claim your prize now at the link below!!!",
        requester=requester(spam, None, contact_id(spam)),
        custom_fields={"topic": "other"},
        created_at=at("2026-03-02T11:09:58.000731Z"),
    ).created_by_form(
        {"email": spam, "subject": "YOU WON A FREE CRUISE", "message": "Claim your prize now at the link below!!!",
         "topic": "other"},
        [],
    )
    sup4.write("2026-03-02T11:15:02.660004Z", agent("boris"), 0,
               {"status": "Closed", "resolution": "spam"})
    out["SUP-4"] = sup4

    ken = "ken.sato@fabrikam.example"
    out["SUP-5"] = History(
        key="SUP-5",
        summary="Export of all invoices as CSV?",
        description="Is there a way to export all our invoices of 2025 as one CSV file?",
        requester=requester(ken, "Ken Sato", contact_id(ken)),
        custom_fields={"topic": "other"},
        created_at=at("2026-03-02T21:47:12.004518Z"),
    ).created_by_form(
        {"name": "Ken Sato", "email": ken, "subject": "Export of all invoices as CSV?",
         "message": "Is there a way to export all our invoices of 2025 as one CSV file?", "topic": "other"},
        [],
    )

    ines = "ines.moreau@adatum.example"
    out["SUP-6"] = History(
        key="SUP-6",
        summary="VAT number missing on invoice",
        description="Our VAT number FR40303265045 is missing on invoice INV-2026-0188; please reissue it.",
        line=1,
        components=["Billing"],
        requester=requester(ines, "Ines Moreau", contact_id(ines)),
        custom_fields={"customer_id": "C-40962", "topic": "billing"},
        created_at=at("2026-03-02T21:52:40.731940Z"),
    ).created_by_form(
        {"name": "Ines Moreau", "email": ines, "subject": "VAT number missing on invoice",
         "message": "Our VAT number FR40303265045 is missing on invoice INV-2026-0188; please reissue it.",
         "topic": "billing", "customer_id": "C-40962"},
        [SUPPORT_ROUTING["billing"]],
    )

    raj = "raj.patel@tailspin.example"
    out["SUP-7"] = History(
        key="SUP-7",
        summary="Dashboard login times out for all users",
        description="Since 09:00 nobody in our company can sign in to the dashboard: the page times out.",
        line=2,
        components=["Outages"],
        priority="critical",
        requester=requester(raj, "Raj Patel", contact_id(raj)),
        custom_fields={"customer_id": "C-51234", "topic": "outage"},
        created_at=at("2026-03-03T08:12:45.771203Z"),
    ).created_by_form(
        {"name": "Raj Patel", "email": raj, "subject": "Dashboard login times out for all users",
         "message": "Since 09:00 nobody in our company can sign in to the dashboard: the page times out.",
         "topic": "outage", "customer_id": "C-51234"},
        [SUPPORT_ROUTING["outage"]],
    )

    mia = "mia.keller@litware.example"
    sup8 = History(
        key="SUP-8",
        summary="Wrong billing address on my account",
        description="The billing address still shows our old office in Hamburg; we moved to Berlin.",
        line=1,
        components=["Billing"],
        requester=requester(mia, "Mia Keller", contact_id(mia)),
        custom_fields={"customer_id": "C-60018", "topic": "billing"},
        created_at=at("2026-03-03T08:20:16.093388Z"),
    ).created_by_form(
        {"name": "Mia Keller", "email": mia, "subject": "Wrong billing address on my account",
         "message": "The billing address still shows our old office in Hamburg; we moved to Berlin.",
         "topic": "billing", "customer_id": "C-60018"},
        [SUPPORT_ROUTING["billing"]],
    )
    sup8.write("2026-03-03T08:20:16.540127Z", trigger(LINE_1), 1,
               {"status": "First line", "assignee": "anna"}, field_actors={"assignee": trigger(BILLING)})
    out["SUP-8"] = sup8
    return out


# ----------------------------------------------------------------- records


class Shard:
    """Stream records of one shard: increasing sequence numbers."""

    def __init__(self) -> None:
        self.next = 0

    def record(self, name: str, event_name: str, *, new: dict | None = None, old: dict | None = None,
               when: datetime) -> dict:
        self.next += 1
        sequence = f"{58247000000000 + self.next:014d}{self.next * 7919 % 10**11:011d}"
        image = new if new is not None else old
        keys = {"pk": image["pk"], "sk": image["sk"]}
        change: dict = {
            "ApproximateCreationDateTime": int(when.timestamp()),
            "Keys": keys,
        }
        if new is not None:
            change["NewImage"] = new
        if old is not None:
            change["OldImage"] = old
        change["SequenceNumber"] = sequence
        change["SizeBytes"] = len(json.dumps(keys)) // 2 + sum(
            len(json.dumps(i, separators=(",", ":"))) // 2 for i in (new, old) if i is not None
        )
        change["StreamViewType"] = "NEW_AND_OLD_IMAGES"
        return {
            "eventID": hashlib.md5(f"{name}:{self.next}".encode()).hexdigest(),
            "eventName": event_name,
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": REGION,
            "dynamodb": change,
            "eventSourceARN": STREAM_ARN,
        }


def build() -> tuple[dict[str, dict], dict, dict]:
    """(event files by name, seed, expected)."""
    h = tickets()
    shard = Shard()
    events: dict[str, dict] = {}
    expected_events: dict[str, dict] = {}

    def ticket_record(name: str, key: str, version: int) -> dict:
        history = h[key]
        t = history.versions[version - 1]
        if version == 1:
            return shard.record(name, "INSERT", new=history.image(1), when=t["updated_at"])
        return shard.record(name, "MODIFY", new=history.image(version), old=history.image(version - 1),
                            when=t["updated_at"])

    def entry_record(name: str, key: str, version: int, index: int) -> dict:
        entry = h[key].entries[version - 1][index]
        return shard.record(name, "INSERT", new=timeline_item(entry), when=entry["at"])

    def processed(fired: list[str], write: str, effects: list[dict] | None = None) -> dict:
        return {"result": "processed", "fired": fired, "write": write, "effects": effects or []}

    def skipped(reason: str) -> dict:
        return {"result": "skipped", "reason_matches": reason}

    def add(name: str, description: str, records: list[tuple[dict, dict]], failures: list[str] | None = None) -> None:
        events[name] = {"Records": [r for r, _ in records]}
        expected_events[name] = {
            "description": description,
            "batch_item_failures": failures or [],
            "records": [{"id": r["eventID"], **want} for r, want in records],
        }

    add("insert-ticket.json",
        "SUP-1 created by the support form (billing: line 1, Billing, New) on Monday 10:14 Berlin: "
        "the line-1 and billing triggers fire together, one write (v2: First line, anna).",
        [(ticket_record("insert-ticket.json", "SUP-1", 1), processed([LINE_1, BILLING], "written"))])

    add("modify-line2.json",
        "Agent anna moves SUP-2 from line 1 to line 2 with an internal comment (v2 -> v3): "
        "the line-2 trigger sets Second line (v4). The status did not change in this write, so no Telegram call.",
        [(ticket_record("modify-line2.json", "SUP-2", 3), processed([LINE_2], "written"))])

    add("modify-status.json",
        "Agent dmitri takes SUP-3 from Second line to In progress (v3 -> v4): one Telegram call "
        "(HELPDESK_TELEGRAM_URL set) or one failure note on the ticket (unset); nothing else is written.",
        [(ticket_record("modify-status.json", "SUP-3", 4), processed([TELEGRAM], "nothing", [{"kind": "webhook"}]))])

    add("remove-ticket.json",
        "SUP-4 (closed as spam) is deleted: a REMOVE with the old image only, acknowledged without work.",
        [(shard.record("remove-ticket.json", "REMOVE", old=h["SUP-4"].image(2), when=at("2026-03-02T11:20:40.000000Z")),
          skipped("removed ticket"))])

    add("timeline-insert.json",
        "The form_submitted timeline item of SUP-1: acknowledged without work (the ticket's own record carries its write).",
        [(entry_record("timeline-insert.json", "SUP-1", 1, 1), skipped("timeline entry"))])

    # An item written by a legacy import under the ticket key layout, with
    # its own attribute names: item_type says ticket, but it is not one.
    legacy = {
        "pk": {"S": "TICKET#SUP-900"},
        "sk": {"S": "TICKET"},
        "item_type": {"S": "ticket"},
        "key": {"S": "SUP-900"},
        "queue": {"S": "SUP"},
        "title": {"S": "Imported from the old desk: printer offline"},
        "state": {"S": "open"},
        "created": {"N": "1551427200"},
    }
    good = ticket_record("malformed.json", "SUP-5", 1)
    bad = shard.record("malformed.json", "INSERT", new=legacy, when=at("2026-03-02T21:50:03.000000Z"))
    after = ticket_record("malformed.json", "SUP-6", 1)
    add("malformed.json",
        "SUP-5 (a question that arrived at 22:47 Berlin, outside office hours) gets the out-of-hours comment (v2); "
        "the next record's NewImage is not a ticket (an import's item without summary, status, version...): it fails, "
        "and the response names exactly its SequenceNumber; SUP-6 after it is not attempted and stays at v1, New.",
        [(good, processed([OFF_HOURS], "written")),
         (bad, {"result": "failed", "error_matches": "not a ticket"}),
         (after, {"result": "not_attempted"})],
        failures=[bad["dynamodb"]["SequenceNumber"]])

    add("batch.json",
        "A slice of the shard: SUP-7 created (critical outage, line 2) fires the line-2 and escalation triggers "
        "(v2: Second line; one TicketEscalated event); its timeline items are skipped; SUP-8's write made by "
        "the triggers (depth 1: New -> First line, anna) fires the Telegram trigger (a call or a failure note).",
        [(ticket_record("batch.json", "SUP-7", 1), processed([LINE_2, ESCALATIONS], "written", [{"kind": "event"}])),
         (entry_record("batch.json", "SUP-7", 1, 0), skipped("timeline entry")),
         (entry_record("batch.json", "SUP-7", 1, 1), skipped("timeline entry")),
         (ticket_record("batch.json", "SUP-8", 2), processed([TELEGRAM], "nothing", [{"kind": "webhook"}])),
         (entry_record("batch.json", "SUP-8", 2, 0), skipped("timeline entry"))])

    # Not a stream batch at all (a deployment mistake): nothing to name.
    events["not-a-stream-event.json"] = {
        "version": "0",
        "id": "8e1f2c3a-5b6d-4e7f-9a0b-1c2d3e4f5a6b",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "time": "2026-03-02T09:00:00Z",
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/helpdesk-sla-check"],
        "detail": {},
    }
    expected_events["not-a-stream-event.json"] = {
        "description": "An EventBridge schedule event instead of a stream batch: no record to name, so the "
        "answer is one batchItemFailure with an empty itemIdentifier (Lambda retries the whole batch).",
        "batch_item_failures": [""],
        "records": [{"id": "batch", "result": "failed", "error_matches": "no Records array"}],
    }

    seeded = ["SUP-1", "SUP-2", "SUP-3", "SUP-5", "SUP-6", "SUP-7", "SUP-8"]
    seed = {
        "$comment": (
            "Ticket writes the sample stream records of this folder report, in version order, as the DynamoDB "
            "items each write stores (ticket item, timeline items). Written by scripts/lib/gen_trigger_events.py; "
            "replayed into the function's store by the seed-store example of functions/ticket-triggers before "
            "the events are invoked. SUP-4 (removed) and the legacy item of malformed.json are not seeded."
        ),
        "tickets": {key: h[key].seed() for key in seeded},
    }

    def texts(key: str, version: int) -> str:
        t, old = h[key].versions[version - 1], h[key].versions[version - 2]
        return f"{t['key']} {t['summary']}: {old['status']} -> {t['status']}"

    # The stored tickets after every event ran twice. `webhook_url_set` and
    # `webhook_url_unset` hold what differs between the two passes.
    stored = {
        "SUP-1": {"fields": {"status": "First line", "assignee": "anna", "line": 1, "version": 3},
                  "timeline": {"created": 1, "form_submitted": 1, "field_changed": 2}},
        "SUP-2": {"fields": {"status": "Second line", "assignee": "anna", "line": 2, "version": 5},
                  "timeline": {"created": 1, "form_submitted": 1, "field_changed": 4, "comment": 1}},
        "SUP-3": {"fields": {"status": "In progress", "assignee": "dmitri", "line": 2},
                  "timeline": {"field_changed": 3},
                  "webhook_url_set": {"fields": {"version": 5}, "timeline": {"trigger_note": 0}},
                  "webhook_url_unset": {"fields": {"version": 6}, "timeline": {"trigger_note": 1}}},
        "SUP-5": {"fields": {"status": "New", "assignee": None, "version": 3},
                  "timeline": {"comment": 1, "field_changed": 0}},
        "SUP-6": {"fields": {"status": "New", "assignee": None, "version": 1},
                  "timeline": {"created": 1, "form_submitted": 1, "field_changed": 0}},
        "SUP-7": {"fields": {"status": "Second line", "priority": "critical", "version": 3},
                  "timeline": {"field_changed": 1}},
        "SUP-8": {"fields": {"status": "First line", "assignee": "anna"},
                  "timeline": {"field_changed": 2},
                  "webhook_url_set": {"fields": {"version": 3}, "timeline": {"trigger_note": 0}},
                  "webhook_url_unset": {"fields": {"version": 4}, "timeline": {"trigger_note": 1}}},
    }
    # Every processed ticket also gets one SLA write (version + 1): the
    # function refreshes the timers of config/helpdesk.yaml, started at
    # creation and, the seeded tickets being months old, warned and
    # breached at once. SUP-6 has no record, so nothing refreshes it.
    for key in ("SUP-1", "SUP-2", "SUP-3", "SUP-5", "SUP-7", "SUP-8"):
        stored[key]["timeline"]["sla"] = 6
    expected = {
        "$comment": (
            "What each event of this folder must do under config/helpdesk.yaml, checked by "
            "scripts/lib/check_trigger_events.py after seed.json was replayed into the store. Every event is "
            "invoked in this order (`first`), then all again (`again`, a redelivery): the answer's "
            "batchItemFailures must be exactly `batch_item_failures` both times. `records` are the per-record "
            "reports the function logs, in order: `result`, and for processed records the triggers `fired`, the "
            "`write` (first: written or nothing; again: already_written or nothing) and the side `effects` "
            "(webhook: done then already_done with HELPDESK_TELEGRAM_URL pointing at the checker, failed both "
            "times without it; event: done then already_done). Afterwards the stored tickets must have "
            "`tickets` (fields; timeline entry counts per type; `sla`: the one SLA write of the timers refreshed on the "
            "way, started, warned and breached for first response and resolution), exactly the `webhooks` calls must have been "
            "made (when the URL is set) and exactly the `bus_events` published. Generated by "
            "scripts/lib/gen_trigger_events.py."
        ),
        "function": "ticket-triggers",
        "events": expected_events,
        "tickets": stored,
        "webhooks": [
            {"ticket": "SUP-3", "trigger": TELEGRAM, "text": texts("SUP-3", 4)},
            {"ticket": "SUP-8", "trigger": TELEGRAM, "text": texts("SUP-8", 2)},
        ],
        "bus_events": [
            {"ticket": "SUP-7", "detail_type": "TicketEscalated", "trigger": ESCALATIONS},
        ],
    }
    return events, seed, expected


def render(value: dict) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="compare with the files instead of writing them")
    args = parser.parse_args()

    events, seed, expected = build()
    files = {name: render(event) for name, event in events.items()}
    files["seed.json"] = render(seed)
    files["expected.json"] = render(expected)
    stale = []
    if args.check:
        present = {p.name for p in OUT.glob("*.json")}
        stale += sorted(f"{name} (not generated)" for name in present - set(files))
    else:
        OUT.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        path = OUT / name
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(ROOT)}")
    if stale:
        print("events differ from scripts/lib/gen_trigger_events.py: " + ", ".join(stale), file=sys.stderr)
        return 1
    if args.check:
        records = sum(len(e.get("Records") or []) for e in events.values())
        print(f"trigger events: {len(events)} events ({records} records), seed.json and expected.json as generated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
