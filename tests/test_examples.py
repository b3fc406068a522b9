import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import h11
import httpx
import pytest
import trio
import trio.testing
import trio_websocket

from examples.hello import app
from tests.conftest import running
from tests.live import serving
from trioweb import App
from trioweb.server import serve_stream
from trioweb.testing import WebsocketResponseError


async def test_hello_example() -> None:
    client = app.test_client()
    assert await (await client.get("/")).get_data(as_text=True) == "Hello from trioweb!\n"
    assert await (await client.get("/greet/ann")).get_json() == {"hello": "ann", "from": "127.0.0.1"}
    async with client.websocket("/ws") as ws:
        await ws.send("ping")
        assert await ws.receive(timeout=5) == "ping"


async def test_bench_app() -> None:
    from bench.app import app as bench_app

    client = bench_app.test_client()
    assert await (await client.get("/")).get_data() == b"hello"
    async with client.websocket("/ws") as ws:
        for message in (b"\x00" * 1024, "text"):
            await ws.send(message)
            assert await ws.receive(timeout=5) == message


# -- echo.py -----------------------------------------------------------------------


async def test_echo_through_the_test_client() -> None:
    from examples.echo import app as echo_app

    client = echo_app.test_client()
    assert "new WebSocket" in await (await client.get("/")).get_data(as_text=True)
    async with client.websocket("/ws") as ws:
        for message in ("hello", b"\x00\xff", "", b""):
            await ws.send(message)
            assert await ws.receive(timeout=5) == message


async def test_echo_on_a_real_socket() -> None:
    from examples.echo import app as echo_app

    async with serving(echo_app) as address, trio_websocket.open_websocket_url(f"ws://{address}/ws") as ws:
        for message in ("hello", b"\x00\xff" * 50_000):
            await ws.send_message(message)
            with trio.fail_after(5):
                assert await ws.get_message() == message


# -- ticker.py ---------------------------------------------------------------------


async def test_ticker_counts_at_the_interval_asked_for(autojump_clock: trio.testing.MockClock) -> None:
    from examples.ticker import app as ticker_app

    async with ticker_app.test_client().websocket("/ticks", query_string={"every": "0.5"}) as ws:
        start = trio.current_time()
        for count in (1, 2, 3):
            assert await ws.receive_json() == {"count": count}
            assert trio.current_time() - start == pytest.approx(0.5 * count)


async def test_ticker_refuses_an_interval_out_of_bounds() -> None:
    from examples.ticker import app as ticker_app

    for every in ("0", "0.001", "61"):
        with pytest.raises(WebsocketResponseError) as rejected:
            async with ticker_app.test_client().websocket("/ticks", query_string={"every": every}):
                pass
        assert rejected.value.response.status_code == 400


async def test_ticker_on_a_real_socket() -> None:
    from examples.ticker import app as ticker_app

    async with (
        serving(ticker_app) as address,
        trio_websocket.open_websocket_url(f"ws://{address}/ticks?every=0.01") as ws,
    ):
        with trio.fail_after(5):
            assert [json.loads(await ws.get_message()) for _ in range(3)] == [{"count": n} for n in (1, 2, 3)]


# -- sse.py ------------------------------------------------------------------------


async def next_event(lines: AsyncIterator[str]) -> dict[str, str]:
    """The fields of the next server-sent event."""
    fields: dict[str, str] = {}
    async for line in lines:
        if not line:
            return fields
        name, _, value = line.partition(": ")
        fields[name] = value
    raise AssertionError("the stream ended")


