"""Class-based views: View and MethodView, through the test client and on a real socket."""

from __future__ import annotations

import functools
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any, ClassVar

import httpx
import pytest

from trioweb import App, Blueprint, MethodView, View, request, url_for


class Counter(MethodView):
    """Counts its instances, to tell one per request from one in all."""

    made: ClassVar[int] = 0

    def __init__(self, greeting: str = "hello") -> None:
        type(self).made += 1
        self.greeting = greeting

    async def get(self, name: str = "world") -> str:
        return f"{self.greeting} {name}"


class Items(MethodView):
    async def get(self) -> str:
        return "list"

    async def post(self) -> tuple[str, int]:
        return f"made {(await request.get_json())['name']}", 201


@pytest.fixture
def app() -> App:
    app = App(__name__)
    app.add_url_rule("/items", view_func=Items.as_view("items"))
    return app


async def test_a_view_answers_with_dispatch_request_and_the_rules_values() -> None:
    class Hello(View):
        async def dispatch_request(self, **kwargs: Any) -> str:
            return f"{request.method} {kwargs['name']}"

    app = App(__name__)
    app.add_url_rule("/hello/<name>", view_func=Hello.as_view("hello"))
    response = await app.test_client().get("/hello/ada")
    assert (response.status_code, await response.get_data()) == (200, b"GET ada")
    assert (await app.test_client().post("/hello/ada")).status_code == 405  # methods: None, so GET only


async def test_as_view_passes_its_arguments_to_a_fresh_instance_per_request() -> None:
    class Fresh(Counter):
        made = 0

    app = App(__name__)
    app.add_url_rule("/<name>", view_func=Fresh.as_view("hi", "hi"))
    client = app.test_client()
    assert Fresh.made == 0
    assert await (await client.get("/ada")).get_data() == b"hi ada"
    await client.get("/bob")
    assert Fresh.made == 2


async def test_init_every_request_false_makes_one_instance_in_as_view() -> None:
    class Once(Counter):
        made = 0
        init_every_request = False

    app = App(__name__)
    app.add_url_rule("/", view_func=Once.as_view("once", greeting="hey"))
    assert Once.made == 1
    client = app.test_client()
    assert await (await client.get("/")).get_data() == b"hey world"
    await client.get("/")
    assert Once.made == 1


async def test_the_view_function_carries_the_name_class_and_doc() -> None:
    view = Counter.as_view("counter")
    assert (view.__name__, view.__doc__, view.view_class) == ("counter", Counter.__doc__, Counter)  # type: ignore[attr-defined]
    app = App(__name__)
    app.add_url_rule("/c", view_func=view)
    async with app.test_request_context("/"):
        assert url_for("counter") == "/c"


async def test_methods_are_derived_from_the_class_and_inherited(app: App) -> None:
    class MoreItems(Items):
        async def delete(self) -> str:
            return "gone"

    assert Items.methods == {"GET", "POST"}
    assert MoreItems.methods == {"GET", "POST", "DELETE"}
    app.add_url_rule("/more", view_func=MoreItems.as_view("more"))
    client = app.test_client()
    assert await (await client.get("/items")).get_data() == b"list"
    made = await client.post("/items", json={"name": "pen"})
    assert (made.status_code, await made.get_data()) == (201, b"made pen")
    assert await (await client.delete("/more")).get_data() == b"gone"
    assert await (await client.post("/more", json={"name": "cup"})).get_data() == b"made cup"


async def test_a_method_the_class_lacks_is_405_with_allow(app: App) -> None:
    response = await app.test_client().put("/items")
    assert response.status_code == 405
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "POST", "OPTIONS"}


async def test_a_method_the_rule_takes_but_the_class_lacks_is_405_not_500() -> None:
    """Flask and Quart assert (a 500); the client asked for something the class does not do."""
    app = App(__name__)
    app.add_url_rule("/items", view_func=Items.as_view("items"), methods=["GET", "PUT"])
    response = await app.test_client().put("/items")
    assert response.status_code == 405
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "POST"}


async def test_head_falls_back_to_get_unless_the_class_has_head(app: App) -> None:
    class Headed(Items):
        async def head(self) -> tuple[str, int, dict[str, str]]:
            return "", 200, {"X-Head": "own"}

    app.add_url_rule("/headed", view_func=Headed.as_view("headed"))
    client = app.test_client()
    fallback = await client.head("/items")
    assert (fallback.status_code, fallback.headers["Content-Length"]) == (200, "4")
    assert (await client.head("/headed")).headers["X-Head"] == "own"


