"""The test client as a browser: a cookie jar, redirects followed, basic auth, and session_transaction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import trio
import trio.testing
from werkzeug.datastructures import Authorization

from trioweb import App, Response, Websocket, redirect, request, session, websocket
from trioweb.sessions import SecureCookieSession, SecureCookieSessionInterface
from trioweb.testing import MAX_REDIRECTS, TestClient, TooManyRedirectsError, WebsocketResponseError
from trioweb.wrappers.base import BaseRequestWebsocket


@pytest.fixture
def app() -> App:
    app = App(__name__)
    app.secret_key = "test key"

    @app.get("/cookies")
    async def cookies() -> dict[str, str]:
        return request.cookies.to_dict()

    @app.get("/admin/cookies")
    async def admin_cookies() -> dict[str, str]:
        return request.cookies.to_dict()

    @app.get("/set")
    async def set_() -> Response:
        response = Response("set")
        response.set_cookie("plain", "1")
        response.set_cookie("admin", "2", path="/admin")
        response.set_cookie("other", "3", domain="other.test")
        return response

    @app.get("/forget")
    async def forget() -> Response:
        response = Response("forgotten")
        response.delete_cookie("plain")
        return response

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.send_json(websocket.cookies.to_dict())

    return app


async def cookies_sent(client: TestClient, path: str = "/cookies", **kwargs: Any) -> dict[str, str]:
    response = await client.get(path, **kwargs)
    assert response.status_code == 200
    return await response.get_json()  # type: ignore[no-any-return]


async def test_cookies_a_response_sets_are_sent_back_by_domain_and_path(app: App) -> None:
    client = app.test_client()
    await client.get("/set")
    assert await cookies_sent(client) == {"plain": "1"}
    assert await cookies_sent(client, "/admin/cookies") == {"plain": "1", "admin": "2"}
    assert await cookies_sent(client, headers={"Host": "other.test"}) == {"other": "3"}


async def test_a_domain_with_a_leading_dot_or_capitals_matches_as_in_a_browser(app: App) -> None:
    @app.get("/raw-domain")
    async def raw_domain() -> Response:
        response = Response("set")
        # Written by hand (or copied from an upstream): werkzeug's set_cookie would drop the dot itself.
        response.headers.add("Set-Cookie", "legacy=1; Domain=.Example.test; Path=/")
        return response

    client = app.test_client()
    await client.get("/raw-domain", headers={"Host": "www.example.test"})
    assert await cookies_sent(client, headers={"Host": "www.example.test"}) == {"legacy": "1"}
    assert await cookies_sent(client, headers={"Host": "example.test"}) == {"legacy": "1"}
    assert client.get_cookie("legacy", domain="example.test") is not None


async def test_a_deleted_cookie_is_dropped_from_the_jar(app: App) -> None:
    client = app.test_client()
    await client.get("/set")
    await client.get("/forget")
    assert client.get_cookie("plain") is None
    assert await cookies_sent(client) == {}


async def test_an_expired_cookie_is_not_sent(app: App) -> None:
    client = app.test_client()
    client.set_cookie("old", "x", expires=datetime.now(UTC) - timedelta(seconds=1))
    client.set_cookie("soon", "y", expires=datetime.now(UTC) + timedelta(hours=1))
    assert await cookies_sent(client) == {"soon": "y"}
    assert client.get_cookie("old") is None


async def test_set_get_and_delete_cookie_work_on_the_jar(app: App) -> None:
    client = app.test_client()
    client.set_cookie("theme", "dark")
    client.set_cookie("shared", "yes", domain="example.test", origin_only=False)
    cookie = client.get_cookie("theme")
    assert cookie is not None and cookie.value == "dark"
    assert await cookies_sent(client) == {"theme": "dark"}
    assert await cookies_sent(client, headers={"Host": "api.example.test:8080"}) == {"shared": "yes"}
    client.delete_cookie("theme")
    assert await cookies_sent(client) == {}


async def test_a_client_without_cookies_keeps_none(app: App) -> None:
    client = TestClient(app, use_cookies=False)
    await client.get("/set")
    assert await cookies_sent(client) == {}
    with pytest.raises(TypeError, match="use_cookies=True"):
        client.set_cookie("a", "b")


async def test_app_test_client_takes_use_cookies_as_in_quart_and_flask(app: App) -> None:
    client = app.test_client(use_cookies=False)  # ported test code says it this way
    await client.get("/set")
    assert (client.cookie_jar, await cookies_sent(client)) == (None, {})
    async with app.test_app() as test_app:
        assert test_app.test_client(use_cookies=False).cookie_jar is None


async def test_a_websocket_handshake_sends_the_jars_cookies(app: App) -> None:
    client = app.test_client()
    await client.get("/set")
    async with client.websocket("/ws") as ws:
        assert await ws.receive_json() == {"plain": "1"}


# -- redirects -------------------------------------------------------------------------


@pytest.fixture
def redirects(app: App) -> App:
    @app.route("/start", methods=["GET", "POST"])
    async def start() -> Response:
        response = redirect("/landing", int(request.args.get("code", "302")))
        response.set_cookie("visited", "start")
        return response

    @app.route("/landing", methods=["GET", "POST"])
    async def landing() -> dict[str, Any]:
        return {"method": request.method, "body": await request.get_data(as_text=True), "cookies": request.cookies}

    @app.get("/absolute")
    async def absolute() -> Response:
        return redirect("http://localhost/landing?from=absolute")

    @app.get("/nested/relative")
    async def relative() -> Response:
        return redirect("../landing")

    @app.get("/loop")
    async def loop() -> Response:
        return redirect("/loop")

    @app.get("/hops/<int:left>")
    async def hops(left: int) -> Response | str:
        return redirect(f"/hops/{left - 1}") if left else "arrived"

    return app


async def test_follow_redirects_returns_the_last_response_with_the_cookies_set_on_the_way(redirects: App) -> None:
    client = redirects.test_client()
    response = await client.post("/start", data="hello", follow_redirects=True)
    assert await response.get_json() == {"method": "GET", "body": "", "cookies": {"visited": "start"}}
    assert (await client.get("/start")).status_code == 302  # not followed unless asked


async def test_a_307_or_308_is_followed_with_the_same_method_and_body(redirects: App) -> None:
    for code in (307, 308):
        response = await redirects.test_client().post(f"/start?code={code}", data="hello", follow_redirects=True)
        landed = await response.get_json()
        assert (landed["method"], landed["body"]) == ("POST", "hello")


async def test_an_absolute_location_is_followed(redirects: App) -> None:
    response = await redirects.test_client().get("/absolute", follow_redirects=True)
    assert response.status_code == 200


async def test_a_relative_location_is_followed_from_the_url_that_gave_it(redirects: App) -> None:
    response = await redirects.test_client().get("/nested/relative", follow_redirects=True)
    assert (await response.get_json())["method"] == "GET"


async def test_a_redirect_loop_is_an_error_not_a_hang(redirects: App) -> None:
    with pytest.raises(TooManyRedirectsError, match="redirects in a row"):
        await redirects.test_client().get("/loop", follow_redirects=True)
    client = redirects.test_client()
    arrived = await client.get(f"/hops/{MAX_REDIRECTS}", follow_redirects=True)
    assert await arrived.get_data(as_text=True) == "arrived"
    with pytest.raises(TooManyRedirectsError):
        await client.get(f"/hops/{MAX_REDIRECTS + 1}", follow_redirects=True)


# -- basic auth -------------------------------------------------------------------------


async def test_auth_sends_basic_credentials(app: App) -> None:
    @app.get("/whoami")
    async def whoami() -> dict[str, Any]:
        auth = request.authorization
        return {"type": auth.type, "user": auth.username, "password": auth.password} if auth else {}

    client = app.test_client()
    expected = {"type": "basic", "user": "ann", "password": "s3cret:x"}
    assert await (await client.get("/whoami", auth=("ann", "s3cret:x"))).get_json() == expected
    as_object = Authorization("basic", {"username": "ann", "password": "s3cret:x"})
    assert await (await client.get("/whoami", auth=as_object)).get_json() == expected
    assert await (await client.get("/whoami")).get_json() == {}


# -- session_transaction ------------------------------------------------------------------


async def test_session_transaction_reads_and_changes_the_session_between_requests(app: App) -> None:
    @app.get("/me")
    async def me() -> dict[str, Any]:
        session["visits"] = session.get("visits", 0) + 1
        return {"user": session.get("user"), "visits": session["visits"]}

    client = app.test_client()
    async with client.session_transaction() as current:
        assert dict(current) == {}
        current["user"] = "ann"
    assert await (await client.get("/me")).get_json() == {"user": "ann", "visits": 1}
    async with client.session_transaction() as current:
        assert current["visits"] == 1
        current.clear()
    assert await (await client.get("/me")).get_json() == {"user": None, "visits": 1}


async def test_session_transaction_needs_a_secret_key(app: App) -> None:
    app.secret_key = None
    with pytest.raises(RuntimeError, match=r"needs app\.secret_key"):
        async with app.test_client().session_transaction():
            pass


async def test_a_websocket_handshake_the_server_drops_is_an_error_not_a_hang(
    app: App, autojump_clock: trio.testing.MockClock
) -> None:
    async def answer_nothing(websocket: Websocket) -> None:
        return  # neither accepts nor refuses: the server closes the connection

    app.handle_websocket = answer_nothing  # type: ignore[method-assign]
    with trio.fail_after(1), pytest.raises(ConnectionError, match="closed the connection"):
        async with app.test_client().websocket("/ws"):
            pass


async def test_a_session_store_that_fails_to_open_answers_500(
    app: App, autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    class BrokenStore(SecureCookieSessionInterface):
        async def open_session(self, app: App, request: BaseRequestWebsocket) -> SecureCookieSession | None:
            raise ValueError("the session store is down")

    @app.get("/page")
    async def page() -> str:
        return "never"

    app.session_interface = BrokenStore()
    client = app.test_client()
    assert (await client.get("/page")).status_code == 500
    with pytest.raises(WebsocketResponseError) as refused:
        async with client.websocket("/ws"):
            pass
    assert refused.value.response.status_code == 500
    logged = [record.getMessage() for record in caplog.records if record.exc_info]
    assert logged == ["Exception on GET /page", "Exception on websocket GET /ws"]
