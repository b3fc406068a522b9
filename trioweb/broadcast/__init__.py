"""``trioweb.broadcast``: publish in one process, receive in every process's websockets.

``Broadcast(url)`` picks a backend by the URL's scheme (``memory://``,
``redis://``, ``rediss://``, ``redis-stream://``), holds one publishing connection and one
subscription connection per process, and fans each message out to the
local subscribers through a bounded buffer each (docs/scaling-out.md,
"Broadcast"). Its connections live in a trio system task of their own, so
that ``connect`` and ``disconnect`` can be called from ``before_serving``
and ``after_serving`` (or ``async with broadcast:``) and the clients'
context managers are still entered and left in one task, in order.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Any

import trio

from .. import json as _json
from ._base import Backend, BroadcastError, Feed, Gap, GapReason, Message, id_key
from ._fanout import Hub, Subscriber
from ._memory import MemoryBackend

if TYPE_CHECKING:
    from types import TracebackType

    from ..app import App

logger = logging.getLogger("trioweb.broadcast")

NOT_CONNECTED = (
    "The broadcast is not connected: call broadcast.init_app(app) so that it connects while the app serves "
    "(in a test, inside `async with app.test_app():`), or use `async with broadcast:`"
)


def backend_for(url: str, *, timeout: float, keepalive: float) -> Backend:
    """The backend the URL's scheme names; a clear error for an unknown scheme or a missing client library."""
    scheme, separator, _ = url.partition("://")
    if not separator:
        raise ValueError(
            f"The broadcast URL {url!r} has no scheme: use memory://, redis://host:port/db, rediss:// "
            "or redis-stream://host:port/db"
        )
    if scheme == "memory":
        return MemoryBackend()
    if scheme in ("redis", "rediss", "redis-stream", "rediss-stream"):
        try:
            from ._redis import RedisBackend
            from ._streams import StreamBackend
        except ModuleNotFoundError as error:
            if error.name is None or not error.name.startswith(("coredis", "anyio")):
                raise
            raise BroadcastError(
                f"The broadcast URL {url!r} needs the coredis package: pip install trioweb[redis]"
            ) from error
        if scheme.endswith("-stream"):
            return StreamBackend(url, timeout=timeout, keepalive=keepalive)
        return RedisBackend(url, timeout=timeout, keepalive=keepalive)
    raise ValueError(
        f"The broadcast URL {url!r} has an unknown scheme {scheme!r}: use memory://, redis://, rediss:// "
        "or redis-stream://"
    )


