"""``Subscriber.forward(websocket)``: a channel's messages to a websocket, written without a task per message.

On the native server over plain TCP the frames are written from the task
that delivers them; on Hypercorn and through the test client the view's
task sends them. Each test runs where the difference could show: the same
messages, in order, whole, and the same gaps and ends.
"""

from __future__ import annotations

import functools
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio
import trio.lowlevel
import trustme
from trio_websocket import ConnectionClosed, WebSocketConnection, open_websocket_url

from tests.conftest import BINARY, TEXT, open_raw_websocket, read_server_frames, running
from trioweb import App, serve, websocket
from trioweb.broadcast import Broadcast, Message
from trioweb.testing import WebsocketDisconnectError

BIG = 512 * 1024  # several of these fill a loopback socket's buffers: the writes are taken in part


def forward_app(broadcast: Broadcast) -> App:
    """``/feed/<channel>`` says "ready", forwards, and reports each gap as "gap <lost> <reason>"."""
    app = App(__name__)
    app.config["WEBSOCKET_MAX_MESSAGE_SIZE"] = 2 * BIG
    broadcast.init_app(app)
    app.config["ENDED"] = []
    app.config["VIEW_DONE"] = trio.Event()

    @app.websocket("/feed/<channel>")
    async def feed(channel: str) -> None:
        binary = websocket.args.get("binary") is not None
        try:
            async with broadcast.subscribe(channel) as subscriber:
                await websocket.send("ready")
                while (gap := await subscriber.forward(websocket, binary=binary)) is not None:
                    await websocket.send(f"gap {gap.lost} {gap.reason}")
                app.config["ENDED"].append("returned")
        except trio.Cancelled:
            app.config["ENDED"].append("cancelled")
            raise
        finally:
            app.config["VIEW_DONE"].set()

    return app


def deliver(broadcast: Broadcast, channel: str, *payloads: bytes) -> None:
    """What a backend's listener does: hand messages to the fan-out, with no checkpoint between them."""
    for payload in payloads:
        broadcast._hub.deliver(Message(channel, payload))


@asynccontextmanager
async def socket_client(address: str, path: str) -> AsyncIterator[WebSocketConnection]:
    async with open_websocket_url(f"ws://{address}{path}", max_message_size=4 * BIG) as ws:
        assert await ws.get_message() == "ready"
        yield ws


@pytest.mark.parametrize("kind", ["native", "hypercorn"])
@pytest.mark.parametrize("binary", [False, True])
async def test_every_message_arrives_in_order_as_text_or_bytes(kind: str, binary: bool) -> None:
    broadcast = Broadcast("memory://", buffer=1000)
    app = forward_app(broadcast)
    path = "/feed/c?binary=1" if binary else "/feed/c"
    async with running(app, kind) as server, socket_client(server.address, path) as ws:
        with trio.fail_after(10):
            for n in range(300):
                await broadcast.publish("c", f"m{n} é")
            received = [await ws.get_message() for _ in range(300)]
    wanted = [f"m{n} é" for n in range(300)]
    assert received == ([text.encode() for text in wanted] if binary else wanted)


async def test_the_test_client_gets_the_same_messages() -> None:
    broadcast = Broadcast("memory://", buffer=1000)
    app = forward_app(broadcast)
    async with app.test_app() as test_app, test_app.test_client().websocket("/feed/c?binary=1") as ws:
        assert await ws.receive(timeout=5) == "ready"
        for n in range(50):
            await broadcast.publish("c", f"m{n}")
        assert [await ws.receive(timeout=5) for _ in range(50)] == [f"m{n}".encode() for n in range(50)]


async def test_on_the_native_server_a_delivered_message_is_written_at_once() -> None:
    """Delivered with no checkpoint between: the view's task never runs, yet nothing is buffered or lost."""
    broadcast = Broadcast("memory://", buffer=2)
    app = forward_app(broadcast)
    async with running(app, "native") as server, socket_client(server.address, "/feed/c") as ws:
        deliver(broadcast, "c", *(f"m{n}".encode() for n in range(50)))
        with trio.fail_after(10):
            assert [await ws.get_message() for _ in range(50)] == [f"m{n}" for n in range(50)]


async def test_through_the_test_client_the_same_burst_overflows_the_buffer() -> None:
    """The contrast to the test above: there the view's task sends, so the buffer of 2 keeps the last 2."""
    broadcast = Broadcast("memory://", buffer=2)
    app = forward_app(broadcast)
    async with app.test_app() as test_app, test_app.test_client().websocket("/feed/c") as ws:
        assert await ws.receive(timeout=5) == "ready"
        deliver(broadcast, "c", *(f"m{n}".encode() for n in range(50)))
        assert [await ws.receive(timeout=5) for _ in range(3)] == ["gap 48 overflow", "m48", "m49"]


