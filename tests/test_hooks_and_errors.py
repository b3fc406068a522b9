import pytest
from werkzeug.exceptions import NotFound

from trioweb import App, Blueprint, Response, abort, g, request, url_for, websocket
from trioweb.testing import WebsocketResponseError


async def test_hooks_run_in_order(app: App) -> None:
    calls: list[str] = []

    @app.before_request
    async def before() -> None:
        g.user = "ann"
        calls.append("before")

    @app.after_request
    async def after(response: Response) -> Response:
        calls.append("after")
        response.headers["X-After"] = "yes"
        return response

    @app.teardown_request
    async def teardown(error: BaseException | None) -> None:
        calls.append(f"teardown {error!r}")

    @app.route("/")
    async def index() -> str:
        calls.append("view")
        return g.user  # type: ignore[no-any-return]

    response = await app.test_client().get("/")
    assert await response.get_data(as_text=True) == "ann"
    assert response.headers["X-After"] == "yes"
    assert calls == ["before", "view", "after", "teardown None"]


async def test_before_request_can_answer(app: App) -> None:
    @app.before_request
    async def gate() -> tuple[str, int] | None:
        if request.args.get("token") != "ok":
            return "denied", 401
        return None

    @app.route("/")
    async def index() -> str:
        return "welcome"

    client = app.test_client()
    assert (await client.get("/")).status_code == 401
    assert (await client.get("/", query_string={"token": "ok"})).status_code == 200


async def test_before_websocket_hooks_run_app_then_blueprint_and_can_reject(app: App) -> None:
    calls: list[str] = []
    chat = Blueprint("chat", __name__)

    @app.before_websocket
    async def app_gate() -> tuple[str, int] | None:
        calls.append("app")
        if websocket.args.get("token") != "ok":
            return "denied", 401
        return None

    @chat.before_websocket
    async def chat_hook() -> None:
        calls.append("chat")

    @chat.websocket("/ws")
    async def ws() -> None:
        calls.append("view")
        await websocket.send("welcome")

    app.register_blueprint(chat)
    client = app.test_client()
    with pytest.raises(WebsocketResponseError) as rejected:
        async with client.websocket("/ws"):
            pass
    assert rejected.value.response.status_code == 401
    assert calls == ["app"]
    calls.clear()
    async with client.websocket("/ws", query_string={"token": "ok"}) as ws_client:
        assert await ws_client.receive() == "welcome"
    assert calls == ["app", "chat", "view"]


async def test_error_handlers_by_code_and_class(app: App) -> None:
    class Oops(Exception):
        pass

    @app.errorhandler(404)
    async def not_found(error: NotFound) -> tuple[str, int]:
        return f"custom {error.code}", 404

    @app.errorhandler(Oops)
    async def oops(error: Oops) -> tuple[dict[str, str], int]:
        return {"error": str(error)}, 409

    @app.route("/oops")
    async def raise_oops() -> str:
        raise Oops("bad thing")

    @app.route("/missing")
    async def missing() -> str:
        abort(404)

    client = app.test_client()
    assert await (await client.get("/nowhere")).get_data(as_text=True) == "custom 404"
    assert await (await client.get("/missing")).get_data(as_text=True) == "custom 404"
    response = await client.get("/oops")
    assert (response.status_code, await response.get_json()) == (409, {"error": "bad thing"})


async def test_unhandled_exception_is_500_and_logged(app: App, caplog: pytest.LogCaptureFixture) -> None:
    @app.route("/crash")
    async def crash() -> str:
        raise RuntimeError("kaboom")

    response = await app.test_client().get("/crash")
    assert response.status_code == 500
    assert "kaboom" in caplog.text
    assert "Exception on GET /crash" in caplog.text


async def test_500_handler_gets_the_original_error(app: App) -> None:
    @app.errorhandler(500)
    async def server_error(error: Exception) -> tuple[str, int]:
        return f"sorry: {error.original_exception}", 500  # type: ignore[attr-defined]

    @app.route("/crash")
    async def crash() -> str:
        raise RuntimeError("kaboom")

    assert await (await app.test_client().get("/crash")).get_data(as_text=True) == "sorry: kaboom"


async def test_abort_with_a_response(app: App) -> None:
    @app.route("/")
    async def index() -> str:
        abort(Response("short and stout", 418))

    response = await app.test_client().get("/")
    assert (response.status_code, await response.get_data()) == (418, b"short and stout")


async def test_blueprints(app: App) -> None:
    shop = Blueprint("shop", __name__, url_prefix="/shop")
    seen: list[str] = []

    @shop.before_request
    async def only_shop() -> None:
        seen.append(request.path)

    @shop.route("/items/<int:n>")
    async def item(n: int) -> dict[str, str]:
        return {"self": url_for(".item", n=n), "other": url_for("index")}

    @shop.errorhandler(404)
    async def shop_missing(error: Exception) -> tuple[str, int]:
        return "no such item", 404

    @shop.route("/gone")
    async def gone() -> str:
        abort(404)

    @app.route("/")
    async def index() -> str:
        return "home"

    app.register_blueprint(shop)
    client = app.test_client()
    assert await (await client.get("/shop/items/3")).get_json() == {"self": "/shop/items/3", "other": "/"}
    assert await (await client.get("/shop/gone")).get_data(as_text=True) == "no such item"
    await client.get("/")
    assert seen == ["/shop/items/3", "/shop/gone"]
    with pytest.raises(ValueError, match="already registered"):
        app.register_blueprint(shop)


async def test_sync_views_run_in_a_thread(app: App) -> None:
    import threading

    @app.route("/")
    def index() -> str:
        return threading.current_thread().name

    name = await (await app.test_client().get("/")).get_data(as_text=True)
    assert name != threading.current_thread().name


async def test_g_says_what_to_do_about_a_missing_name(app: App) -> None:
    @app.route("/")
    async def index() -> str:
        try:
            return str(g.missing)
        except AttributeError as error:
            return str(error)

    response = await app.test_client().get("/")
    assert await response.get_data(as_text=True) == "g has no attribute 'missing'; set it first (g.missing = ...)"
