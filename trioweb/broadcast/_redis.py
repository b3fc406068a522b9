"""``redis://`` and ``rediss://``: Redis (or Valkey) pub/sub through coredis, which runs on trio through anyio.

Two clients per process: one for publishing, whose pool serves every
handler, and one holding the single pub/sub connection. The pub/sub is
read by one listener task with a ``get_message()`` loop (``async for``
would stop when no channel is subscribed), which hands each message to
the fan-out at once, so coredis's unbounded buffers stay empty.

coredis's own reconnect is off (``NoRetryPolicy``): it resubscribes
silently and loses what was published meanwhile. Here a lost connection
ends the pub/sub session; the listener logs it once, reconnects with a
capped exponential back-off, resubscribes every channel that has local
subscribers and tells each of them with a ``Gap(reason="reconnect")``.
A dead connection is noticed by the keepalive PING (``max_idle_seconds``)
timing out (``stream_timeout``). Anything else the listener cannot handle
(an auth error, a bug) fails the subscribers instead of dying silently.
"""

from __future__ import annotations

import logging
from contextlib import AsyncExitStack
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import anyio
import coredis
import coredis.exceptions
import trio
from coredis.retry import ConstantRetryPolicy, NoRetryPolicy

from ._base import Backend, BroadcastError, Feed, Message

logger = logging.getLogger("trioweb.broadcast")

#: What a lost or dead connection raises (alone or in exception groups, as coredis's task groups do).
CONNECTION_LOST: tuple[type[BaseException], ...] = (
    coredis.exceptions.ConnectionError,
    TimeoutError,
    OSError,
    anyio.BrokenResourceError,
    anyio.EndOfStream,
    anyio.ClosedResourceError,
)

FIRST_DELAY = 0.1
MAX_DELAY = 5.0


def is_connection_lost(error: BaseException) -> bool:
    """Whether ``error`` (possibly a group of groups) is only lost connections, nothing a retry cannot fix."""
    if isinstance(error, BaseExceptionGroup):
        return all(is_connection_lost(inner) for inner in error.exceptions)
    return isinstance(error, CONNECTION_LOST)


def describe(error: BaseException) -> str:
    """The innermost error of a group, as ``Type: message`` (not coredis's task-group wrapping).

    With what caused it, when coredis says only that it could not connect:
    a refused TLS certificate is the cause, not the message.
    """
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    text = f"{type(error).__name__}: {error}"
    cause = error.__cause__
    if cause is not None and not isinstance(cause, BaseExceptionGroup) and str(cause) not in text:
        text += f" ({cause})"
    return text


