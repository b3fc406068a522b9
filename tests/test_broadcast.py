"""trioweb.broadcast on memory:// and on fake backends: the fan-out, its buffers, reference counts and lifetime.

The real Redis is in tests/test_broadcast_redis.py; here only trio time is
involved, so these run under ``autojump_clock`` where they wait.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import AsyncIterator

import httpx
import pytest
import trio
import trio.testing
from trio_websocket import open_websocket_url

from tests.conftest import running
from tests.test_lifespan import leaves
from trioweb import App, websocket
from trioweb.broadcast import Backend, Broadcast, BroadcastError, Feed, Gap, Message
from trioweb.testing import WebsocketDisconnectError


def forwarding_app(broadcast: Broadcast) -> App:
    """A websocket view that subscribes to its room, says "ready", forwards each item, and closes 1013 on overflow."""
    app = App(__name__)
    broadcast.init_app(app)

    @app.websocket("/rooms/<room>")
    async def room(room: str) -> None:
        await websocket.accept()
        async with broadcast.subscribe(room) as subscriber:
            await websocket.send("ready")
            async for item in subscriber:
                if isinstance(item, Gap):
                    if item.reason == "overflow":
                        await websocket.close(1013, "too slow")
                        return
                    await websocket.send(f"gap {item.reason}")
                else:
                    await websocket.send(item.text())

    @app.post("/rooms/<room>")
    async def post(room: str) -> str:
        from trioweb import request

        await broadcast.publish(room, await request.get_data(as_text=True))
        return "sent"

    return app


async def test_a_message_published_reaches_each_websocket_subscribed_to_its_room() -> None:
    broadcast = Broadcast("memory://")
    app = forwarding_app(broadcast)
    async with app.test_app() as test_app:
        client = test_app.test_client()
        async with (
            client.websocket("/rooms/a") as first,
            client.websocket("/rooms/a") as second,
            client.websocket("/rooms/b") as elsewhere,
        ):
            for ws in (first, second, elsewhere):
                assert await ws.receive(timeout=5) == "ready"
            assert (await client.post("/rooms/a", data="hello")).status_code == 200
            assert await first.receive(timeout=5) == "hello"
            assert await second.receive(timeout=5) == "hello"
            await broadcast.publish("b", "for b")
            assert await elsewhere.receive(timeout=5) == "for b"


@pytest.fixture
def app() -> App:
    """The forwarding app on memory://, which ``live_server`` serves on each server."""
    return forwarding_app(Broadcast("memory://"))


async def test_the_broadcast_connects_and_relays_on_both_servers(app: App, live_server: str) -> None:
    async with (
        open_websocket_url(f"ws://{live_server}/rooms/a") as first,
        open_websocket_url(f"ws://{live_server}/rooms/a") as second,
    ):
        assert (await first.get_message(), await second.get_message()) == ("ready", "ready")
        async with httpx.AsyncClient(base_url=f"http://{live_server}") as client:
            assert (await client.post("/rooms/a", content="over a socket")).status_code == 200
        assert await first.get_message() == "over a socket"
        assert await second.get_message() == "over a socket"


async def test_messages_carry_bytes_and_decode_as_text_or_json() -> None:
    async with Broadcast("memory://") as broadcast, broadcast.subscribe("c") as subscriber:
        await broadcast.publish("c", "héllo")
        await broadcast.publish("c", b"\x00raw")
        await broadcast.publish_json("c", {"n": [1, 2]})
        text, raw, as_json = [await subscriber.__anext__() for _ in range(3)]
    assert isinstance(text, Message) and (text.channel, text.data, text.text()) == ("c", "héllo".encode(), "héllo")
    assert isinstance(raw, Message) and raw.data == b"\x00raw"
    assert isinstance(as_json, Message) and as_json.json() == {"n": [1, 2]}


async def test_a_slow_subscriber_loses_its_oldest_messages_and_is_told_how_many() -> None:
    async with (
        Broadcast("memory://", buffer=3) as broadcast,
        broadcast.subscribe("c") as slow,
        broadcast.subscribe("c", buffer=100) as fast,
    ):
        for n in range(10):
            await broadcast.publish("c", str(n))
        assert slow.pending == 3  # bounded, whatever was published
        items = [await slow.__anext__() for _ in range(4)]
        assert items[0] == Gap("c", 7, "overflow")
        assert [item.text() for item in items[1:] if isinstance(item, Message)] == ["7", "8", "9"]
        assert [(await fast.__anext__()).text() for _ in range(10)] == [str(n) for n in range(10)]  # type: ignore[union-attr]


