"""The chat example: the broadcast hub on its own, the app through the test client, a slow member on a real socket."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest
import trio
import trio_websocket

from examples.chat import app, hub
from examples.chat.broadcast import Dropped, Hub, NicknameTaken
from tests.live import serving
from trioweb.testing import TestWebsocket, WebsocketDisconnectError


@pytest.fixture(autouse=True)
def empty_hub() -> Iterator[None]:
    """The example's hub is module state: start every test with no rooms and the default buffer."""
    buffer_size = hub.buffer_size
    hub.rooms.clear()
    yield
    hub.rooms.clear()
    hub.buffer_size = buffer_size


# -- the hub ----------------------------------------------------------------------


def drain(subscriber: Any) -> list[dict[str, Any]]:
    """The events buffered for a subscriber right now."""
    events = []
    while True:
        try:
            events.append(subscriber._receive_channel.receive_nowait())
        except trio.WouldBlock:
            return events


async def test_everyone_in_the_room_and_only_there_gets_an_event() -> None:
    rooms = Hub()
    ann = rooms.join("lobby", "ann")
    bob = rooms.join("lobby", "bob")
    cat = rooms.join("kitchen", "cat")
    rooms.publish("lobby", {"type": "message", "nick": "bob", "text": "hi"})
    message = {"type": "message", "nick": "bob", "text": "hi"}
    assert drain(ann) == [
        {"type": "join", "nick": "ann", "members": ["ann"]},
        {"type": "join", "nick": "bob", "members": ["ann", "bob"]},
        message,
    ]
    assert drain(bob) == [{"type": "join", "nick": "bob", "members": ["ann", "bob"]}, message]
    assert drain(cat) == [{"type": "join", "nick": "cat", "members": ["cat"]}]
    rooms.leave("lobby", bob)
    rooms.leave("lobby", bob)  # a second leave is harmless
    assert drain(ann) == [{"type": "leave", "nick": "bob", "members": ["ann"], "dropped": False}]
    rooms.leave("lobby", ann)
    assert sorted(rooms.rooms) == ["kitchen"]  # an empty room is gone


async def test_a_nickname_is_unique_in_its_room() -> None:
    rooms = Hub()
    rooms.join("lobby", "ann")
    with pytest.raises(NicknameTaken):
        rooms.join("lobby", "ann")
    rooms.join("kitchen", "ann")


async def test_a_subscriber_that_falls_behind_is_dropped_and_the_others_get_everything() -> None:
    rooms = Hub(buffer_size=3)
    slow = rooms.join("lobby", "slow")
    fast = rooms.join("lobby", "fast")
    received: list[dict[str, Any]] = []
    for number in range(10):
        rooms.publish("lobby", {"type": "message", "nick": "fast", "text": str(number)})  # never waits
        received += drain(fast)
    # slow's buffer held its join, fast's join and message 0; message 1 did not fit.
    assert slow.dropped
    with pytest.raises(Dropped):
        await slow.receive()
    texts = [event["text"] for event in received if event["type"] == "message"]
    assert texts == [str(number) for number in range(10)]
    assert {"type": "leave", "nick": "slow", "members": ["fast"], "dropped": True} in received
    assert list(rooms.rooms["lobby"]) == ["fast"]
    # Once dropped, a subscriber's own leave changes nothing.
    rooms.leave("lobby", slow)
    assert list(rooms.rooms["lobby"]) == ["fast"]


# -- the app, through the test client -----------------------------------------------


async def next_event(ws: TestWebsocket) -> dict[str, Any]:
    event: dict[str, Any] = await ws.receive_json(timeout=5)
    return event


async def test_members_chat_in_a_room() -> None:
    client = app.test_client()
    async with client.websocket("/ws/lobby", query_string={"nick": "ann"}) as ann:
        assert await next_event(ann) == {"type": "join", "nick": "ann", "members": ["ann"]}
        async with client.websocket("/ws/lobby", query_string={"nick": "bob"}) as bob:
            joined = {"type": "join", "nick": "bob", "members": ["ann", "bob"]}
            assert await next_event(ann) == joined
            assert await next_event(bob) == joined
            assert await (await client.get("/rooms")).get_json() == {"lobby": ["ann", "bob"]}
            await bob.send("hello, ann")
            said = {"type": "message", "nick": "bob", "text": "hello, ann"}
            assert await next_event(bob) == said
            assert await next_event(ann) == said
            await bob.send("   ")  # blank: not published
            await ann.send("hi")
            assert await next_event(bob) == {"type": "message", "nick": "ann", "text": "hi"}
            assert await next_event(ann) == {"type": "message", "nick": "ann", "text": "hi"}
        assert await next_event(ann) == {"type": "leave", "nick": "bob", "members": ["ann"], "dropped": False}
    assert await (await client.get("/rooms")).get_json() == {}


