"""``websocket.close()`` from any task of a view: the session ends as if the client had left.

Each case runs on the test client and on both servers with a real client
(``live_server``), and the native server's TCP behaviour is checked with a
raw socket.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import ssl
from collections.abc import Awaitable, Callable

import pytest
import trio
import trio.testing
import trustme
from trio_websocket import ConnectionClosed, open_websocket_url

from trioweb import App, CancelledError, Websocket, serve, websocket
from trioweb.testing import WebsocketDisconnectError, WebsocketResponseError
from trioweb.wrappers.websocket import CLOSE_TIMEOUT, WebsocketClosedError

from .conftest import HANDSHAKE, TEXT, client_frame, close_frame, open_raw_websocket, read_server_frames, running

Events = dict[str, object]


def closing_from_a_nursery(app: App) -> tuple[Events, trio.Event]:
    """The issue's view: one task closes with 4000 after a message, its sibling waits forever."""
    events: Events = {}
    done = trio.Event()

    async def closer() -> None:
        await websocket.receive()
        await websocket.close(4000, "bye")
        events["closer"] = "returned"

    async def waiter() -> None:
        try:
            await trio.sleep_forever()
        except CancelledError:
            events["waiter"] = ("cancelled", websocket.close_code, websocket.close_reason)
            raise

    @app.websocket("/ws")
    async def ws() -> None:
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(closer)
                nursery.start_soon(waiter)
        finally:
            done.set()

    return events, done


def closing_while_a_sibling_receives(app: App) -> tuple[Events, trio.Event]:
    """A producer closes while the consumer waits in ``receive()``."""
    events: Events = {}
    done = trio.Event()

    async def producer() -> None:
        await websocket.send("hello")
        await websocket.close(4000, "bye")

    async def consumer() -> None:
        try:
            while True:
                await websocket.receive()
        except CancelledError:
            events["consumer"] = "cancelled"
            raise
        except Exception as error:  # the bug: RuntimeError instead of a cancellation
            events["consumer"] = repr(error)
            raise

    @app.websocket("/ws")
    async def ws() -> None:
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(consumer)
                nursery.start_soon(producer)
        finally:
            done.set()

    return events, done


def closing_and_carrying_on(app: App) -> tuple[Events, trio.Event]:
    """One task closes, then goes on as if nothing happened."""
    events: Events = {}
    done = trio.Event()

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.accept()
        await websocket.close(4000, "bye")
        try:
            await trio.sleep_forever()
        except CancelledError:
            events["view"] = "cancelled"
            raise
        finally:
            done.set()

    return events, done


CASES: dict[str, tuple[Callable[[App], tuple[Events, trio.Event]], bool, Events]] = {
    "from a nursery": (
        closing_from_a_nursery,
        True,
        {"closer": "returned", "waiter": ("cancelled", 4000, "bye")},
    ),
    "while a sibling receives": (closing_while_a_sibling_receives, False, {"consumer": "cancelled"}),
    "and carrying on": (closing_and_carrying_on, False, {"view": "cancelled"}),
}


def no_errors_logged(caplog: pytest.LogCaptureFixture) -> None:
    errors = [record for record in caplog.records if record.levelno >= logging.WARNING]
    assert not errors, [record.getMessage() for record in errors]


@pytest.mark.parametrize("case", CASES)
async def test_close_ends_the_session_on_the_test_client(
    app: App, case: str, caplog: pytest.LogCaptureFixture, autojump_clock: trio.testing.MockClock
) -> None:
    add_view, client_sends, expected = CASES[case]
    events, done = add_view(app)
    start = trio.current_time()
    async with app.test_client().websocket("/ws") as ws:
        if client_sends:
            await ws.send("go")
        with pytest.raises(WebsocketDisconnectError) as closed:
            while True:
                await ws.receive(timeout=5)
        assert (closed.value.code, closed.value.reason) == (4000, "bye")
        with trio.fail_after(1):
            await done.wait()
    # No wait for a timeout anywhere: the client answered the close at once.
    assert trio.current_time() - start < 1
    assert events == expected
    no_errors_logged(caplog)