async def test_a_websocket_view_can_close_1013_on_overflow() -> None:
    broadcast = Broadcast("memory://", buffer=2)
    app = forwarding_app(broadcast)
    async with app.test_app() as test_app, test_app.test_client().websocket("/rooms/a") as ws:
        assert await ws.receive(timeout=5) == "ready"
        for n in range(5):  # no checkpoint between them that lets the view read
            broadcast._hub.deliver(Message("a", str(n).encode()))
        with pytest.raises(WebsocketDisconnectError) as closed:
            await ws.receive(timeout=5)
    assert (closed.value.code, closed.value.reason) == (1013, "too slow")


class RecordingBackend(Backend):
    """memory:// with a trace of the (un)subscribe calls and a slow broker, to look for races."""

    def __init__(self, delay: float = 0.0, fail_connect: bool = False) -> None:
        self.calls: list[tuple[str, str]] = []
        self.channels: set[str] = set()
        self.delay = delay
        self.fail_connect = fail_connect
        self.feed: Feed | None = None

    async def connect(self) -> None:
        await trio.lowlevel.checkpoint()
        if self.fail_connect:
            raise OSError("connection refused")

    async def listen(self, feed: Feed, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        self.feed = feed
        task_status.started()
        await trio.sleep_forever()

    async def disconnect(self) -> None:
        await trio.lowlevel.checkpoint()

    async def publish(self, channel: str, data: bytes) -> None:
        await trio.lowlevel.checkpoint()
        if self.feed is not None and channel in self.channels:
            self.feed.deliver(Message(channel, data))

    async def subscribe(self, channel: str) -> None:
        self.calls.append(("SUBSCRIBE", channel))
        self.channels.add(channel)  # sent: the broker has it, whether or not its answer is awaited
        await trio.sleep(self.delay)

    async def unsubscribe(self, channel: str) -> None:
        self.calls.append(("UNSUBSCRIBE", channel))
        self.channels.discard(channel)
        await trio.sleep(self.delay)


def broadcast_on(backend: Backend) -> Broadcast:
    broadcast = Broadcast("memory://")
    broadcast.backend = broadcast._hub.backend = backend
    return broadcast


async def test_a_channel_is_subscribed_on_the_first_subscriber_and_unsubscribed_after_the_last() -> None:
    backend = RecordingBackend()
    async with broadcast_on(backend) as broadcast:
        async with broadcast.subscribe("c"), broadcast.subscribe("c"):
            async with broadcast.subscribe("c"):
                assert backend.calls == [("SUBSCRIBE", "c")]
            assert backend.channels == {"c"}
        assert backend.calls == [("SUBSCRIBE", "c"), ("UNSUBSCRIBE", "c")]
        assert backend.channels == set()


async def test_one_joining_while_the_last_leaves_stays_subscribed(autojump_clock: trio.testing.MockClock) -> None:
    backend = RecordingBackend(delay=1.0)  # each broker call takes a second: room for the race
    async with broadcast_on(backend) as broadcast:
        received: list[str] = []
        joined = trio.Event()

        async def leaver() -> None:
            async with broadcast.subscribe("c"):
                pass  # leaves at once, its UNSUBSCRIBE in flight while the joiner arrives

        async def joiner() -> None:
            await trio.sleep(1.5)
            async with broadcast.subscribe("c") as subscriber:
                joined.set()
                item = await subscriber.__anext__()
                assert isinstance(item, Message)
                received.append(item.text())

        with trio.fail_after(10):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(leaver)
                nursery.start_soon(joiner)
                await joined.wait()
                await broadcast.publish("c", "still here")
    assert received == ["still here"]
    assert backend.calls == [("SUBSCRIBE", "c"), ("UNSUBSCRIBE", "c"), ("SUBSCRIBE", "c"), ("UNSUBSCRIBE", "c")]


async def test_one_joining_while_the_last_waits_to_leave_stays_subscribed(
    autojump_clock: trio.testing.MockClock,
) -> None:
    backend = RecordingBackend(delay=1.0)
    async with broadcast_on(backend) as broadcast:
        received: list[str] = []
        left, joined = trio.Event(), trio.Event()

        async def other_channel() -> None:  # its SUBSCRIBE holds the broker for a second
            async with broadcast.subscribe("other"):
                await trio.sleep_forever()

        async def leaver() -> None:
            async with broadcast.subscribe("c"):
                await trio.sleep(0.1)  # in at 1.0, out at 1.1, while "other" is being subscribed
            left.set()

        async def joiner() -> None:
            await trio.sleep(1.2)  # "c" is still subscribed: the joiner needs no broker call
            async with broadcast.subscribe("c") as subscriber:
                joined.set()
                item = await subscriber.__anext__()
                assert isinstance(item, Message)
                received.append(item.text())

        with trio.fail_after(10):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(leaver)
                nursery.start_soon(joiner)
                await trio.sleep(1.05)
                nursery.start_soon(other_channel)
                await left.wait()
                await joined.wait()
                await broadcast.publish("c", "still here")
                await trio.sleep(0.1)
                nursery.cancel_scope.cancel()
    assert received == ["still here"]
    assert ("UNSUBSCRIBE", "c") not in backend.calls[:2]


async def test_a_cancelled_subscriber_unsubscribes(autojump_clock: trio.testing.MockClock) -> None:
    backend = RecordingBackend(delay=0.5)
    async with broadcast_on(backend) as broadcast:

        async def listen_forever() -> None:
            async with broadcast.subscribe("c") as subscriber:
                async for _ in subscriber:
                    pass

        with trio.move_on_after(5):
            await listen_forever()
        assert backend.channels == set()
        assert broadcast._hub.subscribers == {}
        with trio.move_on_after(0.25):  # cancelled while its SUBSCRIBE is still in flight
            await listen_forever()
        assert backend.channels == set()
        assert broadcast._hub.subscribers == {}


async def test_a_reconnect_reaches_every_subscriber_after_what_came_before() -> None:
    backend = RecordingBackend()
    async with (
        broadcast_on(backend) as broadcast,
        broadcast.subscribe("a") as a,
        broadcast.subscribe("b", buffer=1) as b,
    ):
        await broadcast.publish("a", "before")
        await broadcast.publish("b", "before")
        assert backend.feed is not None
        backend.feed.gap("reconnect")
        await broadcast.publish("a", "after")
        assert [await a.__anext__() for _ in range(3)] == [
            Message("a", b"before"),
            Gap("a", None, "reconnect"),
            Message("a", b"after"),
        ]
        # b's buffer of one dropped "before" for the notice, then the notice for "after": one
        # notice of a loss of unknown size covers both, then "after".
        await broadcast.publish("b", "after")
        assert [await b.__anext__() for _ in range(2)] == [Gap("b", None, "reconnect"), Message("b", b"after")]
        assert b.pending == 0


async def test_a_listener_that_cannot_go_on_makes_subscribers_raise() -> None:
    backend = RecordingBackend()
    async with (
        broadcast_on(backend) as broadcast,
        broadcast.subscribe("c") as subscriber,
    ):
        assert backend.feed is not None
        backend.feed.fail(RuntimeError("auth failed"))
        with pytest.raises(BroadcastError, match="auth failed"):
            await subscriber.__anext__()
        with pytest.raises(BroadcastError, match="auth failed"):
            await broadcast.publish("c", "x")
        with pytest.raises(BroadcastError, match="auth failed"):
            async with broadcast.subscribe("c"):
                pass


async def test_an_unreachable_broker_stops_the_app_from_starting() -> None:
    broadcast = broadcast_on(RecordingBackend(fail_connect=True))
    app = App(__name__)
    broadcast.init_app(app)
    with pytest.raises(BroadcastError, match=r"Cannot connect the broadcast to memory://: connection refused"):
        async with app.test_app():
            pass
    assert app.lifespan is None


async def test_subscriptions_still_open_end_when_the_broadcast_disconnects() -> None:
    broadcast = Broadcast("memory://")
    await broadcast.connect()
    seen: list[object] = []
    async with broadcast.subscribe("c") as subscriber:
        await broadcast.publish("c", "last")
        await broadcast.disconnect()
        async for item in subscriber:
            seen.append(item)
    assert seen == [Message("c", b"last")]
    await broadcast.connect()  # and it connects again, as a second test_app() would
    async with broadcast.subscribe("c") as subscriber:
        await broadcast.publish("c", "again")
        assert await subscriber.__anext__() == Message("c", b"again")
    await broadcast.disconnect()


async def test_using_it_unconnected_says_what_to_do() -> None:
    broadcast = Broadcast("memory://")
    with pytest.raises(BroadcastError, match=r"init_app\(app\)"):
        await broadcast.publish("c", "x")
    with pytest.raises(BroadcastError, match=r"async with broadcast"):
        async with broadcast.subscribe("c"):
            pass


async def test_bad_arguments_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="unknown scheme 'kafka'"):
        Broadcast("kafka://localhost")
    with pytest.raises(ValueError, match="no scheme"):
        Broadcast("localhost:6379")
    with pytest.raises(ValueError, match="positive int"):
        Broadcast("memory://", buffer=0)
    async with Broadcast("memory://") as broadcast:
        with pytest.raises(TypeError, match="publish_json"):
            await broadcast.publish("c", 42)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="non-empty str"):
            await broadcast.publish("", "x")
        with pytest.raises(ValueError, match="positive int"):
            broadcast.subscribe("c", buffer=-1)


