"""trioweb.broadcast on a real redis-server: pub/sub, reference counts, one connection, slow consumers, faults.

Each test starts its own ``redis-server`` (tests/redis_server.py) and
breaks it for real: ``CLIENT KILL TYPE pubsub``, a restart on the same
port, a stopped process. Waits are real but bounded (``trio.fail_after``).
"""

from __future__ import annotations

import itertools
import logging

import coredis
import pytest
import trio
import trio.testing

import tests.redis_server as redis_server_module
from tests.redis_server import RedisServer, free_port, next_item
from tests.test_broadcast import forwarding_app
from trioweb.broadcast import Broadcast, BroadcastError, Gap, Message, _redis

WAIT = 10


async def pubsub_clients(admin: coredis.Redis[bytes]) -> int:
    return len(await admin.client_list(type_=coredis.PureToken.PUBSUB))


async def test_a_message_published_in_one_app_reaches_websockets_of_another(redis_server: RedisServer) -> None:
    # Two apps with a broadcast each on one URL: as two worker processes would be.
    publisher_app = forwarding_app(Broadcast(redis_server.url))
    subscriber_app = forwarding_app(Broadcast(redis_server.url))
    async with publisher_app.test_app() as publishing, subscriber_app.test_app() as subscribing:
        client = subscribing.test_client()
        async with client.websocket("/rooms/a") as first, client.websocket("/rooms/a") as second:
            for ws in (first, second):
                assert await ws.receive(timeout=WAIT) == "ready"
            assert (await publishing.test_client().post("/rooms/a", data="hello")).status_code == 200
            assert await first.receive(timeout=WAIT) == "hello"
            assert await second.receive(timeout=WAIT) == "hello"


async def test_channels_are_reference_counted_on_the_broker(
    redis_server: RedisServer, admin: coredis.Redis[bytes]
) -> None:
    async with Broadcast(redis_server.url) as broadcast:
        assert await admin.pubsub_channels() == set()
        async with broadcast.subscribe("a"), broadcast.subscribe("a"), broadcast.subscribe("b"):
            assert await admin.pubsub_channels() == {b"a", b"b"}
            assert await admin.pubsub_numsub("a", "b") == {b"a": 1, b"b": 1}
            async with broadcast.subscribe("b") as subscriber:
                assert await admin.pubsub_numsub("b") == {b"b": 1}
                await broadcast.publish_json("b", {"n": 1})
                item = await next_item(subscriber)
                assert isinstance(item, Message) and item.json() == {"n": 1}
        assert await admin.pubsub_channels() == set()


async def test_one_pub_sub_connection_serves_every_subscriber(
    redis_server: RedisServer, admin: coredis.Redis[bytes]
) -> None:
    async with Broadcast(redis_server.url) as broadcast:
        ready = 0
        all_ready, done = trio.Event(), trio.Event()

        async def subscriber(channel: str) -> None:
            nonlocal ready
            async with broadcast.subscribe(channel):
                ready += 1
                if ready == 100:
                    all_ready.set()
                await done.wait()

        async with trio.open_nursery() as nursery:
            for n in range(100):  # more than coredis's pool of 64 would allow one connection each
                nursery.start_soon(subscriber, f"room-{n % 10}")
            with trio.fail_after(WAIT):
                await all_ready.wait()
            assert await pubsub_clients(admin) == 1
            assert len(await admin.pubsub_channels()) == 10
            done.set()


async def test_a_slow_subscriber_is_bounded_and_the_connection_is_read_promptly(
    redis_server: RedisServer, admin: coredis.Redis[bytes]
) -> None:
    async with (
        Broadcast(redis_server.url, buffer=10) as broadcast,
        broadcast.subscribe("c") as slow,
        broadcast.subscribe("c", buffer=2000) as fast,
    ):
        async with admin.pipeline(transaction=False) as pipeline:
            for n in range(1000):
                pipeline.publish("c", str(n))
        for n in range(1000):
            item = await next_item(fast)
            assert isinstance(item, Message) and item.text() == str(n)
        assert slow.pending == 10
        (client,) = await admin.client_list(type_=coredis.PureToken.PUBSUB)
        assert client["omem"] == 0  # nothing queued on the server for this process
        assert await next_item(slow) == Gap("c", 990, "overflow")
        assert [(await next_item(slow)).text() for _ in range(10)] == [str(n) for n in range(990, 1000)]  # type: ignore[union-attr]