@pytest.mark.parametrize("case", CASES)
async def test_close_ends_the_session_on_a_real_socket(
    app: App, case: str, live_server: str, caplog: pytest.LogCaptureFixture
) -> None:
    add_view, client_sends, expected = CASES[case]
    events, done = add_view(app)
    async with open_websocket_url(f"ws://{live_server}/ws") as client:
        if client_sends:
            await client.send_message("go")
        with pytest.raises(ConnectionClosed) as closed, trio.fail_after(5):
            while True:
                await client.get_message()
        assert closed.value.reason is not None
        assert (closed.value.reason.code, closed.value.reason.reason) == (4000, "bye")
        with trio.fail_after(5):
            await done.wait()
    assert events == expected
    no_errors_logged(caplog)


async def test_the_native_server_closes_tcp_after_the_close_handshake(app: App, native_server: str) -> None:
    events, done = closing_from_a_nursery(app)
    stream, rest = await open_raw_websocket(native_server)
    async with stream:
        await stream.send_all(client_frame(TEXT, b"go"))
        received = rest
        with trio.fail_after(5):
            while len(received) < 2 or len(received) < 2 + received[1]:
                received += await stream.receive_some(65536)
        assert received == close_frame(4000, "bye")
        await stream.send_all(client_frame(0x8, received[2:]))  # the client's answer
        with trio.fail_after(5):
            assert await stream.receive_some(65536) == b""  # FIN: the server closed the connection
            await done.wait()
    assert events["waiter"] == ("cancelled", 4000, "bye")


@pytest.mark.parametrize("kind", ["native", "hypercorn"])
async def test_a_client_that_never_answers_the_close_is_dropped_after_close_timeout(
    app: App, kind: str, autojump_clock: trio.testing.MockClock
) -> None:
    events, done = closing_from_a_nursery(app)
    async with running(app, kind) as server:
        stream, _ = await open_raw_websocket(server.address)
        async with stream:
            start = trio.current_time()
            await stream.send_all(client_frame(TEXT, b"go"))
            with trio.fail_after(CLOSE_TIMEOUT * 3):
                await done.wait()  # the session ended without the client's answer
            assert CLOSE_TIMEOUT <= trio.current_time() - start < CLOSE_TIMEOUT * 2
            with trio.fail_after(CLOSE_TIMEOUT * 3):
                while await stream.receive_some(65536):
                    pass  # the close frame, then the end of the stream
    assert events["waiter"] == ("cancelled", 4000, "bye")


async def test_send_and_receive_after_the_session_say_who_closed_it(app: App, live_server: str) -> None:
    errors: list[str] = []
    done = trio.Event()

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.accept()
        await websocket.close(4000, "bye")

    @app.teardown_websocket
    async def after(error: BaseException | None) -> None:
        attempts: list[Callable[[], Awaitable[object]]] = [websocket.receive, lambda: websocket.send("late")]
        for attempt in attempts:
            try:
                await attempt()
            except WebsocketClosedError as closed:
                errors.append(str(closed))
        done.set()

    async with open_websocket_url(f"ws://{live_server}/ws") as client:
        with pytest.raises(ConnectionClosed), trio.fail_after(5):
            await client.get_message()
    with trio.fail_after(5):
        await done.wait()
    assert errors == ["The websocket is closed: the view closed it with code 4000 ('bye')"] * 2


async def test_a_second_close_waits_for_the_first(app: App) -> None:
    returned: list[str] = []

    async def close_with(code: int) -> None:
        await websocket.close(code, str(code))
        returned.append(str(code))

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.accept()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(close_with, 4000)
            while not websocket.closing:  # the first close frame is out
                await trio.lowlevel.checkpoint()
            nursery.start_soon(close_with, 4001)

    async with app.test_client().websocket("/ws") as client_ws:
        with pytest.raises(WebsocketDisconnectError) as closed:
            await client_ws.receive(timeout=5)
    assert (closed.value.code, closed.value.reason) == (4000, "4000")
    # Both return once the session has ended; the code is the first one's.
    assert returned == ["4000", "4001"]


