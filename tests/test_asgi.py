"""The ASGI adapter, with real clients on a socket, on Hypercorn's trio worker and on the native server.

Tests that take ``live_server`` or ``server_kind`` run once per server; the
ones named ``..._under_hypercorn`` are about the ASGI path alone. Hypercorn's
timers run on the real clock, so their waits are kept short instead of using
``autojump_clock``.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import trio
from trio_websocket import ConnectionClosed, ConnectionRejected, open_websocket_url

from trioweb import App, CancelledError, Response, request, url_for, websocket
from trioweb.asgi import Receive, Scope, Send

from .conftest import raw_exchange, start_hypercorn
from .test_websocket import add_ticker_that_records_its_close

GET = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


async def test_request_attributes_are_the_same_on_both_servers(app: App, live_server: str) -> None:
    @app.route("/echo/<name>", methods=["POST"])
    async def echo(name: str) -> dict[str, Any]:
        return {
            "name": name,
            "method": request.method,
            "path": request.path,
            "full_path": request.full_path,
            "args": request.args.getlist("a"),
            "header": request.headers.get("X-Custom"),
            "cookies": dict(request.cookies),
            "remote_addr": request.remote_addr,
            "scheme": request.scheme,
            "host": request.host,
            "json": await request.get_json(),
        }

    async with httpx.AsyncClient(base_url=f"http://{live_server}") as client:
        response = await client.post(
            "/echo/caf%C3%A9?a=1&a=2",
            json={"x": [1, 2]},
            headers={"X-Custom": "yes", "Cookie": "session=abc"},
        )
    assert response.status_code == 200
    assert response.json() == {
        "name": "café",
        "method": "POST",
        "path": "/echo/café",
        "full_path": "/echo/café?a=1&a=2",
        "args": ["1", "2"],
        "header": "yes",
        "cookies": {"session": "abc"},
        "remote_addr": "127.0.0.1",
        "scheme": "http",
        "host": live_server,
        "json": {"x": [1, 2]},
    }


async def test_head_has_headers_and_no_body(app: App, live_server: str) -> None:
    @app.route("/")
    async def index() -> str:
        return "hello"

    received = await raw_exchange(live_server, b"HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ") and b"content-length: 5" in head.lower()
    assert body == b""


async def test_large_body_is_streamed_to_the_view(app: App, live_server: str) -> None:
    sizes: list[int] = []

    @app.route("/upload", methods=["POST"])
    async def upload() -> str:
        total = 0
        async for chunk in request.body:
            sizes.append(len(chunk))
            total += len(chunk)
        return str(total)

    payload = b"x" * (3 * 1024 * 1024)
    async with httpx.AsyncClient(base_url=f"http://{live_server}") as client:
        response = await client.post("/upload", content=payload)
    assert response.text == str(len(payload))
    assert len(sizes) > 1  # it came in pieces, not as one 3 MiB string


async def test_chunked_body_over_the_limit_is_413(app: App, live_server: str) -> None:
    app.config["MAX_CONTENT_LENGTH"] = 1000

    @app.route("/upload", methods=["POST"])
    async def upload() -> str:
        return str(len(await request.get_data()))

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(5):
            yield b"y" * 400

    async with httpx.AsyncClient(base_url=f"http://{live_server}") as client:
        response = await client.post("/upload", content=chunks())
    assert response.status_code == 413


async def test_unread_body_does_not_hang_the_response(app: App, live_server: str) -> None:
    """The view ignores a large upload: the response goes out, then the server closes the connection.

    On Hypercorn the unread body must be drained, or its queue fills and the
    server blocks inside the app's last ``send``, before it closes. (The
    adapter drains as it sends the last message; the watch over slow requests
    would also get there, 0.1-0.2 s later.)
    """

    @app.route("/ignore", methods=["POST"])
    async def ignore() -> str:
        await trio.sleep(0.05)  # long enough for the upload to fill the server's queue
        return "ignored"

    host, port = live_server.split(":")
    stream = await trio.open_tcp_stream(host, int(port))
    body = b"z" * (4 * 1024 * 1024)
    head = f"POST /ignore HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n".encode()
    received = b""
    async with stream, trio.open_nursery() as nursery:

        async def upload() -> None:
            with contextlib.suppress(trio.BrokenResourceError):  # the server closed after answering: fine
                await stream.send_all(head + body)

        nursery.start_soon(upload)
        with trio.fail_after(10):
            while chunk := await stream.receive_some(65536):
                received += chunk
        nursery.cancel_scope.cancel()
    assert received.startswith(b"HTTP/1.1 200 ") and received.endswith(b"ignored")


async def test_client_disconnect_cancels_a_waiting_view(app: App, live_server: str) -> None:
    cancelled = trio.Event()
    started = trio.Event()
    reasons: list[str] = []

    @app.route("/")
    async def forever() -> str:
        started.set()
        try:
            await trio.sleep_forever()
        except CancelledError as error:
            reasons.append(str(error.reason))
            cancelled.set()
            raise
        return "never"

    host, port = live_server.split(":")
    stream = await trio.open_tcp_stream(host, int(port))
    await stream.send_all(GET)
    with trio.fail_after(5):
        await started.wait()
    await stream.aclose()
    with trio.fail_after(5):
        await cancelled.wait()
    assert reasons == ["the client disconnected"]


async def test_client_disconnect_cancels_a_streamed_response(app: App, live_server: str) -> None:
    cancelled = trio.Event()

    @app.route("/ticks")
    async def ticks() -> Response:
        async def body() -> AsyncIterator[bytes]:
            try:
                while True:
                    yield b"tick\n"
                    await trio.sleep(0.01)
            except CancelledError:
                cancelled.set()
                raise

        response = Response(body())
        response.timeout = None
        return response

    host, port = live_server.split(":")
    stream = await trio.open_tcp_stream(host, int(port))
    await stream.send_all(b"GET /ticks HTTP/1.1\r\nHost: x\r\n\r\n")
    received = b""
    with trio.fail_after(5):
        while received.count(b"tick") < 3:
            received += await stream.receive_some(65536)
    await stream.aclose()
    with trio.fail_after(5):
        await cancelled.wait()


async def test_response_timeout_closes_the_connection(app: App, live_server: str) -> None:
    app.config["RESPONSE_TIMEOUT"] = 0.3
    app.config["KEEP_ALIVE_TIMEOUT"] = 0.2  # the native timer looks at deadlines this often

    @app.route("/")
    async def endless() -> Response:
        async def body() -> AsyncIterator[bytes]:
            while True:
                yield b"."
                await trio.sleep(0.02)

        return Response(body())

    start = trio.current_time()
    received = await raw_exchange(live_server, GET)
    assert 0.3 <= trio.current_time() - start < 3
    assert received.startswith(b"HTTP/1.1 200 ") and received.count(b".") >= 3


async def test_body_timeout_is_408(app: App, live_server: str) -> None:
    app.config["BODY_TIMEOUT"] = 0.2
    app.config["KEEP_ALIVE_TIMEOUT"] = 0.2

    @app.route("/", methods=["POST"])
    async def upload() -> str:
        return str(len(await request.get_data()))

    received = await raw_exchange(live_server, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
    assert received.startswith(b"HTTP/1.1 408 ")


async def test_http2_through_hypercorn(app: App, nursery: trio.Nursery) -> None:
    """HTTP/2 is Hypercorn's: cleartext with prior knowledge here, ALPN over TLS in production."""

    @app.route("/")
    async def index() -> Response:
        response = Response(f"hello over {request.http_version}")
        response.headers["X-Mixed-Case"] = "kept"  # HTTP/2 needs lower-case names on the wire
        return response

    @app.route("/stream")
    async def stream() -> Response:
        async def body() -> AsyncIterator[bytes]:
            for n in range(3):
                yield f"{n};".encode()

        return Response(body())

    address = await start_hypercorn(app, nursery)
    async with httpx.AsyncClient(base_url=f"http://{address}", http1=False, http2=True) as client:
        first = await client.get("/")
        second = await client.get("/stream")
    assert first.http_version == "HTTP/2"
    assert first.text == "hello over 2"
    assert first.headers["x-mixed-case"] == "kept"
    assert second.text == "0;1;2;"


