#!/usr/bin/env python3
"""Waits until a local server is up.

    wait_for.py URL [--timeout SECONDS] [--pid PID]

URL is http://HOST:PORT/PATH (up once it answers at all: any status counts)
or tcp://HOST:PORT (up once it accepts a connection; for servers where a
request could block, such as cargo lambda's invoke server, which forwards
unknown paths to a function). Exits 0 once up, 1 when the timeout passes or
when process PID (the server being waited for) has exited. Standard library
only.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import time
import urllib.error
import urllib.request


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped by its parent) still has a pid.
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--pid", type=int)
    args = parser.parse_args()

    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        if args.pid and not alive(args.pid):
            print(f"wait_for: process {args.pid} exited before {args.url} answered", file=sys.stderr)
            return 1
        if args.url.startswith("tcp://"):
            host, _, port = args.url[len("tcp://"):].rstrip("/").rpartition(":")
            try:
                with socket.create_connection((host, int(port)), timeout=2):
                    return 0
            except OSError:
                time.sleep(0.1)
                continue
        try:
            with urllib.request.urlopen(args.url, timeout=2):
                return 0
        except urllib.error.HTTPError:
            return 0  # it answered, with an error status: it is up
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            time.sleep(0.1)
    print(f"wait_for: {args.url} did not answer within {args.timeout:.0f}s", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
