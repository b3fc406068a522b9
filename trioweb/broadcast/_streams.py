"""``redis-stream://``: Redis Streams, so a subscriber can ask for history and resume after an outage.

Each channel is a stream (``trioweb:broadcast:<channel>``) that a publish
appends to with ``XADD ... MAXLEN ~ maxlen``; a message's id is its entry's
id. It reuses the pub/sub backend's publishing (batched in pipelines),
clients and reconnect loop (``RedisBackend.listen``); what differs is the
listener: one ``XREAD BLOCK`` loop per process over every stream with
local subscribers, from the last id it delivered of each, never ``$``
(coredis would silently re-send a ``$`` after a lost connection, and
whatever came in between would be skipped). So a lost connection or a
restarted server costs nothing within the kept history: the reader goes
on from its ids. Only when the stream no longer holds what follows an id
does a subscriber get ``Gap(reason="trimmed")``.

A channel subscribed while the reader blocks must be read promptly: its
position is fixed first (``XREVRANGE``, so nothing published after
``subscribe`` returns is missed), then ``CLIENT UNBLOCK`` (from the
publishing connection) ends the reader's XREAD, which starts again with
the new channel. Cancelling the XREAD in trio instead would leave its reply
on the connection (the next command waited ~50 ms for it, measured). If the
unblock comes just before the XREAD reaches the server, the channel waits
for the end of that BLOCK, which is short (``BLOCK`` seconds) for that.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import coredis
import coredis.exceptions
import trio
from coredis.retry import NoRetryPolicy

from ._base import BroadcastError, Feed, Message, id_key
from ._redis import RedisBackend, describe

logger = logging.getLogger("trioweb.broadcast")

#: Each channel's stream is this key prefix and the channel's name.
PREFIX = "trioweb:broadcast:"
#: Entries kept per stream by default (``?maxlen=``), approximately: Redis trims whole nodes.
DEFAULT_MAXLEN = 1000
#: The longest the reader blocks (seconds), also kept under the client's timeout.
BLOCK = 0.5
#: Entries read per stream per XREAD.
COUNT = 1000
#: The oldest Redis (major version) this backend works with: XINFO STREAM has entries-added since 7.0.
NEEDED = 7
#: The position of a stream that was empty (or missing) when subscribed: everything in it is new.
START = "0-0"


def stream_key(channel: str) -> str:
    return PREFIX + channel


class StreamBackend(RedisBackend):
    """Redis Streams: resumable within the kept history, with a gap notice where that history ran out."""

    keeps_history = True
    outage_note = "the reader resumes from its last id in each stream"

    def __init__(self, url: str, *, timeout: float, keepalive: float) -> None:
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        maxlen = [value for name, value in query if name == "maxlen"]
        rest = [(name, value) for name, value in query if name != "maxlen"]
        try:
            self.maxlen = int(maxlen[-1]) if maxlen else DEFAULT_MAXLEN
        except ValueError:
            self.maxlen = 0
        if self.maxlen < 1:
            raise ValueError(f"maxlen in the broadcast URL must be a positive int (entries kept), not {maxlen[-1]!r}")
        super().__init__(url, timeout=timeout, keepalive=keepalive)
        scheme = "rediss" if parts.scheme == "rediss-stream" else "redis"
        self.client_url = urlunsplit(parts._replace(scheme=scheme, query=urlencode(rest)))
        self.block_ms = max(1, int(min(BLOCK, timeout / 2) * 1000))  # shorter than the client's timeout
        #: Channel -> the id of the last entry the reader handed on (or START), None if not yet known.
        self.positions: dict[str, tuple[str, tuple[int, int]] | None] = {}
        self._changed = trio.Event()
        self._reader_id: int | None = None  # the reader connection's CLIENT ID, while a session runs
        self._unknown: set[str] = set()  # channels subscribed while down: positions to read first

    async def connect(self) -> None:
        self.positions.clear()  # as the channels: the last run's subscriptions ended without a leave
        self._unknown.clear()
        await super().connect()
        version = self._publisher.server_version  # from the connection's HELLO (None if coredis did not check)
        if version is not None and version.major < NEEDED:
            await self.disconnect()
            raise BroadcastError(
                f"Cannot connect the broadcast to {self.name}: redis-stream:// needs Redis {NEEDED}.0 or later "
                f"(XINFO STREAM's entries-added, read to tell a trimmed stream), and the server runs {version}"
            )

    def _publish_retry_policy(self) -> Any:
        # Never retried: a retried XADD whose first try did arrive would append the message twice.
        return NoRetryPolicy()

    async def _write(self, items: list[tuple[str, bytes]]) -> None:
        options: dict[str, Any] = {
            "trim_strategy": coredis.PureToken.MAXLEN,
            "threshold": self.maxlen,
            "trim_operator": coredis.PureToken.APPROXIMATELY,
        }
        if len(items) == 1:
            channel, data = items[0]
            await self._publisher.xadd(stream_key(channel), {"data": data}, **options)
        else:
            async with self._publisher.pipeline(transaction=False) as pipeline:
                for channel, data in items:
                    pipeline.xadd(stream_key(channel), {"data": data}, **options)

    # -- channels ----------------------------------------------------------------

    async def subscribe(self, channel: str) -> None:
        """Fix the channel's position at its newest entry: what is published after this returns is read."""
        async with self._lock:
            self.channels.add(channel)
            self.positions[channel] = None  # not read while its position is read here
            try:
                with trio.fail_after(self.timeout):
                    self.positions[channel] = await self._newest(self._publisher, channel)
                    if self._reader_id is not None:  # its XREAD starts again, with this channel
                        await self._publisher.client_unblock(self._reader_id)
            except (Exception, trio.TooSlowError) as error:
                # Down: the reader fixes it, with a reconnect gap (what came meanwhile is unknown).
                # Only now: a reader going round meanwhile must not take it for one (a needless gap).
                if self.positions.get(channel) is None:
                    self._unknown.add(channel)
                logger.debug("Reading the position of %s on %s failed: %s", channel, self.name, describe(error))
            self._changed.set()

    async def unsubscribe(self, channel: str) -> None:
        async with self._lock:
            self.channels.discard(channel)
            self.positions.pop(channel, None)
            self._unknown.discard(channel)

    async def _newest(self, client: Any, channel: str) -> tuple[str, tuple[int, int]]:
        newest = await client.xrevrange(stream_key(channel), "+", "-", count=1)
        ident = newest[0].identifier.decode() if newest else START
        return ident, id_key(ident)

    # -- history -----------------------------------------------------------------

    async def history(self, channel: str, *, last: int | None, after: str | None) -> tuple[list[Message], bool]:
        key = stream_key(channel)
        try:
            with trio.fail_after(self.timeout):
                if after is None:
                    entries = await self._publisher.xrevrange(key, "+", "-", count=last) if last else ()
                    return [self._message(channel, entry) for entry in reversed(entries)], False
                entries = await self._publisher.xrange(key, f"({after}", "+")
                # Checked after the read: a trim in between can only make a needless gap, never a silent one.
                trimmed, _ = await self._lost_since(self._publisher, key, after)
        except trio.TooSlowError:
            raise BroadcastError(f"Reading the history of {channel!r} on {self.name} timed out") from None
        except Exception as error:
            raise BroadcastError(f"Cannot read the history of {channel!r} on {self.name}: {describe(error)}") from error
        return [self._message(channel, entry) for entry in entries], trimmed

    @staticmethod
    def _message(channel: str, entry: Any) -> Message:
        return Message(channel, entry.field_values.get(b"data", b""), entry.identifier.decode())

    @staticmethod
    async def _lost_since(client: Any, key: str, position: str) -> tuple[bool, str]:
        """Whether the stream may no longer hold every entry after ``position`` (conservative: never a false no).

        And the id to read on from: ``position``, or lower where the stream's
        ids went back below it (gone, or restored from an older copy): the
        entries it gets from now on may have ids below ``position``.
        """
        try:
            info = await client.xinfo_stream(key)
        except coredis.exceptions.ResponseError as error:
            if "no such key" not in str(error):
                raise
            return position != START, START  # gone: trimmed to nothing, or a server that lost its data
        last = info["last-generated-id"].decode()
        if id_key(last) < id_key(position):  # it lost what was seen up to position, and maybe what followed
            return True, last
        first = info["first-entry"]
        if first is None:  # empty, yet entries were added: all trimmed
            return bool(info["entries-added"]) and id_key(last) > id_key(position), position
        if position == START:
            return bool(info["entries-added"] > info["length"]), position
        return id_key(first.identifier.decode()) > id_key(position), position

    # -- the reader --------------------------------------------------------------

    async def _session_run(self, feed: Feed, task_status: trio.TaskStatus[None]) -> None:
        """One reader connection: check each stream's position, then XREAD from them until it is lost."""
        reader = self._subscriber
        await reader.ping()
        try:
            self._reader_id = await reader.client_id()
            await self._read(feed, task_status)
        finally:
            self._reader_id = None

    async def _read(self, feed: Feed, task_status: trio.TaskStatus[None]) -> None:
        reader = self._subscriber
        resumed = self._started
        for channel, position in list(self.positions.items()) if resumed else ():
            if position is None:
                continue
            lost, resume = await self._lost_since(reader, stream_key(channel), position[0])
            if lost:
                feed.gap("trimmed", [channel])
            if resume != position[0] and self.positions.get(channel) is position:
                self.positions[channel] = (resume, id_key(resume))
        self._session_up(task_status)
        deliver = feed.deliver
        positions = self.positions
        whole = min(self.maxlen, COUNT)  # a reply this long for a stream: it may have lost some before
        while True:
            while self._unknown:  # subscribed while down: from now on, and a gap for what came meanwhile
                channel = next(iter(self._unknown))
                newest = await self._newest(reader, channel)
                if channel in self._unknown:
                    self._unknown.discard(channel)
                    positions[channel] = newest
                    feed.gap("reconnect", [channel])
            streams = {stream_key(channel): position[0] for channel, position in positions.items() if position}
            if not streams:
                self._changed = trio.Event()
                with trio.move_on_after(self.keepalive) as idle:
                    await self._changed.wait()
                if idle.cancelled_caught:
                    await reader.ping()  # a dead connection is noticed while idle too
                continue
            reply = await reader.xread(streams, count=COUNT, block=self.block_ms)
            if not reply:
                continue
            for key, entries in reply.items():
                channel = key[len(PREFIX) :].decode()
                position = positions.get(channel)
                if position is None:  # unsubscribed meanwhile
                    continue
                if len(entries) >= whole:
                    # As many entries after the position as the stream keeps: it may have been trimmed past
                    # it before this read (a burst faster than this reader). Fewer prove it was not, since
                    # MAXLEN ~ never leaves fewer than maxlen: no check, no round trip.
                    lost, _ = await self._lost_since(reader, key, position[0])
                    if positions.get(channel) is not position:  # resubscribed meanwhile: from its new position
                        position = positions.get(channel)
                        if position is None:
                            continue
                    elif lost:
                        feed.gap("trimmed", [channel])
                ident, last = position
                for entry in entries:
                    entry_id = entry.identifier.decode()
                    entry_key = id_key(entry_id)
                    if entry_key > last:  # an older XREAD's answer after a resubscribe: not twice
                        ident, last = entry_id, entry_key
                        deliver(Message(channel, entry.field_values.get(b"data", b""), entry_id))
                positions[channel] = (ident, last)
