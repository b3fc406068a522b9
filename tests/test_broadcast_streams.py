"""trioweb.broadcast on redis-stream://: ids, history, resume, and outages that lose nothing within the history.

Each test starts its own ``redis-server`` (tests/redis_server.py) and
breaks it for real: ``CLIENT KILL`` of the reader's connection, a restart
on the same port (with and without persistence). Waits are real but
bounded (``trio.fail_after``).
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Any
from unittest.mock import ANY

import coredis
import pytest
import trio

from tests.redis_server import RedisServer, next_item, redis_server_executable
from trioweb.broadcast import Broadcast, BroadcastError, Gap, Message
from trioweb.broadcast._fanout import Subscriber
from trioweb.broadcast._streams import BLOCK, PREFIX

WAIT = 10


@pytest.fixture
def stream_url(redis_server: RedisServer) -> str:
    return redis_server.url.replace("redis://", "redis-stream://")


async def texts(subscriber: Subscriber, count: int) -> list[str]:
    items = [await next_item(subscriber) for _ in range(count)]
    assert all(isinstance(item, Message) for item in items), items
    return [item.text() for item in items if isinstance(item, Message)]


async def append(admin: coredis.Redis[bytes], channel: str, *texts: str) -> list[str]:
    """XADD as another process's publish would, returning the ids."""
    return [(await admin.xadd(PREFIX + channel, {"data": text})).decode() for text in texts]


async def readers(admin: coredis.Redis[bytes]) -> list[dict[str, object]]:
    return [client for client in await admin.client_list() if client["cmd"] == "xread"]


async def test_a_published_message_arrives_with_its_stream_id(stream_url: str, admin: coredis.Redis[bytes]) -> None:
    async with Broadcast(stream_url) as publishing, Broadcast(stream_url) as subscribing:
        async with subscribing.subscribe("a") as subscriber:
            await publishing.publish("a", "hello")
            await publishing.publish_json("a", {"n": 1})
            first, second = await next_item(subscriber), await next_item(subscriber)
        (entry1, entry2) = await admin.xrange(PREFIX + "a", "-", "+")
    assert first == Message("a", b"hello", entry1.identifier.decode())
    assert isinstance(second, Message) and second.json() == {"n": 1} and second.id == entry2.identifier.decode()


async def test_history_gives_the_last_n_messages_oldest_first_then_the_live_ones(stream_url: str) -> None:
    async with Broadcast(stream_url) as broadcast:
        for n in range(10):
            await broadcast.publish("a", str(n))
        async with broadcast.subscribe("a", history=3) as subscriber:
            await broadcast.publish("a", "live")
            assert await texts(subscriber, 4) == ["7", "8", "9", "live"]
        async with broadcast.subscribe("empty", history=5) as subscriber:
            await broadcast.publish("empty", "first")
            assert await texts(subscriber, 1) == ["first"]


async def test_messages_published_while_the_history_is_read_come_once_and_in_order(stream_url: str) -> None:
    async with Broadcast(stream_url) as broadcast, broadcast.subscribe("a") as watcher:
        for n in range(5):
            await broadcast.publish("a", str(n))
        items = [await next_item(watcher) for _ in range(5)]
        assert [item.text() for item in items if isinstance(item, Message)] == ["0", "1", "2", "3", "4"]
        backend = broadcast.backend
        read_history = backend.history
        during = 0

        async def history_read_late(channel: str, *, last: int | None, after: str | None) -> tuple[list[Message], bool]:
            # Published, and delivered live by the reader, before the history is read: in both.
            nonlocal during
            for _ in range(2):
                await broadcast.publish("a", f"during {during}")
                during += 1
            assert len(await texts(watcher, 2)) == 2
            return await read_history(channel, last=last, after=after)

        backend.history = history_read_late  # type: ignore[method-assign]
        async with broadcast.subscribe("a", history=3) as joined:
            await broadcast.publish("a", "after")
            assert await texts(joined, 4) == ["4", "during 0", "during 1", "after"]
            assert joined.pending == 0
        assert await texts(watcher, 1) == ["after"]
        last_seen = items[4].id
        assert last_seen is not None
        async with broadcast.subscribe("a", after=last_seen) as resumed:
            await broadcast.publish("a", "later")
            assert await texts(resumed, 6) == ["during 0", "during 1", "after", "during 2", "during 3", "later"]
            assert resumed.pending == 0


