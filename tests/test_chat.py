"""The chat example: the app through the test client (memory://), a slow member on a real socket."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio
import trio_websocket

from examples.chat import BUFFER, WORKER, app, broadcast, rooms
from tests.live import serving
from trioweb.broadcast import Gap, Message, Subscriber
from trioweb.testing import TestClient, TestWebsocket, WebsocketDisconnectError


@pytest.fixture(autouse=True)
def no_members() -> Iterator[None]:
    """The example's member lists are module state: start every test with none, and the default buffer."""
    rooms.clear()
    yield
    rooms.clear()
    broadcast.buffer = BUFFER


@pytest.fixture
async def client() -> AsyncIterator[TestClient]:
    """A test client of the app while it serves, so that its broadcast (memory://) is connected."""
    async with app.test_app() as test_app:
        yield test_app.test_client()


# -- the app, through the test client -----------------------------------------------


async def next_event(ws: TestWebsocket) -> dict[str, Any]:
    event: dict[str, Any] = await ws.receive_json(timeout=5)
    return event


def joined(nick: str) -> dict[str, Any]:
    return {"type": "join", "nick": nick, "worker": WORKER}


def here(*nicks: str, worker: str = WORKER) -> dict[str, Any]:
    return {"type": "here", "nicks": list(nicks), "worker": worker}


def left(nick: str, *, dropped: bool = False) -> dict[str, Any]:
    return {"type": "leave", "nick": nick, "worker": WORKER, "dropped": dropped}


async def test_members_chat_in_a_room(client: TestClient) -> None:
    async with client.websocket("/ws/lobby", query_string={"nick": "ann"}) as ann:
        assert await next_event(ann) == joined("ann")
        async with client.websocket("/ws/lobby", query_string={"nick": "bob"}) as bob:
            assert await next_event(ann) == joined("bob")
            # bob's page builds its member list from the answers to its join: one per worker.
            assert await next_event(bob) == joined("bob")
            assert await next_event(bob) == here("ann", "bob")
            assert await next_event(ann) == here("ann", "bob")
            rooms_here = await (await client.get("/rooms")).get_json()
            assert rooms_here == {"worker": WORKER, "rooms": {"lobby": ["ann", "bob"]}}
            await bob.send("hello, ann")
            said = {"type": "message", "nick": "bob", "text": "hello, ann"}
            assert await next_event(bob) == said
            assert await next_event(ann) == said
            await bob.send("   ")  # blank: not published
            await ann.send("hi")
            assert await next_event(bob) == {"type": "message", "nick": "ann", "text": "hi"}
            assert await next_event(ann) == {"type": "message", "nick": "ann", "text": "hi"}
        assert await next_event(ann) == left("bob")
    assert await (await client.get("/rooms")).get_json() == {"worker": WORKER, "rooms": {}}


async def test_rooms_are_separate(client: TestClient) -> None:
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
async def test_a_bad_or_taken_nickname_is_closed_with_1008(
    client: TestClient, path: str, nick: str, reason: str
) -> None:
    async with client.websocket("/ws/lobby", query_string={"nick": "ann"}) as ann:
        await next_event(ann)
        async with client.websocket(path, query_string={"nick": nick}) as refused:
            with pytest.raises(WebsocketDisconnectError) as closed:
                await refused.receive(timeout=5)
        assert (closed.value.code, closed.value.reason) == (1008, reason)
    assert rooms == {}


# -- the membership protocol, with another worker played by the test ------------------

OTHER = "elsewhere:1"  # a worker that does not exist: the test speaks for it


def test_a_worker_is_named_by_its_host_as_well_as_its_process() -> None:
    """Workers on different machines (containers: often all pid 1) must not take each other for themselves."""
    assert f"{socket.gethostname()}:{os.getpid()}" == WORKER


async def next_item(subscriber: Subscriber) -> dict[str, Any]:
    with trio.fail_after(5):
        item = await anext(subscriber)
    assert isinstance(item, Message)
    event: dict[str, Any] = item.json()
    return event


async def test_a_member_answers_a_join_of_its_nickname_on_another_worker_with_taken(client: TestClient) -> None:
    async with (
        broadcast.subscribe("room:lobby") as other_worker,
        client.websocket("/ws/lobby", query_string={"nick": "ann"}) as ann,
    ):
        assert await next_item(other_worker) == joined("ann")
        await broadcast.publish_json("room:lobby", {"type": "join", "nick": "ann", "worker": OTHER})
        assert await next_item(other_worker) == {"type": "join", "nick": "ann", "worker": OTHER}
        assert await next_item(other_worker) == {"type": "taken", "nick": "ann", "worker": OTHER}
        assert await next_item(other_worker) == here("ann")
        # The refused namesake leaves, and pages that took ann off their list get her back.
        await broadcast.publish_json("room:lobby", {"type": "leave", "nick": "ann", "worker": OTHER, "dropped": False})
        await next_item(other_worker)
        assert await next_item(other_worker) == here("ann")
        # ann's page is not told of her namesake: its leave would take ann off her own list.
        await ann.send("still me")
        assert await next_event(ann) == joined("ann")
        assert await next_event(ann) == here("ann")  # her worker's answer to the namesake's join
        assert await next_event(ann) == here("ann")  # and to its leave
        assert await next_event(ann) == {"type": "message", "nick": "ann", "text": "still me"}