@asynccontextmanager
async def event_stream(app: App, path: str) -> AsyncIterator[AsyncIterator[str]]:
    """GET ``path`` with an h11 client over memory streams; yields the body's lines as they come.

    Leaving the block closes the connection, as a browser does when its page closes.
    """
    client, server = trio.testing.memory_stream_pair()
    conn = h11.Connection(h11.CLIENT)

    async def lines() -> AsyncIterator[str]:
        buffer = b""
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                conn.receive_data(await client.receive_some())
            elif isinstance(event, h11.Response):
                assert event.status_code == 200
                assert (b"content-type", b"text/event-stream") in event.headers
                assert (b"cache-control", b"no-cache") in event.headers
            elif isinstance(event, h11.Data):
                buffer += event.data
                *complete, buffer = buffer.split(b"\n")
                for line in complete:
                    yield line.decode()
            else:
                raise AssertionError(f"the stream ended with {event}")

    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve_stream, app, server)
        await client.send_all(conn.send(h11.Request(method="GET", target=path, headers=[("Host", "x")])))
        await client.send_all(conn.send(h11.EndOfMessage()))
        yield lines()
        await client.aclose()


async def test_sse_clock_streams_until_the_client_leaves(autojump_clock: trio.testing.MockClock) -> None:
    from examples import sse

    async with event_stream(sse.app, "/clock") as staying:
        event = await next_event(staying)
        assert event["id"] == "1"
        assert re.fullmatch(r"\d\d:\d\d:\d\d", json.loads(event["data"])["time"])
        assert json.loads(event["data"])["listening"] == 1
        start = trio.current_time()
        async with event_stream(sse.app, "/clock") as leaving:
            assert json.loads((await next_event(leaving))["data"])["listening"] == 2
            event = await next_event(staying)
            assert (event["id"], json.loads(event["data"])["listening"]) == ("2", 2)
            assert trio.current_time() - start == pytest.approx(1)
        # The other client has gone: its generator was cancelled and its finally ran.
        event = await next_event(staying)
        assert (event["id"], json.loads(event["data"])["listening"]) == ("3", 1)
        assert trio.current_time() - start == pytest.approx(2)
    assert sse.listening == 0


async def test_sse_clock_ends_at_once_when_the_shutdown_begins(autojump_clock: trio.testing.MockClock) -> None:
    from examples import sse

    async with trio.open_nursery() as nursery:
        leave = trio.Event()

        async def serve_until_left(task_status: trio.TaskStatus[None]) -> None:
            async with sse.app.test_app():
                task_status.started()
                await leave.wait()

        await nursery.start(serve_until_left)
        async with event_stream(sse.app, "/clock") as clock:
            assert (await next_event(clock))["id"] == "1"
            await trio.sleep(0.5)  # between two ticks
            leave.set()  # the app shuts down: app.shutdown_event is set
            shutdown_began = trio.current_time()
            with pytest.raises(AssertionError, match="ended with EndOfMessage"):
                await next_event(clock)  # the response ended: no second tick
            assert trio.current_time() == shutdown_began
    assert sse.listening == 0


async def test_sse_clock_lets_the_native_server_shut_down_without_the_grace_period() -> None:
    from examples import sse

    assert sse.app.config["SHUTDOWN_TIMEOUT"] == 10
    async with (
        running(sse.app, "native") as server,
        httpx.AsyncClient(base_url=f"http://{server.address}") as http,
        http.stream("GET", "/clock") as clock,
    ):
        lines = clock.aiter_lines()
        with trio.fail_after(5):
            await next_event(lines)
        start = trio.current_time()
        await server.stop()  # returns once the stream has ended and the app has shut down
        assert trio.current_time() - start < 3
        with trio.fail_after(5):
            remaining = [line async for line in lines]  # the response ended cleanly
        assert len(remaining) <= 3  # at most the tick that was under way
    assert sse.listening == 0


async def test_sse_clock_on_a_real_socket() -> None:
    from examples import sse

    async with serving(sse.app) as address, httpx.AsyncClient(base_url=f"http://{address}") as http:
        assert "new EventSource" in (await http.get("/")).text
        async with http.stream("GET", "/clock") as clock:
            assert clock.headers["content-type"] == "text/event-stream"
            with trio.fail_after(5):
                event = await next_event(clock.aiter_lines())
            assert json.loads(event["data"])["listening"] == 1
    assert sse.listening == 0
