"""The samples of docs/blueprints.md, run: on the test client, and the hook order on a real socket on both servers."""

from __future__ import annotations

import sys

import httpx
import pytest
import trio

from tests.docs_samples import load
from trioweb import App, g, render_template_string
from trioweb.testing import WebsocketResponseError

TESTED = {"blueprint", "nested", "twice", "hook_order", "app_wide", "not_found"}


async def test_blueprint() -> None:
    client = load("blueprints", "blueprint").app.test_client()
    item = await client.get("/shop/items/1", headers={"X-Visitor": "ann"})
    assert await item.get_json() == {"name": "teapot", "for": "ann", "self": "/shop/items/1", "home": "/"}
    missing = await client.get("/shop/items/9")
    assert (missing.status_code, await missing.get_json()) == (404, {"error": "no such item"})
    assert await (await client.get("/")).get_data() == b"home"


async def test_nested() -> None:
    sample = load("blueprints", "nested")
    client = sample.app.test_client()
    assert await (await client.get("/api/v1/users/ann")).get_json() == {
        "endpoint": "api.v1.user",
        "blueprint": "api.v1",
        "blueprints": ["api.v1", "api"],
        "self": "/api/v1/users/ann",
        "status": "/api/status",
    }
    assert list(sample.app.blueprints) == ["api", "api.v1"]


async def test_twice() -> None:
    client = load("blueprints", "twice").app.test_client()
    assert await (await client.get("/docs/intro")).get_json() == {
        "kind": "page",
        "blueprint": "docs",
        "next": "/docs/next",
    }
    assert await (await client.get("/blog/hello")).get_json() == {
        "kind": "post",
        "blueprint": "blog",
        "next": "/blog/next",
    }


EXPECTED_ORDER = [
    "url_value_preprocessor app",
    "url_value_preprocessor shop",
    "url_value_preprocessor cart",
    "before_request app",
    "before_request shop",
    "before_request cart",
    "view",
    "context_processor app",
    "context_processor shop",
    "context_processor cart",
    "after_request cart",
    "after_request shop",
    "after_request app",
    "teardown_request cart",
    "teardown_request shop",
    "teardown_request app",
]


async def test_hook_order() -> None:
    sample = load("blueprints", "hook_order")
    client = sample.app.test_client()
    assert await (await client.get("/shop/cart/")).get_data(as_text=True) == "cart"
    assert sample.ORDER == EXPECTED_ORDER
    assert await (await client.get("/shop/cart/missing")).get_data(as_text=True) == "cart's handler"


@pytest.fixture
def app() -> App:
    """The hook-order sample, which ``live_server`` serves."""
    sample: App = load("blueprints", "hook_order").app
    return sample


async def test_hook_order_on_a_real_socket(app: App, live_server: str) -> None:
    order = sys.modules["docs_blueprints_hook_order"].ORDER
    async with httpx.AsyncClient(base_url=f"http://{live_server}") as client:
        response = await client.get("/shop/cart/")
    assert response.text == "cart"
    # Everything up to the response; the teardown functions may still be running (their order is tested above).
    assert order[: EXPECTED_ORDER.index("after_request app") + 1] == EXPECTED_ORDER[:-3]


async def test_app_wide(autojump_clock: trio.testing.MockClock) -> None:
    sample = load("blueprints", "app_wide")
    app = sample.app
    async with app.test_app() as test_app:
        assert sample.EVENTS == ["pool opened"]
        client = test_app.test_client()
        refused = await client.get("/account")
        assert (refused.status_code, await refused.get_json()) == (401, {"error": "log in first", "login": "/login"})
        assert refused.headers["X-User"] == "-"
        account = await client.get("/account", headers={"X-Token": "s3cret"})
        assert (await account.get_json(), account.headers["X-User"]) == ({"user": "ann"}, "ann")
        assert (await client.get("/again/login")).headers["X-User"] == "-"
    assert sample.EVENTS == ["pool opened", "pool closed"]
    assert len(app.before_request_funcs[None]) == len(app.after_request_funcs[None]) == 1
    async with app.test_request_context("/"):
        g.user = "ann"
        assert await render_template_string("{{ user }}") == "ann"


async def test_not_found() -> None:
    client = load("blueprints", "not_found").app.test_client()
    shop_page = {"error": "not in the shop", "shop": "/shop/"}
    for path in ("/shop/items/9", "/shop/nothing", "/shop/items/nine"):
        response = await client.get(path)
        assert (response.status_code, await response.get_json()) == (404, shop_page), path
    elsewhere = await client.get("/nothing")
    assert (elsewhere.status_code, await elsewhere.get_data()) == (404, b"Nothing here.")
    with pytest.raises(WebsocketResponseError) as rejected:
        async with client.websocket("/shop/ws"):
            pass
    assert await rejected.value.response.get_json() == shop_page