async def test_options_is_automatic_unless_the_class_says_otherwise(app: App) -> None:
    class Manual(Items):
        provide_automatic_options = False

    class OwnOptions(Items):
        async def options(self) -> tuple[str, int, dict[str, str]]:
            return "", 204, {"Allow": "GET"}

    app.add_url_rule("/manual", view_func=Manual.as_view("manual"))
    app.add_url_rule("/own", view_func=OwnOptions.as_view("own"))
    client = app.test_client()
    automatic = await client.options("/items")
    assert set(automatic.headers["Allow"].split(", ")) == {"GET", "HEAD", "POST", "OPTIONS"}
    assert (await client.options("/manual")).status_code == 405
    own = await client.options("/own")
    assert (own.status_code, own.headers["Allow"]) == (204, "GET")


async def test_decorators_wrap_the_view_function_first_one_innermost() -> None:
    order: list[str] = []

    def tag(label: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
            @functools.wraps(view)
            async def wrapper(**kwargs: Any) -> Any:
                order.append(label)
                return await view(**kwargs)

            return wrapper

        return decorator

    class Tagged(Items):
        decorators: ClassVar[list[Callable[..., Any]]] = [tag("inner"), tag("outer")]

    app = App(__name__)
    view = Tagged.as_view("tagged")
    # The same view on two rules, as Flask's docs register a MethodView: one endpoint.
    app.add_url_rule("/tagged", view_func=view)
    app.add_url_rule("/tagged/again", view_func=view)
    assert view.__name__ == "tagged"
    client = app.test_client()
    assert await (await client.get("/tagged")).get_data() == b"list"
    assert await (await client.get("/tagged/again")).get_data() == b"list"
    assert order == ["outer", "inner", "outer", "inner"]


async def test_a_plain_method_runs_in_a_worker_thread_with_the_request() -> None:
    main = threading.get_ident()

    class Sync(MethodView):
        def get(self) -> str:
            return f"{request.args['q']} {threading.get_ident() != main}"

    app = App(__name__)
    app.add_url_rule("/sync", view_func=Sync.as_view("sync"))
    assert await (await app.test_client().get("/sync", query_string={"q": "x"})).get_data() == b"x True"


async def test_an_async_generator_method_streams_the_body() -> None:
    class Stream(MethodView):
        async def get(self) -> AsyncIterator[str]:
            for part in ("a", "b", "c"):
                yield part

    class StreamView(View):
        async def dispatch_request(self, **kwargs: Any) -> AsyncIterator[str]:  # type: ignore[override]
            yield "whole"

    app = App(__name__)
    app.add_url_rule("/m", view_func=Stream.as_view("m"))
    app.add_url_rule("/v", view_func=StreamView.as_view("v"))
    client = app.test_client()
    assert await (await client.get("/m")).get_data() == b"abc"
    assert await (await client.get("/v")).get_data() == b"whole"


async def test_a_view_without_dispatch_request_says_what_to_implement() -> None:
    app = App(__name__)
    app.add_url_rule("/", view_func=View.as_view("bare"))
    app.config["PROPAGATE_EXCEPTIONS"] = True
    with pytest.raises(NotImplementedError, match="must implement dispatch_request"):
        await app.test_client().get("/")


async def test_a_blueprints_class_view_is_named_under_the_blueprint() -> None:
    bp = Blueprint("shop", __name__, url_prefix="/shop")
    bp.add_url_rule("/items", view_func=Items.as_view("items"))

    class Link(View):
        async def dispatch_request(self, **kwargs: Any) -> str:
            return url_for(".items")

    bp.add_url_rule("/link", view_func=Link.as_view("link"))
    app = App(__name__)
    app.register_blueprint(bp)
    client = app.test_client()
    assert "shop.items" in app.view_functions
    assert await (await client.get("/shop/link")).get_data() == b"/shop/items"
    assert (await client.post("/shop/items", json={"name": "cup"})).status_code == 201
    assert (await client.put("/shop/items")).status_code == 405


async def test_a_view_serves_a_websocket_rule_too() -> None:
    from trioweb import websocket

    class Echo(View):
        def __init__(self, prefix: str) -> None:
            self.prefix = prefix

        async def dispatch_request(self, **kwargs: Any) -> None:
            await websocket.send(self.prefix + str(await websocket.receive()))

    app = App(__name__)
    app.add_url_rule("/ws", view_func=Echo.as_view("echo", "> "), websocket=True)
    async with app.test_client().websocket("/ws") as ws:
        await ws.send("hi")
        assert await ws.receive(timeout=5) == "> hi"


# -- on a real socket, on each server ----------------------------------------------


async def test_a_method_view_answers_on_a_real_socket(app: App, live_server: str) -> None:
    async with httpx.AsyncClient(base_url=f"http://{live_server}") as client:
        listed = await client.get("/items")
        made = await client.post("/items", json={"name": "pen"})
        refused = await client.put("/items")
    assert (listed.status_code, listed.text) == (200, "list")
    assert (made.status_code, made.text) == (201, "made pen")
    assert refused.status_code == 405
    assert set(refused.headers["Allow"].split(", ")) == {"GET", "HEAD", "POST", "OPTIONS"}