def test_memory_needs_no_coredis_and_redis_without_it_says_what_to_install() -> None:
    code = (
        "import sys; sys.modules['coredis'] = None\n"
        "from trioweb.broadcast import Broadcast, BroadcastError\n"
        "Broadcast('memory://')\n"
        "try:\n    Broadcast('redis://127.0.0.1:6379/0')\n"
        "except BroadcastError as error:\n    print(error)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "pip install trioweb[redis]" in result.stdout, result.stderr


def test_a_message_s_text_is_decoded_once_for_all_its_subscribers() -> None:
    message = Message("c", json.dumps({"a": 1}).encode())
    assert message.text() is message.text()
    assert message.json() == {"a": 1}


async def test_a_backend_can_report_a_gap_on_some_channels_with_a_count() -> None:
    backend = RecordingBackend()
    async with (
        broadcast_on(backend) as broadcast,
        broadcast.subscribe("a") as a,
        broadcast.subscribe("b") as b,
    ):
        assert backend.feed is not None
        backend.feed.gap("overflow", channels=["a"], lost=3)
        await broadcast.publish("a", "next")
        await broadcast.publish("b", "next")
        assert [await a.__anext__() for _ in range(2)] == [Gap("a", 3, "overflow"), Message("a", b"next")]
        assert await b.__anext__() == Message("b", b"next")


async def test_a_later_before_serving_that_fails_leaves_the_broadcast_disconnected() -> None:
    # after_serving does not run when startup fails, so init_app's disconnect alone would leave the
    # connections open and the next start (the next test, a retried test_app()) "already connected".
    broadcast = Broadcast("memory://")
    app = App(__name__)
    broadcast.init_app(app)
    failing = True

    @app.before_serving
    async def database() -> None:
        if failing:
            raise OSError("the database is down")

    with pytest.raises(OSError, match="the database is down"):
        async with app.test_app():
            pass
    with pytest.raises(BroadcastError, match="not connected"):
        await broadcast.publish("c", "x")
    failing = False
    async with app.test_app(), broadcast.subscribe("c") as subscriber:
        await broadcast.publish("c", "served")
        assert await subscriber.__anext__() == Message("c", b"served")


async def test_a_later_while_serving_that_fails_leaves_the_broadcast_disconnected() -> None:
    broadcast = Broadcast("memory://")
    app = App(__name__)
    broadcast.init_app(app)

    @app.while_serving
    async def cache() -> AsyncIterator[None]:
        raise OSError("the cache is down")
        yield

    with pytest.raises(OSError, match="the cache is down"):
        async with app.test_app():
            pass
    with pytest.raises(BroadcastError, match="not connected"):
        await broadcast.publish("c", "x")


def test_a_run_that_ends_connected_does_not_block_the_next_connect() -> None:
    # A test that fails between connect() and disconnect() ends its trio run with the broadcast
    # connected; its connections close with the run, and the next test's connect() works.
    broadcast = Broadcast("memory://")

    async def connect_only() -> None:
        await broadcast.connect()

    async def connect_and_use() -> None:
        async with broadcast, broadcast.subscribe("c") as subscriber:
            await broadcast.publish("c", "next run")
            assert await subscriber.__anext__() == Message("c", b"next run")

    trio.run(connect_only)
    trio.run(connect_and_use)


@pytest.mark.parametrize("kind", ["native", "hypercorn"])
async def test_at_shutdown_subscribers_leave_before_the_broadcast_disconnects(kind: str) -> None:
    backend = RecordingBackend()
    broadcast = broadcast_on(backend)
    app = forwarding_app(broadcast)
    connected_at_the_end: list[bool] = []

    @app.after_serving
    async def check() -> None:
        connected_at_the_end.append(broadcast._connected)

    async with running(app, kind) as server, open_websocket_url(f"ws://{server.address}/rooms/a") as ws:
        assert await ws.get_message() == "ready"
        await broadcast.publish("a", "during")
        assert await ws.get_message() == "during"
        await server.stop()
    assert backend.calls == [("SUBSCRIBE", "a"), ("UNSUBSCRIBE", "a")]
    assert connected_at_the_end == [False]  # init_app's after_serving ran first
    assert ws.closed is not None and ws.closed.code == 1001


@pytest.mark.parametrize("kind", ["native", "hypercorn"])
async def test_an_unreachable_broker_stops_each_server_from_starting(kind: str) -> None:
    app = forwarding_app(broadcast_on(RecordingBackend(fail_connect=True)))
    served = False
    with trio.fail_after(10), pytest.raises(BaseException) as raised:
        async with running(app, kind):
            served = True  # Hypercorn binds before it hears how startup went; the native server does not
            await trio.sleep_forever()
    message = "Cannot connect the broadcast to memory://: connection refused"
    if kind == "native":
        assert not served
        assert type(raised.value) is BroadcastError and str(raised.value) == message
    else:
        assert [str(error) for error in leaves(raised.value)] == [
            f"Lifespan failure in startup. 'trioweb.broadcast._base.BroadcastError: {message}'"
        ]
