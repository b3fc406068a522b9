"""What a user sees in the terminal: ``app.run``'s arguments, the server's log lines, and the hints in errors."""

from __future__ import annotations

import contextlib
import errno
import functools
import gc
import inspect
import io
import logging
import re
import socket
import ssl
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
import trio.testing
import trio_websocket
from mypy import api as mypy_api
from trio_websocket import open_websocket_url
from werkzeug.datastructures import FileStorage

import trioweb.app
import trioweb.server
from trioweb import App, Response, request, serve, websocket
from trioweb.server import ListenError, configure_logging, serve_stream
from trioweb.testing import IncompleteResponseError, WebsocketDisconnectError

from .conftest import HANDSHAKE, running

ROOT = Path(__file__).parent.parent


class Logged(logging.Handler):
    """Sets an event when a record containing ``text`` is logged (the server logs from trio's thread)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text
        self.event = trio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in record.getMessage():
            self.event.set()


# -- app.run takes typed arguments ------------------------------------------------------------


def test_app_run_and_server_run_take_the_same_named_arguments() -> None:
    """No ``**options``: a misspelt or unsupported argument is a type error (mypy) and a TypeError at once."""
    app_run = inspect.signature(App.run).parameters
    server_run = inspect.signature(trioweb.server.run).parameters
    kinds = {parameter.kind for parameter in [*app_run.values(), *server_run.values()]}
    assert inspect.Parameter.VAR_KEYWORD not in kinds and inspect.Parameter.VAR_POSITIONAL not in kinds
    assert [(name, p.default) for name, p in app_run.items() if name != "self"] == [
        (name, p.default) for name, p in server_run.items() if name != "app"
    ]
    named = {"host", "port", "ssl_context", "certfile", "keyfile", "access_log", "shutdown_trigger", "backlog"}
    named.update({"sockets", "workers"})
    assert named == set(server_run) - {"app"}


def test_run_with_debug_is_a_type_error_before_anything_starts(app: App) -> None:
    started: list[str] = []
    app.before_serving(lambda: started.append("started"))
    with pytest.raises(TypeError, match="debug"):
        app.run(debug=True)  # type: ignore[call-arg]
    assert started == []


def test_run_with_debug_is_a_mypy_error(tmp_path: Path) -> None:
    (tmp_path / "script.py").write_text("from trioweb import App\n\nApp(__name__).run(debug=True)\n")
    out, _, status = mypy_api.run(
        ["--strict", "--cache-dir", str(ROOT / ".mypy_cache"), "--no-error-summary", str(tmp_path / "script.py")]
    )
    assert status == 1
    assert 'error: Unexpected keyword argument "debug" for "run" of "App"' in out


def test_run_takes_an_ssl_context_or_files_not_both(app: App) -> None:
    with pytest.raises(TypeError, match="not both"):
        app.run(ssl_context=ssl.create_default_context(), certfile="cert.pem")
    with pytest.raises(TypeError, match="keyfile needs a certfile"):
        app.run(keyfile="key.pem")


@contextlib.contextmanager
def bare_root_logger() -> Iterator[logging.Logger]:
    """The root logger as a fresh program has it: no handlers (pytest's are put back after)."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    root.handlers.clear()
    try:
        yield root
    finally:
        for handler in root.handlers:
            handler.close()
        root.handlers[:] = handlers
        root.setLevel(level)


def test_configure_logging_sets_up_stderr_only_when_nothing_else_did() -> None:
    with bare_root_logger() as root:
        assert configure_logging("warning") is True
        assert root.level == logging.WARNING
        [handler] = root.handlers
        assert isinstance(handler, logging.StreamHandler)
        assert handler.formatter is not None and handler.formatter._fmt == trioweb.server.LOG_FORMAT
        assert configure_logging("debug") is False  # configured already: left alone
        assert root.level == logging.WARNING and root.handlers == [handler]


# -- an address that cannot be used -------------------------------------------------------------


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        yield busy.getsockname()[1]


async def test_serve_on_a_port_in_use_raises_listen_error_before_startup(app: App, busy_port: int) -> None:
    started: list[str] = []

    @app.before_serving
    async def start() -> None:
        started.append("started")

    with pytest.raises(ListenError) as raised:
        await serve(app, host="127.0.0.1", port=busy_port)
    assert isinstance(raised.value, OSError) and raised.value.errno == errno.EADDRINUSE
    assert str(raised.value) == f"cannot listen on 127.0.0.1:{busy_port}: address already in use"
    assert raised.value.address == f"127.0.0.1:{busy_port}"
    assert isinstance(raised.value.__cause__, OSError)
    assert started == []
    assert app.lifespan is None  # it never started serving, and can serve now
    async with running(app, "native"):
        assert started == ["started"]


def test_app_run_on_a_port_in_use_exits_with_one_line(app: App, busy_port: int) -> None:
    with pytest.raises(SystemExit) as exited:
        app.run(port=busy_port)
    assert exited.value.code == f"trioweb: cannot listen on 127.0.0.1:{busy_port}: address already in use"


async def test_an_unknown_host_is_a_listen_error_too(app: App) -> None:
    with pytest.raises(ListenError, match=r"^cannot listen on no-such-host\.invalid:8000: "):
        await serve(app, host="no-such-host.invalid", port=8000)


def test_listen_error_names_the_address_as_in_a_url() -> None:
    in_use = OSError(errno.EADDRINUSE, "Address already in use")
    assert str(ListenError(trioweb.server._display_address("::1", 80), in_use)) == (
        "cannot listen on [::1]:80: address already in use"
    )
    assert trioweb.server._display_address(None, 80) == "*:80"


# -- the graceful shutdown says what it waits for -------------------------------------------------


async def test_the_shutdown_says_what_it_waits_for(app: App, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="trioweb.server")
    release = trio.Event()
    in_view = trio.Event()
    accepted = trio.Event()

    @app.route("/slow")
    async def slow() -> str:
        in_view.set()
        await release.wait()
        return "done"

    @app.route("/job")
    async def job() -> str:
        app.add_background_task(release.wait)
        return "queued"

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.accept()
        accepted.set()
        await trio.sleep_forever()

    shutting_down = Logged("Shutting down")
    logging.getLogger("trioweb.server").addHandler(shutting_down)
    try:
        with trio.fail_after(10):
            async with (
                running(app, "native") as server,
                httpx.AsyncClient(base_url=f"http://{server.address}") as client,
                open_websocket_url(f"ws://{server.address}/ws"),
                trio.open_nursery() as nursery,
            ):
                assert (await client.get("/job")).text == "queued"
                nursery.start_soon(client.get, "/slow")
                await in_view.wait()
                await accepted.wait()
                server.shut_down()
                await shutting_down.event.wait()
                release.set()
    finally:
        logging.getLogger("trioweb.server").removeHandler(shutting_down)
    assert "Shutting down: closing 1 websocket, waiting up to 10 s for 1 request and 1 background task" in caplog.text


async def test_a_shutdown_with_nothing_to_wait_for_says_so(app: App, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="trioweb.server")
    app.config["SHUTDOWN_TIMEOUT"] = 2.5
    with trio.fail_after(10):
        async with running(app, "native"):
            pass
    assert "Shutting down: no requests or background tasks to wait for" in caplog.text


def test_the_shutdown_counts_in_words() -> None:
    app = App(__name__)
    app.config["SHUTDOWN_TIMEOUT"] = 2.5
    assert trioweb.server._what_shutdown_waits_for(set(), 3, app) == "waiting up to 2.5 s for 3 background tasks"


# -- the access log -------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def logged_connection(app: App, *, access_log: bool = True) -> AsyncIterator[trio.abc.Stream]:
    """The client end of a memory stream that the native server serves, its access log on.

    The block's end waits for the server to finish the connection, so that
    every line it logs is in.
    """
    client, server = trio.testing.memory_stream_pair()
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(
                functools.partial(serve_stream, app, server, client=("127.0.0.1", 5000), access_log=access_log)
            )
            yield client


def access_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.name == "trioweb.access"]


