"""Reads and writes straight on the socket keep trio's stream contract.

The native server reads and writes a plain TCP socket's descriptor itself
when it is ready (``trioweb.server._socket_io``); these check what trio's
``SocketStream`` promises still holds on that path.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
import trio

from trioweb.server import _http
from trioweb.server._websocket import _WebsocketStream


@pytest.fixture
def socket_pair() -> Iterator[tuple[trio.SocketStream, socket.socket]]:
    """A trio stream on one end of a connected pair, the plain socket of the other end."""
    ours, theirs = socket.socketpair()
    theirs.setblocking(False)
    with theirs:
        yield trio.SocketStream(trio.socket.from_stdlib_socket(ours)), theirs


def received_now(sock: socket.socket) -> bytes:
    try:
        return sock.recv(65536)
    except BlockingIOError:
        return b""


def websocket_stream(stream: trio.SocketStream) -> _WebsocketStream:
    return _WebsocketStream(stream, b"", 1 << 20)


async def test_a_cancelled_read_loses_nothing(socket_pair: tuple[trio.SocketStream, socket.socket]) -> None:
    stream, theirs = socket_pair
    ws_stream = websocket_stream(stream)
    theirs.send(b"hello")
    with trio.CancelScope() as scope:
        scope.cancel()
        await ws_stream.receive_some(100)
    assert scope.cancelled_caught
    with trio.fail_after(5):
        assert await ws_stream.receive_some(100) == b"hello"


async def test_a_cancelled_send_writes_nothing_and_the_next_one_goes_out(
    socket_pair: tuple[trio.SocketStream, socket.socket],
) -> None:
    stream, theirs = socket_pair
    ws_stream = websocket_stream(stream)
    with trio.CancelScope() as scope:
        scope.cancel()
        await ws_stream.send_all(b"\x81\x01x")
    assert scope.cancelled_caught
    assert received_now(theirs) == b""
    await ws_stream.send_all(b"\x81\x01y")
    assert received_now(theirs) == b"\x81\x01y"


async def test_a_send_after_the_socket_closed_never_reaches_a_socket_that_reuses_its_number(
    socket_pair: tuple[trio.SocketStream, socket.socket],
) -> None:
    stream, _ = socket_pair
    ws_stream = websocket_stream(stream)
    number = stream.socket.fileno()
    await stream.aclose()  # as the HTTP connection does when the session is over
    reused, peer = socket.socketpair()  # the lowest free descriptor: usually the one just freed
    with reused, peer:
        peer.setblocking(False)
        with pytest.raises(trio.ClosedResourceError):
            await ws_stream.send_all(b"\x81\x01x")
        assert reused.fileno() != number or received_now(peer) == b""


def test_header_names_shared_as_text_are_bounded() -> None:
    long_name = b"X-" + b"a" * 15_000
    headers = [(b"Accept", b"*/*"), (long_name, b"v")]
    raw = type("Raw", (), {"raw_items": lambda self: headers})()
    decoded, *_ = _http._decode_headers(raw)
    assert decoded["Accept"] == "*/*"
    assert b"Accept" in _http._header_names
    assert long_name not in _http._header_names