def safe_url(url: str) -> str:
    """``url`` with its password masked, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rpartition("@")
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[2]}"))


class _Batch:
    """Publishes gathered while the previous batch was on the wire, sent together."""

    __slots__ = ("done", "error", "items")

    def __init__(self) -> None:
        self.items: list[tuple[str, bytes]] = []
        self.done = trio.Event()
        self.error: BroadcastError | None = None


class _Pool(coredis.ConnectionPool):  # type: ignore[type-arg]
    """coredis's pool, getting back the slot of a connection that broke while leased.

    coredis 6.9 puts back a released connection only if it is still usable,
    and nothing in its place otherwise: each pipeline cut short by a
    deadline (a hung server) and each lost pub/sub connection cost a slot
    for good; after 64 of them every publish timed out, or the listener
    blocked for ever in ``pubsub()``.
    """

    def release(self, connection: Any) -> None:
        super().release(connection)
        if not connection.usable and not self._available_connections.full():
            self._available_connections.append_nowait(None)  # None: connect a new one when needed


class RedisBackend(Backend):
    """Redis pub/sub: at-most-once, with a gap notice wherever messages may have been lost."""

    def __init__(self, url: str, *, timeout: float, keepalive: float) -> None:
        self.url = url
        self.name = safe_url(url)
        #: The URL coredis is given (the Streams backend's has its own scheme and query removed).
        self.client_url = url
        self.timeout = timeout
        self.keepalive = keepalive
        #: Channels with local subscribers: what a (re)connected session subscribes.
        self.channels: set[str] = set()
        self._lock = trio.Lock()  # the channel set and the session's SUBSCRIBEs change together
        self._pubsub: Any = None  # the live session's coredis PubSub, None while down
        self._session: trio.CancelScope | None = None
        self._stack: AsyncExitStack | None = None
        self._publisher: Any = None
        self._subscriber: Any = None
        self._started = False
        self._batch: _Batch | None = None  # the batch gathering publishes now
        self._sending = trio.Lock()  # one batch on the wire at a time
        self._down_since: float | None = None

    def _client(self, retry_policy: Any) -> Any:
        pool = _Pool.from_url(  # as coredis.Redis.from_url makes its pool
            self.client_url,
            decode_responses=False,
            noreply=False,
            noevict=False,
            notouch=False,
            connect_timeout=self.timeout,
            stream_timeout=self.timeout,
        )
        return coredis.Redis(connection_pool=pool, retry_policy=retry_policy)

    async def connect(self) -> None:
        self.channels.clear()
        stack = AsyncExitStack()
        publisher = self._client(self._publish_retry_policy())
        subscriber = self._client(NoRetryPolicy())
        try:
            # (The clients' task groups are entered outside the deadline's scope: they outlive it.)
            await stack.enter_async_context(publisher)
            await stack.enter_async_context(subscriber)
            with trio.fail_after(self.timeout * 2):
                await publisher.ping()
        except (Exception, trio.TooSlowError) as error:
            await stack.aclose()  # no cancel scope around it: it leaves task groups entered outside one
            reason = "no answer in time" if isinstance(error, trio.TooSlowError) else describe(error)
            raise BroadcastError(f"Cannot connect the broadcast to {self.name}: {reason}") from error
        self._stack, self._publisher, self._subscriber = stack, publisher, subscriber

    def _publish_retry_policy(self) -> Any:
        # A publish retried once on a connection error (a pooled connection the server closed);
        # never on a timeout, which could send it twice.
        return ConstantRetryPolicy((coredis.exceptions.ConnectionError,), retries=1, delay=0)

    async def disconnect(self) -> None:
        stack, self._stack = self._stack, None
        self._publisher = self._subscriber = self._pubsub = None
        if stack is not None:
            await stack.aclose()

    async def publish(self, channel: str, data: bytes) -> None:
        """Join the batch being gathered, or gather one and send it as one pipeline.

        Publishes from many tasks (request handlers) in the same moment go out
        in one round trip: coredis sends ~7k sequential or ~14k concurrent
        PUBLISH/s, and ~110k/s in pipelines of 100 (docs/scaling-out.md).
        While one batch is on the wire the next one fills up.
        """
        batch = self._batch
        if batch is not None:
            batch.items.append((channel, data))
            await batch.done.wait()
        elif not self._sending.locked():  # nothing on the wire: send at once, alone
            async with self._sending:
                error = await self._send([(channel, data)])
            if error is not None:
                raise error
            return
        else:
            batch = self._batch = _Batch()
            batch.items.append((channel, data))
            # Shielded: the tasks that joined this batch wait for it whatever happens to this one.
            with trio.CancelScope(shield=True):
                try:
                    async with self._sending:  # while the previous batch is on the wire, this one fills
                        self._batch = None
                        batch.error = await self._send(batch.items)
                finally:
                    self._batch = None if self._batch is batch else self._batch
                    batch.done.set()
            await trio.lowlevel.checkpoint_if_cancelled()
        if batch.error is not None:
            raise batch.error

    async def _send(self, items: list[tuple[str, bytes]]) -> BroadcastError | None:
        """Send a batch: one PUBLISH, or a pipeline of them; the error for every publisher in it."""
        try:
            with trio.fail_after(self.timeout):
                await self._write(items)
        except trio.TooSlowError:
            return BroadcastError(f"Publishing to {self.name} timed out after {self.timeout} s")
        except Exception as error:
            failure = BroadcastError(f"Cannot publish to {self.name}: {describe(error)}")
            failure.__cause__ = error
            return failure
        return None

    async def _write(self, items: list[tuple[str, bytes]]) -> None:
        if len(items) == 1:
            await self._publisher.publish(*items[0])
        else:
            async with self._publisher.pipeline(transaction=False) as pipeline:
                for channel, data in items:
                    pipeline.publish(channel, data)

    async def subscribe(self, channel: str) -> None:
        async with self._lock:
            self.channels.add(channel)
            if self._pubsub is not None:
                try:
                    await self._pubsub.subscribe(channel)
                except Exception as error:
                    # Not confirmed: start a new session, which subscribes it and sends the gap notice.
                    logger.debug("SUBSCRIBE %s on %s failed (%s); reconnecting", channel, self.name, describe(error))
                    if self._session is not None:
                        self._session.cancel()

    async def unsubscribe(self, channel: str) -> None:
        async with self._lock:
            self.channels.discard(channel)
            if self._pubsub is not None:
                try:
                    await self._pubsub.unsubscribe(channel)
                except Exception as error:  # harmless: a message on it finds no subscriber
                    logger.debug("UNSUBSCRIBE %s on %s failed: %s", channel, self.name, describe(error))

    async def listen(self, feed: Feed, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Run sessions until cancelled: a lost connection is logged once per outage and made again with back-off.

        Shared by the pub/sub and the Streams backends: each has its own
        :meth:`_session_run`, which calls :meth:`_session_up` once its
        connection works (the first time, that is the listener's start).
        """
        self._started, self._down_since = False, None
        delay = FIRST_DELAY
        while True:
            try:
                with trio.CancelScope() as session:
                    self._session = session
                    await self._session_run(feed, task_status)
                reason = "a SUBSCRIBE was not confirmed"
            except Exception as error:
                if not self._started:
                    raise BroadcastError(f"Cannot subscribe on {self.name}: {describe(error)}") from error
                if not is_connection_lost(error):
                    logger.error("The broadcast listener on %s stopped: %s", self.name, describe(error))
                    feed.fail(error)
                    return
                reason = describe(error)
            finally:
                self._pubsub = self._session = None
            if self._down_since is None:  # it was up: an outage begins, logged once
                self._down_since = trio.current_time()
                delay = FIRST_DELAY
                logger.warning(
                    "Lost the broadcast connection to %s (%s); reconnecting, %s", self.name, reason, self.outage_note
                )
            else:
                logger.debug("Reconnecting to %s failed (%s); next try in %.1f s", self.name, reason, delay)
            await trio.sleep(delay)
            delay = min(delay * 2, MAX_DELAY)

    #: What the outage warning says subscribers will get.
    outage_note = "subscribers get a Gap"

    def _session_up(self, task_status: trio.TaskStatus[None]) -> bool:
        """A session's connection works: start the listener, or log the end of an outage (True then)."""
        if not self._started:
            self._started = True
            task_status.started()
        elif self._down_since is not None:
            logger.info(
                "The broadcast connection to %s is back after %.1f s (%d channels resubscribed)",
                self.name,
                trio.current_time() - self._down_since,
                len(self.channels),
            )
            self._down_since = None
            return True
        return False

    async def _session_run(self, feed: Feed, task_status: trio.TaskStatus[None]) -> None:
        """One pub/sub connection, from its SUBSCRIBEs until it is lost (then it raises)."""
        async with self._subscriber.pubsub(
            retry_policy=NoRetryPolicy(),
            ignore_subscribe_messages=True,
            max_idle_seconds=self.keepalive,
            subscription_timeout=self.timeout,
        ) as pubsub:
            async with self._lock:
                if self.channels:
                    await pubsub.subscribe(*self.channels)
                self._pubsub = pubsub
            if self._session_up(task_status):
                feed.gap("reconnect")
            get_message = pubsub.get_message
            deliver = feed.deliver
            while True:
                message = await get_message()
                if message is not None and message["type"] == "message":
                    deliver(Message(message["channel"].decode(), message["data"]))