class Broadcast:
    """Channels of messages shared by every process that uses the same URL.

    ``buffer`` is each subscriber's limit: when a subscriber lags that far
    behind, its oldest buffered messages are dropped and it gets a
    ``Gap(lost=n, reason="overflow")`` before the next one. ``timeout``
    bounds a publish, a connect and each wait for the broker's answer;
    ``keepalive`` is how long the subscription connection may be silent
    before a PING checks it, so a dead broker is noticed within about
    ``keepalive + timeout`` seconds.
    """

    def __init__(self, url: str, *, buffer: int = 256, timeout: float = 2.0, keepalive: float = 2.0) -> None:
        if not isinstance(buffer, int) or buffer < 1:
            raise ValueError(f"buffer must be a positive int (messages per subscriber), not {buffer!r}")
        self.url = url
        self.buffer = buffer
        self.timeout = timeout
        self.backend = backend_for(url, timeout=timeout, keepalive=keepalive)
        self._hub = Hub(self.backend)
        self._closing: trio.Event | None = None
        self._done: trio.Event | None = None
        self._connected = False
        self._startup_error: BaseException | None = None

    def __repr__(self) -> str:
        return f"<Broadcast {self.url!r}>"

    # -- lifetime ----------------------------------------------------------------

    def init_app(self, app: App) -> None:
        """Connect when ``app`` starts serving (a failure stops the start) and disconnect when it has stopped.

        When startup fails after the connect (a later ``before_serving`` or
        ``while_serving`` raises), ``after_serving`` does not run: the
        broadcast disconnects then, so that the next start can connect.
        """
        started = trio.Event()

        async def connect() -> None:
            nonlocal started
            await self.connect()
            started = trio.Event()
            if app.lifespan is not None and app.lifespan.nursery is not None:
                app.lifespan.nursery.start_soon(self._disconnect_unless, started)

        async def serve() -> AsyncIterator[None]:  # starts once every before_serving has succeeded
            started.set()
            yield
            if app.lifespan is not None and not app.lifespan.shutting_down:  # a later start failed
                await self.disconnect()

        app.before_serving(connect)
        app.while_serving(serve)
        app.after_serving(self.disconnect)

    async def _disconnect_unless(self, started: trio.Event) -> None:
        """In the app nursery until the startup ends; cancelled before that (it failed): disconnect."""
        try:
            await started.wait()
        finally:
            if not started.is_set():
                await self.disconnect()

    async def connect(self) -> None:
        """Open the broker connections; :class:`BroadcastError` naming the URL if the broker is unreachable."""
        if self._closing is not None:
            raise RuntimeError(f"{self!r} is already connected")
        self._closing, self._done, self._startup_error = trio.Event(), trio.Event(), None
        ready = trio.Event()
        trio.lowlevel.spawn_system_task(self._serve, ready, name=f"trioweb.broadcast {self.url}")
        try:
            await ready.wait()
        except BaseException:
            await self.disconnect()
            raise
        if self._startup_error is not None:
            error, self._startup_error = self._startup_error, None
            await self.disconnect()
            raise error

    async def disconnect(self) -> None:
        """Close the connections; subscriptions still open end (their ``async for`` stops)."""
        if self._closing is None or self._done is None:
            return
        self._closing.set()
        with trio.CancelScope(shield=True):
            await self._done.wait()
        self._closing = self._done = None

    async def __aenter__(self) -> Broadcast:
        await self.connect()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        await self.disconnect()

    async def _serve(self, ready: trio.Event) -> None:
        """The system task that owns the connections, from ``connect`` to ``disconnect``."""
        assert self._closing is not None and self._done is not None
        closing, done, hub = self._closing, self._done, self._hub
        hub.error = None
        try:
            try:
                await self.backend.connect()
            except Exception as error:
                self._startup_error = _startup_error(self.url, error)
                return
            try:
                async with trio.open_nursery() as nursery:
                    try:
                        await nursery.start(self.backend.listen, hub)
                    except Exception as error:
                        self._startup_error = _startup_error(self.url, error)
                        nursery.cancel_scope.cancel()
                        return
                    self._connected = True
                    ready.set()
                    await closing.wait()
                    nursery.cancel_scope.cancel()
            except Exception as error:  # a listener that broke its promise not to raise
                logger.exception("The broadcast listener for %s failed", self.url)
                hub.fail(error)
            finally:
                self._connected = False
                hub.close()
                hub.subscribers.clear()
                hub.on_broker.clear()
                # Not inside a cancel scope: the backend leaves its clients' task groups here, which
                # were entered before this task's nursery (trio wants scopes strictly nested).
                try:
                    await self.backend.disconnect()
                except Exception:
                    logger.exception("Closing the broadcast connections to %s failed", self.url)
        finally:
            ready.set()
            done.set()
            if self._done is done:  # ended without disconnect() (its trio run ended): free for the next connect()
                self._closing = self._done = None

    # -- publishing --------------------------------------------------------------

    async def publish(self, channel: str, message: str | bytes) -> None:
        """Send ``message`` (str, sent as UTF-8, or bytes) to every subscriber of ``channel``, in every process."""
        _check_channel(channel)
        if isinstance(message, str):
            data = message.encode()
        elif isinstance(message, bytes | bytearray | memoryview):
            data = bytes(message)
        else:
            raise TypeError(
                f"publish() sends str or bytes, not {type(message).__name__}: use publish_json() for other values"
            )
        self._check_connected()
        await self.backend.publish(channel, data)

    async def publish_json(self, channel: str, value: Any) -> None:
        """Send ``value`` as JSON; subscribers read it back with ``message.json()``."""
        await self.publish(channel, _json.dumps(value))

    # -- subscribing -------------------------------------------------------------

    def subscribe(
        self, channel: str, *, buffer: int | None = None, history: int | None = None, after: str | None = None
    ) -> AbstractAsyncContextManager[Subscriber]:
        """``async with broadcast.subscribe(channel) as subscriber: async for item in subscriber: ...``

        The block is entered once the channel is subscribed on the broker, so
        a message published after that arrives. ``buffer`` overrides the
        broadcast's per-subscriber limit for this one.

        On ``redis-stream://`` only: ``history=n`` yields the channel's last
        ``n`` messages first, and ``after=id`` (a :attr:`Message.id` seen
        before, e.g. sent back by a reconnecting browser) those published
        since, still kept, preceded by ``Gap(reason="trimmed")`` if some are
        no longer; then the live ones, none twice and none missing between.
        """
        _check_channel(channel)
        if buffer is not None and (not isinstance(buffer, int) or buffer < 1):
            raise ValueError(f"buffer must be a positive int (messages), not {buffer!r}")
        buffer = buffer or self.buffer
        if history is not None or after is not None:
            if not self.backend.keeps_history:
                raise ValueError(
                    f"{self!r} keeps no history: subscribe(history=, after=) needs a redis-stream:// URL "
                    "(Redis Streams), not memory:// or redis:// pub/sub"
                )
            if history is not None and after is not None:
                raise ValueError("subscribe() takes history= (the last n messages) or after= (an id), not both")
            if history is not None and (not isinstance(history, int) or not 0 <= history <= buffer):
                raise ValueError(
                    f"history must be an int from 0 to the subscriber's buffer ({buffer}), not {history!r}: "
                    "raise buffer= to ask for more"
                )
            if after is not None:
                if not isinstance(after, str):
                    raise TypeError(f"after is a stream id (str, a Message.id), not {type(after).__name__}")
                id_key(after)  # a ValueError that says what an id looks like
        return self._subscription(Subscriber(channel, buffer), history, after)

    @asynccontextmanager
    async def _subscription(
        self, subscriber: Subscriber, history: int | None = None, after: str | None = None
    ) -> AsyncIterator[Subscriber]:
        self._check_connected()
        try:
            if history is None and after is None:
                await self._hub.join(subscriber)
            else:
                await self._hub.join_with_history(subscriber, last=history, after=after)
            yield subscriber
        finally:
            # Cancelled or not, the channel's count goes down; bounded, in case the broker hangs.
            with trio.CancelScope(shield=True), trio.move_on_after(self.timeout):
                await self._hub.leave(subscriber)

    def _check_connected(self) -> None:
        if self._hub.error is not None:
            raise BroadcastError(f"the broadcast stopped: {self._hub.error}") from self._hub.error
        if not self._connected:
            raise BroadcastError(NOT_CONNECTED)


def _check_channel(channel: object) -> None:
    if not isinstance(channel, str) or not channel:
        raise TypeError(f"A channel is a non-empty str, not {channel!r}")


def _startup_error(url: str, error: Exception) -> BroadcastError:
    if isinstance(error, BroadcastError):
        return error
    return BroadcastError(f"Cannot connect the broadcast to {url}: {error}")


__all__ = [
    "Backend",
    "Broadcast",
    "BroadcastError",
    "Feed",
    "Gap",
    "GapReason",
    "Message",
    "Subscriber",
]