async def test_after_an_id_gives_what_followed_it_then_the_live_ones(stream_url: str) -> None:
    async with Broadcast(stream_url) as broadcast:
        async with broadcast.subscribe("a") as first:
            for n in range(5):
                await broadcast.publish("a", str(n))
            items = [await next_item(first) for _ in range(5)]
        last_seen = items[1]
        assert isinstance(last_seen, Message) and last_seen.id is not None
        async with broadcast.subscribe("a", after=last_seen.id) as resumed:
            await broadcast.publish("a", "live")
            assert await texts(resumed, 4) == ["2", "3", "4", "live"]


async def test_after_an_id_older_than_the_stream_gives_a_trimmed_gap_then_the_rest(
    redis_server: RedisServer, admin: coredis.Redis[bytes]
) -> None:
    url = redis_server.url.replace("redis://", "redis-stream://") + "?maxlen=10"
    async with Broadcast(url) as broadcast:
        old = (await append(admin, "a", "old"))[0]
        for n in range(300):
            await broadcast.publish("a", str(n))
        kept = await admin.xlen(PREFIX + "a")
        assert 10 <= kept < 300  # MAXLEN ~ trims whole nodes: about maxlen kept
        async with broadcast.subscribe("a", after=old, buffer=500) as resumed:
            assert await next_item(resumed) == Gap("a", None, "trimmed")
            assert await texts(resumed, kept) == [str(n) for n in range(300 - kept, 300)]


async def test_a_killed_reader_connection_loses_nothing_and_sends_no_gap(
    stream_url: str, admin: coredis.Redis[bytes], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="trioweb.broadcast")
    async with Broadcast(stream_url) as broadcast, broadcast.subscribe("a") as a, broadcast.subscribe("b") as b:
        await broadcast.publish("a", "before")
        assert await texts(a, 1) == ["before"]
        (reader,) = await readers(admin)
        async with admin.pipeline(transaction=True) as pipeline:  # published while the reader cannot read
            pipeline.client_kill(identifier=int(reader["id"]))  # type: ignore[call-overload]
            for n in range(3):
                pipeline.xadd(PREFIX + "a", {"data": f"meanwhile {n}"})
            pipeline.xadd(PREFIX + "b", {"data": "meanwhile"})
        await broadcast.publish("a", "after")
        assert await texts(a, 4) == ["meanwhile 0", "meanwhile 1", "meanwhile 2", "after"]
        assert await texts(b, 1) == ["meanwhile"]
        assert a.pending == b.pending == 0
    assert [record.levelname for record in caplog.records] == ["WARNING", "INFO"]  # the outage, once


async def test_a_restarted_server_that_kept_its_data_loses_nothing(tmp_path: Path) -> None:
    server = RedisServer(redis_server_executable(), directory=tmp_path)
    server.start()
    try:
        url = server.url.replace("redis://", "redis-stream://")
        async with Broadcast(url) as broadcast, broadcast.subscribe("a") as a:
            await broadcast.publish("a", "before")
            assert await texts(a, 1) == ["before"]
            async with coredis.Redis.from_url(server.url) as admin:
                (reader,) = await readers(admin)
                async with admin.pipeline(transaction=True) as pipeline:
                    pipeline.client_kill(identifier=int(reader["id"]))  # type: ignore[call-overload]
                    pipeline.xadd(PREFIX + "a", {"data": "before the restart"})
            server.restart()  # the AOF (fsync always) keeps the stream
            async with coredis.Redis.from_url(server.url) as admin:
                await append(admin, "a", "after the restart")
            assert await texts(a, 2) == ["before the restart", "after the restart"]
    finally:
        server.stop()


