"""The chat server: a page, a list of rooms, and a websocket per member.

A member connects to ``/ws/<room>?nick=<nickname>``. Each text message it
sends reaches everyone in the room, itself included, as
``{"type": "message", "nick": ..., "text": ...}``; ``join`` and ``leave``
events carry the room's member list. A member whose buffer fills up (see
``broadcast.py``) is closed with 1013, "try again later".
"""

from __future__ import annotations

from pathlib import Path

import trio

from trioweb import App, websocket

from .broadcast import Dropped, Hub, NicknameTaken, Subscriber

app = App(__name__)
app.config.update(
    WEBSOCKET_MAX_MESSAGE_SIZE=4 * 1024,  # a longer chat message closes with 1009
    WEBSOCKET_PING_INTERVAL=20.0,  # a client that stopped reading is closed with 1011
)
hub = Hub(buffer_size=32)

PAGE = (Path(__file__).parent / "chat.html").read_text()
MAX_NAME = 20  # characters, for nicknames and rooms
POLICY_VIOLATION = 1008
UNSUPPORTED_DATA = 1003
TRY_AGAIN_LATER = 1013


class BinaryMessage(Exception):
    """The client sent bytes; chat messages are text."""


@app.route("/")
async def page() -> str:
    return PAGE


@app.route("/rooms")
async def rooms() -> dict[str, list[str]]:
    """Each room with the nicknames in it."""
    return {room: sorted(members) for room, members in hub.rooms.items()}


async def forward(subscriber: Subscriber) -> None:
    while True:
        await websocket.send_json(await subscriber.receive())


async def listen(room: str, nick: str) -> None:
    while True:
        text = await websocket.receive()
        if isinstance(text, bytes):
            raise BinaryMessage
        if text.strip():
            hub.publish(room, {"type": "message", "nick": nick, "text": text})


@app.websocket("/ws/<room>")
async def chat(room: str) -> None:
    nick = websocket.args.get("nick", "").strip()
    # Accept before refusing, so that the page sees the close code and reason
    # (a refused handshake reaches a browser as a bare 1006).
    await websocket.accept()
    if not (0 < len(nick) <= MAX_NAME and 0 < len(room) <= MAX_NAME):
        await websocket.close(POLICY_VIOLATION, f"nickname and room must be 1 to {MAX_NAME} characters")
        return
    try:
        subscriber = hub.join(room, nick)
    except NicknameTaken:
        await websocket.close(POLICY_VIOLATION, f"{nick} is taken in {room}")
        return
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(forward, subscriber)
            nursery.start_soon(listen, room, nick)
    except* Dropped:
        await websocket.close(TRY_AGAIN_LATER, "too slow: you fell behind the room")
    except* BinaryMessage:
        await websocket.close(UNSUPPORTED_DATA, "chat messages are text")
    finally:
        hub.leave(room, subscriber)
