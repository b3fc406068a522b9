"""Instructions per request of the native server, counted by callgrind: a comparison drift cannot tip.

Wall-clock rates on this VM move by 3-5 % between runs, more than a change
of a few hundred instructions per request. callgrind counts the server's
instructions, which are the same from run to run whatever else the machine
does. Each checkout serves ``bench.app:app`` under callgrind twice, for
``--few`` and for ``--many`` keep-alive requests of ``GET /`` on one
connection; the difference over the extra requests is the cost of one
request, without the start-up.

    .venv/bin/python bench/instructions.py [--few 500] [--many 2500] DIR [DIR ...]

Each DIR is a checkout (a ``git worktree add --detach /tmp/old <rev>``, say),
served with this project's Python, so only the trioweb code differs.
"""

from __future__ import annotations

import argparse
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PYTHON = Path(sys.executable)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def connect(port: int, deadline: float) -> socket.socket:
    while True:
        try:
            return socket.create_connection(("127.0.0.1", port))
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def send_requests(port: int, count: int) -> None:
    """``count`` keep-alive requests on one connection, each read to the end of its body before the next."""
    request = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n"
    with connect(port, time.monotonic() + 120) as connection:
        pending = b""
        for _ in range(count):
            connection.sendall(request)
            while True:
                end = pending.find(b"\r\n\r\n")
                if end >= 0:
                    length = int(re.search(rb"(?i)content-length:\s*(\d+)", pending[:end]).group(1))  # type: ignore[union-attr]
                    if len(pending) >= end + 4 + length:
                        pending = pending[end + 4 + length :]
                        break
                chunk = connection.recv(65536)
                if not chunk:
                    raise ConnectionError("the server closed the connection")
                pending += chunk


def instructions(checkout: Path, count: int) -> int:
    """The server's total instructions (callgrind's summary) for start-up, ``count`` requests and shutdown."""
    port = free_port()
    with tempfile.TemporaryDirectory() as folder:
        output = Path(folder) / "callgrind.out"
        command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={output}", str(PYTHON), "-m", "trioweb"]
        command += ["serve", "bench.app:app", "--host", "127.0.0.1", "--port", str(port), "--no-access-log"]
        server = subprocess.Popen(command, cwd=checkout, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            send_requests(port, count)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=120)
        summary = re.search(r"^summary: (\d+)", output.read_text(), re.M)
        assert summary is not None, "callgrind wrote no summary"
        return int(summary.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkouts", nargs="+", type=Path)
    parser.add_argument("--few", type=int, default=500)
    parser.add_argument("--many", type=int, default=2500)
    args = parser.parse_args()
    for checkout in args.checkouts:
        few, many = instructions(checkout, args.few), instructions(checkout, args.many)
        per_request = (many - few) / (args.many - args.few)
        print(f"{checkout}: {per_request:,.0f} instructions per request, start-up and {args.few} requests {few:,}")


if __name__ == "__main__":
    main()