async def test_a_restarted_server_that_lost_its_data_gives_a_gap_then_the_new_messages(
    redis_server: RedisServer, stream_url: str
) -> None:
    async with Broadcast(stream_url) as broadcast, broadcast.subscribe("a") as a, broadcast.subscribe("b") as b:
        await broadcast.publish("a", "before")
        assert await texts(a, 1) == ["before"]
        redis_server.restart()  # no persistence: the stream is gone
        async with coredis.Redis.from_url(redis_server.url) as admin:
            await append(admin, "a", "after")
        assert await next_item(a) == Gap("a", None, "trimmed")
        assert await texts(a, 1) == ["after"]
        # b had seen nothing: its (empty) stream lost nothing it could have had.
        await broadcast.publish("b", "b after")
        assert await texts(b, 1) == ["b after"]


async def test_publishing_trims_each_stream_to_about_maxlen(
    redis_server: RedisServer, admin: coredis.Redis[bytes]
) -> None:
    url = redis_server.url.replace("redis://", "redis-stream://") + "?maxlen=100"
    async with Broadcast(url) as broadcast:
        for n in range(1000):
            await broadcast.publish("a", str(n))
    assert 100 <= await admin.xlen(PREFIX + "a") < 300


async def test_one_reader_connection_serves_every_subscriber_of_every_channel(
    stream_url: str, admin: coredis.Redis[bytes]
) -> None:
    async with Broadcast(stream_url) as broadcast:
        ready = 0
        all_ready, done = trio.Event(), trio.Event()
        received = 0
        all_received = trio.Event()

        async def subscriber(channel: str) -> None:
            nonlocal ready, received
            async with broadcast.subscribe(channel) as subscription:
                ready += 1
                if ready == 100:
                    all_ready.set()
                await next_item(subscription)
                received += 1
                if received == 100:
                    all_received.set()
                await done.wait()

        async with trio.open_nursery() as nursery:
            for n in range(100):
                nursery.start_soon(subscriber, f"room-{n % 10}")
            with trio.fail_after(WAIT):
                await all_ready.wait()
            for n in range(10):
                await broadcast.publish(f"room-{n}", "hi")
            with trio.fail_after(WAIT):
                await all_received.wait()
            assert len(await readers(admin)) == 1
            done.set()


async def test_a_slow_subscriber_gets_an_overflow_gap_and_the_latest_messages(
    stream_url: str, admin: coredis.Redis[bytes]
) -> None:
    async with (
        Broadcast(stream_url, buffer=10) as broadcast,
        broadcast.subscribe("c") as slow,
        broadcast.subscribe("c", buffer=2000) as fast,
    ):
        async with admin.pipeline(transaction=False) as pipeline:
            for n in range(1000):
                pipeline.xadd(PREFIX + "c", {"data": str(n)})
        assert await texts(fast, 1000) == [str(n) for n in range(1000)]
        assert slow.pending == 10
        assert await next_item(slow) == Gap("c", 990, "overflow")
        assert await texts(slow, 10) == [str(n) for n in range(990, 1000)]


@pytest.mark.parametrize("keyword", [{"history": 5}, {"after": "1-0"}])
async def test_history_on_memory_is_a_clear_error(keyword: dict[str, object]) -> None:
    async with Broadcast("memory://") as broadcast:
        with pytest.raises(ValueError, match="needs a redis-stream:// URL"):
            broadcast.subscribe("a", **keyword)  # type: ignore[arg-type]


