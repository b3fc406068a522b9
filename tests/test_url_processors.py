"""url_value_preprocessor and url_defaults on the app and on blueprints, and a blueprint's url_defaults dict."""

from __future__ import annotations

from typing import Any

import pytest

from trioweb import App, Blueprint, g, request, url_for, websocket


async def test_value_preprocessors_run_before_the_before_request_functions_and_take_values(app: App) -> None:
    order: list[str] = []

    @app.url_value_preprocessor
    def pull(endpoint: str | None, values: dict[str, Any]) -> None:
        order.append(f"preprocess {endpoint} {sorted(values)}")
        g.lang = values.pop("lang")

    @app.before_request
    async def before() -> None:
        order.append(f"before {g.lang} {request.view_args}")

    @app.route("/<lang>/items/<int:item_id>")
    async def item(item_id: int) -> str:  # no lang: the preprocessor took it
        return f"{g.lang} {item_id}"

    response = await app.test_client().get("/fr/items/3")
    assert await response.get_data() == b"fr 3"
    assert order == ["preprocess item ['item_id', 'lang']", "before fr {'item_id': 3}"]


async def test_value_preprocessors_skip_a_request_that_matched_no_rule(app: App) -> None:
    """For a 404 or 405 there are no values (Flask would pass None, which the usual values.pop cannot take)."""
    called: list[object] = []
    app.url_value_preprocessor(lambda endpoint, values: called.append(values))

    @app.route("/only-post", methods=["POST"])
    async def only_post() -> str:
        return ""

    client = app.test_client()
    assert (await client.get("/nowhere")).status_code == 404
    assert (await client.get("/only-post")).status_code == 405
    assert (await client.options("/only-post")).status_code == 200  # matched: the automatic OPTIONS
    assert called == [{}]


async def test_value_preprocessors_run_for_websockets_too(app: App) -> None:
    @app.url_value_preprocessor
    def pull(endpoint: str | None, values: dict[str, Any]) -> None:
        g.room = values.pop("room")

    @app.websocket("/rooms/<room>")
    async def room() -> None:
        await websocket.send(g.room)

    async with app.test_client().websocket("/rooms/lobby") as client:
        assert await client.receive() == "lobby"


async def test_url_for_calls_the_url_defaults_functions(app: App) -> None:
    @app.url_defaults
    def add_version(endpoint: str, values: dict[str, Any]) -> None:
        if app.url_map.is_endpoint_expecting(endpoint, "version"):
            values.setdefault("version", "v2")

    @app.route("/<version>/docs")
    async def docs(version: str) -> str:
        return url_for("docs")

    @app.route("/plain")
    async def plain() -> str:
        return url_for("plain")

    client = app.test_client()
    assert await (await client.get("/v1/docs")).get_data() == b"/v2/docs"
    assert await (await client.get("/plain")).get_data() == b"/plain"
    app.config["SERVER_NAME"] = "example.com"
    async with app.app_context():  # outside a request too
        assert url_for("docs", version="v3") == "http://example.com/v3/docs"
        assert url_for("docs") == "http://example.com/v2/docs"


async def test_blueprint_processors_apply_to_its_endpoints_and_app_ones_to_all(app: App) -> None:
    seen: list[str] = []
    bp = Blueprint("shop", __name__, url_prefix="/<shop>")

    @bp.url_value_preprocessor
    def pull_shop(endpoint: str | None, values: dict[str, Any]) -> None:
        seen.append(f"bp {endpoint}")
        g.shop = values.pop("shop")

    @bp.url_defaults
    def add_shop(endpoint: str, values: dict[str, Any]) -> None:
        values.setdefault("shop", g.get("shop", "main"))

    @bp.app_url_value_preprocessor
    def everywhere(endpoint: str | None, values: dict[str, Any]) -> None:
        seen.append(f"app {endpoint}")

    @bp.app_url_defaults
    def tag(endpoint: str, values: dict[str, Any]) -> None:
        values.setdefault("ref", "x")

    @bp.route("/cart")
    async def cart() -> str:
        return f"{g.shop} {url_for('.cart')} {url_for('home')}"

    @app.route("/")
    async def home() -> str:
        return url_for("shop.cart")

    app.register_blueprint(bp)
    client = app.test_client()
    assert await (await client.get("/north/cart")).get_data() == b"north /north/cart?ref=x /?ref=x"
    assert seen == ["app shop.cart", "bp shop.cart"]  # the app's first, as with hooks
    seen.clear()
    assert await (await client.get("/")).get_data() == b"/main/cart?ref=x"  # no g.shop: the default
    assert seen == ["app home"]


async def test_a_blueprints_url_defaults_dict_goes_to_each_of_its_rules(app: App) -> None:
    bp = Blueprint("pages", __name__, url_prefix="/pages", url_defaults={"size": 10})

    @bp.route("/", defaults={"page": 1})
    @bp.route("/<int:page>")
    async def pages(page: int, size: int) -> str:
        return f"{page} {size}"

    app.register_blueprint(bp)
    client = app.test_client()
    assert await (await client.get("/pages/")).get_data() == b"1 10"
    assert await (await client.get("/pages/4")).get_data() == b"4 10"


def test_an_async_url_processor_is_a_clear_error(app: App) -> None:
    async def pull(endpoint: str | None, values: dict[str, Any]) -> None: ...

    with pytest.raises(TypeError, match=r"called synchronously.*make pull a plain def"):
        app.url_value_preprocessor(pull)
    with pytest.raises(TypeError, match="url_defaults functions are called synchronously"):
        Blueprint("bp", __name__).url_defaults(pull)