async def test_root_path_under_hypercorn(app: App, nursery: trio.Nursery) -> None:
    """Behind a proxy that strips a prefix: Hypercorn's root_path, werkzeug's script root."""

    @app.route("/hello")
    async def hello() -> dict[str, str]:
        return {"path": request.path, "root": request.root_path, "url": url_for("hello")}

    address = await start_hypercorn(app, nursery, root_path="/api")
    async with httpx.AsyncClient(base_url=f"http://{address}") as client:
        response = await client.get("/api/hello")
    assert response.json() == {"path": "/hello", "root": "/api", "url": "/api/hello"}


# -- websockets --------------------------------------------------------------------------


@pytest.fixture
def echo(app: App) -> App:
    @app.websocket("/ws")
    async def ws() -> None:
        while True:
            await websocket.send(await websocket.receive())

    return app


async def test_empty_messages_round_trip(echo: App, live_server: str) -> None:
    """An empty text or binary message is a message (never a truthiness test on ``text``/``bytes``)."""
    async with open_websocket_url(f"ws://{live_server}/ws") as ws:
        for message in ("", b"", "x", b"", ""):
            await ws.send_message(message)
            received = await ws.get_message()
            assert received == message and type(received) is type(message)


async def test_accept_with_subprotocol_and_headers(app: App, live_server: str) -> None:
    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.accept(headers={"X-Extra": "yes"}, subprotocol="chat.v2")
        await websocket.send_json({"offered": websocket.requested_subprotocols, "addr": websocket.remote_addr})

    async with open_websocket_url(f"ws://{live_server}/ws", subprotocols=["chat.v1", "chat.v2"]) as client:
        assert client.subprotocol == "chat.v2"
        assert dict(client.handshake_headers)[b"x-extra"] == b"yes"
        assert json.loads(await client.get_message()) == {"offered": ["chat.v1", "chat.v2"], "addr": "127.0.0.1"}


