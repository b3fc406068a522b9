"""``memory://``: the broadcast within one process, for tests and single-process apps."""

from __future__ import annotations

import trio

from ._base import Backend, Feed, Message


class MemoryBackend(Backend):
    """Publishing hands the message straight to this process's fan-out: nothing to connect, nothing lost.

    ``channels`` is the set the fan-out subscribed, which tests read as they
    would read ``PUBSUB CHANNELS`` on a broker.
    """

    def __init__(self) -> None:
        self.channels: set[str] = set()
        self._feed: Feed | None = None

    async def connect(self) -> None:
        await trio.lowlevel.checkpoint()

    async def listen(self, feed: Feed, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        self._feed = feed
        try:
            task_status.started()
            await trio.sleep_forever()
        finally:
            self._feed = None

    async def disconnect(self) -> None:
        await trio.lowlevel.checkpoint()

    async def publish(self, channel: str, data: bytes) -> None:
        await trio.lowlevel.checkpoint()
        if self._feed is not None and channel in self.channels:
            self._feed.deliver(Message(channel, data))

    async def subscribe(self, channel: str) -> None:
        await trio.lowlevel.checkpoint()
        self.channels.add(channel)

    async def unsubscribe(self, channel: str) -> None:
        await trio.lowlevel.checkpoint()
        self.channels.discard(channel)