async def test_bad_history_arguments_say_what_to_do(stream_url: str) -> None:
    broadcast = Broadcast(stream_url, buffer=10)
    with pytest.raises(ValueError, match="not a stream id"):
        broadcast.subscribe("a", after="yesterday")
    with pytest.raises(ValueError, match="raise buffer= to ask for more"):
        broadcast.subscribe("a", history=11)
    with pytest.raises(ValueError, match="not both"):
        broadcast.subscribe("a", history=1, after="1-0")
    with pytest.raises(ValueError, match="maxlen in the broadcast URL must be a positive int"):
        Broadcast(stream_url + "?maxlen=lots")


async def test_a_channel_subscribed_while_the_reader_blocks_is_read_at_once(stream_url: str) -> None:
    async with Broadcast(stream_url) as broadcast, broadcast.subscribe("busy") as busy:
        await broadcast.publish("busy", "x")
        await next_item(busy)  # the reader is back in its XREAD BLOCK, on "busy" only
        for n in range(5):
            async with broadcast.subscribe(f"new {n}") as subscriber:
                started = trio.current_time()
                await broadcast.publish(f"new {n}", "first")
                assert await texts(subscriber, 1) == ["first"]
                assert trio.current_time() - started < BLOCK / 2  # CLIENT UNBLOCK, not the end of the BLOCK


async def test_a_channel_subscribed_while_the_server_is_down_gets_a_reconnect_gap_then_messages(
    redis_server: RedisServer, stream_url: str
) -> None:
    async with Broadcast(stream_url, timeout=0.5) as broadcast:
        redis_server.stop()
        async with broadcast.subscribe("a") as a:  # its position cannot be read: fixed on the reconnect
            redis_server.start()
            assert await next_item(a) == Gap("a", None, "reconnect")
            await broadcast.publish("a", "after")
            assert await texts(a, 1) == ["after"]


def test_a_rediss_stream_url_gives_coredis_a_rediss_url_without_the_maxlen() -> None:
    backend = Broadcast("rediss-stream://user:secret@example.com:6380/2?maxlen=50").backend
    assert backend.client_url == "rediss://user:secret@example.com:6380/2"  # type: ignore[attr-defined]
    assert backend.maxlen == 50  # type: ignore[attr-defined]
    assert "secret" not in backend.name  # type: ignore[attr-defined]


async def test_a_channel_subscribed_while_the_reader_goes_round_gets_no_gap(
    stream_url: str, admin: coredis.Redis[bytes]
) -> None:
    # The reader comes round its loop (a message on another channel) while a subscribe reads the
    # new channel's position, with the server up: not a channel subscribed while it was down.
    async with Broadcast(stream_url) as broadcast, broadcast.subscribe("busy") as busy:
        backend: Any = broadcast.backend
        reader, newest, xread = backend._subscriber, backend._newest, backend._subscriber.xread
        next_xread = trio.Event()

        async def xread_seen(*args: Any, **kwargs: Any) -> Any:
            next_xread.set()
            return await xread(*args, **kwargs)

        async def newest_while_the_reader_loops(client: Any, channel: str) -> Any:
            nonlocal next_xread
            if client is not reader and channel != "busy":
                next_xread = trio.Event()
                await admin.xadd(PREFIX + "busy", {"data": "x"})
                await next_item(busy)
                with trio.fail_after(WAIT):
                    await next_xread.wait()  # the reader went round, and is back in its XREAD
            return await newest(client, channel)

        reader.xread = xread_seen
        backend._newest = newest_while_the_reader_loops
        async with broadcast.subscribe("new") as subscriber:
            await broadcast.publish("new", "first")
            assert await next_item(subscriber) == Message("new", b"first", ANY)


