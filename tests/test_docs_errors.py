"""The samples of docs/errors.md, run: on the test client, and on a real socket on both servers."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from trio_websocket import ConnectionRejected, open_websocket_url
from werkzeug.exceptions import Forbidden, HTTPException

from tests.docs_samples import load
from trioweb import App, abort, request, websocket
from trioweb.testing import WebsocketDisconnectError, WebsocketResponseError

TESTED = {"json_errors", "blueprint_errors"}
JSON = "application/json"


@pytest.fixture
def app() -> App:
    """The JSON error sample, which ``live_server`` serves."""
    sample: App = load("errors", "json_errors").app
    return sample


async def test_a_wrong_method_answers_json_and_keeps_allow(app: App) -> None:
    response = await app.test_client().get("/books")
    assert (response.status_code, response.mimetype) == (405, JSON)
    assert await response.get_json() == {"status": 405, "error": "Method Not Allowed", "path": "/books"}
    assert set(response.headers["Allow"].split(", ")) == {"OPTIONS", "POST"}


async def test_other_http_errors_answer_json(app: App) -> None:
    client = app.test_client()
    missing = await client.get("/nowhere")
    assert missing.status_code == 404
    assert await missing.get_json() == {"status": 404, "error": "Not Found", "path": "/nowhere"}
    for headers in ({"Content-Type": JSON}, {}):  # not JSON, or not said to be
        bad = await client.post("/books", data=b"Kindred", headers=headers)
        assert (bad.status_code, bad.mimetype) == (400, JSON)
        assert (await bad.get_json())["error"] == "Bad Request"
    added = await client.post("/books", json={"title": "Kindred"})
    assert (added.status_code, await added.get_json()) == (201, {"title": "Kindred"})


async def test_an_unhandled_exception_is_a_json_500_and_logged(app: App, caplog: pytest.LogCaptureFixture) -> None:
    response = await app.test_client().post("/books", json={})
    assert (response.status_code, response.mimetype) == (500, JSON)
    assert await response.get_json() == {"status": 500, "error": "Internal Server Error", "path": "/books"}
    assert "KeyError: 'title'" in caplog.text


async def test_a_websocket_handshake_is_rejected_with_the_handlers_json(app: App) -> None:
    client = app.test_client()
    for path, status, name in (("/feed", 403, "Forbidden"), ("/nowhere", 404, "Not Found")):
        with pytest.raises(WebsocketResponseError) as rejected:
            async with client.websocket(path):
                pass
        response = rejected.value.response
        assert (response.status_code, response.mimetype) == (status, JSON)
        # The path came from `websocket`: the handler ran in the handshake's context.
        assert await response.get_json() == {"status": status, "error": name, "path": path}
    async with client.websocket("/feed", query_string={"token": "s3cret"}) as ws:
        assert await ws.receive(timeout=5) == "welcome"


async def test_a_handler_that_reads_request_fails_on_a_handshake(caplog: pytest.LogCaptureFixture) -> None:
    app = App(__name__)

    @app.errorhandler(HTTPException)
    async def careless(error: HTTPException) -> tuple[str, int]:
        return f"{request.path}: {error.name}", error.code or 500

    @app.websocket("/ws")
    async def ws() -> None:
        abort(403)

    with pytest.raises(WebsocketResponseError) as rejected:
        async with app.test_client().websocket("/ws"):
            pass
    assert (rejected.value.response.status_code, rejected.value.response.mimetype) == (500, "text/html")
    assert "request is used outside of an HTTP request handler" in caplog.text


async def test_a_handler_for_the_errors_own_class_comes_first(app: App) -> None:
    @app.errorhandler(Forbidden)
    async def forbidden(error: Forbidden) -> tuple[str, int]:
        return "no entry", 403

    with pytest.raises(WebsocketResponseError) as rejected:
        async with app.test_client().websocket("/feed"):
            pass
    assert await rejected.value.response.get_data() == b"no entry"
    assert (await app.test_client().get("/books")).mimetype == JSON  # the others: json_error


async def test_werkzeugs_own_response_is_sent_with_its_status_headers_and_body() -> None:
    """Flask's recipe starts from ``error.get_response()``: werkzeug's WSGI response, which trioweb converts."""
    app = App(__name__)

    @app.errorhandler(HTTPException)
    async def flask_style(error: HTTPException) -> Any:
        return error.get_response()

    response = await app.test_client().get("/nowhere")
    assert (response.status_code, response.mimetype) == (404, "text/html")
    assert b"<h1>Not Found</h1>" in await response.get_data()


async def test_after_accepting_no_handler_runs(app: App, caplog: pytest.LogCaptureFixture) -> None:
    handled: list[HTTPException] = []

    @app.errorhandler(Forbidden)
    async def forbidden(error: Forbidden) -> str:
        handled.append(error)
        return "handled"

    @app.websocket("/late-abort")
    async def late_abort() -> None:
        await websocket.accept()
        abort(403)

    @app.websocket("/late-crash")
    async def late_crash() -> None:
        await websocket.accept()
        raise ValueError("after accepting")

    client = app.test_client()
    for path, code in (("/late-abort", 1000), ("/late-crash", 1011)):
        async with client.websocket(path) as ws:
            with pytest.raises(WebsocketDisconnectError) as closed:
                await ws.receive(timeout=5)
        assert closed.value.code == code
    assert handled == []
    assert "ValueError: after accepting" in caplog.text
    assert "Forbidden" not in caplog.text


# -- the same on a real socket, on each server -------------------------------------


async def test_allow_is_kept_on_a_real_socket(app: App, live_server: str) -> None:
    async with httpx.AsyncClient(base_url=f"http://{live_server}") as client:
        response = await client.get("/books")
    assert (response.status_code, response.headers["Content-Type"]) == (405, JSON)
    assert response.json() == {"status": 405, "error": "Method Not Allowed", "path": "/books"}
    assert set(response.headers["Allow"].split(", ")) == {"OPTIONS", "POST"}


async def test_a_handshake_gets_the_json_on_a_real_socket(app: App, live_server: str) -> None:
    with pytest.raises(ConnectionRejected) as rejected:
        async with open_websocket_url(f"ws://{live_server}/feed"):
            pass
    assert rejected.value.status_code == 403
    assert dict(rejected.value.headers or [])[b"content-type"] == JSON.encode()
    assert rejected.value.body is not None
    assert json.loads(rejected.value.body) == {"status": 403, "error": "Forbidden", "path": "/feed"}
    async with open_websocket_url(f"ws://{live_server}/feed?token=s3cret") as ws:
        assert await ws.get_message() == "welcome"


# -- blueprints --------------------------------------------------------------------


async def test_a_blueprints_handler_catches_what_its_views_raise() -> None:
    client = load("errors", "blueprint_errors").app.test_client()
    assert await (await client.get("/api/books/1")).get_json() == {"id": 1, "title": "Kindred"}
    raised = await client.get("/api/books/2")
    # The blueprint's handler, ahead of the app's, which also handles NotFound.
    assert (raised.status_code, await raised.get_json()) == (404, {"error": "no such book"})


async def test_a_url_no_rule_matches_goes_to_the_apps_handler() -> None:
    client = load("errors", "blueprint_errors").app.test_client()
    for path in ("/api/nothing", "/api/books/two"):  # under the prefix; `two` is no int
        response = await client.get(path)
        assert (response.status_code, await response.get_json()) == (404, {"error": "no such URL"})
    elsewhere = await client.get("/elsewhere")
    assert (elsewhere.status_code, await elsewhere.get_data()) == (404, b"Nothing here.")
    with pytest.raises(WebsocketResponseError) as rejected:
        async with client.websocket("/api/nothing"):
            pass
    assert await rejected.value.response.get_json() == {"error": "no such URL"}


async def test_a_wrong_method_under_the_prefix_is_no_blueprints_either() -> None:
    client = load("errors", "blueprint_errors").app.test_client()
    response = await client.post("/api/books/1")
    assert (response.status_code, response.mimetype) == (405, "text/html")  # werkzeug's page: no handler
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}


async def test_a_blueprints_handler_also_catches_the_hooks_of_its_views() -> None:
    app: App = load("errors", "blueprint_errors").app

    @app.before_request
    async def closed_on_sundays() -> None:
        if request.headers.get("X-Day") == "Sunday":
            abort(404)

    client = app.test_client()
    sunday = {"X-Day": "Sunday"}
    assert await (await client.get("/api/books/1", headers=sunday)).get_json() == {"error": "no such book"}
    assert await (await client.get("/api/books/1")).get_json() == {"id": 1, "title": "Kindred"}
