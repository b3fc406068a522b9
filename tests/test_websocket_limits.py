"""Websocket limits: message size (refused at the frame header), keep-alive pings, backpressure."""

from __future__ import annotations

import itertools

import pytest
import trio
import trio.testing
from hypothesis import given
from hypothesis import strategies as st
from trio_websocket import wrap_client_stream
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, CloseConnection, Event, Ping, Request

from trioweb import App, websocket
from trioweb.server import serve_stream
from trioweb.server._websocket import FrameSizeGuard
from trioweb.testing import WebsocketDisconnectError

from .conftest import (
    BINARY,
    CONTINUATION,
    PING,
    TEXT,
    client_frame,
    close_frame,
    frame_header,
    open_raw_websocket,
    read_until_closed,
)

# -- the guard on its own ----------------------------------------------------------

frames = st.lists(
    st.one_of(
        st.tuples(st.sampled_from([TEXT, BINARY, CONTINUATION]), st.integers(0, 70_000)),
        st.tuples(st.sampled_from([PING, 0xA]), st.integers(0, 125)),
    ),
    max_size=12,
)


@given(frames=frames, limit=st.integers(0, 100_000), cuts=st.lists(st.integers(0, 300_000), max_size=8))
def test_guard_stops_exactly_at_the_first_header_over_the_limit(
    frames: list[tuple[int, int]], limit: int, cuts: list[int]
) -> None:
    wire = bytearray()
    offending: tuple[int, int] | None = None  # where that header starts and ends
    size = 0
    for opcode, length in frames:
        start = len(wire)
        wire += frame_header(opcode, length) + b"x" * length
        if opcode < 8:
            size = size + length if opcode == CONTINUATION else length
            if size > limit and offending is None:
                offending = (start, start + len(frame_header(opcode, length)))
    guard = FrameSizeGuard(limit)
    passed = 0
    refused = False
    bounds = sorted({0, len(wire), *(cut for cut in cuts if cut < len(wire))})
    for start, end in itertools.pairwise(bounds):
        at = guard.feed(bytes(wire[start:end]))
        if at is not None:
            passed += at
            refused = True
            break
        passed += end - start
    if offending is None:
        assert not refused
        assert passed == len(wire)
    else:
        assert refused
        # Nothing of the payload, at most the start of the header itself.
        assert offending[0] <= passed < offending[1]


def test_guard_leaves_an_invalid_length_to_wsproto() -> None:
    header = bytes((0x82, 0x80 | 127)) + (1 << 63).to_bytes(8, "big") + b"\0\0\0\0"
    assert FrameSizeGuard(1000).feed(header) is None


# -- on the wire -------------------------------------------------------------------


async def test_a_frame_declaring_1_gib_is_refused_at_its_header(
    app: App, sink: list[tuple[int | None, str | None]], native_server: str
) -> None:
    stream, rest = await open_raw_websocket(native_server)
    async with stream:
        # Only the header: a server that waited for the payload would never answer.
        await stream.send_all(frame_header(BINARY, 1 << 30))
        received = await read_until_closed(stream, rest)
    assert received == close_frame(1009, "message too big")
    assert sink == [(1009, "message too big")]


async def test_a_fragmented_message_is_refused_at_the_fragment_that_crosses_the_limit(
    app: App, sink: list[tuple[int | None, str | None]], native_server: str
) -> None:
    app.config["WEBSOCKET_MAX_MESSAGE_SIZE"] = 1000
    stream, rest = await open_raw_websocket(native_server)
    async with stream:
        await stream.send_all(
            client_frame(TEXT, b"a" * 600, fin=False)
            + client_frame(PING, b"p")  # control frames do not count
            + frame_header(CONTINUATION, 401)
        )
        received = await read_until_closed(stream, rest)
    pong = bytes((0x8A, 1)) + b"p"
    assert received in (close_frame(1009, "message too big"), pong + close_frame(1009, "message too big"))
    assert sink == [(1009, "message too big")]


async def test_a_message_at_the_limit_passes(app: App) -> None:
    app.config["WEBSOCKET_MAX_MESSAGE_SIZE"] = 1000

    @app.websocket("/ws")
    async def echo() -> None:
        while True:
            await websocket.send(await websocket.receive())

    async with app.test_client().websocket("/ws") as ws:
        await ws.send(b"x" * 1000)
        assert await ws.receive(timeout=5) == b"x" * 1000
        await ws.send("é" * 501)  # 501 characters, 1002 bytes: the limit counts bytes
        with pytest.raises(WebsocketDisconnectError) as raised:
            await ws.receive(timeout=5)
    assert raised.value.code == 1009