async def test_frames_the_socket_takes_in_part_arrive_whole_and_in_order() -> None:
    """More than a loopback socket holds, the client not reading: a frame cut by a full socket is finished first."""
    broadcast = Broadcast("memory://", buffer=100)
    app = forward_app(broadcast)
    payloads = [bytes([65 + n % 26]) * BIG for n in range(40)]  # 20 MiB
    async with running(app, "native") as server, socket_client(server.address, "/feed/c?binary=1") as ws:
        deliver(broadcast, "c", *payloads)
        with trio.fail_after(20):
            received = [await ws.get_message() for _ in payloads]
    assert received == payloads


async def test_the_rest_of_a_last_frame_taken_in_part_is_written_without_waiting_for_another() -> None:
    broadcast = Broadcast("memory://")
    app = forward_app(broadcast)
    huge = b"h" * (32 * BIG)  # 16 MiB: more than the socket takes at once
    async with (
        running(app, "native") as server,
        open_websocket_url(f"ws://{server.address}/feed/c?binary=1", max_message_size=len(huge)) as ws,
    ):
        assert await ws.get_message() == "ready"
        deliver(broadcast, "c", huge)
        with trio.fail_after(20):
            assert await ws.get_message() == huge


async def test_a_frame_another_task_of_the_view_is_sending_is_never_cut_into() -> None:
    """The view sends 8 MiB while the socket takes it bit by bit; messages delivered meanwhile go out after it."""
    broadcast = Broadcast("memory://")
    app = App(__name__)
    broadcast.init_app(app)
    big = b"b" * (16 * BIG)

    @app.websocket("/ws")
    async def chatty() -> None:
        async with broadcast.subscribe("c") as subscriber, trio.open_nursery() as nursery:
            await websocket.send("ready")
            nursery.start_soon(websocket.send, big)
            await subscriber.forward(websocket)

    async with running(app, "native") as server:
        stream, received = await open_raw_websocket(server.address)
        with trio.fail_after(20):
            count = 0
            while len(received) < len(big):
                received += await stream.receive_some(65536)
                if len(received) > 20:  # past "ready": the other task is in mid-frame
                    deliver(broadcast, "c", f"fwd {count}".encode())  # at once: the socket may have room now
                    count += 1
            frames = await read_server_frames(stream, received, 2 + count)
        await stream.aclose()
    assert frames == [(TEXT, b"ready"), (BINARY, big)] + [(TEXT, f"fwd {n}".encode()) for n in range(count)]


@pytest.mark.parametrize("kind", ["native", "hypercorn"])
async def test_a_subscriber_too_slow_for_its_buffer_gets_the_gap_and_then_the_newest(kind: str) -> None:
    broadcast = Broadcast("memory://", buffer=4)
    app = forward_app(broadcast)
    payloads = [f"{n:03} ".encode() + b"x" * BIG for n in range(60)]
    async with running(app, kind) as server, socket_client(server.address, "/feed/c") as ws:
        for payload in payloads:  # the client reads nothing meanwhile
            deliver(broadcast, "c", payload)
            await trio.lowlevel.checkpoint()
        received: list[str] = []
        with trio.fail_after(20):
            while not received or received[-1][:3] != "059":
                received.append(str(await ws.get_message()))
    gaps = [message for message in received if message.startswith("gap")]
    numbers = [int(message[:3]) for message in received if not message.startswith("gap")]
    assert gaps and all(gap.endswith(" overflow") for gap in gaps)
    assert numbers == sorted(numbers) and numbers[-1] == 59
    assert len(numbers) + sum(int(gap.split()[1]) for gap in gaps) == 60  # each one delivered or counted


@pytest.mark.parametrize("kind", ["native", "hypercorn"])
async def test_a_client_that_leaves_cancels_the_view_and_unsubscribes(kind: str) -> None:
    broadcast = Broadcast("memory://")
    app = forward_app(broadcast)
    async with running(app, kind) as server:
        async with socket_client(server.address, "/feed/c") as ws:
            await broadcast.publish("c", "one")
            assert await ws.get_message() == "one"
        with trio.fail_after(10):
            await app.config["VIEW_DONE"].wait()
        assert not broadcast._hub.subscribers
        deliver(broadcast, "c", b"after")  # nobody left to write to
    assert app.config["ENDED"] == ["cancelled"]


@pytest.mark.parametrize("kind", ["native", "hypercorn"])
async def test_forward_returns_when_the_broadcast_disconnects(kind: str) -> None:
    broadcast = Broadcast("memory://")
    app = forward_app(broadcast)
    async with running(app, kind) as server, socket_client(server.address, "/feed/c") as ws:
        await broadcast.disconnect()
        with trio.fail_after(10), pytest.raises(ConnectionClosed) as closed:
            await ws.get_message()
    assert closed.value.reason is not None and closed.value.reason.code == 1000
    assert app.config["ENDED"] == ["returned"]


