"""The app context, the request and websocket contexts, and carrying them elsewhere (trioweb.ctx)."""

from __future__ import annotations

import contextvars
import threading
from typing import Any

import httpx
import pytest
import trio
from werkzeug.datastructures import FileStorage

from trioweb import (
    App,
    Blueprint,
    Response,
    WebsocketClosedError,
    after_this_request,
    after_this_websocket,
    copy_current_app_context,
    copy_current_request_context,
    copy_current_websocket_context,
    current_app,
    g,
    has_app_context,
    has_request_context,
    request,
    url_for,
    websocket,
)
from trioweb.testing import WebsocketResponseError

# -- the app context ------------------------------------------------------------------


async def test_an_app_context_sets_current_app_and_a_g_of_its_own(app: App) -> None:
    assert not has_app_context()
    with pytest.raises(RuntimeError, match=r"outside of an app context.*app\.app_context\(\)"):
        current_app.name  # noqa: B018
    with pytest.raises(RuntimeError, match="g is used outside of an app context"):
        g.user  # noqa: B018
    async with app.app_context() as context:
        assert has_app_context() and not has_request_context()
        assert current_app._get_current_object() is app  # type: ignore[attr-defined]
        g.user = "ann"
        assert context.g.user == "ann"
        async with app.app_context():  # nested: a g of its own, the outer one back after
            assert "user" not in g
        assert g.user == "ann"
    assert not has_app_context()


async def test_a_request_inside_an_app_context_has_its_own_g(app: App) -> None:
    """As in Flask 3.2: every request pushes its own app context, even inside one of the same app."""

    @app.route("/")
    async def index() -> str:
        return str(g.get("user"))

    async with app.app_context():
        g.user = "ann"
        assert await (await app.test_client().get("/")).get_data() == b"None"
        async with app.test_request_context("/"):
            assert "user" not in g
        assert g.user == "ann"


async def test_the_lifespan_runs_in_one_app_context(app: App) -> None:
    seen: list[Any] = []

    @app.before_serving
    async def start() -> None:
        g.pool = "pool"
        seen.append(current_app._get_current_object())  # type: ignore[attr-defined]

    @app.while_serving
    async def around() -> Any:
        seen.append(g.pool)
        yield
        seen.append(g.pool)

    @app.after_serving
    async def stop() -> None:
        seen.append(g.pool)

    @app.route("/")
    async def index() -> str:
        return str("pool" in g)

    async with app.test_app() as test_app:
        assert g.pool == "pool"  # the block runs in the lifespan's app context
        assert await (await test_app.test_client().get("/")).get_data() == b"False"
    assert seen == [app, "pool", "pool", "pool"]


# -- test_request_context ---------------------------------------------------------------


async def test_a_test_request_context_routes_and_reads_its_body(app: App) -> None:
    bp = Blueprint("shop", __name__, url_prefix="/shop")

    @bp.post("/items/<int:item_id>")
    async def item(item_id: int) -> str:
        return ""

    app.register_blueprint(bp)
    async with app.test_request_context("/shop/items/7?q=x", method="POST", json={"n": 1}) as context:
        assert context.request is request._get_current_object()  # type: ignore[attr-defined]
        assert (request.method, request.path, request.args["q"]) == ("POST", "/shop/items/7", "x")
        assert (request.endpoint, request.view_args, request.blueprint) == ("shop.item", {"item_id": 7}, "shop")
        assert await request.get_json() == {"n": 1}
        assert url_for(".item", item_id=8) == "/shop/items/8"
        assert url_for("shop.item", item_id=8, _external=True) == "http://localhost/shop/items/8"
        g.seen = True
        assert current_app._get_current_object() is app  # type: ignore[attr-defined]
    assert not has_request_context() and not has_app_context()


async def test_a_test_request_context_takes_forms_files_data_headers_and_a_root_path(app: App) -> None:
    async with app.test_request_context("/", method="POST", form={"a": "1", "b": ["2", "3"]}):
        form = await request.form
        assert (form["a"], form.getlist("b")) == ("1", ["2", "3"])
    upload = FileStorage(stream=__import__("io").BytesIO(b"data"), filename="f.txt", name="f")
    async with app.test_request_context("/", method="PUT", form={"a": "1"}, files={"f": upload}):
        assert (await request.files)["f"].read() == b"data"
        assert (await request.form)["a"] == "1"
    async with app.test_request_context(
        "/a%20b", data="raw", headers={"X-Key": "k"}, query_string={"q": "é"}, scheme="https", root_path="/app"
    ):
        assert await request.get_data() == b"raw"
        assert (request.path, request.headers["X-Key"], request.args["q"]) == ("/a b", "k", "é")
        assert request.url == "https://localhost/app/a%20b?q=é"  # werkzeug's IRI
        assert request.routing_exception is not None and request.routing_exception.code == 404  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="only one of"):
        app.test_request_context("/", data="x", json={})