async def read_until_closed(stream: trio.abc.ReceiveStream) -> bytes:
    received = b""
    while chunk := await stream.receive_some(65536):
        received += chunk
    return received


@pytest.fixture
def streams(app: App) -> App:
    """``/`` answers at once, ``/slow`` never, ``/ticks`` streams a tick a second forever."""

    @app.route("/", methods=["GET", "POST"])
    async def index() -> str:
        return "hello"

    @app.route("/slow")
    async def slow() -> str:
        await trio.sleep_forever()
        raise AssertionError("unreachable")

    @app.route("/ticks")
    async def ticks() -> Response:
        async def body() -> AsyncIterator[bytes]:
            while True:
                yield b"tick"
                await trio.sleep(1)

        return Response(body())

    return app


async def test_a_request_is_logged_with_its_status_and_size(streams: App, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="trioweb.access")
    async with logged_connection(streams) as client:
        await client.send_all(b"GET /?a=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        await read_until_closed(client)
    assert access_lines(caplog) == ['127.0.0.1 - "GET /?a=1 HTTP/1.1" 200 5']


async def test_the_access_log_is_off_unless_asked_for(streams: App, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="trioweb.access")
    async with logged_connection(streams, access_log=False) as client:
        await client.send_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/2.0\r\nHost: x\r\n\r\n")
        await read_until_closed(client)
    assert access_lines(caplog) == []


async def test_a_client_that_leaves_before_the_response_is_logged(
    streams: App, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="trioweb.access")
    async with logged_connection(streams) as client:
        await client.send_all(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        await trio.testing.wait_all_tasks_blocked()
        await client.aclose()
    assert access_lines(caplog) == ['127.0.0.1 - "GET /slow HTTP/1.1" - 0 (client left)']


async def test_a_client_that_leaves_a_stream_is_logged_with_the_bytes_sent(
    streams: App, caplog: pytest.LogCaptureFixture, autojump_clock: trio.testing.MockClock
) -> None:
    caplog.set_level(logging.INFO, logger="trioweb.access")
    async with logged_connection(streams) as client:
        await client.send_all(b"GET /ticks HTTP/1.1\r\nHost: x\r\n\r\n")
        received = b""
        while received.count(b"tick") < 3:
            received += await client.receive_some(65536)
        await client.aclose()
    [line] = access_lines(caplog)
    match = re.fullmatch(r'127\.0\.0\.1 - "GET /ticks HTTP/1\.1" 200 (\d+) \(client left\)', line)
    assert match is not None, line
    assert int(match[1]) >= 12 and int(match[1]) % 4 == 0


async def test_a_response_that_times_out_is_logged_and_warned_about(
    streams: App, caplog: pytest.LogCaptureFixture, autojump_clock: trio.testing.MockClock
) -> None:
    streams.config["RESPONSE_TIMEOUT"] = 10
    caplog.set_level(logging.INFO)
    async with logged_connection(streams) as client:
        await client.send_all(b"GET /ticks HTTP/1.1\r\nHost: x\r\n\r\n")
        await read_until_closed(client)
    [line] = access_lines(caplog)
    assert re.fullmatch(r'127\.0\.0\.1 - "GET /ticks HTTP/1\.1" 200 \d+ \(response timed out\)', line), line
    [warning] = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert warning == (
        "The response to GET /ticks was not sent within its timeout (RESPONSE_TIMEOUT, or response.timeout); "
        "closing the connection. Set response.timeout = None for a stream that should run forever, "
        "or raise RESPONSE_TIMEOUT"
    )


@pytest.mark.parametrize(
    ("data", "line"),
    [
        (b"NOT A REQUEST\r\n\r\n", r'"-" 400 \d+ \(.+\)'),
        (b"GET / HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n", r'"-" 400 \d+ \(.+\)'),
        (b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", r'"GET / HTTP/2\.0" 505 26'),
        # A head over MAX_REQUEST_HEAD_SIZE: still coming in, or complete in one read.
        (b"GET /big HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000, r'"-" 431 \d+ \(.+\)'),
        (b"GET /big HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n", r'"GET /big HTTP/1\.1" 431 31'),
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", r'"-" 501 \d+ \(.+\)'),
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n", r'"POST / HTTP/1\.1" 413 \d+'),
    ],
)
async def test_the_servers_own_error_answers_are_logged(
    streams: App, caplog: pytest.LogCaptureFixture, data: bytes, line: str
) -> None:
    caplog.set_level(logging.INFO, logger="trioweb.access")
    async with logged_connection(streams) as client:
        await client.send_all(data)
        await read_until_closed(client)
    [logged] = access_lines(caplog)
    assert re.fullmatch("127\\.0\\.0\\.1 - " + line, logged), logged


async def test_a_request_head_that_is_too_slow_is_logged_as_408(
    streams: App, caplog: pytest.LogCaptureFixture, autojump_clock: trio.testing.MockClock
) -> None:
    caplog.set_level(logging.INFO, logger="trioweb.access")
    async with logged_connection(streams) as client:
        await client.send_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
        await read_until_closed(client)
    assert access_lines(caplog) == ['127.0.0.1 - "-" 408 42 (The request head was not received in time.)']


@contextlib.asynccontextmanager
async def logged_websocket(app: App, resource: str) -> AsyncIterator[trio_websocket.WebSocketConnection]:
    """A websocket client on a memory stream that the native server serves with its access log on."""
    async with logged_connection(app) as stream, trio.open_nursery() as nursery:
        connection = await trio_websocket.wrap_client_stream(nursery, stream, "localhost", resource)  # type: ignore[arg-type]
        yield connection
        await connection.aclose()


async def test_a_websocket_is_logged_when_it_ends_with_its_duration_and_close_code(
    app: App, caplog: pytest.LogCaptureFixture, autojump_clock: trio.testing.MockClock
) -> None:
    caplog.set_level(logging.INFO, logger="trioweb.access")

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.accept()
        await trio.sleep(3)
        await websocket.send("bye")

    async with logged_websocket(app, "/ws?room=1") as connection:
        assert await connection.get_message() == "bye"
        with pytest.raises(trio_websocket.ConnectionClosed):
            await connection.get_message()
    assert access_lines(caplog) == ['127.0.0.1 - "GET /ws?room=1 HTTP/1.1" 101 - (websocket, 3.00 s, close 1000)']


async def test_a_websocket_the_client_closes_is_logged_with_the_clients_code(
    app: App, caplog: pytest.LogCaptureFixture, autojump_clock: trio.testing.MockClock
) -> None:
    caplog.set_level(logging.INFO, logger="trioweb.access")

    @app.websocket("/ws")
    async def ws() -> None:
        while True:
            await websocket.receive()

    async with logged_websocket(app, "/ws") as connection:
        await trio.sleep(1.5)
        await connection.aclose(4000, "done")
    assert access_lines(caplog) == ['127.0.0.1 - "GET /ws HTTP/1.1" 101 - (websocket, 1.50 s, close 4000)']


async def test_a_rejected_websocket_is_logged_as_its_response(app: App, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="trioweb.access")

    @app.websocket("/ws")
    async def ws() -> tuple[str, int]:
        return "go away", 401

    async with logged_connection(app) as client:
        await client.send_all(HANDSHAKE)
        assert (await read_until_closed(client)).startswith(b"HTTP/1.1 401 ")
    assert access_lines(caplog) == ['127.0.0.1 - "GET /ws HTTP/1.1" 401 7']


async def test_the_asgi_adapter_warns_of_a_response_timeout_the_same_way(
    streams: App, caplog: pytest.LogCaptureFixture, autojump_clock: trio.testing.MockClock
) -> None:
    """As Hypercorn's trio worker calls it, without the sockets (whose timers would run on the real clock)."""
    streams.config["RESPONSE_TIMEOUT"] = 10
    messages: list[dict[str, Any]] = [{"type": "http.request", "body": b"", "more_body": False}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop()
        await trio.sleep_forever()
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/ticks", "headers": [(b"host", b"x")], "query_string": b""}
    with trio.fail_after(60):
        await streams(scope, receive, send)
    assert sent[-1].get("more_body") is True  # the response was left incomplete: the server closes
    [warning] = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert warning == (
        "The response to GET /ticks was not sent within its timeout of 10 s (RESPONSE_TIMEOUT, or response.timeout); "
        "closing the connection. Set response.timeout = None for a stream that should run forever, "
        "or raise RESPONSE_TIMEOUT"
    )


async def test_the_test_client_reports_a_response_cut_short_by_its_timeout(
    streams: App, autojump_clock: trio.testing.MockClock
) -> None:
    streams.config["RESPONSE_TIMEOUT"] = 10
    with pytest.raises(IncompleteResponseError, match=r"^The server closed the connection before the response") as cut:
        await streams.test_client().get("/ticks")
    assert "(HTTP 200, " in str(cut.value) and "RESPONSE_TIMEOUT" in str(cut.value)
    assert isinstance(cut.value, ConnectionError)
    response = cut.value.response
    assert response.status_code == 200 and response.headers["Transfer-Encoding"] == "chunked"
    body = await response.get_data()
    assert body.startswith(b"tick") and len(body) >= 40


# -- hints for the usual mistakes ------------------------------------------------------------------


async def fetch_title() -> str:
    return "Solaris"


FORGOT_AWAIT = "fetch_title() instead of its result; did you forget `await`?"


def forgetful_view(app: App, where: str) -> None:
    """``/`` returns a coroutine from ``where``: the view, a hook or an error handler."""

    @app.route("/")
    async def index() -> str:
        if where == "view":
            return fetch_title()  # type: ignore[return-value]
        if where == "errorhandler":
            raise KeyError("x")
        return "fine"

    if where == "before_request":

        @app.before_request
        async def load_user() -> str:
            return fetch_title()  # type: ignore[return-value]

    elif where == "after_request":

        @app.after_request
        async def add_header(response: Response) -> Response:
            return fetch_title()  # type: ignore[return-value]

    elif where == "errorhandler":

        @app.errorhandler(KeyError)
        async def missing(error: KeyError) -> str:
            return fetch_title()  # type: ignore[return-value]


@pytest.mark.parametrize("where", ["view", "before_request", "after_request", "errorhandler"])
async def test_a_coroutine_returned_instead_of_awaited_says_so(
    app: App, where: str, caplog: pytest.LogCaptureFixture, recwarn: pytest.WarningsRecorder
) -> None:
    forgetful_view(app, where)
    response = await app.test_client().get("/")
    assert response.status_code == 500
    errors = [record for record in caplog.records if record.levelno == logging.ERROR]
    assert len(errors) == 1 and errors[0].exc_info is not None
    message = str(errors[0].exc_info[1])
    assert isinstance(errors[0].exc_info[1], TypeError) and message.endswith(FORGOT_AWAIT), message
    if where == "after_request":
        assert message.startswith("after_request function add_header returned the coroutine ")
    gc.collect()
    assert not [warning for warning in recwarn if "never awaited" in str(warning.message)]  # it was closed


async def test_the_view_error_uses_the_right_article(app: App, caplog: pytest.LogCaptureFixture) -> None:
    @app.route("/")
    async def index() -> int:
        return 5

    assert (await app.test_client().get("/")).status_code == 500
    assert "TypeError: The view returned an int, which trioweb cannot send." in caplog.text
    assert [trioweb.app._article(noun) for noun in ("int", "object", "UUID", "user", "uncle", "float")] == [
        "an",
        "an",
        "a",
        "a",
        "an",
        "a",
    ]


async def test_request_in_a_websocket_view_says_to_use_websocket(app: App) -> None:
    errors: list[str] = []

    @app.websocket("/ws")
    async def ws() -> None:
        try:
            request.args.get("room")
        except RuntimeError as error:
            errors.append(str(error))
        await websocket.accept()

    @app.route("/")
    async def index() -> str:
        try:
            await websocket.receive()
        except RuntimeError as error:
            errors.append(str(error))
        return "ok"

    async with app.test_client().websocket("/ws") as ws_client:
        with pytest.raises(WebsocketDisconnectError):
            await ws_client.receive(timeout=5)
    await app.test_client().get("/")
    assert errors == [
        "request is used outside of an HTTP request handler; use `websocket` in a websocket view",
        "websocket is used outside of a websocket handler; use `request` in an HTTP view",
    ]
    with pytest.raises(RuntimeError, match=r"^request is used outside of an HTTP request handler$"):
        request.args  # noqa: B018 - outside of everything: no hint


async def test_a_413_says_which_limit_it_hit(app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    app.config["MAX_CONTENT_LENGTH"] = 10

    @app.route("/", methods=["POST"])
    async def upload() -> str:
        return str(len(await request.get_data()))

    @app.route("/form", methods=["POST"])
    async def form() -> str:
        return str(len(await request.form))

    client = app.test_client()
    declared = await client.post("/", data=b"x" * 20)
    assert declared.status_code == 413
    assert "The request body (20 bytes) is larger than MAX_CONTENT_LENGTH (10 bytes)." in await declared.get_data(
        as_text=True
    )
    async with logged_connection(app) as stream:
        await stream.send_all(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n14\r\n" + b"x" * 20)
        chunked = await read_until_closed(stream)
    assert chunked.startswith(b"HTTP/1.1 413 ")
    assert b"The request body is larger than MAX_CONTENT_LENGTH (10 bytes)." in chunked

    app.config["MAX_CONTENT_LENGTH"] = None
    app.config["MAX_FORM_MEMORY_SIZE"] = 10
    too_big = await client.post("/form", files={"field": FileStorage(io.BytesIO(b"x"), "a.txt")}, form={"f": "y" * 20})
    assert too_big.status_code == 413
    assert "A form field is larger than 10 bytes (MAX_FORM_MEMORY_SIZE)" in await too_big.get_data(as_text=True)


# -- websocket views: errors and return values ---------------------------------------------------------

AFTER_ACCEPTING = (
    "TypeError: The websocket view returned a str after accepting the websocket, which closes with 1011: "
    "a returned value can only answer the handshake, before accepting. "
    "Send it with `await websocket.send(...)` and return None."
)


@pytest.fixture
def says_bye(app: App) -> App:
    @app.websocket("/ws")
    async def ws() -> str:
        await websocket.accept()
        return "bye"

    return app


async def test_a_value_returned_after_accepting_is_an_error_and_close_1011(
    says_bye: App, caplog: pytest.LogCaptureFixture
) -> None:
    async with says_bye.test_client().websocket("/ws") as ws:
        with pytest.raises(WebsocketDisconnectError) as closed:
            await ws.receive(timeout=5)
    assert closed.value.code == 1011
    assert "Exception on websocket GET /ws" in caplog.text
    assert AFTER_ACCEPTING in caplog.text


async def test_a_value_returned_after_accepting_on_a_real_server(
    says_bye: App, live_server: str, caplog: pytest.LogCaptureFixture
) -> None:
    with trio.fail_after(5):
        async with open_websocket_url(f"ws://{live_server}/ws") as ws:
            with pytest.raises(trio_websocket.ConnectionClosed) as closed:
                await ws.get_message()
    assert closed.value.reason is not None and closed.value.reason.code == 1011
    assert AFTER_ACCEPTING in caplog.text


async def test_none_returned_after_accepting_closes_with_1000_and_logs_nothing(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    @app.websocket("/ws")
    async def accept_and_return() -> None:
        await websocket.accept()

    async with app.test_client().websocket("/ws") as ws:
        with pytest.raises(WebsocketDisconnectError) as closed:
            await ws.receive(timeout=5)
    assert closed.value.code == 1000
    assert not [record for record in caplog.records if record.levelno >= logging.WARNING]


async def test_a_websocket_views_exception_is_logged_with_its_method_and_path(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    @app.websocket("/rooms/<name>")
    async def room(name: str) -> None:
        await websocket.accept()
        raise ValueError(f"no room {name}")

    async with app.test_client().websocket("/rooms/lobby") as ws:
        with pytest.raises(WebsocketDisconnectError):
            await ws.receive(timeout=5)
    [error] = [record for record in caplog.records if record.levelno == logging.ERROR]
    assert error.getMessage() == "Exception on websocket GET /rooms/lobby"
    assert error.exc_info is not None and str(error.exc_info[1]) == "no room lobby"