async def test_a_killed_pub_sub_connection_gives_every_subscriber_a_gap_then_messages_again(
    redis_server: RedisServer, admin: coredis.Redis[bytes], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="trioweb.broadcast")
    async with (
        Broadcast(redis_server.url) as broadcast,
        broadcast.subscribe("a") as a,
        broadcast.subscribe("a") as a2,
        broadcast.subscribe("b") as b,
    ):
        assert await admin.client_kill(type_=coredis.PureToken.PUBSUB) == 1
        for subscriber, channel in ((a, "a"), (a2, "a"), (b, "b")):
            assert await next_item(subscriber) == Gap(channel, None, "reconnect")
        await broadcast.publish("a", "after")
        await broadcast.publish("b", "after")
        for subscriber, channel in ((a, "a"), (a2, "a"), (b, "b")):
            assert await next_item(subscriber) == Message(channel, b"after")
        assert await admin.pubsub_channels() == {b"a", b"b"}
    logged = [(record.levelname, record.getMessage().split(" (")[0].split(" after")[0]) for record in caplog.records]
    assert logged == [  # once per outage, however many subscribers
        ("WARNING", f"Lost the broadcast connection to {redis_server.url}"),
        ("INFO", f"The broadcast connection to {redis_server.url} is back"),
    ]


async def test_a_restarted_server_gives_a_gap_then_messages_again(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="trioweb.broadcast")
    async with (
        Broadcast(redis_server.url) as broadcast,
        broadcast.subscribe("a") as a,
        broadcast.subscribe("b") as b,
    ):
        redis_server.stop()
        await trio.sleep(1)  # down for a while: several reconnects fail, logged once
        redis_server.start()
        assert await next_item(a) == Gap("a", None, "reconnect")
        assert await next_item(b) == Gap("b", None, "reconnect")
        await broadcast.publish("a", "after")
        assert await next_item(a) == Message("a", b"after")
    assert [record.levelname for record in caplog.records] == ["WARNING", "INFO"]