async def test_a_server_back_with_less_than_the_reader_saw_gives_a_gap_and_its_new_entries(
    stream_url: str, admin: coredis.Redis[bytes]
) -> None:
    # As a server restored from an older copy (an AOF that lost its last second, a replica that
    # lagged) on a host whose clock is behind: the stream's ids go back below the reader's position.
    async with Broadcast(stream_url) as broadcast, broadcast.subscribe("a") as a:
        await admin.xadd(PREFIX + "a", {"data": "kept"}, identifier="1000-0")
        await admin.xadd(PREFIX + "a", {"data": "seen"}, identifier="2000-0")
        assert await texts(a, 2) == ["kept", "seen"]
        (reader,) = await readers(admin)
        async with admin.pipeline(transaction=True) as pipeline:
            pipeline.client_kill(identifier=int(reader["id"]))  # type: ignore[call-overload]
            pipeline.xadd(PREFIX + "a", {"data": "unseen"}, identifier="3000-0")  # appended, then lost
            pipeline.delete([PREFIX + "a"])
            pipeline.xadd(PREFIX + "a", {"data": "kept"}, identifier="1000-0")
        assert await next_item(a) == Gap("a", None, "trimmed")  # "unseen" is gone
        await admin.xadd(PREFIX + "a", {"data": "new"}, identifier="1500-0")
        assert await next_item(a) == Message("a", b"new", "1500-0")  # not skipped for being below "2000-0"
        await broadcast.publish("a", "later")
        assert await texts(a, 1) == ["later"]


async def test_after_an_id_the_stream_no_longer_reaches_gives_a_trimmed_gap(
    stream_url: str, admin: coredis.Redis[bytes]
) -> None:
    # The page saw "2000-0" before the server lost it (and maybe more): the stream now ends before it.
    await admin.xadd(PREFIX + "a", {"data": "kept"}, identifier="1000-0")
    async with Broadcast(stream_url) as broadcast, broadcast.subscribe("a", after="2000-0") as resumed:
        assert await next_item(resumed) == Gap("a", None, "trimmed")
        await broadcast.publish("a", "live")
        assert await texts(resumed, 1) == ["live"]


async def test_after_an_old_id_with_more_kept_than_the_buffer_still_says_trimmed(
    stream_url: str, admin: coredis.Redis[bytes]
) -> None:
    ids = await append(admin, "a", *(str(n) for n in range(20)))
    await admin.xtrim(PREFIX + "a", coredis.PureToken.MAXLEN, 15)  # 0 to 4 are gone
    async with Broadcast(stream_url) as broadcast, broadcast.subscribe("a", after=ids[0], buffer=5) as resumed:
        # The notice is the oldest item when the history overflows the buffer: its reason stays.
        assert await next_item(resumed) == Gap("a", None, "trimmed")
        assert await texts(resumed, 5) == [str(n) for n in range(15, 20)]


async def test_a_server_older_than_redis_7_is_an_error_at_startup_that_says_so(nursery: trio.Nursery) -> None:
    # A stand-in for Redis 6.2, which has Streams but not XINFO STREAM's entries-added (7.0) that
    # the gap checks read: the first reconnect would otherwise fail every subscriber for good.
    async def old_redis(stream: trio.SocketStream) -> None:
        received = b""
        while chunk := await stream.receive_some(65536):
            received += chunk
            while b"\r\n" in received:  # each command is *N then N bulk strings: answered by its name
                count, _, rest = received.partition(b"\r\n")
                parts = rest.split(b"\r\n")
                if not count.startswith(b"*") or len(parts) < 2 * int(count[1:]):
                    break
                name, received = parts[1].upper(), b"\r\n".join(parts[2 * int(count[1:]) :])
                if name == b"HELLO":
                    fields = {b"server": b"+redis", b"version": b"+6.2.14", b"proto": b":3", b"id": b":7"}
                    fields |= {b"mode": b"+standalone", b"role": b"+master", b"modules": b"*0"}
                    reply = b"%%%d\r\n" % len(fields) + b"".join(b"+%s\r\n%s\r\n" % item for item in fields.items())
                else:
                    reply = {b"PING": b"+PONG\r\n", b"CLIENT": b":7\r\n"}.get(name, b"+OK\r\n")
                await stream.send_all(reply)

    (listener,) = await nursery.start(functools.partial(trio.serve_tcp, old_redis, 0, host="127.0.0.1"))
    port = listener.socket.getsockname()[1]
    with pytest.raises(BroadcastError, match=r"needs Redis 7\.0 or later.* runs 6\.2\.14"):
        async with Broadcast(f"redis-stream://127.0.0.1:{port}/0"):
            pass


