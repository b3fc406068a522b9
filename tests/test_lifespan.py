"""Startup, the app nursery, background tasks and graceful shutdown, on every server.

``app.test_app()`` tests run under ``autojump_clock``; the tests on real
servers keep their waits to a fraction of a second.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import httpx
import pytest
import trio
import trio.testing
from hypercorn.utils import LifespanFailureError
from trio_websocket import ConnectionClosed, open_websocket_url

from trioweb import App, CancelledError, current_app, serve, websocket

from .conftest import raw_exchange, running


def leaves(error: BaseException) -> list[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in leaves(inner)]
    return [error]


@pytest.fixture
def events() -> list[str]:
    return []


@pytest.fixture
def hooked(app: App, events: list[str]) -> App:
    """An app that records its lifespan hooks in ``events``."""

    @app.before_serving
    async def first() -> None:
        events.append(f"before_serving async ({current_app.import_name})")

    @app.before_serving
    def second() -> None:  # a plain function runs in a thread
        events.append("before_serving sync")

    @app.while_serving
    async def outer() -> AsyncIterator[None]:
        events.append("while_serving outer: start")
        yield
        events.append("while_serving outer: stop")

    @app.while_serving
    async def inner() -> AsyncIterator[None]:
        events.append("while_serving inner: start")
        yield
        events.append("while_serving inner: stop")

    @app.after_serving
    async def last() -> None:
        events.append("after_serving")

    @app.route("/")
    async def index() -> str:
        return "hello"

    return app


STARTUP = [
    "before_serving async (tests.conftest)",
    "before_serving sync",
    "while_serving outer: start",
    "while_serving inner: start",
]
SHUTDOWN = ["while_serving inner: stop", "while_serving outer: stop", "after_serving"]


# -- test_app and the app nursery -----------------------------------------------------


async def test_test_app_runs_startup_and_shutdown_around_the_block(hooked: App, events: list[str]) -> None:
    async with hooked.test_app() as test_app:
        assert events == STARTUP
        response = await test_app.test_client().get("/")
        assert await response.get_data() == b"hello"
        assert isinstance(hooked.nursery, trio.Nursery)
        events.append("block")
    assert events == [*STARTUP, "block", *SHUTDOWN]


async def test_app_nursery_outside_serving_says_what_to_do(app: App) -> None:
    with pytest.raises(RuntimeError, match=r"only while the app is serving.*async with app.test_app\(\)"):
        _ = app.nursery
    with pytest.raises(RuntimeError, match="only while the app is serving"):
        app.add_background_task(trio.sleep, 1)
    async with app.test_app():
        pass
    with pytest.raises(RuntimeError, match="only while the app is serving"):
        _ = app.nursery


async def test_background_tasks_get_the_grace_period_then_are_cancelled(
    app: App, events: list[str], autojump_clock: trio.testing.MockClock
) -> None:
    app.config["SHUTDOWN_TIMEOUT"] = 10

    async def finishes() -> None:
        await trio.sleep(5)
        events.append(f"finished at {trio.current_time():.0f}")

    async def overruns() -> None:
        try:
            await trio.sleep(100)
        except CancelledError:
            events.append(f"cancelled at {trio.current_time():.0f}")
            raise

    @app.after_serving
    async def last() -> None:
        events.append(f"after_serving at {trio.current_time():.0f}")

    async with app.test_app():
        app.add_background_task(finishes)
        app.nursery.start_soon(overruns)
    assert events == ["finished at 5", "cancelled at 10", "after_serving at 10"]


async def test_a_failing_background_task_is_logged_and_serving_goes_on(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    def fails(x: int) -> None:  # a plain function, run in a thread
        raise ValueError(f"boom {x}")

    @app.route("/")
    async def index() -> str:
        current_app.add_background_task(fails, 7)
        return "started"

    logged = trio.Event()

    class SetWhenLogged(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.exc_info and "boom 7" in str(record.exc_info[1]):
                logged.set()

    handler = SetWhenLogged()
    app.logger.addHandler(handler)
    try:
        async with app.test_app() as test_app:
            client = test_app.test_client()
            assert await (await client.get("/")).get_data() == b"started"
            with trio.fail_after(5):
                await logged.wait()
            assert await (await client.get("/")).get_data() == b"started"
    finally:
        app.logger.removeHandler(handler)
    assert "Background task fails failed" in caplog.text


async def test_a_crash_in_app_nursery_stops_serving_with_the_plain_error(hooked: App, events: list[str]) -> None:
    async def crashes() -> None:
        raise KeyError("from the app nursery")

    with pytest.raises(KeyError, match="from the app nursery"):
        async with hooked.test_app():
            hooked.nursery.start_soon(crashes)
            await trio.sleep_forever()
    assert events == [*STARTUP, *SHUTDOWN]


async def test_startup_failure_is_raised_plainly_and_undoes_what_started(app: App, events: list[str]) -> None:
    @app.while_serving
    async def resource() -> AsyncIterator[None]:
        events.append("opened")
        yield
        events.append("closed")

    @app.before_serving
    async def fails() -> None:
        raise ValueError("no database")

    @app.after_serving
    async def last() -> None:
        events.append("after_serving")

    # before_serving runs first, so the generator never started: nothing to undo.
    with pytest.raises(ValueError, match="no database"):
        async with app.test_app():
            pytest.fail("the block must not run")
    assert events == []

    app.before_serving_funcs.clear()

    @app.while_serving
    async def broken() -> AsyncIterator[None]:
        raise ValueError("second generator")
        yield

    with pytest.raises(ValueError, match="second generator"):
        async with app.test_app():
            pytest.fail("the block must not run")
    assert events == ["opened", "closed"]


async def test_while_serving_must_be_an_async_generator_that_yields_once(app: App) -> None:
    with pytest.raises(TypeError, match="async generator"):

        @app.while_serving
        async def not_a_generator() -> None:
            pass

    @app.while_serving
    async def twice() -> AsyncIterator[None]:
        yield
        yield

    with pytest.raises(RuntimeError, match="yielded more than once"):
        async with app.test_app():
            pass


async def test_an_app_serves_one_server_at_a_time(app: App) -> None:
    async with app.test_app():
        with pytest.raises(RuntimeError, match="already serving"):
            async with app.test_app():
                pass


async def test_cancelled_from_outside_still_runs_after_serving(
    hooked: App, events: list[str], autojump_clock: trio.testing.MockClock
) -> None:
    with trio.move_on_after(1):
        async with hooked.test_app():
            await trio.sleep_forever()
    assert events == [*STARTUP, *SHUTDOWN]


# -- the same lifespan on both servers ----------------------------------------------------


async def test_lifespan_on_a_real_server(hooked: App, events: list[str], server_kind: str) -> None:
    async with running(hooked, server_kind) as server:
        assert events == STARTUP
        async with httpx.AsyncClient(base_url=f"http://{server.address}") as client:
            assert (await client.get("/")).text == "hello"
        await server.stop()
        events.append("server returned")
    assert events == [*STARTUP, *SHUTDOWN, "server returned"]


async def test_background_work_is_drained_before_shutdown_completes(
    app: App, events: list[str], server_kind: str
) -> None:
    """Hypercorn must not hear ``lifespan.shutdown.complete`` before background tasks are done."""
    app.config["SHUTDOWN_TIMEOUT"] = 5

    async def slow_job() -> None:
        await trio.sleep(0.3)
        events.append("job done")

    @app.route("/")
    async def index() -> str:
        current_app.add_background_task(slow_job)
        return "queued"

    @app.after_serving
    async def last() -> None:
        events.append("after_serving")

    async with running(app, server_kind) as server:
        async with httpx.AsyncClient(base_url=f"http://{server.address}") as client:
            assert (await client.get("/")).text == "queued"
        start = trio.current_time()
        await server.stop()
        events.append("server returned")
    assert events == ["job done", "after_serving", "server returned"]
    assert trio.current_time() - start < 3  # the job's 0.3 s, not the whole grace period


async def test_startup_failure_on_a_real_server(app: App, server_kind: str, caplog: pytest.LogCaptureFixture) -> None:
    @app.before_serving
    async def fails() -> None:
        raise ValueError("no database")

    with pytest.raises(BaseException) as raised:
        async with running(app, server_kind):
            # Hypercorn may report itself started before its lifespan task's
            # failure reaches it (its startup event is set on failure too).
            assert server_kind == "hypercorn", "the native server must not start"
            with trio.fail_after(5):
                await trio.sleep_forever()
    if server_kind == "native":
        assert type(raised.value) is ValueError and str(raised.value) == "no database"
    else:
        # lifespan.startup.failed carried the error (Hypercorn raises it from
        # inside its own nurseries), and the traceback was logged.
        assert [str(error) for error in leaves(raised.value)] == [
            "Lifespan failure in startup. 'ValueError: no database'"
        ]
        assert isinstance(leaves(raised.value)[0], LifespanFailureError)
        assert "The app's startup failed" in caplog.text
        assert "raise ValueError" in caplog.text


# -- graceful shutdown: native server -----------------------------------------------------


async def test_native_shutdown_finishes_requests_and_closes_idle_connections(app: App, events: list[str]) -> None:
    app.config["SHUTDOWN_TIMEOUT"] = 5
    in_view = trio.Event()

    @app.route("/slow")
    async def slow() -> str:
        in_view.set()
        await trio.sleep(0.3)
        return "finished"

    @app.route("/")
    async def index() -> str:
        return "hello"

    async with running(app, "native") as server:
        host, port = server.address.split(":")
        idle = await trio.open_tcp_stream(host, int(port))
        await idle.send_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        with trio.fail_after(5):
            assert b"hello" in await idle.receive_some(65536)
        busy = await trio.open_tcp_stream(host, int(port))
        await busy.send_all(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        with trio.fail_after(5):
            await in_view.wait()
        server.shut_down()
        with trio.fail_after(5):
            assert await idle.receive_some(65536) == b""  # closed at once, though keep-alive
        received = b""
        with trio.fail_after(5):
            while chunk := await busy.receive_some(65536):
                received += chunk
        assert received.startswith(b"HTTP/1.1 200 ") and received.endswith(b"finished")
        assert b"connection: close" in received.lower()
        await server.stop()
        with pytest.raises(OSError):
            await trio.open_tcp_stream(host, int(port))  # no longer listening


async def test_native_shutdown_lets_a_response_being_written_finish(app: App) -> None:
    """The whole response is out of the view, but not yet on the wire: shutdown waits for it."""
    app.config["SHUTDOWN_TIMEOUT"] = 5
    body = bytes(range(256)) * (64 * 1024)  # 16 MiB: more than the socket buffers hold

    @app.route("/big")
    async def big() -> bytes:
        return body

    async with running(app, "native") as server:
        host, port = server.address.split(":")
        stream = await trio.open_tcp_stream(host, int(port))
        await stream.send_all(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
        with trio.fail_after(5):
            received = bytearray(await stream.receive_some(65536))  # the server now waits for us to read
        server.shut_down()
        with trio.fail_after(10):
            while chunk := await stream.receive_some(1 << 20):
                received += chunk
    assert bytes(received).partition(b"\r\n\r\n")[2] == body


async def test_native_shutdown_cancels_what_overruns_the_grace_period(app: App, events: list[str]) -> None:
    app.config["SHUTDOWN_TIMEOUT"] = 0.3
    in_view = trio.Event()

    @app.route("/")
    async def forever() -> str:
        in_view.set()
        try:
            await trio.sleep_forever()
        except CancelledError:
            events.append("view cancelled")
            raise
        return "never"

    @app.after_serving
    async def last() -> None:
        events.append("after_serving")

    async with running(app, "native") as server:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(raw_exchange, server.address, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            with trio.fail_after(5):
                await in_view.wait()
            start = trio.current_time()
            await server.stop()
        assert 0.3 <= trio.current_time() - start < 3
    assert events == ["view cancelled", "after_serving"]


async def test_native_shutdown_closes_websockets_with_1001(app: App) -> None:
    seen: dict[str, object] = {}
    accepted = trio.Event()

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.accept()
        accepted.set()
        try:
            await trio.sleep_forever()
        except CancelledError:
            seen["code"], seen["reason"] = websocket.close_code, websocket.close_reason
            raise

    async with running(app, "native") as server:
        async with open_websocket_url(f"ws://{server.address}/ws") as client:
            with trio.fail_after(5):
                await accepted.wait()
            server.shut_down()
            with pytest.raises(ConnectionClosed) as closed:
                with trio.fail_after(5):
                    await client.get_message()
        assert closed.value.reason is not None and closed.value.reason.code == 1001
        await server.stop()
    assert seen == {"code": 1001, "reason": "the server is shutting down"}


async def test_hypercorn_closes_websockets_with_1001_after_its_graceful_timeout(app: App) -> None:
    """Hypercorn cancels open websockets when its ``graceful_timeout`` ends; the adapter says goodbye with 1001.

    The cancellation is Hypercorn's, so unlike on the native server the view
    cannot see a close code yet when it is cancelled.
    """
    accepted = trio.Event()
    codes: list[int | None] = []

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.accept()
        accepted.set()
        try:
            await trio.sleep_forever()
        except CancelledError:
            codes.append(websocket.close_code)
            raise

    async with running(app, "hypercorn", graceful_timeout=0.2) as server:
        async with open_websocket_url(f"ws://{server.address}/ws") as client:
            with trio.fail_after(5):
                await accepted.wait()
            server.shut_down()
            with pytest.raises(ConnectionClosed) as closed:
                with trio.fail_after(5):
                    await client.get_message()
        assert closed.value.reason is not None and closed.value.reason.code == 1001
    assert codes == [None]


async def test_native_startup_error_is_logged_nowhere_and_raised_plainly(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    """The native server leaves the traceback to whoever runs it (the CLI prints it and exits non-zero)."""

    @app.before_serving
    async def fails() -> None:
        raise ValueError("no database")

    with caplog.at_level(logging.INFO), pytest.raises(ValueError, match="no database") as raised:
        async with running(app, "native"):
            pass
    assert not isinstance(raised.value, BaseExceptionGroup)
    assert "Serving on" not in caplog.text  # it never listened


async def test_native_server_cancelled_from_outside_still_runs_after_serving(app: App, events: list[str]) -> None:
    @app.after_serving
    async def last() -> None:
        await trio.sleep(0.01)  # a real await: it must not be cancelled
        events.append("after_serving")

    with trio.move_on_after(0.2):
        await serve(app, host="127.0.0.1", port=0)
    assert events == ["after_serving"]


# -- app.shutdown_event ---------------------------------------------------------------------


def stop_at_shutdown(app: App, events: list[str]) -> None:
    """A background loop that ticks every second until the shutdown begins, and a long-poll view."""

    async def tick() -> None:
        while not app.shutdown_event.is_set():
            with trio.move_on_after(1):
                await app.shutdown_event.wait()
        events.append("loop stopped")

    @app.before_serving
    async def start() -> None:
        app.nursery.start_soon(tick)

    @app.after_serving
    async def last() -> None:
        events.append("after_serving")


async def test_shutdown_event_stops_a_background_loop_at_once_in_test_app(
    app: App, events: list[str], autojump_clock: trio.testing.MockClock
) -> None:
    app.config["SHUTDOWN_TIMEOUT"] = 10
    stop_at_shutdown(app, events)
    async with app.test_app():
        await trio.sleep(2.5)
        assert not app.shutdown_event.is_set()
        leaving = trio.current_time()
    assert events == ["loop stopped", "after_serving"]
    assert trio.current_time() == leaving  # not leaving + SHUTDOWN_TIMEOUT


async def test_each_period_of_serving_has_a_shutdown_event_of_its_own(app: App) -> None:
    @app.route("/")
    async def index() -> dict[str, bool]:
        return {"shutting_down": current_app.shutdown_event.is_set()}

    early = app.shutdown_event  # taken before serving: the first period's event
    assert app.shutdown_event is early and not early.is_set()
    async with app.test_app() as test_app:
        assert app.shutdown_event is early and not early.is_set()
        assert await (await test_app.test_client().get("/")).get_json() == {"shutting_down": False}
    assert early.is_set()
    later = app.shutdown_event
    assert later is not early and not later.is_set()
    # Served without startup (the plain test client), a view sees no shutdown.
    assert await (await app.test_client().get("/")).get_json() == {"shutting_down": False}
    async with app.test_app():
        assert app.shutdown_event is later and not later.is_set()
    assert later.is_set() and not app.shutdown_event.is_set()


async def test_shutdown_event_is_set_when_serving_is_cancelled(
    app: App, autojump_clock: trio.testing.MockClock
) -> None:
    seen: list[bool] = []

    @app.after_serving
    async def last() -> None:
        seen.append(app.shutdown_event.is_set())

    with trio.move_on_after(1):
        async with app.test_app():
            await trio.sleep_forever()
    assert seen == [True]


async def test_shutdown_event_stops_a_background_loop_at_once_on_a_real_server(
    app: App, events: list[str], server_kind: str
) -> None:
    """On Hypercorn the event is set at ``lifespan.shutdown``; on the native server when the trigger returns."""
    app.config["SHUTDOWN_TIMEOUT"] = 10
    stop_at_shutdown(app, events)

    @app.route("/")
    async def index() -> str:
        return "serving"

    async with running(app, server_kind) as server:
        async with httpx.AsyncClient(base_url=f"http://{server.address}") as client:
            assert (await client.get("/")).text == "serving"
        start = trio.current_time()
        await server.stop()
    assert events == ["loop stopped", "after_serving"]
    assert trio.current_time() - start < 3  # not SHUTDOWN_TIMEOUT


async def test_native_shutdown_event_lets_a_long_poll_answer_at_once(app: App, events: list[str]) -> None:
    app.config["SHUTDOWN_TIMEOUT"] = 10
    polling = trio.Event()

    @app.route("/poll")
    async def poll() -> str:
        polling.set()
        with trio.move_on_after(60):
            await current_app.shutdown_event.wait()
            return "the server is shutting down: ask again later"
        return "nothing new"

    async with running(app, "native") as server:
        async with trio.open_nursery() as nursery:
            received: list[bytes] = []

            async def ask() -> None:
                received.append(await raw_exchange(server.address, b"GET /poll HTTP/1.1\r\nHost: x\r\n\r\n"))

            nursery.start_soon(ask)
            with trio.fail_after(5):
                await polling.wait()
            start = trio.current_time()
            await server.stop()
        assert trio.current_time() - start < 3  # not SHUTDOWN_TIMEOUT
    assert received[0].startswith(b"HTTP/1.1 200 ")
    assert b"connection: close" in received[0].lower()
    assert received[0].endswith(b"the server is shutting down: ask again later")


async def test_hypercorn_cancels_a_long_poll_before_the_app_hears_of_the_shutdown(app: App) -> None:
    """Hypercorn sends ``lifespan.shutdown`` only once its connections are done, so a view cannot see the event."""
    polling = trio.Event()
    seen: list[bool] = []

    @app.route("/poll")
    async def poll() -> str:
        polling.set()
        try:
            await current_app.shutdown_event.wait()
        except CancelledError:
            seen.append(current_app.shutdown_event.is_set())
            raise
        return "never"

    @app.after_serving
    async def last() -> None:
        seen.append(app.shutdown_event.is_set())

    async with running(app, "hypercorn", graceful_timeout=0.2) as server, trio.open_nursery() as nursery:

        async def ask() -> None:
            async with httpx.AsyncClient() as client:
                with pytest.raises(httpx.HTTPError):
                    await client.get(f"http://{server.address}/poll")

        nursery.start_soon(ask)
        with trio.fail_after(5):
            await polling.wait()
        await server.stop()
    assert seen == [False, True]  # cancelled by Hypercorn's --graceful-timeout; set at lifespan.shutdown