async def test_a_rejected_websocket_cannot_be_used(app: App) -> None:
    errors: list[str] = []

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.close(1000)  # before accepting: a 403
        try:
            await websocket.send("late")
        except WebsocketClosedError as error:
            errors.append(str(error))

    with pytest.raises(WebsocketResponseError) as rejected:
        async with app.test_client().websocket("/ws"):
            pass
    assert rejected.value.response.status_code == 403
    assert errors == ["The websocket handshake was answered with an HTTP response; it can no longer be accepted"]


# -- found in review: the edges of the session's end ---------------------------------------


async def test_a_websocket_kept_past_its_connection_says_it_is_closed(app: App) -> None:
    """A task outside the view (in ``app.nursery``, say) that kept the websocket gets the clear error."""
    kept: list[Websocket] = []
    done = trio.Event()

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.accept()
        kept.append(websocket._get_current_object())  # type: ignore[attr-defined]
        try:
            await trio.sleep_forever()
        finally:
            done.set()

    async with app.test_client().websocket("/ws") as client_ws:
        await client_ws.close(4001, "gone")
    with trio.fail_after(5):
        await done.wait()
        while kept[0]._transport.websocket is not None:  # type: ignore[attr-defined]
            await trio.lowlevel.checkpoint()  # until the connection has ended and let go of its session
    for attempt in (kept[0].receive, lambda: kept[0].send("late")):
        with pytest.raises(WebsocketClosedError, match="the client closed it with code 4001"):
            await attempt()


async def test_a_close_that_crosses_the_clients_still_answers_it(app: App, native_server: str) -> None:
    """The client's close arrives with the message the view answers with its own close: a frame goes out."""

    @app.websocket("/ws")
    async def ws() -> None:
        if await websocket.receive() == "bye":
            await websocket.close(4000, "see you")

    answers = set()
    for _ in range(20):  # trio's scheduling order varies: half of these sent nothing before
        stream, rest = await open_raw_websocket(native_server)
        async with stream:
            await stream.send_all(client_frame(TEXT, b"bye") + client_frame(0x8, (1000).to_bytes(2, "big")))
            received = rest
            with trio.fail_after(5):
                while chunk := await stream.receive_some(65536):
                    received += chunk
        assert received[:1] == b"\x88", received
        answers.add(int.from_bytes(received[2:4], "big"))
    assert answers <= {1000, 4000}


async def test_a_close_under_hypercorn_with_the_views_queue_full_returns_at_once(app: App) -> None:
    """On the real clock (Hypercorn reads the real socket); the wait it checks against is 5 s."""
    took: list[float] = []
    returned = trio.Event()

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.send("ready")
        await trio.sleep(0.3)  # not receiving: a reader starts, and the client's messages fill its queue
        start = trio.current_time()
        try:
            await websocket.close(4000, "bye")
        finally:
            took.append(trio.current_time() - start)
            returned.set()

    async with running(app, "hypercorn") as server, open_websocket_url(f"ws://{server.address}/ws") as client:
        assert await client.get_message() == "ready"
        for number in range(2 * app.config["WEBSOCKET_QUEUE_SIZE"]):
            await client.send_message(str(number))
        with pytest.raises(ConnectionClosed), trio.fail_after(CLOSE_TIMEOUT * 3):
            while True:
                await client.get_message()
        with trio.fail_after(CLOSE_TIMEOUT * 3):
            await returned.wait()
    assert took[0] < 1  # not CLOSE_TIMEOUT: the client answered at once