async def test_rejection_sends_the_response(app: App, live_server: str) -> None:
    """Before accepting, a returned response goes out as it is (Hypercorn: the websocket.http.response extension)."""

    @app.websocket("/ws")
    async def ws() -> Response:
        response = Response("Invalid password", 401)
        response.headers["WWW-Authenticate"] = 'Basic realm="ws"'
        return response

    with pytest.raises(ConnectionRejected) as rejected:
        async with open_websocket_url(f"ws://{live_server}/ws"):
            pass
    assert rejected.value.status_code == 401
    assert rejected.value.body == b"Invalid password"
    assert dict(rejected.value.headers or [])[b"www-authenticate"] == b'Basic realm="ws"'


async def test_rejection_without_the_extension_is_403(app: App, nursery: trio.Nursery) -> None:
    """A server without ``websocket.http.response`` answers a close before accepting with 403."""

    @app.websocket("/ws")
    async def ws() -> tuple[str, int]:
        return "Invalid password", 401

    async def without_extension(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            scope = {**scope, "extensions": {}}
        await app(scope, receive, send)

    address = await start_hypercorn(without_extension, nursery)  # type: ignore[arg-type]
    with pytest.raises(ConnectionRejected) as rejected:
        async with open_websocket_url(f"ws://{address}/ws"):
            pass
    assert rejected.value.status_code == 403


async def test_server_close_codes(app: App, live_server: str) -> None:
    @app.websocket("/returns")
    async def returns() -> None:
        await websocket.accept()

    @app.websocket("/closes")
    async def closes() -> None:
        await websocket.accept()
        await websocket.close(4000, "done here")

    @app.websocket("/crashes")
    async def crashes() -> None:
        await websocket.send("hi")
        raise ValueError("after accepting")

    for path, code, reason in (("/returns", 1000, None), ("/closes", 4000, "done here"), ("/crashes", 1011, None)):
        async with open_websocket_url(f"ws://{live_server}{path}") as ws:
            if path == "/crashes":
                assert await ws.get_message() == "hi"
            with pytest.raises(ConnectionClosed) as closed:
                with trio.fail_after(5):
                    await ws.get_message()
        assert closed.value.reason is not None
        assert closed.value.reason.code == code
        if reason is not None:
            assert closed.value.reason.reason == reason


async def test_client_close_cancels_the_view_with_the_reported_code(
    app: App, live_server: str, server_kind: str
) -> None:
    """The native server reports the client's code; Hypercorn reports 1006 for every client close."""
    seen, finished = add_ticker_that_records_its_close(app)

    async with open_websocket_url(f"ws://{live_server}/ws") as client:
        assert await client.get_message() == "tick"
        await client.aclose(4001, "going away")
    with trio.fail_after(5):
        await finished.wait()
    if server_kind == "native":
        assert seen == {"code": 4001, "reason": "going away"}
    else:
        assert seen == {"code": 1006, "reason": ""}


async def test_view_that_only_sends_is_cancelled_when_the_client_drops(app: App, live_server: str) -> None:
    finished = trio.Event()

    @app.websocket("/ws")
    async def ws() -> None:
        try:
            while True:
                await websocket.send("tick")
                await trio.sleep(0.01)
        except CancelledError:
            finished.set()
            raise

    host, port = live_server.split(":")
    stream = await trio.open_tcp_stream(host, int(port))
    await stream.send_all(
        b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    with trio.fail_after(5):
        assert (await stream.receive_some(65536)).startswith(b"HTTP/1.1 101")
    await stream.aclose()  # no close frame: the connection just drops
    with trio.fail_after(5):
        await finished.wait()


async def test_receive_after_closing_is_cancelled(app: App, live_server: str) -> None:
    outcomes: list[str] = []
    done = trio.Event()

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.accept()
        await websocket.close(1000)
        try:
            await websocket.receive()
        except CancelledError:
            outcomes.append("cancelled")
            raise
        finally:
            done.set()

    async with open_websocket_url(f"ws://{live_server}/ws") as client:
        with pytest.raises(ConnectionClosed):
            with trio.fail_after(5):
                await client.get_message()
    with trio.fail_after(5):
        await done.wait()
    assert outcomes == ["cancelled"]


async def test_swallowed_cancellation_is_warned_about(app: App, live_server: str) -> None:
    done = trio.Event()

    @app.websocket("/ws")
    async def ws() -> None:
        try:
            await websocket.receive()
        except CancelledError:
            pass  # wrong: must re-raise
        finally:
            done.set()

    warned = trio.Event()

    class SetWhenWarned(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "swallowed trio.Cancelled" in record.getMessage():
                warned.set()

    handler = SetWhenWarned()
    app.logger.addHandler(handler)
    try:
        async with open_websocket_url(f"ws://{live_server}/ws") as client:
            await client.aclose()
        with trio.fail_after(5):
            await done.wait()
            await warned.wait()
    finally:
        app.logger.removeHandler(handler)


async def test_without_a_lifespan_every_request_and_websocket_is_watched_from_the_start(
    app: App, nursery: trio.Nursery
) -> None:
    """A server that runs no lifespan: no app nursery, so each request gets its watcher at once."""
    cancelled = trio.Event()
    started = trio.Event()

    @app.route("/upload", methods=["POST"])
    async def upload() -> str:
        return str(len(await request.get_data()))

    @app.route("/wait")
    async def wait() -> str:
        started.set()
        try:
            await trio.sleep_forever()
        except CancelledError:
            cancelled.set()
            raise
        return "never"

    @app.websocket("/ws")
    async def ws() -> None:
        while True:
            await websocket.send(await websocket.receive())

    async def no_lifespan(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            raise RuntimeError("this server runs no lifespan")
        await app(scope, receive, send)

    address = await start_hypercorn(no_lifespan, nursery)  # type: ignore[arg-type]
    async with httpx.AsyncClient(base_url=f"http://{address}") as client:
        assert (await client.post("/upload", content=b"x" * 300_000)).text == "300000"
    async with open_websocket_url(f"ws://{address}/ws") as client_ws:
        for message in ("", b"", "x"):
            await client_ws.send_message(message)
            assert await client_ws.get_message() == message
    host, port = address.split(":")
    stream = await trio.open_tcp_stream(host, int(port))
    await stream.send_all(b"GET /wait HTTP/1.1\r\nHost: x\r\n\r\n")
    with trio.fail_after(5):
        await started.wait()
    await stream.aclose()
    with trio.fail_after(5):
        await cancelled.wait()
    assert app.lifespan is None
