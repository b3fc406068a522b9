from __future__ import annotations

import functools
import gc
import warnings
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import coredis
import pytest
import trio
import trustme
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve as hypercorn_serve

from tests.redis_server import RedisServer, TLSFiles, running_redis_server
from trioweb import App, CancelledError, serve, websocket

SERVERS = ["native", "hypercorn"]


@pytest.fixture
def app() -> App:
    return App(__name__)


@pytest.fixture(params=SERVERS)
def server_kind(request: pytest.FixtureRequest) -> str:
    """Which server ``live_server`` runs: trioweb's own, or Hypercorn's trio worker in-process.

    A test or case marked ``native_only(reason)`` checks what Hypercorn does
    itself; it is skipped there. (Skipped here, in a plain fixture, because
    pytest-trio drops the reason of a ``pytest.skip`` inside an async test.)
    """
    marker = request.node.get_closest_marker("native_only")
    if request.param == "hypercorn" and marker is not None:
        pytest.skip(marker.args[0])
    return str(request.param)


def hypercorn_config(**settings: Any) -> HypercornConfig:
    """A Hypercorn config for tests: a free port on 127.0.0.1, short grace, no access log."""
    config = HypercornConfig()
    config.bind = ["127.0.0.1:0"]
    config.graceful_timeout = 1.0
    config.accesslog = None
    for name, value in settings.items():
        setattr(config, name, value)
    return config


async def start_hypercorn(app: App, nursery: trio.Nursery, shutdown_trigger: Any = None, **settings: Any) -> str:
    """``hypercorn.trio.serve`` in ``nursery``; returns ``host:port``."""
    binds = await nursery.start(
        functools.partial(hypercorn_serve, app, hypercorn_config(**settings), shutdown_trigger=shutdown_trigger)
    )
    return str(binds[0]).removeprefix("http://")


async def start_native(app: App, nursery: trio.Nursery, shutdown_trigger: Any = None) -> str:
    """``trioweb.serve`` in ``nursery``; returns ``host:port``."""
    listeners = await nursery.start(
        functools.partial(serve, app, host="127.0.0.1", port=0, shutdown_trigger=shutdown_trigger)
    )
    host, port = listeners[0].socket.getsockname()[:2]
    return f"{host}:{port}"


@pytest.fixture
async def native_server(app: App, nursery: trio.Nursery) -> str:
    """The app on trioweb's own server only, for what only it does (limits enforced at a frame header)."""
    return await start_native(app, nursery)


@pytest.fixture
async def live_server(app: App, nursery: trio.Nursery, server_kind: str) -> AsyncIterator[str]:
    """The app on a real socket on 127.0.0.1, served by each server in turn; yields ``host:port``."""
    if server_kind == "native":
        yield await start_native(app, nursery)
    else:
        yield await start_hypercorn(app, nursery)


@dataclass
class RunningServer:
    """A server in a test, with a graceful shutdown to trigger: ``await server.stop()``."""

    kind: str
    address: str = ""
    trigger: trio.Event = field(default_factory=trio.Event)
    done: trio.Event = field(default_factory=trio.Event)

    def shut_down(self) -> None:
        """Start the graceful shutdown (and return at once)."""
        self.trigger.set()

    async def stop(self) -> None:
        """Shut down gracefully and wait until the server has returned."""
        self.trigger.set()
        with trio.fail_after(30):
            await self.done.wait()


@asynccontextmanager
async def running(app: App, kind: str, **hypercorn_settings: Any) -> AsyncIterator[RunningServer]:
    """Run ``app`` on ``kind`` ("native" or "hypercorn") until the block ends or ``stop()``.

    Leaving the block shuts the server down gracefully and waits for it.
    Errors, the server's (a failed startup, say) or the block's, come out
    plainly, never inside an exception group.
    """
    server = RunningServer(kind)
    errors: list[BaseException] = []
    async with trio.open_nursery() as nursery:

        async def run(task_status: trio.TaskStatus[Any] = trio.TASK_STATUS_IGNORED) -> None:
            try:
                if kind == "native":
                    await serve(
                        app, host="127.0.0.1", port=0, shutdown_trigger=server.trigger.wait, task_status=task_status
                    )
                else:
                    await hypercorn_serve(
                        app,
                        hypercorn_config(**hypercorn_settings),
                        shutdown_trigger=server.trigger.wait,
                        task_status=task_status,
                    )
            finally:
                server.done.set()

        try:
            started = await nursery.start(run)
        except BaseException as error:  # re-raised below, outside the nursery
            errors.append(error)
        else:
            if kind == "native":
                host, port = started[0].socket.getsockname()[:2]
                server.address = f"{host}:{port}"
            else:
                server.address = str(started[0]).removeprefix("http://")
            try:
                yield server
                await server.stop()
            except BaseException as error:  # re-raised below, outside the nursery
                errors.append(error)
                nursery.cancel_scope.cancel()
    if errors:
        raise errors[0]


async def raw_exchange(address: str, data: bytes, *, read_until_close: bool = True) -> bytes:
    """Send raw bytes to the server and read what comes back until it closes."""
    host, port = address.rsplit(":", 1)
    stream = await trio.open_tcp_stream(host, int(port))
    async with stream:
        await stream.send_all(data)
        received = b""
        with trio.fail_after(5):
            while chunk := await stream.receive_some(65536):
                received += chunk
                if not read_until_close and b"\r\n\r\n" in received:
                    break
        return received