async def test_leaving_a_test_request_context_runs_the_teardown_functions(app: App) -> None:
    torn_down: list[BaseException | None] = []

    @app.teardown_request
    async def teardown(error: BaseException | None) -> None:
        torn_down.append(error)
        assert request.path == "/x"  # still in the context

    async with app.test_request_context("/x"):
        pass
    with pytest.raises(KeyError):
        async with app.test_request_context("/x"):
            raise KeyError("boom")
    assert torn_down[0] is None and isinstance(torn_down[1], KeyError)


async def test_a_context_cannot_be_pushed_twice_or_popped_unpushed(app: App) -> None:
    context = app.test_request_context("/")
    async with context:
        with pytest.raises(RuntimeError, match="pushed already"):
            await context.push()
    with pytest.raises(RuntimeError, match="is not pushed"):
        await context.pop()
    with pytest.raises(RuntimeError, match="is not pushed"):
        await app.app_context().pop()


# -- copy_current_*_context ---------------------------------------------------------------


async def test_a_plain_function_reads_the_request_in_a_worker_thread_and_a_plain_thread(app: App) -> None:
    seen: list[str] = []

    @app.route("/work")
    async def work() -> str:
        g.user = "ann"

        @copy_current_request_context
        def in_thread() -> str:
            return f"{request.path} {g.user} {current_app.name}"

        seen.append(await trio.to_thread.run_sync(in_thread))
        thread = threading.Thread(target=lambda: seen.append(in_thread()))
        thread.start()
        await trio.to_thread.run_sync(thread.join)
        return "ok"

    assert (await app.test_client().get("/work")).status_code == 200
    assert seen == [f"/work ann {app.name}"] * 2


async def test_without_the_copy_a_plain_thread_has_no_request(app: App) -> None:
    """What the decorator is for: threading.Thread starts with an empty context (trio's threads copy it)."""
    seen: list[bool] = []

    @app.route("/work")
    async def work() -> str:
        thread = threading.Thread(target=lambda: seen.append(has_request_context()))
        thread.start()
        await trio.to_thread.run_sync(thread.join)
        return "ok"

    await app.test_client().get("/work")
    assert seen == [False]


async def test_an_async_function_in_app_nursery_reads_request_and_g_after_the_view_returned(app: App) -> None:
    seen: list[str] = []
    done = trio.Event()
    returned = trio.Event()

    @app.route("/later")
    async def later() -> str:
        g.user = "ann"

        @copy_current_request_context
        async def afterwards() -> None:
            await returned.wait()
            seen.append(f"{request.path} {request.args['q']} {g.user}")
            done.set()

        current_app.nursery.start_soon(afterwards)
        return "started"

    @app.teardown_request
    async def teardown(error: BaseException | None) -> None:
        returned.set()

    async with app.test_app() as test_app:
        assert (await test_app.test_client().get("/later?q=x")).status_code == 200
        await done.wait()
    assert seen == ["/later x ann"]


async def test_an_async_function_in_app_nursery_reads_the_websocket_after_the_view_returned(app: App) -> None:
    seen: list[str] = []
    done = trio.Event()
    ended = trio.Event()

    @app.websocket("/ws")
    async def ws() -> None:
        g.room = "lobby"

        @copy_current_websocket_context
        async def afterwards() -> None:
            await ended.wait()
            seen.append(f"{websocket.path} {g.room}")
            with pytest.raises(WebsocketClosedError):  # the session is over: reading it is all that is left
                await websocket.send("late")
            done.set()

        current_app.nursery.start_soon(afterwards)
        await websocket.send("hi")

    @app.teardown_websocket
    async def teardown(error: BaseException | None) -> None:
        ended.set()

    async with app.test_app() as test_app:
        async with test_app.test_client().websocket("/ws") as client:
            assert await client.receive() == "hi"
        await done.wait()
    assert seen == ["/ws lobby"]


async def test_a_copied_function_called_from_another_context_runs_in_the_copied_one(app: App) -> None:
    """Work started elsewhere: the function is called outside any request, the context comes with it."""
    kept: list[Any] = []

    @app.websocket("/ws")
    async def ws() -> None:
        g.room = "lobby"

        @copy_current_websocket_context
        async def report() -> str:
            return f"{websocket.path} {g.room}"

        @copy_current_app_context
        def app_only() -> str:
            return f"{current_app.name} {g.room} {has_request_context()}"

        kept.extend([report, app_only])
        await websocket.send("hi")

    async with app.test_client().websocket("/ws") as client:
        assert await client.receive() == "hi"
    assert not has_app_context()
    assert await kept[0]() == "/ws lobby"
    assert kept[1]() == f"{app.name} lobby False"
    assert not has_app_context()  # and nothing is left set


