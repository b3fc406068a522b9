"""What a user sees in the terminal: ``app.run``'s arguments, the server's log lines, and the hints in errors."""

from __future__ import annotations

import contextlib
import errno
import inspect
import logging
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import trio
from mypy import api as mypy_api
from trio_websocket import open_websocket_url

import trioweb.server
from trioweb import App, serve, websocket
from trioweb.server import ListenError, configure_logging

from .conftest import running

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
    assert {"host", "port", "ssl_context", "certfile", "keyfile", "access_log", "shutdown_trigger", "backlog"} == set(
        server_run
    ) - {"app"}


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