class WarningEvent(logging.Handler):
    """Sets a trio event when a warning is logged: a test waits for the outage to be noticed."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.event = trio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.event.set()


async def test_a_hung_server_is_noticed_by_the_keepalive(redis_server: RedisServer) -> None:
    handler = WarningEvent()
    lost = handler.event
    logging.getLogger("trioweb.broadcast").addHandler(handler)
    async with Broadcast(redis_server.url, timeout=0.5, keepalive=1) as broadcast, broadcast.subscribe("a") as a:
        redis_server.pause()
        try:
            started = trio.current_time()
            with pytest.raises(BroadcastError, match=r"timed out after 0\.5 s"):
                await broadcast.publish("a", "lost")
            assert trio.current_time() - started < 1
            with trio.fail_after(WAIT):
                await lost.wait()
            assert trio.current_time() - started < 4  # keepalive + timeout, and a PING's scheduling
        finally:
            redis_server.resume()
        item = await next_item(a)
        # The publish that timed out may still be delivered once the server runs again.
        if item == Message("a", b"lost"):
            item = await next_item(a)
        assert item == Gap("a", None, "reconnect")


async def test_an_unreachable_broker_at_startup_is_a_clear_error_and_the_app_does_not_start() -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    app = forwarding_app(Broadcast(url))
    with trio.fail_after(WAIT), pytest.raises(BroadcastError) as raised:
        async with app.test_app():
            pass
    assert str(raised.value).startswith(f"Cannot connect the broadcast to {url}: ")
    assert app.lifespan is None


async def test_a_password_in_the_url_is_not_in_the_error() -> None:
    url = f"redis://user:secret@127.0.0.1:{free_port()}/0"
    with pytest.raises(BroadcastError) as raised:
        async with Broadcast(url):
            pass
    assert "secret" not in str(raised.value) and "user:***@" in str(raised.value)


async def test_publishing_while_the_broker_is_down_raises_promptly(redis_server: RedisServer) -> None:
    async with Broadcast(redis_server.url, timeout=1) as broadcast:
        redis_server.stop()
        started = trio.current_time()
        with pytest.raises(BroadcastError, match=f"Cannot publish to {redis_server.url}"):
            await broadcast.publish("a", "x")
        assert trio.current_time() - started < 2


async def test_a_listener_that_cannot_reconnect_makes_subscribers_raise(
    redis_server: RedisServer, admin: coredis.Redis[bytes]
) -> None:
    async with (
        Broadcast(redis_server.url) as broadcast,
        broadcast.subscribe("a") as subscriber,
    ):
        await admin.config_set({"requirepass": "changed"})  # the next connection is refused: an auth error
        await admin.client_kill(type_=coredis.PureToken.PUBSUB)
        with trio.fail_after(WAIT), pytest.raises(BroadcastError, match="the broadcast stopped"):
            await subscriber.__anext__()
        with pytest.raises(BroadcastError, match="the broadcast stopped"):
            async with broadcast.subscribe("a"):
                pass


async def test_concurrent_publishes_go_out_in_batches_in_each_task_s_order(
    redis_server: RedisServer, admin: coredis.Redis[bytes]
) -> None:
    async with Broadcast(redis_server.url) as broadcast, broadcast.subscribe("c", buffer=5000) as subscriber:
        backend = broadcast.backend
        sizes: list[int] = []
        send = backend._send  # type: ignore[attr-defined]

        async def counting_send(items: list[tuple[str, bytes]]) -> BroadcastError | None:
            sizes.append(len(items))
            result: BroadcastError | None = await send(items)
            return result

        backend._send = counting_send  # type: ignore[attr-defined]

        async def publisher(task: int) -> None:
            for n in range(20):
                await broadcast.publish("c", f"{task} {n}")

        async with trio.open_nursery() as nursery:
            for task in range(100):
                nursery.start_soon(publisher, task)
        seen: dict[str, list[int]] = {}
        for _ in range(2000):
            item = await next_item(subscriber)
            assert isinstance(item, Message)
            task_name, n = item.text().split()
            seen.setdefault(task_name, []).append(int(n))
        # One connection publishes (one batch on the wire at a time), one subscribes, and the test's own.
        assert len(await admin.client_list(type_=coredis.PureToken.NORMAL)) == 2
        assert await pubsub_clients(admin) == 1
    assert all(numbers == list(range(20)) for numbers in seen.values()) and len(seen) == 100
    assert sum(sizes) == 2000 and max(sizes) > 1  # fewer round trips than publishes


async def test_every_publisher_of_a_failed_batch_gets_the_error(redis_server: RedisServer) -> None:
    async with Broadcast(redis_server.url, timeout=1) as broadcast:
        redis_server.stop()
        errors: list[BroadcastError] = []

        async def publisher() -> None:
            try:
                await broadcast.publish("c", "x")
            except BroadcastError as error:
                errors.append(error)

        with trio.fail_after(5):
            async with trio.open_nursery() as nursery:
                for _ in range(20):
                    nursery.start_soon(publisher)
    assert len(errors) == 20


async def test_a_hung_server_at_startup_is_a_clear_error_in_bounded_time(redis_server: RedisServer) -> None:
    redis_server.pause()  # accepts connections (the kernel does), answers nothing
    try:
        with trio.fail_after(WAIT), pytest.raises(BroadcastError, match="Cannot connect the broadcast to"):
            async with Broadcast(redis_server.url, timeout=0.5):
                pass
    finally:
        redis_server.resume()


async def test_the_listener_reconnects_after_more_outages_than_a_pool_holds(
    redis_server: RedisServer, admin: coredis.Redis[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    # coredis's pool loses the slot of a connection that dies while leased, as the pub/sub's
    # always is: on one client for good, the 64th outage would block the listener forever.
    monkeypatch.setattr(_redis, "FIRST_DELAY", 0.001)
    async with Broadcast(redis_server.url) as broadcast, broadcast.subscribe("a") as a:
        for _ in range(70):
            assert await admin.client_kill(type_=coredis.PureToken.PUBSUB) == 1  # subscribed again before the Gap
            assert await next_item(a) == Gap("a", None, "reconnect")
        await broadcast.publish("a", "after")
        assert await next_item(a) == Message("a", b"after")


async def test_publishing_works_again_after_more_timed_out_batches_than_a_pool_holds(
    redis_server: RedisServer,
) -> None:
    # A pipeline cut short (a batch that timed out on a hung server) breaks its connection, and
    # coredis's pool did not get that slot back: after 64 of them every publish timed out for good.
    async with Broadcast(redis_server.url) as broadcast, broadcast.subscribe("a") as a:
        send = broadcast.backend._send  # type: ignore[attr-defined]
        for _ in range(70):  # 70 short hangs of the server, each during a batch
            assert await send([("a", b"before"), ("a", b"before")]) is None
            redis_server.pause()
            try:
                with trio.move_on_after(0.005):  # as the batch's own deadline would, sooner
                    await send([("a", b"cut short"), ("a", b"cut short")])
            finally:
                redis_server.resume()
        await broadcast.publish("a", "after")
        with trio.fail_after(WAIT):
            while await next_item(a) != Message("a", b"after"):
                pass  # the batches cut short may have been delivered


async def test_a_channel_subscribed_during_an_outage_is_subscribed_once_the_broker_is_back(
    redis_server: RedisServer,
) -> None:
    handler = WarningEvent()
    logging.getLogger("trioweb.broadcast").addHandler(handler)
    try:
        async with Broadcast(redis_server.url) as broadcast:
            redis_server.stop()
            with trio.fail_after(WAIT):
                await handler.event.wait()  # the listener saw the connection go
            async with broadcast.subscribe("late") as late:  # entered at once: it gets a Gap when back
                redis_server.start()
                assert await next_item(late) == Gap("late", None, "reconnect")
                await broadcast.publish("late", "after")
                assert await next_item(late) == Message("late", b"after")
    finally:
        logging.getLogger("trioweb.broadcast").removeHandler(handler)


async def test_a_batch_goes_out_whole_when_a_publisher_in_it_is_cancelled(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # The batching alone, on a broker that takes a second per round trip (no connection needed).
    backend = _redis.RedisBackend("redis://127.0.0.1:1/0", timeout=5, keepalive=5)
    sent: list[list[bytes]] = []

    async def send(items: list[tuple[str, bytes]]) -> BroadcastError | None:
        await trio.sleep(1)
        sent.append([data for _, data in items])
        return BroadcastError("refused") if b"bad" in sent[-1] else None

    backend._send = send  # type: ignore[method-assign]
    outcomes: dict[str, str] = {}

    async def publish(data: str, scope: trio.CancelScope | None = None) -> None:
        try:
            with scope or trio.CancelScope():
                await backend.publish("c", data.encode())
                outcomes[data] = "sent"
                return
            outcomes[data] = "cancelled"
        except BroadcastError as error:
            outcomes[data] = str(error)

    gatherer, joiner = trio.CancelScope(), trio.CancelScope()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(publish, "alone")  # on the wire from 0 to 1
        await trio.sleep(0.1)
        for data, scope in (("gathers", gatherer), ("joins", joiner), ("also joins", None)):
            nursery.start_soon(publish, data, scope)  # the first starts the next batch
            await trio.sleep(0.01)
        gatherer.cancel()
        joiner.cancel()
        await trio.sleep(2)  # the batch is on the wire from 1 to 2
        for data in ("alone again", "bad", "with bad"):  # the last two's batch fails: only they hear it
            nursery.start_soon(publish, data)
            await trio.sleep(0.01)
    assert sent == [[b"alone"], [b"gathers", b"joins", b"also joins"], [b"alone again"], [b"bad", b"with bad"]]
    assert outcomes == {
        "alone": "sent",
        "gathers": "cancelled",  # after its batch went out: the others waited for it
        "joins": "cancelled",
        "also joins": "sent",
        "alone again": "sent",
        "bad": "refused",
        "with bad": "refused",
    }


async def test_the_reconnect_back_off_doubles_to_its_cap_and_starts_again_after_an_outage(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    # The listener's loop alone, on sessions that fail as told (no connection needed).
    backend = _redis.RedisBackend("redis://127.0.0.1:1/0", timeout=5, keepalive=5)
    attempts: list[float] = []
    failing = iter([False, *[True] * 9, False, True, False])  # up, down 9 tries, up, down 1 try, up

    async def session_run(feed: object, task_status: trio.TaskStatus[None]) -> None:
        attempts.append(trio.current_time())
        fails = next(failing, None)
        if fails is None:
            await trio.sleep_forever()
        if fails:
            raise coredis.exceptions.ConnectionError("refused")
        if not backend._started:
            backend._started = True
            task_status.started()
        backend._down_since = None  # back, as a session that subscribed again says
        await trio.sleep(10)
        raise coredis.exceptions.ConnectionError("lost")

    backend._session_run = session_run  # type: ignore[method-assign]
    caplog.set_level(logging.DEBUG, logger="trioweb.broadcast")
    async with trio.open_nursery() as nursery:
        await nursery.start(backend.listen, None)
        await trio.sleep(200)
        nursery.cancel_scope.cancel()
    waits = [round(later - earlier, 3) for earlier, later in itertools.pairwise(attempts)]
    assert waits == [10.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0, 5.0, 5.0, 10.1, 0.2, 10.1]
    warnings = [record for record in caplog.records if record.levelname == "WARNING"]
    assert len(warnings) == 3  # once per outage, not per try


def test_without_redis_server_the_tests_skip_but_fail_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(redis_server_module, "REDIS_SERVER", None)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install redis-server"):
        redis_server_module.redis_server_executable()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must run these tests"):
        redis_server_module.redis_server_executable()


# -- rediss:// ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["rediss", "rediss-stream"])
async def test_rediss_carries_the_broadcast_over_tls(redis_tls_server: RedisServer, scheme: str) -> None:
    url = redis_tls_server.url.replace("rediss://", f"{scheme}://", 1)
    async with Broadcast(url) as one, Broadcast(url) as other, other.subscribe("c") as subscriber:
        await one.publish("c", "over TLS")
        item = await next_item(subscriber)
        assert isinstance(item, Message) and item.text() == "over TLS"


async def test_rediss_to_a_server_whose_certificate_is_not_trusted_is_a_startup_error(
    redis_tls_server: RedisServer,
) -> None:
    untrusting = redis_tls_server.url.partition("?")[0]  # the system's CAs, which never signed the test's
    with pytest.raises(BroadcastError, match=r"Cannot connect the broadcast to rediss://127\.0\.0\.1.*certificate"):
        async with Broadcast(untrusting):
            pass


async def test_plain_redis_to_a_tls_port_is_a_startup_error(redis_tls_server: RedisServer) -> None:
    plain = redis_tls_server.url.replace("rediss://", "redis://", 1).partition("?")[0]
    with pytest.raises(BroadcastError, match=r"Cannot connect the broadcast to redis://127\.0\.0\.1"):
        async with Broadcast(plain, timeout=1):
            pass