async def test_a_newcomer_whose_nickname_another_worker_has_is_closed_with_1008(client: TestClient) -> None:
    async with broadcast.subscribe("room:lobby") as other_worker:
        async with client.websocket("/ws/lobby", query_string={"nick": "ann"}) as ann:
            assert await next_event(ann) == joined("ann")
            assert await next_item(other_worker) == joined("ann")
            await broadcast.publish_json("room:lobby", {"type": "taken", "nick": "ann", "worker": WORKER})
            with pytest.raises(WebsocketDisconnectError) as closed:
                await ann.receive(timeout=5)
        assert (closed.value.code, closed.value.reason) == (1008, "ann is taken in lobby")
        await next_item(other_worker)  # the taken notice
        assert await next_item(other_worker) == left("ann")
    assert rooms == {}


async def test_after_a_reconnect_gap_the_page_is_told_and_its_worker_asks_the_room_once(client: TestClient) -> None:
    async with (
        broadcast.subscribe("room:lobby") as other_worker,
        client.websocket("/ws/lobby", query_string={"nick": "ann"}) as ann,
        client.websocket("/ws/lobby", query_string={"nick": "bob"}) as bob,
    ):
        assert await next_item(other_worker) == joined("ann")
        assert await next_item(other_worker) == joined("bob")
        assert await next_item(other_worker) == here("ann", "bob")
        # What the pub/sub backend does once its connection is back (the Feed's gap), on memory://.
        broadcast._hub.gap("reconnect", ["room:lobby"])
        assert isinstance(await anext(other_worker), Gap)
        # The pages clear their lists: every worker must answer again, not only this one's members.
        ask = await next_item(other_worker)
        assert ask == {"type": "join", "nick": ask["nick"], "worker": WORKER, "again": True}
        assert await next_item(other_worker) == here("ann", "bob")  # the other member's answer
        await broadcast.publish_json("room:lobby", here("zed", worker=OTHER))
        assert await next_item(other_worker) == here("zed", worker=OTHER)  # one ask for the worker, not one each
        for page in (ann, bob):
            while await next_event(page) != {"type": "gap"}:  # the events from before
                pass
            assert await next_event(page) == ask
            assert await next_event(page) == here("ann", "bob")
            assert await next_event(page) == here("zed", worker=OTHER)


async def test_members_are_closed_with_1013_when_the_broadcast_stops(client: TestClient) -> None:
    async with client.websocket("/ws/lobby", query_string={"nick": "ann"}) as ann:
        await next_event(ann)
        await broadcast.disconnect()
        with pytest.raises(WebsocketDisconnectError) as closed:
            await ann.receive(timeout=5)
    assert (closed.value.code, closed.value.reason) == (1013, "the chat is unavailable: try again later")
    assert rooms == {}


async def test_binary_messages_are_refused_with_1003(client: TestClient) -> None:
    async with client.websocket("/ws/lobby", query_string={"nick": "ann"}) as ann:
        await next_event(ann)
        await ann.send(b"\x00")
        with pytest.raises(WebsocketDisconnectError) as closed:
            await ann.receive(timeout=5)
    assert closed.value.code == 1003
    assert rooms == {}


async def test_a_message_over_4_kib_closes_with_1009(client: TestClient) -> None:
    async with client.websocket("/ws/lobby", query_string={"nick": "ann"}) as ann:
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


@asynccontextmanager
async def slow_websocket(address: str, resource: str) -> AsyncIterator[trio_websocket.WebSocketConnection]:
    """A websocket client that reads only when asked, over a socket with a small receive buffer.

    trio-websocket stops reading from the socket while a message waits in its
    queue (of one), so this client's backlog fills TCP's buffers and then the
    server's send blocks, as for a member on a slow network. The socket is
    closed after the block (trio-websocket leaves it to the garbage collector
    when the server closes, and its descriptor would vanish in a later test).
    """
    host, port = address.rsplit(":", 1)
    sock = trio.socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    async with trio.SocketStream(sock) as stream, trio.open_nursery() as nursery:
        await sock.connect((host, int(port)))
        yield await trio_websocket.wrap_client_stream(nursery, stream, host, resource)
        nursery.cancel_scope.cancel()