# -- keep-alive pings, on memory streams with the autojump clock -------------------


class WsprotoClient:
    """A websocket client made of wsproto, over one end of a memory stream pair."""

    def __init__(self, stream: trio.abc.Stream) -> None:
        self.stream = stream
        self.connection = WSConnection(ConnectionType.CLIENT)
        self.pending: list[Event] = []

    async def send(self, event: Event) -> None:
        await self.stream.send_all(self.connection.send(event))

    async def next_event(self) -> Event | None:
        """The next event from the server; None once the stream has ended."""
        while not self.pending:
            data = await self.stream.receive_some(65536)
            if not data:
                return None
            self.connection.receive_data(data)
            self.pending.extend(self.connection.events())
        return self.pending.pop(0)

    async def connect(self) -> None:
        await self.send(Request(host="localhost", target="/ws"))
        assert isinstance(await self.next_event(), AcceptConnection)


@pytest.fixture
def pinging(app: App, sink: list[tuple[int | None, str | None]]) -> App:
    app.config["WEBSOCKET_PING_INTERVAL"] = 10
    app.config["WEBSOCKET_PING_TIMEOUT"] = 5
    return app


async def test_a_client_that_answers_pings_stays_connected(
    pinging: App, sink: list[tuple[int | None, str | None]], autojump_clock: trio.testing.MockClock
) -> None:
    client_stream, server_stream = trio.testing.memory_stream_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve_stream, pinging, server_stream)
        client = WsprotoClient(client_stream)
        with trio.fail_after(100):
            await client.connect()
            start = trio.current_time()
            for _ in range(5):
                event = await client.next_event()
                assert isinstance(event, Ping)
                await client.send(event.response())
            # Five pings, ten seconds apart, each answered at once.
            assert 50 <= trio.current_time() - start < 51
            await client.send(CloseConnection(code=1000))
            assert isinstance(await client.next_event(), CloseConnection)
            assert await client.next_event() is None
    assert sink == [(1000, "")]


async def test_a_client_that_does_not_answer_is_closed_after_the_timeout(
    pinging: App, sink: list[tuple[int | None, str | None]], autojump_clock: trio.testing.MockClock
) -> None:
    client_stream, server_stream = trio.testing.memory_stream_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve_stream, pinging, server_stream)
        client = WsprotoClient(client_stream)
        with trio.fail_after(100):
            await client.connect()
            start = trio.current_time()
            assert isinstance(await client.next_event(), Ping)  # and no pong
            close = await client.next_event()
            assert isinstance(close, CloseConnection)
            assert (close.code, close.reason) == (1011, "ping timeout")
            assert 15 <= trio.current_time() - start < 16
            await client.send(close.response())
            assert await client.next_event() is None
    assert sink == [(1011, "ping timeout")]


# -- backpressure --------------------------------------------------------------------


@pytest.mark.parametrize("queue_size", [1, 4])
async def test_a_slow_view_stops_the_reader(app: App, queue_size: int) -> None:
    """With a stream that buffers nothing, a client send completes only once the server has read it."""
    app.config["WEBSOCKET_QUEUE_SIZE"] = queue_size
    release, done = trio.Event(), trio.Event()
    messages = [bytes([n]) * 1000 for n in range(20)]
    received: list[str | bytes] = []

    @app.websocket("/ws")
    async def slow() -> None:
        await websocket.accept()
        await release.wait()
        while len(received) < len(messages):
            received.append(await websocket.receive())
        done.set()
        await trio.sleep_forever()

    client_stream, server_stream = trio.testing.lockstep_stream_pair()
    sent = 0
    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve_stream, app, server_stream)
        connection = await wrap_client_stream(nursery, client_stream, "localhost", "/ws")  # type: ignore[arg-type]

        async def send_all_messages() -> None:
            nonlocal sent
            for message in messages:
                await connection.send_message(message)
                sent += 1

        nursery.start_soon(send_all_messages)
        await trio.testing.wait_all_tasks_blocked()
        # The queue is full and the reader holds one more message, waiting for room.
        assert sent == queue_size + 1
        release.set()
        with trio.fail_after(5):
            await done.wait()
        await connection.aclose()
    assert received == messages
