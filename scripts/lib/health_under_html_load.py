#!/usr/bin/env python3
"""How long `GET /health` takes while `helpdesk serve` takes in mails built
to be slow (issue 19, point 3: under 100 ms while 4 such mails are being
processed).

    health_under_html_load.py HELPDESK_BINARY [--mails 4] [--depth 100000]

Starts the given `helpdesk` binary's `serve` on a free port over a fresh
directory (the example configuration), posts --mails mails of --depth
nested <div>s (about 1 MB of HTML each) to POST /mail at once, and polls
/health every 10 ms until every post is answered; prints the slowest and the
median /health time and each post's time. Standard library only.
"""

from __future__ import annotations

import argparse
import http.client
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def mail(n: int, depth: int) -> bytes:
    html = "<div>" * depth + "slow?" + "</div>" * depth
    return (
        f"From: Jane <jane{n}@customer.org>\r\nTo: support@example.com\r\n"
        f"Subject: Deep {n}\r\nMessage-ID: <deep-{n}-{time.time_ns()}@customer.org>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + html + "\r\n"
    ).encode()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("--mails", type=int, default=4)
    parser.add_argument("--depth", type=int, default=100_000)
    args = parser.parse_args()
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        server = subprocess.Popen(
            [args.binary, "serve", "--listen", f"127.0.0.1:{port}", "--config", str(ROOT / "config/helpdesk.yaml"),
             "--db", str(d / "helpdesk.db"), "--blobs", str(d / "blobs"),
             "--mail-transport", f"outbox:{d / 'outbox'}", "--events", f"log:{d / 'events.jsonl'}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT,
        )
        try:
            for _ in range(200):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                    break
                except OSError:
                    time.sleep(0.05)
            posts: list[float] = []

            def post(n: int) -> None:
                body = mail(n, args.depth)
                started = time.perf_counter()
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
                c.request("POST", "/mail", body, {"Content-Type": "message/rfc822"})
                r = c.getresponse()
                r.read()
                posts.append(time.perf_counter() - started)
                assert r.status == 202, r.status

            threads = [threading.Thread(target=post, args=(n,)) for n in range(args.mails)]
            for t in threads:
                t.start()
            health: list[float] = []
            while any(t.is_alive() for t in threads):
                started = time.perf_counter()
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                c.request("GET", "/health")
                c.getresponse().read()
                health.append(time.perf_counter() - started)
                time.sleep(0.01)
            for t in threads:
                t.join()
        finally:
            server.terminate()
            server.wait()
    print(f"{args.mails} mails of {args.depth} nested <div> posted at once: each answered in "
          + ", ".join(f"{p * 1e3:.0f} ms" for p in sorted(posts)))
    if health:
        print(f"/health while they were taken in: {len(health)} requests, median {statistics.median(health) * 1e3:.1f} ms, "
              f"slowest {max(health) * 1e3:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
