"""A plain request leaves no cyclic garbage: a cycle per request makes every
request wait for the cyclic garbage collector, which cost about 10% of a small
request's time on Hypercorn before it was found."""

from __future__ import annotations

import functools
import gc
from collections.abc import Iterator
from typing import Any

import pytest
import trio
import trio.testing
from trio_websocket import open_websocket_url

from trioweb import App, serve
from trioweb.server import serve_stream

REQUESTS = 50


@pytest.fixture
def hello() -> App:
    app = App(__name__)

    @app.route("/")
    async def index() -> str:
        return "hello"

    return app


@pytest.fixture
def collector_paused() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


async def test_native_requests_leave_no_cycles(hello: App, collector_paused: None) -> None:
    client, server = trio.testing.memory_stream_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve_stream, hello, server)
        await client.send_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")  # warm-up
        await client.receive_some()
        gc.collect()
        for _ in range(REQUESTS):
            await client.send_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            received = b""
            while not received.endswith(b"hello"):
                received += await client.receive_some()
        assert gc.collect() == 0
        await client.aclose()


async def test_asgi_requests_leave_no_cycles(hello: App, collector_paused: None) -> None:
    async with hello.test_app():  # serving, as under Hypercorn with its lifespan

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            pass

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": "/",
            "raw_path": b"/",
            "query_string": b"",
            "root_path": "",
            "headers": [(b"host", b"x")],
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
        }
        await hello(scope, receive, send)  # warm-up
        gc.collect()
        for _ in range(REQUESTS):
            await hello(dict(scope), receive, send)
        assert gc.collect() == 0


async def test_native_connections_and_websocket_sessions_leave_no_cycles(collector_paused: None) -> None:
    """A connection's end, and a websocket session's, leave nothing for the collector either.

    One cycle per connection made the collector run every few hundred
    handshakes, which doubled the p99 of a connect+upgrade+close handshake.
    """
    from bench.app import app  # hello on /, an echo on /ws

    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(functools.partial(serve, app, host="127.0.0.1", port=0))
        port = listeners[0].socket.getsockname()[1]

        async def one_of_each() -> None:
            async with open_websocket_url(f"ws://127.0.0.1:{port}/ws") as client:
                await client.send_message("hi")
                assert await client.get_message() == "hi"
            stream = await trio.open_tcp_stream("127.0.0.1", port)
            async with stream:
                await stream.send_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                while await stream.receive_some(65536):
                    pass

        await one_of_each()  # warm-up
        await trio.testing.wait_all_tasks_blocked()
        gc.collect()
        for _ in range(10):
            await one_of_each()
        await trio.testing.wait_all_tasks_blocked()
        assert gc.collect() == 0
        nursery.cancel_scope.cancel()
