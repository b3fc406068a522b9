"""TESTING / PROPAGATE_EXCEPTIONS: an error no handler takes is raised in the test, and a server still answers 500."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from trioweb import App, Response, abort, websocket
from trioweb.testing import IncompleteResponseError, WebsocketDisconnectError


class Boom(Exception):
    pass


@pytest.fixture
def app() -> App:
    app = App(__name__)
    app.config["TESTING"] = True

    @app.route("/boom")
    async def boom() -> str:
        raise Boom("in the view")

    @app.route("/fine")
    async def fine() -> str:
        return "fine"

    @app.errorhandler(500)
    async def server_error(error: Exception) -> tuple[str, int]:
        return "the 500 handler", 500

    return app


async def test_with_testing_the_views_error_comes_out_of_the_client_plainly(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(Boom, match="in the view"):  # the error itself, not a group holding it
        await app.test_client().get("/boom")
    assert "Exception on" not in caplog.text  # raised, not logged
    assert await (await app.test_client().get("/fine")).get_data() == b"fine"


async def test_propagate_exceptions_decides_and_none_follows_testing(app: App) -> None:
    client = app.test_client()
    app.config.update(TESTING=False, PROPAGATE_EXCEPTIONS=True)
    with pytest.raises(Boom):
        await client.get("/boom")
    app.config.update(TESTING=True, PROPAGATE_EXCEPTIONS=False)
    response = await client.get("/boom")
    assert (response.status_code, await response.get_data()) == (500, b"the 500 handler")
    app.config.update(TESTING=False, PROPAGATE_EXCEPTIONS=None)
    assert (await client.get("/boom")).status_code == 500


async def test_errors_of_hooks_and_error_handlers_propagate_but_handled_ones_do_not(app: App) -> None:
    @app.before_request
    async def before() -> None:
        if "before" in app.config:
            raise Boom("in a before_request function")

    @app.after_request
    async def after(response: Response) -> Response:
        if "after" in app.config:
            raise Boom("in an after_request function")
        return response

    @app.route("/handled")
    async def handled() -> str:
        raise KeyError("k")

    @app.errorhandler(KeyError)
    async def key_error(error: KeyError) -> tuple[str, int]:
        if "handler" in app.config:
            raise Boom("in an error handler")
        return "handled", 400

    @app.route("/missing")
    async def missing() -> str:
        abort(404)

    client = app.test_client()
    assert (await client.get("/handled")).status_code == 400
    assert (await client.get("/missing")).status_code == 404  # an HTTP error is an answer, not a crash
    for where, key in (("before_request", "before"), ("after_request", "after"), ("error handler", "handler")):
        app.config[key] = True
        with pytest.raises(Boom, match=f"in an? {where}"):
            await client.get("/handled")
        del app.config[key]


async def test_a_websocket_views_error_comes_out_of_the_websocket_client(app: App) -> None:
    @app.websocket("/early")
    async def early() -> None:
        raise Boom("before accepting")

    @app.websocket("/late")
    async def late() -> None:
        await websocket.send("hello")
        await websocket.receive()
        raise Boom("after accepting")

    @app.websocket("/unread")
    async def unread() -> None:
        await websocket.accept()
        raise Boom("nobody was receiving")

    client = app.test_client()
    with pytest.raises(Boom, match="before accepting"):
        async with client.websocket("/early"):
            pass
    async with client.websocket("/late") as ws:
        assert await ws.receive() == "hello"
        await ws.send("go")
        with pytest.raises(Boom, match="after accepting"):  # instead of the close 1011 it caused
            await ws.receive()
    with pytest.raises(Boom, match="nobody was receiving"):
        async with client.websocket("/unread"):
            pass  # the test leaves without receiving: the error comes out at the end of the block


async def test_without_testing_the_websocket_client_sees_the_1011(app: App) -> None:
    app.config["TESTING"] = False

    @app.websocket("/late")
    async def late() -> None:
        await websocket.accept()
        raise Boom("after accepting")

    async with app.test_client().websocket("/late") as ws:
        with pytest.raises(WebsocketDisconnectError) as closed:
            await ws.receive()
    assert closed.value.code == 1011


async def test_on_a_real_server_with_testing_the_client_gets_a_500_and_the_server_serves_on(
    app: App, live_server: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with httpx.AsyncClient(base_url=f"http://{live_server}") as client:
        response = await client.get("/boom")
        # A plain 500, as the server in front of a Flask app that propagates gives: no 500 handler.
        assert response.status_code == 500 and b"Internal Server Error" in response.content
        assert (await client.get("/fine")).text == "fine"
    assert "Boom: in the view" in caplog.text  # logged before the 500 went out


async def test_with_testing_a_streamed_bodys_error_comes_out_of_the_client_too(app: App) -> None:
    async def rows() -> AsyncIterator[str]:
        yield "first"
        raise Boom("in the body")

    @app.route("/stream")
    async def stream() -> AsyncIterator[str]:
        return rows()  # fails after the status went out: no 500, and in the test, the error itself

    with pytest.raises(Boom, match="in the body"):
        await app.test_client().get("/stream")
    app.config["TESTING"] = False
    with pytest.raises(IncompleteResponseError):
        await app.test_client().get("/stream")