async def test_entries_trimmed_before_the_reader_read_them_give_a_trimmed_gap(
    redis_server: RedisServer, admin: coredis.Redis[bytes]
) -> None:
    url = redis_server.url.replace("redis://", "redis-stream://") + "?maxlen=10"
    async with Broadcast(url) as broadcast, broadcast.subscribe("a", buffer=500) as a:
        await broadcast.publish("a", "seen")
        assert await texts(a, 1) == ["seen"]
        # Another process's burst, faster than this reader reads (here: all at once, in a MULTI).
        async with admin.pipeline(transaction=True) as pipeline:
            for n in range(300):
                pipeline.xadd(
                    PREFIX + "a",
                    {"data": str(n)},
                    trim_strategy=coredis.PureToken.MAXLEN,
                    threshold=10,
                    trim_operator=coredis.PureToken.APPROXIMATELY,
                )
        kept = await admin.xlen(PREFIX + "a")
        assert kept < 300
        assert await next_item(a) == Gap("a", None, "trimmed")
        assert await texts(a, kept) == [str(n) for n in range(300 - kept, 300)]
        await broadcast.publish("a", "later")  # no gap: the stream holds what followed
        assert await texts(a, 1) == ["later"]


async def test_a_broadcast_connected_again_reads_none_of_the_channels_of_its_last_run(stream_url: str) -> None:
    broadcast = Broadcast(stream_url, timeout=0.5)
    async with broadcast, broadcast.subscribe("old") as old:
        await broadcast.disconnect()  # its subscriptions end without a leave
        with pytest.raises(StopAsyncIteration):
            await old.__anext__()
    async with broadcast:
        # Nobody here subscribes "old" now: the reader must not XREAD it (for ever, delivering to nobody).
        assert broadcast.backend.positions == {}  # type: ignore[attr-defined]


async def test_a_message_the_history_has_and_the_reader_delivers_later_comes_once(
    stream_url: str, admin: coredis.Redis[bytes]
) -> None:
    async with Broadcast(stream_url) as broadcast:
        for n in range(5):
            await broadcast.publish("a", str(n))
        backend: Any = broadcast.backend
        xread, read_history = backend._subscriber.xread, backend.history
        released = trio.Event()

        async def xread_late(*args: Any, **kwargs: Any) -> Any:
            reply = await xread(*args, **kwargs)
            if reply:
                await released.wait()  # the reader is slower than the history read
            return reply

        async def history_with_one_more(channel: str, *, last: int | None, after: str | None) -> Any:
            await admin.xadd(PREFIX + "a", {"data": "during"})  # in the history, and read by the reader
            history = await read_history(channel, last=last, after=after)
            released.set()
            return history

        backend._subscriber.xread = xread_late
        backend.history = history_with_one_more
        async with broadcast.subscribe("a", history=3) as joined:
            await broadcast.publish("a", "after")
            assert await texts(joined, 4) == ["3", "4", "during", "after"]


async def test_after_an_id_past_the_streams_end_still_gives_the_new_entries_below_it(
    stream_url: str, admin: coredis.Redis[bytes]
) -> None:
    # The server lost "2000-0" and more, and its clock is behind: new entries have lower ids.
    await admin.xadd(PREFIX + "a", {"data": "kept"}, identifier="1000-0")
    async with Broadcast(stream_url) as broadcast, broadcast.subscribe("a", after="2000-0") as resumed:
        assert await next_item(resumed) == Gap("a", None, "trimmed")
        await admin.xadd(PREFIX + "a", {"data": "new"}, identifier="1500-0")
        assert await next_item(resumed) == Message("a", b"new", "1500-0")
