"""The fan-out: local subscribers, their bounded buffers, and the reference count of each channel.

The backend's listener calls :meth:`Hub.deliver` for each message; that
appends the message to each subscriber's buffer and returns, so the
listener never waits for a slow subscriber and the broker connection is
always read. A full buffer drops its oldest message and counts it; the
subscriber gets ``Gap(lost=n, reason="overflow")`` before its next message.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import TYPE_CHECKING, Self

import trio

from ..wrappers.websocket import NOT_TAKEN, TAKEN_IN_PART
from ._base import Backend, BroadcastError, Gap, GapReason, Message, id_key

if TYPE_CHECKING:
    from ..wrappers.websocket import DirectWriter, Websocket


class _Notice:
    """A gap notice waiting in a buffer, in order among the messages (the subscriber's channel is added)."""

    __slots__ = ("lost", "reason")

    def __init__(self, reason: GapReason, lost: int | None) -> None:
        self.reason, self.lost = reason, lost


#: The reconnect notice, the common case, shared.
_RECONNECT = _Notice("reconnect", None)


class Subscriber:
    """One local subscription: ``async for item in subscriber`` yields :class:`Message` or :class:`Gap`.

    The iteration ends when the broadcast disconnects, and raises
    :class:`BroadcastError` if the backend failed for good.
    """

    def __init__(self, channel: str, buffer: int) -> None:
        self.channel = channel
        self.buffer = buffer
        self._items: deque[Message | _Notice] = deque()
        self._lost = 0  # messages dropped from the front since the last item given out
        self._lost_unknown: _Notice | None = None  # a notice of an unknown loss dropped from the front too
        self._waiting = trio.lowlevel.ParkingLot()
        self._closed = False
        self._error: BaseException | None = None
        #: While ``forward`` runs on a websocket that can take frames from any task: its writer.
        self._writer: DirectWriter | None = None
        self._binary = False
        self._flush_needed = False  # the writer took a frame in part: forward writes the rest
        #: After a history: the id of its newest message, until a newer one comes (the reader may lag behind it).
        self._seen: tuple[int, int] | None = None

    def put(self, item: Message | _Notice) -> None:
        """Buffer ``item``, dropping the oldest if the buffer is full; never blocks.

        While :meth:`forward` runs, a message with nothing ahead of it is
        written to the websocket right here if its socket takes it.
        """
        if self._seen is not None and type(item) is Message and item.id is not None:
            if id_key(item.id) <= self._seen:
                return  # given already, from the history
            self._seen = None  # from here on, every message is newer
        items = self._items
        writer = self._writer
        if writer is not None and not (items or self._lost or self._lost_unknown) and type(item) is Message:
            try:
                taken = writer.offer(item.frame(binary=self._binary))
            except UnicodeDecodeError:
                taken = NOT_TAKEN  # buffered: forward's own send raises it in the view
            if taken != NOT_TAKEN:
                if taken == TAKEN_IN_PART:
                    self._flush_needed = True
                    self._waiting.unpark()
                return
        if len(items) >= self.buffer:
            dropped = items.popleft()
            if isinstance(dropped, Message):
                self._lost += 1
            elif dropped.lost is None:
                self._lost_unknown = dropped  # an unknown loss: the merged notice says so, with its reason
            else:
                self._lost += dropped.lost
        items.append(item)
        if self._waiting:
            self._waiting.unpark()

    def close(self, error: BaseException | None = None) -> None:
        """End the iteration (after what is buffered), or make it raise ``error`` at once."""
        self._closed = True
        self._error = self._error or error
        self._waiting.unpark_all()

    @property
    def pending(self) -> int:
        """How many items wait in the buffer (bounded by ``buffer``)."""
        return len(self._items)

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Message | Gap:
        # One trip through the scheduler per item: parking is the checkpoint when there is
        # nothing yet (the common case in a fan-out), a plain checkpoint otherwise.
        if self._has_next():
            await trio.lowlevel.checkpoint()
        else:
            while not self._has_next():
                await self._waiting.park()
        return self._take()

    async def forward(self, websocket: Websocket, *, binary: bool = False) -> Gap | None:
        """Send each message to ``websocket`` as it arrives, until a :class:`Gap`: return it (re-sync, then call again).

        Text frames (``binary=False``, for what was published as str or
        JSON) or binary ones. Returns None when the subscription ends (the
        broadcast disconnected); raises :class:`BroadcastError` as the
        iteration does. On the native server over plain TCP the messages are
        written from the task that receives them from the broker, a frame
        encoded once for all the subscribers; elsewhere (TLS, Hypercorn, the
        test client) the same happens from this task, as ``async for`` and
        ``websocket.send`` would. The websocket is accepted first if it is not.
        """
        await websocket.accept()
        self._binary = binary
        self._writer = writer = websocket.direct_writer()
        try:
            checkpointed = False
            while True:
                if self._flush_needed and writer is not None:
                    self._flush_needed = False
                    await writer.flush()
                    checkpointed = True
                elif self._has_next():
                    if not checkpointed:
                        await trio.lowlevel.checkpoint()
                    try:
                        item = self._take()
                    except StopAsyncIteration:
                        return None
                    if isinstance(item, Gap):
                        return item
                    await websocket.send(item.data if binary else item.text())
                    checkpointed = True
                else:
                    await self._waiting.park()
                    checkpointed = True
        finally:
            self._writer = None
            self._flush_needed = False

    def _has_next(self) -> bool:
        return bool(self._items or self._lost or self._lost_unknown or self._closed or self._error)

    def _take(self) -> Message | Gap:
        if self._error is not None:
            raise BroadcastError(f"the broadcast stopped: {self._error}") from self._error
        if self._lost_unknown is not None:
            notice, self._lost_unknown, self._lost = self._lost_unknown, None, 0
            return Gap(self.channel, None, notice.reason)
        if self._lost:
            lost, self._lost = self._lost, 0
            return Gap(self.channel, lost, "overflow")
        if self._items:
            item = self._items.popleft()
            if isinstance(item, _Notice):
                return Gap(self.channel, item.lost, item.reason)
            return item
        raise StopAsyncIteration


class Hub:
    """The local subscribers by channel, and the backend subscriptions they need (the :class:`Feed`)."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.subscribers: dict[str, set[Subscriber]] = {}
        #: Channels the backend was told to subscribe (and not yet to unsubscribe).
        self.on_broker: set[str] = set()
        self._lock = trio.Lock()  # one (un)subscribe decision at a time: no race between a leave and a join
        self.error: BaseException | None = None

    # -- the Feed, called by the backend's listener ----------------------------

    def deliver(self, message: Message) -> None:
        for subscriber in self.subscribers.get(message.channel, ()):
            subscriber.put(message)

    def gap(self, reason: GapReason, channels: Iterable[str] | None = None, lost: int | None = None) -> None:
        chosen = (
            self.subscribers.values() if channels is None else [self.subscribers.get(name, ()) for name in channels]
        )
        notice = _RECONNECT if reason == "reconnect" and lost is None else _Notice(reason, lost)
        for subscribers in chosen:
            for subscriber in subscribers:
                subscriber.put(notice)

    def fail(self, error: BaseException) -> None:
        self.error = error
        self.close(error)

    # -- subscribers come and go -----------------------------------------------

    def close(self, error: BaseException | None = None) -> None:
        for subscribers in self.subscribers.values():
            for subscriber in subscribers:
                subscriber.close(error)

    async def join(self, subscriber: Subscriber) -> None:
        """Add ``subscriber``; returns once its channel is subscribed on the broker (SUBSCRIBE on 0->1)."""
        channel = subscriber.channel
        self.subscribers.setdefault(channel, set()).add(subscriber)
        await self._subscribe(channel, subscriber)

    async def join_with_history(self, subscriber: Subscriber, *, last: int | None, after: str | None) -> None:
        """Add ``subscriber`` with the channel's history first: no message twice, none missing in between.

        A stand-in subscriber takes the live messages while the history is
        read (from the channel's position, which the history read reaches or
        passes); then the history fills ``subscriber``'s buffer, followed by
        the live messages newer than the history and than ``after``, and the
        stand-in is swapped for ``subscriber`` without a checkpoint between.
        The reader may lag behind the history read: what it hands on later
        that the history had is dropped by id too.
        """
        channel = subscriber.channel
        stand_in = Subscriber(channel, subscriber.buffer)
        members = self.subscribers.setdefault(channel, set())
        members.add(stand_in)
        try:
            await self._subscribe(channel, stand_in)
            messages, trimmed = await self.backend.history(channel, last=last, after=after)
            newest = max(
                (id_key(message.id) for message in messages[-1:] if message.id is not None),
                default=(-1, -1),
            )
            if after is not None and not trimmed:  # trimmed: maybe past the stream's end, whose new ids are lower
                newest = max(newest, id_key(after))
            if trimmed:
                subscriber.put(_Notice("trimmed", None))
            for message in messages:
                subscriber.put(message)
            if stand_in._lost_unknown or stand_in._lost:
                subscriber.put(stand_in._lost_unknown or _Notice("overflow", stand_in._lost))
            # What the history has is dropped by id, from the stand-in's messages and from those the
            # reader hands on later (it may lag behind the history read: they come after the swap).
            subscriber._seen = newest
            for item in stand_in._items:
                subscriber.put(item)
        finally:
            # Even when cancelled or failed: the subscriber is the member, so its leave counts it.
            members.discard(stand_in)
            members.add(subscriber)
            if stand_in._closed:
                subscriber.close(stand_in._error)

    async def _subscribe(self, channel: str, subscriber: Subscriber) -> None:
        if channel in self.on_broker:
            await trio.lowlevel.checkpoint()
            return
        async with self._lock:
            if channel not in self.on_broker and subscriber in self.subscribers.get(channel, ()):
                try:
                    await self.backend.subscribe(channel)
                finally:
                    # Even when cancelled midway: the broker may have it, so the leave unsubscribes.
                    self.on_broker.add(channel)

    async def leave(self, subscriber: Subscriber) -> None:
        """Remove ``subscriber``; the last one of a channel unsubscribes it (UNSUBSCRIBE on 1->0)."""
        channel = subscriber.channel
        subscribers = self.subscribers.get(channel)
        if subscribers is None or subscriber not in subscribers:
            return
        subscribers.discard(subscriber)
        if subscribers:
            return
        del self.subscribers[channel]
        async with self._lock:
            # A subscriber that joined meanwhile keeps the channel; otherwise it goes. It leaves
            # on_broker before the await, so a join during the UNSUBSCRIBE waits and subscribes again.
            if channel in self.on_broker and channel not in self.subscribers:
                self.on_broker.discard(channel)
                await self.backend.unsubscribe(channel)
