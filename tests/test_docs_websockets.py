"""Every code sample of docs/websockets.md, run (tests/test_docs.py checks the page shows them verbatim)."""

from __future__ import annotations

import base64
import importlib.util
import logging
from pathlib import Path
from types import ModuleType

import pytest
import trio
import trio.testing

from trioweb.server import serve_stream
from trioweb.testing import WebsocketDisconnectError, WebsocketResponseError

ROOT = Path(__file__).parent.parent
EXAMPLES = ROOT / "docs" / "examples" / "websockets"
#: The samples this module runs; a new sample needs a test here.
TESTED = {
    "attributes",
    "bytes_and_text",
    "closing",
    "closing_nursery",
    "disconnect",
    "disconnect_nursery",
    "echo",
    "independent",
    "limits",
    "mixing",
    "reject",
    "testing",
}


def load(name: str) -> ModuleType:
    """A fresh copy of a sample module (its app and its module-level state)."""
    spec = importlib.util.spec_from_file_location(f"docs_websockets_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def basic_auth(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# -- the samples ----------------------------------------------------------------


async def test_echo() -> None:
    app = load("echo").app
    async with app.test_client().websocket("/ws") as ws:
        for message in ("hello", b"\x00\xff", "", b""):
            await ws.send(message)
            assert await ws.receive(timeout=5) == message


async def test_attributes() -> None:
    app = load("attributes").app
    async with app.test_client().websocket(
        "/rooms/lobby",
        query_string={"nick": "annie"},
        headers={"User-Agent": "tests", "Cookie": "theme=dark", "Authorization": basic_auth("ann", "pw")},
        subprotocols=["chat.v1"],
    ) as ws:
        assert await ws.receive_json(timeout=5) == {
            "room": "lobby",
            "path": "/rooms/lobby",
            "nick": "annie",
            "agent": "tests",
            "theme": "dark",
            "user": "ann",
            "offered": ["chat.v1"],
            "from": "127.0.0.1",
        }


async def test_reject() -> None:
    app = load("reject").app
    client = app.test_client()
    for headers in ({}, {"Authorization": basic_auth("ann", "wrong")}):
        with pytest.raises(WebsocketResponseError) as rejected:
            async with client.websocket("/ws", headers=headers):
                pass
        assert rejected.value.response.status_code == 403
        assert await rejected.value.response.get_data() == b"Invalid password"
    async with client.websocket("/ws", headers={"Authorization": basic_auth("ann", "s3cret")}) as ws:
        assert await ws.receive(timeout=5) == "hello ann"

    with pytest.raises(WebsocketResponseError) as rejected:
        async with client.websocket("/chat", subprotocols=["chat.v1"]):
            pass
    assert rejected.value.response.status_code == 400
    async with client.websocket("/chat", subprotocols=["chat.v1", "chat.v2"]) as ws:
        assert ws.subprotocol == "chat.v2"
        assert (b"x-chat-server", b"trioweb") in ws.connection.handshake_headers
        await ws.send("hi")
        assert await ws.receive(timeout=5) == "hi"


async def test_independent(autojump_clock: trio.testing.MockClock) -> None:
    app = load("independent").app
    async with app.test_client().websocket("/ws") as ws:
        start = trio.current_time()
        assert await ws.receive() == "tick 1"
        await ws.send("hi")
        assert await ws.receive() == "hi"  # answered at once, between ticks
        assert await ws.receive() == "tick 2"
        assert trio.current_time() - start == pytest.approx(1)


async def test_disconnect_with_a_close_frame() -> None:
    sample = load("disconnect")
    async with sample.app.test_client().websocket("/ws/ann") as ws:
        assert sample.online == {"ann"}
        await ws.close(4001, "going away")
    assert sample.online == set()
    assert sample.departures == [("ann", 4001, "going away")]


async def test_disconnect_by_dropping_the_connection() -> None:
    sample = load("disconnect")
    client, server = trio.testing.memory_stream_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve_stream, sample.app, server)
        await client.send_all(
            b"GET /ws/bob HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        with trio.fail_after(5):
            assert (await client.receive_some(65536)).startswith(b"HTTP/1.1 101 ")
        await client.aclose()  # no close frame
    assert sample.departures == [("bob", 1006, "")]


async def test_disconnect_in_a_nursery(caplog: pytest.LogCaptureFixture) -> None:
    sample = load("disconnect_nursery")
    with caplog.at_level(logging.WARNING):
        async with sample.app.test_client().websocket("/ws") as ws:
            assert await ws.receive(timeout=5) == "still here"
            await ws.close(1001)
    assert sample.departures == [1001]
    assert not caplog.records  # a clean disconnect: nothing logged


async def test_closing() -> None:
    app = load("closing").app
    client = app.test_client()
    with pytest.raises(WebsocketResponseError) as rejected:
        async with client.websocket("/ws"):
            pass
    assert rejected.value.response.status_code == 403
    async with client.websocket("/ws", query_string={"token": "t"}) as ws:
        assert await ws.receive(timeout=5) == "welcome"
        await ws.send("bye")
        with pytest.raises(WebsocketDisconnectError) as closed:
            await ws.receive(timeout=5)
    assert (closed.value.code, closed.value.reason) == (4000, "see you")


async def test_closing_from_a_nursery(caplog: pytest.LogCaptureFixture, autojump_clock: trio.testing.MockClock) -> None:
    sample = load("closing_nursery")
    start = trio.current_time()
    with caplog.at_level(logging.WARNING):
        async with sample.app.test_client().websocket("/ws") as ws:
            assert await ws.receive(timeout=5) == "welcome"
            await ws.send("quit")
            with pytest.raises(WebsocketDisconnectError) as closed:
                await ws.receive(timeout=5)
    assert (closed.value.code, closed.value.reason) == (4000, "bye")
    assert sorted(sample.log) == ["closed by the commands task", "feed stopped: close 4000"]
    assert trio.current_time() - start < 1  # no timeout was waited for
    assert not caplog.records


async def test_testing() -> None:
    sample = load("testing")
    await sample.test_greeting()
    await sample.test_no_token_is_rejected()


async def test_bytes_and_text() -> None:
    app = load("bytes_and_text").app
    async with app.test_client().websocket("/ws") as ws:
        for sent, answer in ((b"abc", "3 bytes"), ("abc", "ABC"), (b"", "0 bytes"), ("", "")):
            await ws.send(sent)
            assert await ws.receive(timeout=5) == answer


async def test_mixing() -> None:
    app = load("mixing").app
    client = app.test_client()
    page = await client.get("/live")
    assert page.status_code == 200
    assert "new WebSocket" in await page.get_data(as_text=True)
    async with client.websocket("/live") as ws:
        assert await ws.receive(timeout=5) == "live!"
    for method in ("GET", "POST"):
        plain = await client.open("/socket-only", method=method)
        assert plain.status_code == 400
        assert "connect to ws://localhost/socket-only with a websocket client." in await plain.get_data(as_text=True)
    for path, status in (("/page-only", 400), ("/nowhere", 404)):
        with pytest.raises(WebsocketResponseError) as rejected:
            async with client.websocket(path):
                pass
        assert rejected.value.response.status_code == status
        if status == 400:
            assert b"only answers plain HTTP requests" in await rejected.value.response.get_data()


async def test_limits() -> None:
    app = load("limits").app
    assert app.config["WEBSOCKET_PING_INTERVAL"] == 30.0
    async with app.test_client().websocket("/ws") as ws:
        await ws.send(b"x" * 64 * 1024)
        assert await ws.receive(timeout=5) == b"x" * 64 * 1024
        await ws.send(b"x" * (64 * 1024 + 1))
        with pytest.raises(WebsocketDisconnectError) as closed:
            await ws.receive(timeout=5)
    assert closed.value.code == 1009
