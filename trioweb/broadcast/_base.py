"""What the fan-out and the backends share: the items a subscriber gets, the error, and the backend seam.

A backend moves bytes between this process and a broker (or, for
``memory://``, nowhere). It does not know about local subscribers: the
fan-out (``trioweb.broadcast._fanout``) counts them and tells the backend
which channels to (un)subscribe, and the backend hands what it receives
to a :class:`Feed`. So a new backend (``redis-stream://``) is one class.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Protocol

import trio

from ..server._frames import encoded_frame


class BroadcastError(Exception):
    """The broadcast cannot do what was asked: the broker is unreachable, or the listener stopped for good."""


class Message:
    """One message published on ``channel``; ``data`` is always bytes (what the broker carries).

    The same object goes to every local subscriber, so :meth:`text` decodes
    once per message, not once per subscriber.
    """

    __slots__ = ("_frames", "_text", "channel", "data", "id")

    def __init__(self, channel: str, data: bytes, id: str | None = None) -> None:
        self.channel = channel
        self.data = data
        #: The broker's id for the message where it has one (``redis-stream://``), else ``None``.
        self.id = id
        self._text: str | None = None
        self._frames: tuple[bytes | None, bytes | None] = (None, None)  # (text, binary)

    def text(self) -> str:
        """The data decoded as UTF-8 (what a websocket sends as a text frame)."""
        if self._text is None:
            self._text = self.data.decode()
        return self._text

    def frame(self, *, binary: bool) -> bytes:
        """The message as one websocket data frame, encoded once for every subscriber that forwards it.

        A text frame checks that the data is UTF-8 (:meth:`text`), so a
        client never gets one it must close with 1007.
        """
        text_frame, binary_frame = self._frames
        if binary:
            if binary_frame is None:
                binary_frame = encoded_frame(self.data, text=False)
                self._frames = (text_frame, binary_frame)
            return binary_frame
        if text_frame is None:
            self.text()
            text_frame = encoded_frame(self.data, text=True)
            self._frames = (text_frame, binary_frame)
        return text_frame

    def json(self) -> Any:
        """The data parsed as JSON (what :meth:`Broadcast.publish_json` sent)."""
        return json.loads(self.data)

    def __repr__(self) -> str:
        return f"Message(channel={self.channel!r}, data={self.data!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Message):
            return NotImplemented
        return (self.channel, self.data, self.id) == (other.channel, other.data, other.id)

    __hash__ = None  # type: ignore[assignment]


GapReason = Literal["overflow", "reconnect", "trimmed"]


@dataclass(frozen=True, slots=True)
class Gap:
    """Messages of ``channel`` may be missing here, before the next item: re-sync if it matters.

    ``lost`` is how many were dropped when that is known (``"overflow"``: the
    subscriber's buffer was full and its oldest messages were dropped), or
    ``None`` when it is not (``"reconnect"``: the broker connection dropped and
    was made again; whatever was published meanwhile did not arrive;
    ``"trimmed"``: on ``redis-stream://``, the messages after the id asked
    for, or after the last one received (before an outage, or before a
    burst faster than the reader), are no longer all in the stream's kept
    history).
    """

    channel: str
    lost: int | None
    reason: GapReason


class Feed(Protocol):
    """Where a backend hands what it receives: the fan-out implements it. Each call returns at once."""

    def deliver(self, message: Message) -> None:
        """A message arrived for ``message.channel``."""

    def gap(self, reason: GapReason, channels: Iterable[str] | None = None, lost: int | None = None) -> None:
        """Messages may have been lost on ``channels`` (default: every channel), ``lost`` of them if known.

        The pub/sub backend calls ``gap("reconnect")`` once its connection is
        back and resubscribed; a backend that can resume some channels (with
        history) names only those it could not.
        """

    def fail(self, error: BaseException) -> None:
        """The backend cannot go on: every subscriber's iteration raises :class:`BroadcastError`."""


def id_key(id: str) -> tuple[int, int]:
    """A stream id (``"1700000000000-3"``) as what orders it; ``ValueError`` for anything else."""
    milliseconds, _, sequence = id.partition("-")
    if not (milliseconds.isdigit() and sequence.isdigit() and milliseconds.isascii() and sequence.isascii()):
        raise ValueError(f"{id!r} is not a stream id (like '1700000000000-0', a Message.id)")
    return int(milliseconds), int(sequence)


class Backend(ABC):
    """The seam between the fan-out and a broker; one object per :class:`~trioweb.broadcast.Broadcast`.

    The broadcast calls, in one task: :meth:`connect`, then :meth:`listen` in
    a nursery, then at the end :meth:`disconnect`, so a backend may enter its
    clients' context managers in ``connect`` and leave them in ``disconnect``.
    :meth:`subscribe` and :meth:`unsubscribe` come from subscribers' tasks,
    one at a time (the fan-out serialises them), on the 0->1 and 1->0
    transitions of a channel's local subscribers.

    A backend that keeps history (``keeps_history``) also gives a new
    subscriber what it asks for with :meth:`history`, called once the
    channel is subscribed; the fan-out merges it with what arrives live
    meanwhile, by :attr:`Message.id`.
    """

    #: Whether :meth:`history` works: ``subscribe(history=, after=)`` needs it.
    keeps_history: ClassVar[bool] = False

    async def history(self, channel: str, *, last: int | None, after: str | None) -> tuple[list[Message], bool]:
        """The ``last`` newest messages of ``channel``, or those after the id ``after``, oldest first.

        And whether some may be missing before them (``after`` is older than
        the oldest message kept): the subscriber gets ``Gap(reason="trimmed")``.
        """
        raise NotImplementedError(f"{type(self).__name__} keeps no history")

    @abstractmethod
    async def connect(self) -> None:
        """Open the connections; raise :class:`BroadcastError` naming the URL if the broker is unreachable."""

    async def listen(self, feed: Feed, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Receive until cancelled, handing messages, gaps and a fatal error to ``feed``; never raise."""
        task_status.started()
        await trio.sleep_forever()

    @abstractmethod
    async def disconnect(self) -> None:
        """Close the connections (called once, after :meth:`listen` was cancelled)."""

    @abstractmethod
    async def publish(self, channel: str, data: bytes) -> None:
        """Send ``data`` to ``channel``; raise :class:`BroadcastError` promptly if the broker is down."""

    @abstractmethod
    async def subscribe(self, channel: str) -> None:
        """Start receiving ``channel``; while the broker is down, remember it for the reconnect."""

    @abstractmethod
    async def unsubscribe(self, channel: str) -> None:
        """Stop receiving ``channel``; while the broker is down, just forget it."""