#: Messages of 1 kB that ann sends: more than sam's socket buffers and his 4 events of buffer hold.
SENT = 500


async def test_a_slow_member_is_closed_with_1013_and_the_room_goes_on() -> None:
    broadcast.buffer = 4
    padding = "x" * 1000
    async with (
        serving(app) as address,
        trio_websocket.open_websocket_url(f"ws://{address}/ws/lobby?nick=ann") as ann,
    ):
        assert json.loads(await ann.get_message()) == joined("ann")
        async with slow_websocket(address, "/ws/lobby?nick=sam") as sam:
            assert json.loads(await ann.get_message()) == joined("sam")
            assert json.loads(await ann.get_message()) == here("ann", "sam")

            # ann talks, and gets each message back at once: nothing waits for sam.
            with trio.fail_after(30):
                for sent in range(1, SENT + 1):
                    await ann.send_message(f"{sent} {padding}")
                    assert json.loads(await ann.get_message())["text"] == f"{sent} {padding}"

            # sam reads at last: a gapless prefix of the messages, then the close.
            numbers = []
            with trio.fail_after(10), pytest.raises(trio_websocket.ConnectionClosed) as closed:
                while True:
                    event = json.loads(await sam.get_message())
                    if event["type"] == "message":
                        numbers.append(int(event["text"].split()[0]))
            assert numbers == list(range(1, len(numbers) + 1))
            assert len(numbers) < SENT
            assert closed.value.reason.code == 1013
            assert closed.value.reason.reason == "too slow: you fell behind the room"

            # The room sees sam go, and goes on.
            with trio.fail_after(5):
                assert json.loads(await ann.get_message()) == left("sam", dropped=True)
            await ann.send_message("still here")
            with trio.fail_after(5):
                assert json.loads(await ann.get_message())["text"] == "still here"


async def test_a_message_sent_at_once_comes_after_the_join_and_back_to_its_sender(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, autojump_clock: trio.testing.MockClock
) -> None:
    subscribe = broadcast.backend.subscribe

    async def subscribe_over_the_network(channel: str) -> None:  # a broker's SUBSCRIBE takes a round trip
        await trio.sleep(0.01)
        await subscribe(channel)

    monkeypatch.setattr(broadcast.backend, "subscribe", subscribe_over_the_network)
    async with client.websocket("/ws/lobby", query_string={"nick": "ann"}) as ann:
        await ann.send("at once")
        assert await next_event(ann) == joined("ann")
        assert await next_event(ann) == {"type": "message", "nick": "ann", "text": "at once"}


#: Members in a room bigger than the example's first buffer of 32 events.
ROOM = 40


async def test_a_join_in_a_room_of_40_drops_nobody() -> None:
    """Each join brings one ``here`` per member to every member at once: their buffers must hold them."""
    closed: list[str] = []
    heard: dict[str, set[str]] = {}  # by member: the nicknames and texts its page got
    news = trio.Event()
    everyone = {f"m{number}" for number in range(ROOM)}

    async def member(nick: str, *, task_status: trio.TaskStatus[None]) -> None:
        nonlocal news
        heard[nick] = set()
        async with trio_websocket.open_websocket_url(f"ws://{address}/ws/lobby?nick={nick}") as ws:
            try:
                while True:
                    event = json.loads(await ws.get_message())
                    if event == joined(nick):
                        task_status.started()
                    heard[nick].update(event.get("nicks") or [event.get("text") or event["nick"]])
                    news.set()
            except trio_websocket.ConnectionClosed as error:
                closed.append(f"{nick} {error.reason}")
                news.set()

    async def until(done: Callable[[], bool]) -> None:
        nonlocal news
        while not (done() or closed):
            news = trio.Event()
            await news.wait()

    async with serving(app) as address, trio.open_nursery() as nursery:
        with trio.fail_after(60):
            for number in range(ROOM):
                await nursery.start(member, f"m{number}")
            await until(lambda: heard["m39"] >= everyone)  # the newcomer's page lists the room
            await broadcast.publish_json("room:lobby", {"type": "message", "nick": "test", "text": "all there?"})
            await until(lambda: all("all there?" in heard[nick] for nick in everyone))
        assert closed == []
        nursery.cancel_scope.cancel()


async def test_a_room_name_with_a_slash_is_a_room(client: TestClient) -> None:
    """The page sends the room as one path segment, its ``/`` encoded; the server decodes it before routing."""
    async with client.websocket("/ws/team%2Fdev", query_string={"nick": "ann"}) as ann:
        assert await next_event(ann) == joined("ann")
        assert rooms == {"team/dev": {"ann"}}
