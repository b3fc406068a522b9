"""What ported Flask and Quart code relies on: coroutine make_response, werkzeug responses and HTTP errors
as return values, and view attributes in add_url_rule."""

from __future__ import annotations

from typing import Any

import pytest
from werkzeug.exceptions import Conflict, HTTPException
from werkzeug.wrappers import Response as WerkzeugResponse

from trioweb import App, Response, make_response, request

# -- make_response is a coroutine, as in Quart ----------------------------------------------


async def test_make_response_and_app_make_response_are_awaited(app: App) -> None:
    @app.route("/")
    async def index() -> Response:
        assert (await make_response()).status_code == 200
        assert (await make_response("x", 201)).status_code == 201
        return await app.make_response(("made", 202, {"X-A": "1"}))

    response = await app.test_client().get("/")
    assert (response.status_code, response.headers["X-A"], await response.get_data()) == (202, "1", b"made")


def test_overriding_make_response_in_a_subclass_says_to_override_response_for() -> None:
    with pytest.raises(TypeError, match="Override response_for instead"):

        class Mine(App):
            async def make_response(self, value: Any) -> Response:
                return Response("")

    class Fine(App):
        def response_for(self, value: Any) -> Response:
            return super().response_for(value.upper() if isinstance(value, str) else value)

    assert Fine(__name__).response_for("x").body == b"X"


# -- werkzeug's responses and HTTP errors as return values --------------------------------------


async def test_a_view_may_return_a_werkzeug_response_streamed_or_not(app: App) -> None:
    @app.route("/plain")
    async def plain() -> Any:
        response = WerkzeugResponse("from werkzeug", 201, {"X-From": "wz"}, mimetype="text/plain")
        response.set_cookie("k", "v")
        return response

    @app.route("/streamed")
    async def streamed() -> Any:
        return WerkzeugResponse(iter([b"a", b"b", "c"]), mimetype="text/csv")

    client = app.test_client()
    response = await client.get("/plain")
    assert (response.status_code, response.mimetype, response.headers["X-From"]) == (201, "text/plain", "wz")
    assert (response.headers["Set-Cookie"], await response.get_data()) == ("k=v; Path=/", b"from werkzeug")
    assert response.headers["Content-Length"] == "13"
    streamed_response = await client.get("/streamed")
    assert (streamed_response.mimetype, await streamed_response.get_data()) == ("text/csv", b"abc")
    assert streamed_response.headers["Transfer-Encoding"] == "chunked"


async def test_a_returned_http_error_is_its_response_and_a_raised_one_goes_to_the_handlers(app: App) -> None:
    handled: list[HTTPException] = []

    @app.errorhandler(Conflict)
    async def conflict(error: Conflict) -> tuple[str, int]:
        handled.append(error)
        return "handled", 409

    @app.route("/returned")
    async def returned() -> Any:
        return Conflict("already there")

    @app.route("/raised")
    async def raised() -> Any:
        raise Conflict("already there")

    @app.route("/with-headers")
    async def with_headers() -> Any:
        return Conflict(), {"X-Why": "dup"}

    client = app.test_client()
    response = await client.get("/returned")
    assert (response.status_code, response.mimetype) == (409, "text/html")
    assert b"already there" in await response.get_data() and handled == []
    assert await (await client.get("/raised")).get_data() == b"handled"
    assert (await client.get("/with-headers")).headers["X-Why"] == "dup"


# -- add_url_rule and the view's attributes --------------------------------------------------------


async def test_add_url_rule_takes_methods_required_methods_and_automatic_options_from_the_view(app: App) -> None:
    async def items() -> str:
        return request.method

    items.methods = ["get", "POST"]  # type: ignore[attr-defined]
    items.required_methods = ["PATCH"]  # type: ignore[attr-defined]
    items.provide_automatic_options = False  # type: ignore[attr-defined]
    app.add_url_rule("/items", view_func=items)

    async def options_by_hand() -> str:
        return "mine"

    options_by_hand.required_methods = {"OPTIONS"}  # type: ignore[attr-defined]
    app.add_url_rule("/mine", view_func=options_by_hand, methods=["PUT"])

    client = app.test_client()
    assert [await (await client.open("/items", method=m)).get_data() for m in ("GET", "POST", "PATCH")] == [
        b"GET",
        b"POST",
        b"PATCH",
    ]
    refused = await client.options("/items")  # no automatic OPTIONS: the view said so
    assert refused.status_code == 405
    assert set(refused.headers["Allow"].split(", ")) == {"GET", "HEAD", "PATCH", "POST"}
    assert await (await client.options("/mine")).get_data() == b"mine"  # required, so the view answers it
    assert (await client.put("/mine")).status_code == 200


async def test_arguments_of_add_url_rule_win_over_the_views_attributes(app: App) -> None:
    async def view() -> str:
        return "ok"

    view.methods = ["POST"]  # type: ignore[attr-defined]
    view.provide_automatic_options = False  # type: ignore[attr-defined]
    app.add_url_rule("/v", view_func=view, methods=["GET"], provide_automatic_options=True)
    client = app.test_client()
    assert (await client.post("/v")).status_code == 405
    assert (await client.options("/v")).headers["Allow"] == "GET, HEAD, OPTIONS"


def test_a_views_methods_attribute_that_is_a_string_is_a_clear_error(app: App) -> None:
    async def view() -> str:
        return ""

    view.methods = "POST"  # type: ignore[attr-defined]
    with pytest.raises(TypeError, match=r"like \['POST'\], not a string"):
        app.add_url_rule("/v", view_func=view)
