#!/usr/bin/env python3
"""A real SMTP server for the tests (aiosmtpd), on 127.0.0.1.

Every message accepted is written as it arrived on the wire (after SMTP's
dot-unstuffing, nothing else changed) to DIR/<n>.eml, with DIR/<n>.json
holding its envelope ({"mail_from": ..., "rcpt_tos": [...]}). Recipients
whose local part is `tempfail` are answered 451 (try again later), those
whose local part is `reject` 550 (refused for good), so tests can see what
a relay's temporary and permanent refusals do.

    smtp_sink.py --listen 127.0.0.1:2525 --dir /tmp/smtp
"""

import argparse
import json
import signal
import threading
from pathlib import Path

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.count = 0
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@", 1)[0].lower()
        if local == "tempfail":
            return "451 4.3.0 Try again later"
        if local == "reject":
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.count += 1
            number = self.count
        stem = self.directory / f"{number:06d}"
        raw = envelope.original_content or envelope.content
        stem.with_suffix(".tmp").write_bytes(raw)
        stem.with_suffix(".json").write_text(
            json.dumps({"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos})
        )
        stem.with_suffix(".tmp").rename(stem.with_suffix(".eml"))
        return "250 2.0.0 Message accepted"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--listen", required=True, help="host:port")
    parser.add_argument("--dir", required=True, type=Path)
    args = parser.parse_args()
    host, port = args.listen.rsplit(":", 1)
    args.dir.mkdir(parents=True, exist_ok=True)
    controller = Controller(Sink(args.dir), hostname=host, port=int(port))
    controller.start()
    print(f"smtp sink on {host}:{port}, writing to {args.dir}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
