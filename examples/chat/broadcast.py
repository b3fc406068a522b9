"""Rooms of subscribers, and a publish that never waits for any of them.

Each subscriber has a buffer of its own: a trio memory channel that holds
``buffer_size`` events. :meth:`Hub.publish` puts an event into every buffer
of the room without waiting. A subscriber whose buffer is full has fallen
that many events behind: it is dropped from the room, and its next
:meth:`Subscriber.receive` raises :class:`Dropped`. One slow reader therefore
costs the room nothing, and the memory it holds stays bounded.
"""

from __future__ import annotations

from typing import Any

import trio

Event = dict[str, Any]


class Dropped(Exception):
    """The subscriber fell ``buffer_size`` events behind and was taken out of its room."""


class NicknameTaken(Exception):
    """Someone in the room already has this nickname."""


class Subscriber:
    """A member of a room: a nickname and a bounded buffer of events to deliver."""

    def __init__(self, nick: str, buffer_size: int) -> None:
        self.nick = nick
        self.dropped = False
        self._send_channel, self._receive_channel = trio.open_memory_channel[Event](buffer_size)

    def offer(self, event: Event) -> bool:
        """Buffer ``event`` without waiting; False when the buffer is full."""
        try:
            self._send_channel.send_nowait(event)
        except trio.WouldBlock:
            return False
        return True

    def drop(self) -> None:
        self.dropped = True
        self._send_channel.close()

    async def receive(self) -> Event:
        """The next event; raises :class:`Dropped` once the subscriber is dropped."""
        if self.dropped:
            raise Dropped  # what is still buffered is stale: the reader is behind
        try:
            return await self._receive_channel.receive()
        except trio.EndOfChannel:
            raise Dropped from None


class Hub:
    """Rooms by name; a room exists while someone is in it."""

    def __init__(self, buffer_size: int = 32) -> None:
        self.buffer_size = buffer_size
        self.rooms: dict[str, dict[str, Subscriber]] = {}

    def join(self, room: str, nick: str) -> Subscriber:
        """Enter ``room`` as ``nick``; everyone there, the newcomer too, gets a ``join`` event."""
        members = self.rooms.setdefault(room, {})
        if nick in members:
            raise NicknameTaken(nick)
        subscriber = members[nick] = Subscriber(nick, self.buffer_size)
        self.publish(room, {"type": "join", "nick": nick, "members": sorted(members)})
        return subscriber

    def leave(self, room: str, subscriber: Subscriber, *, dropped: bool = False) -> None:
        """Take ``subscriber`` out of ``room`` (once) and tell the others."""
        members = self.rooms.get(room, {})
        if members.get(subscriber.nick) is not subscriber:
            return  # already gone
        del members[subscriber.nick]
        if not members:
            del self.rooms[room]
        if dropped:
            subscriber.drop()
        self.publish(room, {"type": "leave", "nick": subscriber.nick, "members": sorted(members), "dropped": dropped})

    def publish(self, room: str, event: Event) -> None:
        """Give ``event`` to everyone in ``room`` now; drop whoever cannot take it."""
        members = self.rooms.get(room, {})
        behind = [subscriber for subscriber in members.values() if not subscriber.offer(event)]
        for subscriber in behind:
            self.leave(room, subscriber, dropped=True)
