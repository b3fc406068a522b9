from __future__ import annotations

import functools
from collections.abc import AsyncIterator

import pytest
import trio

from trioweb import App, serve


@pytest.fixture
def app() -> App:
    return App(__name__)


@pytest.fixture
async def live_server(app: App, nursery: trio.Nursery) -> AsyncIterator[str]:
    """The app on a real socket on 127.0.0.1; yields ``host:port``."""
    listeners = await nursery.start(functools.partial(serve, app, host="127.0.0.1", port=0))
    host, port = listeners[0].socket.getsockname()[:2]
    yield f"{host}:{port}"


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


async def read_until_closed(stream: trio.abc.ReceiveStream, received: bytes = b"") -> bytes:
    with trio.fail_after(5):
        while chunk := await stream.receive_some(65536):
            received += chunk
    return received


def close_frame(code: int, reason: str) -> bytes:
    payload = code.to_bytes(2, "big") + reason.encode()
    return bytes((0x88, len(payload))) + payload