@pytest.mark.parametrize(
    "name, value", [("X-A\r\nSet-Cookie", "session=attacker"), ("Bad Name", "v"), ("X-A", "a\x00b")]
)
async def test_a_header_that_is_not_valid_fails_the_accept_instead_of_going_out(
    app: App, name: str, value: str, caplog: pytest.LogCaptureFixture
) -> None:
    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.accept(headers={name: value})

    with pytest.raises(WebsocketResponseError) as rejected:
        async with app.test_client().websocket("/ws"):
            pass
    assert rejected.value.response.status_code == 500
    assert "Set-Cookie" not in rejected.value.response.headers
    assert "Invalid header for the websocket handshake's response" in caplog.text


# -- a send cancelled in mid-frame ------------------------------------------------------------------

HUGE = b"h" * (16 * 1024 * 1024)  # more than a loopback socket takes at once: the send waits in mid-frame


def cancelled_send_app(cancel_it: trio.Event) -> App:
    """``/ws`` starts sending 16 MiB, cancels that send when told, then sends "after"."""
    app = App(__name__)

    @app.websocket("/ws")
    async def view() -> None:
        await websocket.accept()
        with trio.CancelScope() as scope:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(websocket.send, HUGE)
                await cancel_it.wait()
                scope.cancel()
        await websocket.send("after")  # the connection is still usable
        await websocket.receive()

    return app


@pytest.mark.parametrize("kind", ["native", "hypercorn"])
async def test_a_send_cancelled_in_mid_frame_is_finished_before_the_view_s_next_message(kind: str) -> None:
    """On Hypercorn too, which shields its writes: the frame is never cut short on the wire."""
    cancel_it = trio.Event()
    async with running(cancelled_send_app(cancel_it), kind) as server:
        stream, received = await open_raw_websocket(server.address)
        while len(received) < 1 << 20:  # the send is under way, and waits for the client
            received += await stream.receive_some(1 << 16)
        cancel_it.set()
        frames = await read_server_frames(stream, received, 2)
        await stream.aclose()
    assert frames == [(0x2, HUGE), (TEXT, b"after")]


async def test_behind_tls_a_send_cancelled_in_mid_frame_ends_the_connection(nursery: trio.Nursery) -> None:
    """What is left of a frame TLS cut is not known: nothing more is written, and the client sees the end."""
    cancel_it = trio.Event()
    authority = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(server_context)
    client_context = ssl.create_default_context()
    authority.configure_trust(client_context)
    listeners = await nursery.start(
        functools.partial(serve, cancelled_send_app(cancel_it), host="127.0.0.1", port=0, ssl_context=server_context)
    )
    port = listeners[0].transport_listener.socket.getsockname()[1]
    tcp = await trio.open_tcp_stream("127.0.0.1", port)
    stream = trio.SSLStream(tcp, client_context, server_hostname="127.0.0.1")
    await stream.send_all(HANDSHAKE)
    received = b""
    with trio.fail_after(20):
        while len(received) < 1 << 20:
            received += await stream.receive_some(1 << 16)
        cancel_it.set()
        with contextlib.suppress(trio.BrokenResourceError):  # TCP closed without TLS's close_notify
            while chunk := await stream.receive_some(1 << 20):
                received += chunk
    assert b"after" not in received[-64:] and len(received) < len(HUGE)


async def test_a_shutdown_during_a_send_in_mid_frame_finishes_it_then_closes_1001() -> None:
    app = App(__name__)
    sending = trio.Event()

    @app.websocket("/ws")
    async def view() -> None:
        await websocket.accept()
        sending.set()
        await websocket.send(HUGE)
        await websocket.receive()

    async with running(app, "native") as server:
        stream, received = await open_raw_websocket(server.address)
        await sending.wait()
        while len(received) < 1 << 20:
            received += await stream.receive_some(1 << 16)
        server.shut_down()  # the view is cancelled while its send waits for the client
        frames = await read_server_frames(stream, received, 2)
        await stream.aclose()
    assert frames[0] == (0x2, HUGE)
    assert frames[1][0] == 0x8 and int.from_bytes(frames[1][1][:2], "big") == 1001