@pytest.mark.parametrize("kind", ["native", "hypercorn"])
async def test_bytes_that_are_not_utf8_fail_the_view_when_sent_as_text(kind: str) -> None:
    broadcast = Broadcast("memory://")
    app = forward_app(broadcast)
    async with running(app, kind) as server, socket_client(server.address, "/feed/c") as ws:
        deliver(broadcast, "c", b"\xff\xfe")
        with trio.fail_after(10), pytest.raises(ConnectionClosed) as closed:
            await ws.get_message()
    assert (
        closed.value.reason is not None and closed.value.reason.code == 1011
    )  # the view raised UnicodeDecodeError; the client got no bad frame


async def test_forward_accepts_the_websocket_itself() -> None:
    broadcast = Broadcast("memory://")
    app = App(__name__)
    broadcast.init_app(app)

    @app.websocket("/quiet")
    async def quiet() -> None:
        async with broadcast.subscribe("c") as subscriber:
            await subscriber.forward(websocket)

    async with app.test_app() as test_app, test_app.test_client().websocket("/quiet") as ws:
        while not broadcast._hub.subscribers:
            await trio.lowlevel.checkpoint()
        await broadcast.publish("c", "hi")
        assert await ws.receive(timeout=5) == "hi"
        await broadcast.disconnect()
        with pytest.raises(WebsocketDisconnectError):
            await ws.receive(timeout=5)


async def test_a_frame_left_in_part_by_a_cancelled_forward_is_finished_by_the_views_next_send() -> None:
    """Cancelled before its task could write the rest: the frame stays whole, written before the next one."""
    broadcast = Broadcast("memory://")
    app = App(__name__)
    broadcast.init_app(app)
    huge = b"h" * (32 * BIG)  # more than the socket takes at once
    scopes: list[trio.CancelScope] = []

    @app.websocket("/ws")
    async def stop_then_go_on() -> None:
        async with broadcast.subscribe("c") as subscriber:
            await websocket.send("ready")
            with trio.CancelScope() as scope:
                scopes.append(scope)
                await subscriber.forward(websocket, binary=True)
            await websocket.send(f"stopped: {await websocket.receive()}")

    async with (
        running(app, "native") as server,
        open_websocket_url(f"ws://{server.address}/ws", max_message_size=len(huge)) as ws,
    ):
        assert await ws.get_message() == "ready"
        deliver(broadcast, "c", huge)
        scopes[0].cancel()  # before the view's task has run again
        await ws.send_message("then")
        with trio.fail_after(20):
            assert await ws.get_message() == huge
            assert await ws.get_message() == "stopped: then"


async def test_over_tls_the_view_s_task_sends_and_nothing_is_offered(nursery: trio.Nursery) -> None:
    broadcast = Broadcast("memory://", buffer=2)
    app = App(__name__)
    broadcast.init_app(app)
    writers: list[object] = []

    @app.websocket("/ws")
    async def feed() -> None:
        async with broadcast.subscribe("c") as subscriber:
            await websocket.accept()
            writers.append(websocket.direct_writer())
            await websocket.send("ready")
            while (gap := await subscriber.forward(websocket)) is not None:
                await websocket.send(f"gap {gap.lost}")

    authority = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(server_context)
    client_context = ssl.create_default_context()
    authority.configure_trust(client_context)
    listeners = await nursery.start(functools.partial(serve, app, host="127.0.0.1", port=0, ssl_context=server_context))
    port = listeners[0].transport_listener.socket.getsockname()[1]
    async with open_websocket_url(f"wss://127.0.0.1:{port}/ws", ssl_context=client_context) as ws:
        assert await ws.get_message() == "ready"
        deliver(broadcast, "c", *(f"m{n}".encode() for n in range(5)))  # the view's task sends: 2 fit in its buffer
        with trio.fail_after(10):
            assert [await ws.get_message() for _ in range(3)] == ["gap 3", "m3", "m4"]
    assert writers == [None]


async def test_once_the_session_is_over_nothing_is_written_before_the_close_frame() -> None:
    """A shutdown's 1001 or a ping timeout ends the session before the view is done: no frame may follow."""
    broadcast = Broadcast("memory://")
    app = App(__name__)
    broadcast.init_app(app)

    @app.websocket("/ws")
    async def feed() -> None:
        async with broadcast.subscribe("c") as subscriber, trio.open_nursery() as nursery:
            nursery.start_soon(subscriber.forward, websocket)
            await websocket.send("ready")
            await websocket.receive()  # the client says when
            websocket.end_session(1001, "going away", by="the server")  # as the server's shutdown does
            deliver(broadcast, "c", b"too late")  # before the view's tasks see their cancellation

    async with running(app, "native") as server, socket_client(server.address, "/ws") as ws:
        await ws.send_message("now")
        with trio.fail_after(10), pytest.raises(ConnectionClosed) as closed:
            await ws.get_message()
    assert closed.value.reason is not None and closed.value.reason.code == 1001