async def test_copying_without_the_context_is_a_clear_error(app: App) -> None:
    def plain() -> None: ...

    with pytest.raises(RuntimeError, match="copy_current_app_context needs an app context"):
        copy_current_app_context(plain)
    with pytest.raises(RuntimeError, match="copy_current_request_context needs a request"):
        copy_current_request_context(plain)
    with pytest.raises(RuntimeError, match="copy_current_websocket_context needs a websocket"):
        copy_current_websocket_context(plain)
    async with app.test_request_context("/"):
        with pytest.raises(RuntimeError, match="in an HTTP view, use copy_current_request_context"):
            copy_current_websocket_context(plain)
    async with app.app_context():
        copy_current_app_context(plain)()  # fine: there is an app context


# -- after_this_request, after_this_websocket ---------------------------------------------


async def test_after_this_request_runs_for_that_request_only_before_the_after_request_functions(app: App) -> None:
    order: list[str] = []

    @app.before_request
    async def before() -> None:
        if request.args.get("from") == "hook":

            @after_this_request
            def from_hook(response: Response) -> Response:  # a plain function: in a worker thread
                order.append("from hook")
                response.headers["X-Hook"] = "yes"
                return response

    @app.after_request
    async def every(response: Response) -> Response:
        order.append(f"after_request {response.headers.get('X-This')}")
        return response

    @app.route("/")
    async def index() -> str:
        if "this" in request.args:

            @after_this_request
            async def add_header(response: Response) -> Response:
                order.append("this")
                response.headers["X-This"] = "set"
                return response

            @after_this_request
            async def replace(response: Response) -> Response:
                order.append("replace")
                return Response("replaced", 202, {"X-This": response.headers["X-This"]})

        return "index"

    client = app.test_client()
    response = await client.get("/?this=1&from=hook")
    assert (response.status_code, await response.get_data(), response.headers["X-This"]) == (202, b"replaced", "set")
    assert response.headers.get("X-Hook") is None  # the replacement dropped it, as it would any header
    assert order == ["from hook", "this", "replace", "after_request set"]
    order.clear()
    plain = await client.get("/")
    assert ("X-This" not in plain.headers, order) == (True, ["after_request None"])


async def test_after_this_request_runs_without_after_request_functions_and_for_error_responses(app: App) -> None:
    @app.route("/")
    async def index() -> str:
        @after_this_request
        async def mark(response: Response) -> Response:
            response.headers["X-Marked"] = str(response.status_code)
            return response

        raise LookupError("no")

    @app.errorhandler(LookupError)
    async def lookup(error: LookupError) -> tuple[str, int]:
        return "handled", 404

    response = await app.test_client().get("/")
    assert (response.status_code, response.headers["X-Marked"]) == (404, "404")


async def test_after_this_request_must_return_a_response(app: App) -> None:
    @app.route("/")
    async def index() -> str:
        @after_this_request
        async def forgot(response: Response) -> None: ...

        return "index"

    response = await app.test_client().get("/")
    assert response.status_code == 500


async def test_after_this_websocket_changes_the_rejection_of_that_websocket(app: App) -> None:
    @app.before_websocket
    async def before() -> None:
        @after_this_websocket
        async def tag(response: Response) -> Response:
            response.headers["X-Tag"] = "tagged"
            return response

    @app.websocket("/ws")
    async def ws() -> tuple[str, int]:
        return "go away", 401

    with pytest.raises(WebsocketResponseError) as rejected:
        async with app.test_client().websocket("/ws"):
            pass
    assert (rejected.value.response.status_code, rejected.value.response.headers["X-Tag"]) == (401, "tagged")


async def test_after_this_request_outside_its_exchange_is_a_clear_error(app: App) -> None:
    async def noop(response: Response) -> Response:
        return response

    with pytest.raises(RuntimeError, match="after_this_request can only be used during an HTTP request"):
        after_this_request(noop)
    async with app.test_request_context("/"):
        with pytest.raises(RuntimeError, match="in an HTTP view, use after_this_request"):
            after_this_websocket(noop)


TENANT: contextvars.ContextVar[str | None] = contextvars.ContextVar("tenant", default=None)


async def test_a_context_variable_a_view_sets_does_not_reach_the_next_request_on_the_connection(
    app: App, live_server: str
) -> None:
    """Each request starts from the connection's context, as in a task of its own (Hypercorn's way)."""

    @app.get("/as/<tenant>")
    async def set_tenant(tenant: str) -> str:
        TENANT.set(tenant)  # no reset: the request's context ends with it
        await trio.lowlevel.checkpoint()  # yielding too: the steps after it run in the same context
        return str(TENANT.get())

    @app.get("/tenant")
    async def tenant() -> str:
        return str(TENANT.get())

    async with httpx.AsyncClient(base_url=f"http://{live_server}") as client:
        assert (await client.get("/as/acme")).text == "acme"
        assert (await client.get("/tenant")).text == "None"  # same keep-alive connection