async def test_rooms_are_separate() -> None:
    client = app.test_client()
    async with (
        client.websocket("/ws/a", query_string={"nick": "ann"}) as ann,
        client.websocket("/ws/b", query_string={"nick": "ann"}) as other_ann,
    ):
        await next_event(ann)
        await next_event(other_ann)
        await ann.send("in a")
        assert await next_event(ann) == {"type": "message", "nick": "ann", "text": "in a"}
        with pytest.raises(trio.TooSlowError):
            await other_ann.receive(timeout=0.1)


@pytest.mark.parametrize(
    ("path", "nick", "reason"),
    [
        ("/ws/lobby", "", "nickname and room must be 1 to 20 characters"),
        ("/ws/lobby", "x" * 21, "nickname and room must be 1 to 20 characters"),
        ("/ws/" + "r" * 21, "ann", "nickname and room must be 1 to 20 characters"),
        ("/ws/lobby", "ann", "ann is taken in lobby"),
    ],
)
async def test_a_bad_or_taken_nickname_is_closed_with_1008(path: str, nick: str, reason: str) -> None:
    client = app.test_client()
    async with client.websocket("/ws/lobby", query_string={"nick": "ann"}) as ann:
        await next_event(ann)
        async with client.websocket(path, query_string={"nick": nick}) as refused:
            with pytest.raises(WebsocketDisconnectError) as closed:
                await refused.receive(timeout=5)
        assert (closed.value.code, closed.value.reason) == (1008, reason)
    assert hub.rooms == {}


async def test_binary_messages_are_refused_with_1003() -> None:
    async with app.test_client().websocket("/ws/lobby", query_string={"nick": "ann"}) as ann:
        await next_event(ann)
        await ann.send(b"\x00")
        with pytest.raises(WebsocketDisconnectError) as closed:
            await ann.receive(timeout=5)
    assert closed.value.code == 1003
    assert hub.rooms == {}


async def test_a_message_over_4_kib_closes_with_1009() -> None:
    async with app.test_client().websocket("/ws/lobby", query_string={"nick": "ann"}) as ann:
        await next_event(ann)
        await ann.send("x" * 4096)
        assert (await next_event(ann))["text"] == "x" * 4096
        await ann.send("x" * 4097)
        with pytest.raises(WebsocketDisconnectError) as closed:
            await ann.receive(timeout=5)
    assert closed.value.code == 1009


async def test_the_page_is_served() -> None:
    response = await app.test_client().get("/")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert "new WebSocket(url)" in await response.get_data(as_text=True)


# -- a slow member, on real sockets ---------------------------------------------------


async def open_slow_websocket(nursery: trio.Nursery, address: str, resource: str) -> trio_websocket.WebSocketConnection:
    """A websocket client that reads only when asked, over a socket with a small receive buffer.

    trio-websocket stops reading from the socket while a message waits in its
    queue (of one), so this client's backlog fills TCP's buffers and then the
    server's send blocks, as for a member on a slow network.
    """
    host, port = address.rsplit(":", 1)
    sock = trio.socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    await sock.connect((host, int(port)))
    return await trio_websocket.wrap_client_stream(nursery, trio.SocketStream(sock), host, resource)


async def test_a_slow_member_is_dropped_with_1013_and_the_room_goes_on() -> None:
    hub.buffer_size = 4
    padding = "x" * 1000
    async with (
        serving(app) as address,
        trio_websocket.open_websocket_url(f"ws://{address}/ws/lobby?nick=ann") as ann,
        trio.open_nursery() as nursery,
    ):
        assert json.loads(await ann.get_message())["type"] == "join"
        sam = await open_slow_websocket(nursery, address, "/ws/lobby?nick=sam")
        assert json.loads(await ann.get_message())["members"] == ["ann", "sam"]

        # ann talks, and gets each message back at once, until sam is dropped.
        sent = 0
        dropped = None
        with trio.fail_after(30):
            while dropped is None:
                sent += 1
                assert sent < 5000, "sam was never dropped"
                await ann.send_message(f"{sent} {padding}")
                while True:
                    event = json.loads(await ann.get_message())
                    if event["type"] == "leave":
                        dropped = event
                    else:
                        assert event["text"] == f"{sent} {padding}"
                        break
        assert dropped == {"type": "leave", "nick": "sam", "members": ["ann"], "dropped": True}
        await ann.send_message("still here")
        with trio.fail_after(5):
            assert json.loads(await ann.get_message())["text"] == "still here"

        # sam reads at last: a gapless prefix of the messages, then the close.
        numbers = []
        with trio.fail_after(10), pytest.raises(trio_websocket.ConnectionClosed) as closed:
            while True:
                event = json.loads(await sam.get_message())
                if event["type"] == "message":
                    numbers.append(int(event["text"].split()[0]))
        assert numbers == list(range(1, len(numbers) + 1))
        assert len(numbers) < sent
        assert closed.value.reason.code == 1013
        assert closed.value.reason.reason == "too slow: you fell behind the room"
