"""The chat server: a page, a list of rooms, and a websocket per member, in one process or several.

A member connects to ``/ws/<room>?nick=<nickname>``. Each text message it
sends reaches everyone in the room, itself included, as
``{"type": "message", "nick": ..., "text": ...}``. The room is a channel of
:mod:`trioweb.broadcast`, so members on different worker processes (or
machines) chat together once the broadcast goes through Redis::

    trioweb serve examples.chat:app                    # one process, memory://
    TRIOWEB_BROADCAST_URL=redis://127.0.0.1:6379/0 trioweb serve examples.chat:app --workers 2

Membership. Between processes there is only the broadcast, so no process
knows the whole room; each knows its own members (``/rooms`` answers for the
worker that serves the request, and says which). The member list on a page
is built from events: a newcomer publishes ``join`` (with its ``worker``, host
name and process id); each worker with members in the room answers once, with
``here`` and the nicknames of its members (the first of them to see the join
answers for all: they get the same message); ``leave`` takes a member out. A
nickname is unique per room: within a worker by a check, across workers by
the protocol: a member that sees a ``join`` of its own nickname from another
worker answers ``taken``, and the newcomer is closed with 1008 (two who join
at the same moment under one name are both refused). That takes a trip
through the broker after the newcomer's own join has come back, and in that
window what it sends goes out under the name. Pub/sub delivers at most once:
after a ``gap`` event (this worker's broker connection dropped and came
back) messages may be missing; the page clears its list, and the worker asks
the room again with one ``join`` marked ``"again"``, which every worker
answers. (A namesake that joined on another worker during the outage was not
refused, and may keep the name. And a member whose ``leave`` could not be
published, its worker killed or Redis down, stays on the other pages'
lists.) Each join costs one ``here`` per worker, which every member
receives: an answer from each member would come at once, a room's worth of
them in each member's buffer, and drop everyone from a room bigger than
``BUFFER``. A bigger app keeps its roster in Redis or a database and uses
the broadcast only to notify.

If the broadcast fails (Redis unreachable), members are closed with 1013.

Slow members. Each member has a bounded buffer (``BUFFER`` events) in the
broadcast; one that falls that far behind gets a ``Gap(overflow)`` and is
closed with 1013, "try again later", and the others see it leave with
``"dropped": true``.
"""

from __future__ import annotations

import os
import socket
from contextlib import suppress
from pathlib import Path
from typing import Any

import trio

from trioweb import App, websocket
from trioweb.broadcast import Broadcast, BroadcastError, Gap, Message

app = App(__name__)
app.config.update(
    WEBSOCKET_MAX_MESSAGE_SIZE=4 * 1024,  # a longer chat message closes with 1009
    WEBSOCKET_PING_INTERVAL=20.0,  # a client that stopped reading is closed with 1011
    BROADCAST_URL="memory://",  # one process; TRIOWEB_BROADCAST_URL=redis://... for several
)
app.config.from_prefixed_env("TRIOWEB")
BUFFER = 32  # events per member before it counts as too slow
broadcast = Broadcast(app.config["BROADCAST_URL"], buffer=BUFFER)
broadcast.init_app(app)

#: Which process holds a connection, in join events and /rooms: a pid alone repeats across machines.
WORKER = f"{socket.gethostname()}:{os.getpid()}"
#: The members connected to this process, by room.
rooms: dict[str, set[str]] = {}
#: By room, the last join this process answered: each of its members gets the same message, the first answers.
answered: dict[str, Message] = {}
#: The rooms whose members this process is asking again after a gap: the first member to see it asks.
asking: set[str] = set()

PAGE = (Path(__file__).parent / "chat.html").read_text()
MAX_NAME = 20  # characters, for nicknames and rooms
POLICY_VIOLATION = 1008
UNSUPPORTED_DATA = 1003
TRY_AGAIN_LATER = 1013


class BinaryMessage(Exception):
    """The client sent bytes; chat messages are text."""


class Dropped(Exception):
    """The member fell ``BUFFER`` events behind."""


class NicknameTaken(Exception):
    """A member on another worker already has this nickname."""


@app.route("/")
async def page() -> str:
    return PAGE


@app.route("/rooms")
async def list_rooms() -> dict[str, Any]:
    """Each room with the nicknames in it, on the worker that answers (other workers have their own)."""
    return {"worker": WORKER, "rooms": {room: sorted(members) for room, members in rooms.items()}}


