import uuid
from typing import Any

import pytest
from werkzeug.routing import BaseConverter

from trioweb import App, abort, url_for


async def test_converters(app: App) -> None:
    @app.route("/int/<int:n>")
    async def integer(n: int) -> dict[str, object]:
        return {"n": n, "type": type(n).__name__}

    @app.route("/float/<float:x>")
    async def floating(x: float) -> str:
        return repr(x)

    @app.route("/path/<path:p>")
    async def path(p: str) -> str:
        return p

    @app.route("/uuid/<uuid:u>")
    async def uid(u: uuid.UUID) -> str:
        return u.hex

    @app.route("/name/<name>")
    async def name(name: str) -> str:
        return name

    client = app.test_client()
    assert await (await client.get("/int/42")).get_json() == {"n": 42, "type": "int"}
    assert (await client.get("/int/x")).status_code == 404
    assert await (await client.get("/float/1.5")).get_data(as_text=True) == "1.5"
    assert await (await client.get("/path/a/b/c")).get_data(as_text=True) == "a/b/c"
    value = uuid.uuid4()
    assert await (await client.get(f"/uuid/{value}")).get_data(as_text=True) == value.hex
    assert await (await client.get("/name/caf%C3%A9")).get_data(as_text=True) == "café"


async def test_not_found_and_method_not_allowed(app: App) -> None:
    @app.route("/items", methods=["GET", "POST"])
    async def items() -> str:
        return "items"

    client = app.test_client()
    assert (await client.get("/nothing")).status_code == 404
    response = await client.delete("/items")
    assert response.status_code == 405
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS", "POST"}


async def test_method_shortcuts(app: App) -> None:
    for method in ("get", "post", "put", "patch", "delete"):

        async def view(method: str = method) -> str:
            return method

        getattr(app, method)(f"/{method}", endpoint=method)(view)
    client = app.test_client()
    for method in ("get", "post", "put", "patch", "delete"):
        response = await client.open(f"/{method}", method=method.upper())
        assert await response.get_data(as_text=True) == method
        assert (await client.open(f"/{method}", method="PUT" if method != "put" else "GET")).status_code == 405


async def test_automatic_head_and_options(app: App) -> None:
    @app.route("/")
    async def index() -> str:
        return "hello"

    client = app.test_client()
    head = await client.head("/")
    assert head.status_code == 200
    assert head.headers["Content-Length"] == "5"
    assert await head.get_data() == b""
    options = await client.options("/")
    assert options.status_code == 200
    assert set(options.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}


async def test_strict_slashes_redirect_keeps_query(app: App) -> None:
    @app.route("/folder/")
    async def folder() -> str:
        return "folder"

    response = await app.test_client().get("/folder", query_string={"a": "1"})
    assert response.status_code == 308
    assert response.headers["Location"] == "http://localhost/folder/?a=1"


async def test_url_for(app: App) -> None:
    @app.route("/items/<int:item_id>")
    async def item(item_id: int) -> dict[str, str]:
        return {
            "relative": url_for("item", item_id=item_id, q="x"),
            "external": url_for("item", item_id=1, _external=True),
        }

    data = await (await app.test_client().get("/items/7")).get_json()
    assert data == {"relative": "/items/7?q=x", "external": "http://localhost/items/1"}


def test_url_for_outside_a_request_needs_server_name(app: App) -> None:
    @app.route("/x")
    async def x() -> str:
        return "x"

    from trioweb.ctx import app_var

    token = app_var.set(app)
    try:
        with pytest.raises(RuntimeError, match="SERVER_NAME"):
            url_for("x")
        app.config["SERVER_NAME"] = "example.com"
        assert url_for("x") == "http://example.com/x"
    finally:
        app_var.reset(token)


async def test_http_or_websocket_view_per_path(app: App) -> None:
    @app.websocket("/ws-only")
    async def ws_only() -> None:
        pass

    @app.route("/both")
    async def both_http() -> str:
        return "http"

    @app.websocket("/both")
    async def both_ws() -> None:
        pass

    client = app.test_client()
    assert (await client.get("/ws-only")).status_code == 400
    assert await (await client.get("/both")).get_data(as_text=True) == "http"
    assert (await client.get("/unknown")).status_code == 404


def test_mistakes_get_clear_errors(app: App) -> None:
    @app.route("/a")
    async def view() -> str:
        return "a"

    async def other() -> str:
        return "b"

    with pytest.raises(ValueError, match="already maps"):
        app.add_url_rule("/b", "view", other)
    with pytest.raises(TypeError, match="list of strings"):
        app.route("/c", methods="GET")(other)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not an HTTP error code"):
        app.errorhandler(999)(other)


async def test_abort(app: App) -> None:
    @app.route("/secret")
    async def secret() -> str:
        abort(403)

    assert (await app.test_client().get("/secret")).status_code == 403


async def test_a_url_converter_that_crashes_answers_500_like_a_view(app: App, caplog: pytest.LogCaptureFixture) -> None:
    class Broken(BaseConverter):
        def to_python(self, value: str) -> Any:
            raise ArithmeticError("converter bug")

    app.url_map.converters["broken"] = Broken

    @app.route("/items/<broken:item>")
    async def item(item: Any) -> str:
        return "unreachable"

    @app.route("/fine")
    async def fine() -> str:
        return "fine"

    client = app.test_client()
    assert (await client.get("/items/1")).status_code == 500
    assert "ArithmeticError: converter bug" in caplog.text
    assert await (await client.get("/fine")).get_data() == b"fine"