# -- raw websocket frames, as a client sends them ----------------------------------

HANDSHAKE = (
    b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)
CONTINUATION, TEXT, BINARY, PING = 0x0, 0x1, 0x2, 0x9


def frame_header(opcode: int, length: int, *, fin: bool = True) -> bytes:
    """A client frame's header (masked, as a client must), declaring ``length``."""
    first = (0x80 if fin else 0) | opcode
    if length < 126:
        head = bytes((first, 0x80 | length))
    elif length < 1 << 16:
        head = bytes((first, 0x80 | 126)) + length.to_bytes(2, "big")
    else:
        head = bytes((first, 0x80 | 127)) + length.to_bytes(8, "big")
    return head + b"\0\0\0\0"  # a zero masking key leaves the payload as it is


def client_frame(opcode: int, payload: bytes, *, fin: bool = True) -> bytes:
    return frame_header(opcode, len(payload), fin=fin) + payload


async def open_raw_websocket(address: str) -> tuple[trio.SocketStream, bytes]:
    """A TCP connection that has done the websocket handshake; the bytes after the 101 head."""
    host, port = address.rsplit(":", 1)
    stream = await trio.open_tcp_stream(host, int(port))
    await stream.send_all(HANDSHAKE)
    received = b""
    with trio.fail_after(5):
        while b"\r\n\r\n" not in received:
            received += await stream.receive_some(65536)
    head, _, rest = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101 ")
    return stream, rest


def parse_server_frame(data: bytes) -> tuple[tuple[int, bytes], int] | None:
    """The first server frame in ``data``, as (opcode, payload), and its length; None if it is not all there."""
    if len(data) < 2:
        return None
    assert data[0] & 0x80 and not data[1] & 0x80, "a final, unmasked frame"
    length, offset = data[1] & 0x7F, 2
    if length == 126:
        length, offset = int.from_bytes(data[2:4], "big"), 4
    elif length == 127:
        length, offset = int.from_bytes(data[2:10], "big"), 10
    if len(data) < offset + length:
        return None
    return (data[0] & 0x0F, data[offset : offset + length]), offset + length


async def read_server_frames(stream: trio.abc.ReceiveStream, received: bytes, count: int) -> list[tuple[int, bytes]]:
    """``count`` whole server frames (opcode, payload) from ``stream``, after the bytes ``received`` already."""
    frames: list[tuple[int, bytes]] = []
    with trio.fail_after(20):
        while len(frames) < count:
            frame = parse_server_frame(received)
            if frame is None:
                chunk = await stream.receive_some(1 << 20)
                assert chunk, f"the connection ended after {len(frames)} frames"
                received += chunk
                continue
            frames.append(frame[0])
            received = received[frame[1] :]
    return frames


async def read_until_closed(stream: trio.abc.ReceiveStream, received: bytes = b"") -> bytes:
    with trio.fail_after(5):
        while chunk := await stream.receive_some(65536):
            received += chunk
    return received


def close_frame(code: int, reason: str) -> bytes:
    payload = code.to_bytes(2, "big") + reason.encode()
    return bytes((0x88, len(payload))) + payload


@contextmanager
def no_file_left_to_the_collector() -> Iterator[None]:
    """Fails if a file opened in the block is closed by the garbage collector (a ResourceWarning) at its end.

    Garbage from earlier tests (a client's socket, say) is collected first,
    so that its warnings are not this block's.
    """
    gc.collect()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        yield
        gc.collect()
    leaked = [str(w.message) for w in caught if w.category is ResourceWarning and "unclosed file" in str(w.message)]
    assert leaked == []


@pytest.fixture
def sink(app: App) -> list[tuple[int | None, str | None]]:
    """``/ws`` receives forever; the close code and reason it saw end up in the list."""
    closes: list[tuple[int | None, str | None]] = []

    @app.websocket("/ws")
    async def ws() -> None:
        try:
            while True:
                await websocket.receive()
        except CancelledError:
            closes.append((websocket.close_code, websocket.close_reason))
            raise

    return closes


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A real redis-server on a free loopback port for the test (tests/redis_server.py: skips, or fails under CI)."""
    yield from running_redis_server()


@pytest.fixture
def redis_tls_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A real redis-server that speaks only TLS, with a certificate for 127.0.0.1 from a CA of the test's own."""
    authority = trustme.CA()
    certificate = authority.issue_cert("127.0.0.1")
    files = TLSFiles(cert=tmp_path / "redis.pem", key=tmp_path / "redis.key", ca=tmp_path / "ca.pem")
    certificate.cert_chain_pems[0].write_to_path(files.cert)
    certificate.private_key_pem.write_to_path(files.key)
    authority.cert_pem.write_to_path(files.ca)
    yield from running_redis_server(tls=files)


@pytest.fixture
async def admin(redis_server: RedisServer) -> AsyncIterator[coredis.Redis[bytes]]:
    """A client of the test's own, to look at the broker and to break it."""
    async with coredis.Redis.from_url(redis_server.url) as client:
        yield client