async def listen(channel: str, nick: str) -> None:
    while True:
        text = await websocket.receive()
        if isinstance(text, bytes):
            raise BinaryMessage
        if text.strip():
            await broadcast.publish_json(channel, {"type": "message", "nick": nick, "text": text})


async def forward(room: str, nick: str, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    """Send the room's events to the client, and take part in the membership protocol.

    Started once the member's own join has come back: what it says after
    that reaches every member (itself included) after its join.
    """
    channel, me = f"room:{room}", {"nick": nick, "worker": WORKER}
    joined = False
    async with broadcast.subscribe(channel) as subscriber:
        await broadcast.publish_json(channel, {"type": "join", **me})
        async for item in subscriber:
            if isinstance(item, Gap):
                if item.reason == "overflow":
                    raise Dropped
                await websocket.send_json({"type": "gap"})  # events may be missing: the page clears its list
                if not joined or room not in asking:  # my join may be lost; or the room is asked again, once
                    asking.add(room)
                    try:
                        await broadcast.publish_json(channel, {"type": "join", **me, "again": joined})
                    finally:
                        asking.discard(room)
                continue
            event = item.json()
            mine = event.get("nick") == nick and event.get("worker") == WORKER  # sent by, or aimed at, this connection
            kind = event["type"]
            if kind == "taken":
                if mine:
                    raise NicknameTaken
                continue
            if mine and kind == "join" and not joined:
                joined = True
                task_status.started()
            namesake = kind in ("join", "leave") and event["nick"] == nick and not mine  # refused: not my leave
            if not namesake:
                await websocket.send_json(event)
            if mine:
                continue
            if kind == "join":
                if event["nick"] == nick:  # the same name on another worker: it came second
                    await broadcast.publish_json(channel, {"type": "taken", "nick": nick, "worker": event["worker"]})
                if answered.get(room) is not item:  # one answer from this worker, for all its members
                    answered[room] = item
                    nicks = sorted(rooms.get(room, ()))
                    await broadcast.publish_json(channel, {"type": "here", "nicks": nicks, "worker": WORKER})
            elif kind == "leave" and event["nick"] == nick:  # the refused namesake left: I am still here
                await broadcast.publish_json(channel, {"type": "here", "nicks": [nick], "worker": WORKER})
    raise BroadcastError("the broadcast disconnected")


async def say_goodbye(channel: str, nick: str, dropped: bool) -> None:
    """Tell the room this member left; bounded, and even while the connection is being cancelled."""
    leave = {"type": "leave", "nick": nick, "worker": WORKER, "dropped": dropped}
    # A broadcast that is down or shut down has nobody to tell.
    with trio.CancelScope(shield=True), trio.move_on_after(broadcast.timeout), suppress(BroadcastError):
        await broadcast.publish_json(channel, leave)


@app.websocket("/ws/<path:room>")
async def chat(room: str) -> None:
    nick = websocket.args.get("nick", "").strip()
    # Accept before refusing, so that the page sees the close code and reason
    # (a refused handshake reaches a browser as a bare 1006).
    await websocket.accept()
    if not (0 < len(nick) <= MAX_NAME and 0 < len(room) <= MAX_NAME):
        await websocket.close(POLICY_VIOLATION, f"nickname and room must be 1 to {MAX_NAME} characters")
        return
    members = rooms.setdefault(room, set())
    if nick in members:
        await websocket.close(POLICY_VIOLATION, f"{nick} is taken in {room}")
        return
    members.add(nick)
    channel = f"room:{room}"
    dropped = False
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(forward, room, nick)
            nursery.start_soon(listen, channel, nick)
    except* Dropped:
        dropped = True
        await websocket.close(TRY_AGAIN_LATER, "too slow: you fell behind the room")
    except* NicknameTaken:
        await websocket.close(POLICY_VIOLATION, f"{nick} is taken in {room}")
    except* BroadcastError:  # Redis is down (a publish failed), or the broadcast stopped
        await websocket.close(TRY_AGAIN_LATER, "the chat is unavailable: try again later")
    except* BinaryMessage:
        await websocket.close(UNSUPPORTED_DATA, "chat messages are text")
    finally:
        members.discard(nick)
        if not members and rooms.get(room) is members:
            del rooms[room]
            answered.pop(room, None)
        await say_goodbye(channel, nick, dropped)
