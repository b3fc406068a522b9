"""A throwaway ``redis-server`` for the broadcast tests: Debian's package, on a free port of 127.0.0.1.

Started with no persistence (``--save '' --appendonly no``), so a restart
begins empty, as after a crash. ``restart()`` keeps the port, so a client
reconnects to the same URL. Without ``redis-server`` the tests skip, naming
the package; with ``CI`` set they fail instead, so that CI cannot skip them
unnoticed (``scripts/test.sh`` installs the package on CI, as it does
Chromium for the browser tests).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trio

from trioweb.broadcast import Gap, Message
from trioweb.broadcast._fanout import Subscriber

REDIS_SERVER = shutil.which("redis-server")
#: Seconds to wait for the server to accept connections.
START_WAIT = 10


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True)
class TLSFiles:
    """What a server speaking only TLS needs: its certificate and key, and the CA a client must trust."""

    cert: Path
    key: Path
    ca: Path


class RedisServer:
    """One ``redis-server`` process; ``url`` stays the same across :meth:`restart`.

    With ``tls``, the port speaks only TLS and ``url`` is ``rediss://``,
    naming the CA to trust (coredis's ``ssl_ca_certs``).
    """

    def __init__(
        self, executable: str, port: int | None = None, directory: Path | None = None, tls: TLSFiles | None = None
    ) -> None:
        self.executable = executable
        #: With a directory, the server persists every write there (AOF, fsync always) and a restart keeps it.
        self.directory = directory
        self.tls = tls
        self.port = port or free_port()
        if tls is None:
            self.url = f"redis://127.0.0.1:{self.port}/0"
        else:
            self.url = f"rediss://127.0.0.1:{self.port}/0?ssl_ca_certs={tls.ca}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        persistence = (
            ("--appendonly", "no")
            if self.directory is None
            else ("--appendonly", "yes", "--appendfsync", "always", "--dir", str(self.directory))
        )
        ports = (
            ("--port", str(self.port))
            if self.tls is None
            else (
                *("--port", "0", "--tls-port", str(self.port), "--tls-auth-clients", "no"),
                *("--tls-cert-file", str(self.tls.cert), "--tls-key-file", str(self.tls.key)),
                *("--tls-ca-cert-file", str(self.tls.ca)),
            )
        )
        self.process = subprocess.Popen(
            [
                self.executable,
                *ports,
                "--bind",
                "127.0.0.1",
                *("--save", "", *persistence, "--daemonize", "no"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + START_WAIT
        while True:  # a bounded poll of the subprocess, until it accepts connections
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.1).close()
                return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"redis-server did not start on port {self.port}") from None
                time.sleep(0.02)

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None:
            if process.poll() is None:
                os.kill(process.pid, signal.SIGCONT)  # in case a test left it stopped
            process.kill()
            process.wait(START_WAIT)

    def restart(self) -> None:
        self.stop()
        self.start()

    def pause(self) -> None:
        """SIGSTOP: the server keeps its connections open but answers nothing, as a hung host."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGCONT)


def redis_server_executable() -> str:
    """The path of ``redis-server``; skips (or fails, with CI set) without it.

    Called from a plain fixture, so that the skip happens at set-up, outside
    trio, and pytest reports its reason.
    """
    if REDIS_SERVER:
        return REDIS_SERVER
    reason = "redis-server not found: the broadcast's Redis tests need Debian's package redis-server"
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI must run these tests, not skip them")
    pytest.skip(f"{reason} (apt-get install redis-server)")


def running_redis_server(tls: TLSFiles | None = None) -> Iterator[RedisServer]:
    """A fresh ``redis-server``, stopped afterwards: the body of the tests' ``redis_server`` fixtures."""
    server = RedisServer(redis_server_executable(), tls=tls)
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def next_item(subscriber: Subscriber) -> Message | Gap:
    """A subscriber's next item, or a failed test after ten seconds (a real broker answers in milliseconds)."""
    with trio.fail_after(10):
        return await subscriber.__anext__()
