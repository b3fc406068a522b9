"""The ``request``, ``websocket`` and ``g`` globals: proxies for the current task's objects."""

from __future__ import annotations

import pytest
import trio

from trioweb import App, Request, g, request, websocket
from trioweb.wrappers.websocket import Websocket


def test_outside_a_handler_the_globals_say_where_they_may_be_used() -> None:
    with pytest.raises(RuntimeError, match="request is used outside of an HTTP request handler"):
        request.path  # noqa: B018
    with pytest.raises(RuntimeError, match="websocket is used outside of a websocket handler"):
        websocket.accept  # noqa: B018
    assert not request
    assert repr(request) == "<unbound trioweb.request>"


async def test_inside_a_handler_the_globals_act_as_the_objects(app: App) -> None:
    seen: dict[str, object] = {}

    @app.route("/items")
    async def items() -> str:
        g.user = "ann"
        seen["isinstance"] = isinstance(request, Request)
        seen["bool"] = bool(request)
        seen["in"] = "user" in g
        seen["same"] = request._get_current_object() is request._get_current_object()  # type: ignore[attr-defined]
        del g.user
        seen["deleted"] = "user" not in g

        async def child() -> None:  # child tasks see the request too
            seen["child path"] = request.path

        async with trio.open_nursery() as nursery:
            nursery.start_soon(child)
        return request.args["q"]

    response = await app.test_client().get("/items", query_string={"q": "x"})
    assert await response.get_data(as_text=True) == "x"
    assert seen == {"isinstance": True, "bool": True, "in": True, "same": True, "deleted": True, "child path": "/items"}


async def test_websocket_global_is_the_websocket(app: App) -> None:
    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.send(str(isinstance(websocket, Websocket)))

    async with app.test_client().websocket("/ws") as client:
        assert await client.receive() == "True"
