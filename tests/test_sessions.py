"""The session: a signed cookie by default, opened and saved around every request and websocket."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import trio
import trio.testing
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from trio_websocket import ConnectionRejected, open_websocket_url
from werkzeug.datastructures import Headers
from werkzeug.http import parse_cookie

from trioweb import App, Response, abort, flash, get_flashed_messages, session, websocket
from trioweb.sessions import NO_SECRET_KEY, NullSession, SecureCookieSession, SecureCookieSessionInterface
from trioweb.testing import WebsocketDisconnectError, WebsocketResponseError

KEY = "a long random string"


@pytest.fixture
def app() -> App:
    """An app with a secret key, a view that stores in the session and one that reads it."""
    app = App(__name__)
    app.secret_key = KEY

    @app.post("/login/<name>")
    async def login(name: str) -> str:
        session["user"] = name
        return "ok"

    @app.get("/me")
    async def me() -> dict[str, Any]:
        return {"user": session.get("user")}

    @app.get("/plain")
    async def plain() -> str:
        return "no session here"

    @app.post("/logout")
    async def logout() -> str:
        session.clear()
        return "bye"

    @app.post("/remember")
    async def remember() -> str:
        session.permanent = True
        session["user"] = "ann"
        return "ok"

    return app


def set_cookie_of(source: Response | Headers, name: str = "session") -> str:
    """The ``Set-Cookie`` header for ``name`` in a response or a 101's headers ('' when there is none)."""
    headers = source.headers if isinstance(source, Response) else source
    for value in headers.getlist("Set-Cookie"):
        if value.startswith(f"{name}="):
            return value
    return ""


def serializer(key: str = KEY) -> URLSafeTimedSerializer:
    """What signs a session cookie with ``key``: Flask's salt, key derivation and digest."""
    interface = SecureCookieSessionInterface()
    return URLSafeTimedSerializer(
        key, salt=interface.salt, signer_kwargs={"key_derivation": "hmac", "digest_method": interface.digest_method}
    )


def signed(data: Any, key: str = KEY) -> str:
    """A session cookie value as trioweb (and Flask) sign one with ``key``."""
    return serializer(key).dumps(data)


async def user_with_cookie(app: App, value: str) -> Any:
    client = app.test_client()
    response = await client.get("/me", headers={"Cookie": f"session={value}"})
    assert response.status_code == 200
    return (await response.get_json())["user"]


# -- the signed cookie -------------------------------------------------------------------


async def test_a_value_stored_in_the_session_comes_back_on_the_next_request(app: App) -> None:
    client = app.test_client()
    login = await client.post("/login/ann")
    cookie = set_cookie_of(login)
    assert "HttpOnly" in cookie and "Path=/" in cookie and "Expires" not in cookie
    assert login.headers["Vary"] == "Cookie"
    assert await (await client.get("/me")).get_json() == {"user": "ann"}


async def test_a_view_that_does_not_touch_the_session_sets_no_cookie_and_no_vary(app: App) -> None:
    client = app.test_client()
    await client.post("/login/ann")
    response = await client.get("/plain")
    assert set_cookie_of(response) == "" and "Vary" not in response.headers


async def test_reading_the_session_varies_the_response_on_cookie_without_setting_one(app: App) -> None:
    response = await app.test_client().get("/me")
    assert response.headers["Vary"] == "Cookie" and set_cookie_of(response) == ""


async def test_the_cookie_is_signed_with_the_secret_key(app: App) -> None:
    value = parse_cookie(set_cookie_of(await app.test_client().post("/login/ann")))["session"]
    assert serializer(KEY).loads(value) == {"user": "ann"}


async def test_clearing_the_session_deletes_the_cookie(app: App) -> None:
    client = app.test_client()
    await client.post("/login/ann")
    logout = await client.post("/logout")
    assert "Max-Age=0" in set_cookie_of(logout) or "01 Jan 1970" in set_cookie_of(logout)
    assert client.get_cookie("session") is None
    assert await (await client.get("/me")).get_json() == {"user": None}


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(signed({"user": "ann"})[:-3] + "xyz", id="a bad signature"),
        pytest.param(signed({"user": "ann"}).replace(".", "!", 1), id="bad base64"),
        pytest.param("garbage", id="garbage"),
        pytest.param("", id="empty"),
        pytest.param(signed({"user": "ann"}, key="another key"), id="signed with another key"),
        pytest.param(signed(["user", "ann"]), id="signed, but not an object"),
    ],
)
async def test_a_cookie_that_does_not_verify_is_an_empty_session_not_an_error(app: App, value: str) -> None:
    assert await user_with_cookie(app, value) is None


@pytest.mark.parametrize(
    ("cookies", "user"),
    [
        pytest.param(["theme=dark"], None, id="other cookies only"),
        pytest.param(["mysession=x; session_id=y"], None, id="names that contain the name"),
        pytest.param([f"mysession=x; session={signed({'user': 'ann'})}"], "ann", id="beside one that contains it"),
        pytest.param(["theme=dark", f"session={signed({'user': 'ann'})}"], "ann", id="in a second Cookie header"),
    ],
)
async def test_the_session_cookie_is_found_among_others(app: App, cookies: list[str], user: str | None) -> None:
    headers = Headers([("Cookie", value) for value in cookies])
    response = await app.test_client().get("/me", headers=headers)
    assert (await response.get_json())["user"] == user


async def test_an_expired_cookie_is_an_empty_session(app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    app.config["PERMANENT_SESSION_LIFETIME"] = 60
    long_ago = int(time.time()) - 61
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: long_ago)
    old = signed({"user": "ann"})
    monkeypatch.undo()
    assert await user_with_cookie(app, old) is None
    assert await user_with_cookie(app, signed({"user": "ann"})) == "ann"


async def test_a_cookie_signed_with_a_fallback_key_verifies_and_is_signed_again_with_the_new_key(app: App) -> None:
    app.config["SECRET_KEY_FALLBACKS"] = [KEY]
    app.secret_key = "the new key"
    client = app.test_client()
    client.set_cookie("session", signed({"user": "ann"}))
    assert await (await client.get("/me")).get_json() == {"user": "ann"}
    renewed = await client.post("/login/bob")
    value = parse_cookie(set_cookie_of(renewed))["session"]
    assert serializer("the new key").loads(value) == {"user": "bob"}
    app.config["SECRET_KEY_FALLBACKS"] = None
    assert await user_with_cookie(app, signed({"user": "ann"})) is None  # the old key is gone now


async def test_a_permanent_session_cookie_expires_after_the_lifetime(app: App) -> None:
    response = await app.test_client().post("/remember")
    expires = parse_cookie_expiry(set_cookie_of(response))
    assert abs(expires - (datetime.now(UTC) + timedelta(days=31))) < timedelta(minutes=1)


async def test_the_lifetime_may_be_given_in_seconds(app: App) -> None:
    app.config["PERMANENT_SESSION_LIFETIME"] = 3600
    assert app.permanent_session_lifetime == timedelta(hours=1)
    expires = parse_cookie_expiry(set_cookie_of(await app.test_client().post("/remember")))
    assert abs(expires - (datetime.now(UTC) + timedelta(hours=1))) < timedelta(minutes=1)


def parse_cookie_expiry(header: str) -> datetime:
    from werkzeug.test import Cookie

    cookie = Cookie._from_response_header("localhost", "/", header)
    assert cookie.expires is not None
    return cookie.expires


@pytest.mark.parametrize("refresh", [True, False])
async def test_a_permanent_session_is_sent_again_on_each_request_unless_told_not_to(app: App, refresh: bool) -> None:
    app.config["SESSION_REFRESH_EACH_REQUEST"] = refresh
    client = app.test_client()
    await client.post("/remember")
    again = await client.get("/me")
    assert bool(set_cookie_of(again)) is refresh
    # a session that is not permanent is never sent again unchanged
    await client.post("/logout")
    await client.post("/login/ann")
    assert set_cookie_of(await client.get("/me")) == ""


async def test_the_cookie_settings_shape_the_set_cookie_header(app: App) -> None:
    app.config.update(
        SESSION_COOKIE_NAME="sid",
        SESSION_COOKIE_DOMAIN="example.com",
        SESSION_COOKIE_PATH="/app",
        SESSION_COOKIE_HTTPONLY=False,
        SESSION_COOKIE_SECURE=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_PARTITIONED=True,
    )
    header = set_cookie_of(await app.test_client().post("/login/ann"), "sid")
    parts = {part.strip().split("=")[0] for part in header.split(";")}
    assert {"Domain", "Path", "Secure", "SameSite", "Partitioned"} <= parts and "HttpOnly" not in parts
    assert "Domain=example.com" in header and "Path=/app" in header and "SameSite=Lax" in header


async def test_a_change_inside_a_value_is_saved_once_marked_modified(app: App) -> None:
    @app.post("/cart/<item>")
    async def add(item: str) -> dict[str, Any]:
        cart = session.setdefault("cart", [])
        cart.append(item)
        if item != "unmarked":
            session.modified = True
        return {"cart": cart}

    client = app.test_client()
    await client.post("/cart/tea")
    await client.post("/cart/unmarked")
    response = await client.post("/cart/milk")
    assert await response.get_json() == {"cart": ["tea", "milk"]}  # the unmarked change was not saved


# -- where the save happens ----------------------------------------------------------


async def test_the_session_is_saved_after_the_after_request_functions(app: App) -> None:
    @app.after_request
    async def stamp(response: Response) -> Response:
        session["stamped"] = True
        return response

    @app.get("/stamped")
    async def stamped() -> dict[str, Any]:
        return {"stamped": session.get("stamped")}

    client = app.test_client()
    await client.get("/plain")
    assert await (await client.get("/stamped")).get_json() == {"stamped": True}


async def test_the_session_is_saved_on_an_error_response_too(app: App, caplog: pytest.LogCaptureFixture) -> None:
    @app.get("/denied")
    async def denied() -> str:
        session["tried"] = "denied"
        abort(403)

    @app.get("/crash")
    async def crash() -> str:
        session["tried"] = "crash"
        raise ValueError("boom")

    client = app.test_client()
    assert (await client.get("/denied")).status_code == 403
    assert client.get_cookie("session") is not None
    assert (await client.get("/crash")).status_code == 500
    async with client.session_transaction() as current:
        assert current["tried"] == "crash"


async def test_the_session_is_there_in_before_request_and_teardown(app: App) -> None:
    seen: list[Any] = []

    @app.before_request
    async def before() -> None:
        seen.append(session.get("user"))

    @app.teardown_request
    async def teardown(error: BaseException | None) -> None:
        seen.append(session.get("user"))

    client = app.test_client()
    await client.post("/login/ann")
    await client.get("/plain")
    assert seen == [None, "ann", "ann", "ann"]


async def test_the_session_is_unbound_outside_a_request(app: App) -> None:
    async with app.test_app():
        with pytest.raises(RuntimeError, match="session is used outside"):
            session.get("user")
    assert not session


# -- without a secret key ---------------------------------------------------------------


async def test_without_a_secret_key_reading_works_and_writing_says_to_set_one(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    app.secret_key = None
    client = app.test_client()
    assert await (await client.get("/me")).get_json() == {"user": None}
    assert (await client.post("/login/ann")).status_code == 500
    assert "no secret key was set. Set app.secret_key or app.config['SECRET_KEY']" in caplog.text
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        NullSession()["user"] = "ann"
    assert NO_SECRET_KEY.startswith("The session is unavailable because no secret key was set")


def test_a_session_records_reads_and_changes() -> None:
    current = SecureCookieSession({"user": "ann"})
    assert not current.accessed and not current.modified
    assert "user" in current and current.accessed and not current.modified
    current.setdefault("theme", "dark")
    assert current.modified and current.to_dict() == {"user": "ann", "theme": "dark"}
    assert not current.permanent
    current.permanent = True
    assert current["_permanent"] is True


# -- websockets ----------------------------------------------------------------------


@pytest.fixture
def ws_app(app: App) -> App:
    @app.websocket("/ws/who")
    async def who() -> None:
        await websocket.accept()
        await websocket.send(str(session.get("user")))

    @app.websocket("/ws/name/<name>")
    async def name(name: str) -> None:
        session["user"] = name
        await websocket.accept()
        try:
            session["later"] = True
        except RuntimeError as error:
            await websocket.send(str(error))
        try:
            session.modified = True
        except RuntimeError as error:
            await websocket.send(str(error))
        assert session["user"] == name  # reading goes on working

    @app.websocket("/ws/refused")
    async def refused() -> Response:
        session["refused"] = True
        return Response("no", 403)

    return app


async def test_a_websocket_view_reads_the_session_of_its_handshake(ws_app: App) -> None:
    client = ws_app.test_client()
    await client.post("/login/ann")
    async with client.websocket("/ws/who") as ws:
        assert await ws.receive() == "ann"


async def test_a_change_before_accepting_goes_out_with_the_101_and_one_after_is_an_error(ws_app: App) -> None:
    client = ws_app.test_client()
    async with client.websocket("/ws/name/bob") as ws:
        assert set_cookie_of(ws.headers)
        messages = [await ws.receive(), await ws.receive()]
        with pytest.raises(WebsocketDisconnectError) as closed:
            await ws.receive()
    assert closed.value.code == 1000
    assert all("cannot change after websocket.accept()" in str(message) for message in messages)
    assert await (await client.get("/me")).get_json() == {"user": "bob"}
    async with client.session_transaction() as current:
        assert "later" not in current


async def test_a_rejected_handshake_carries_the_session_cookie(ws_app: App) -> None:
    client = ws_app.test_client()
    with pytest.raises(WebsocketResponseError) as rejected:
        async with client.websocket("/ws/refused"):
            pass
    assert rejected.value.response.status_code == 403 and set_cookie_of(rejected.value.response)
    async with client.session_transaction() as current:
        assert current["refused"] is True


async def test_a_websocket_that_does_not_touch_the_session_gets_no_cookie(ws_app: App) -> None:
    @ws_app.websocket("/ws/plain")
    async def ws_plain() -> None:
        await websocket.send("hi")

    async with ws_app.test_client().websocket("/ws/plain") as ws:
        assert set_cookie_of(ws.headers) == "" and await ws.receive() == "hi"


@pytest.fixture
def failing_rejection_app(app: App) -> App:
    """Websockets whose refusal breaks after the view: in an after_websocket function, or in saving the session."""

    @app.websocket("/ws/after-breaks")
    async def after_breaks() -> Response:
        return Response("no", 403)

    @app.after_websocket
    async def break_the_refusal(response: Response) -> Response:
        if websocket.path == "/ws/after-breaks":
            raise ValueError("after_websocket broke")
        return response

    @app.websocket("/ws/unsaveable")
    async def unsaveable() -> None:
        session["when"] = object()  # not JSON: the cookie cannot be made
        await websocket.accept()

    return app


@pytest.mark.parametrize("path", ["/ws/after-breaks", "/ws/unsaveable"])
async def test_a_refusal_that_fails_after_the_view_answers_500_not_a_dropped_connection(
    failing_rejection_app: App, path: str, autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    with trio.fail_after(10), pytest.raises(WebsocketResponseError) as rejected:
        async with failing_rejection_app.test_client().websocket(path):
            pass
    assert rejected.value.response.status_code == 500
    assert "Connection from" not in caplog.text and "Exception on websocket GET " + path in caplog.text


@pytest.mark.parametrize("path", ["/ws/after-breaks", "/ws/unsaveable"])
async def test_a_refusal_that_fails_after_the_view_answers_500_over_a_real_socket(
    failing_rejection_app: App, path: str, live_server: str
) -> None:
    with pytest.raises(ConnectionRejected) as rejected:
        async with open_websocket_url(f"ws://{live_server}{path}"):
            pass
    assert rejected.value.status_code == 500


# -- flash -------------------------------------------------------------------------


@pytest.fixture
def flash_app(app: App) -> App:
    @app.post("/save")
    async def save() -> str:
        await flash("Saved")
        await flash("Disk almost full", "warning")
        return "ok"

    @app.get("/messages")
    async def messages() -> dict[str, Any]:
        return {
            "all": get_flashed_messages(with_categories=True),
            "again": get_flashed_messages(),
            "warnings": get_flashed_messages(category_filter=["warning"]),
        }

    return app


async def test_flashed_messages_show_once_on_the_next_page(flash_app: App) -> None:
    client = flash_app.test_client()
    await client.post("/save")
    assert await (await client.get("/messages")).get_json() == {
        "all": [["message", "Saved"], ["warning", "Disk almost full"]],
        "again": ["Saved", "Disk almost full"],
        "warnings": ["Disk almost full"],
    }
    assert await (await client.get("/messages")).get_json() == {"all": [], "again": [], "warnings": []}


async def test_flashed_messages_read_in_a_child_task_are_the_requests_own(flash_app: App) -> None:
    @flash_app.get("/child-first")
    async def child_first() -> dict[str, Any]:
        seen: dict[str, Any] = {}

        async def read() -> None:
            seen["child"] = get_flashed_messages()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(read)
        seen["view"] = get_flashed_messages()  # the same request: the same list, not an empty one
        return seen

    client = flash_app.test_client()
    await client.post("/save")
    both = ["Saved", "Disk almost full"]
    assert await (await client.get("/child-first")).get_json() == {"child": both, "view": both}


async def test_flash_outside_a_request_says_so() -> None:
    with pytest.raises(RuntimeError, match="outside of a request"):
        get_flashed_messages()
    with pytest.raises(RuntimeError, match="outside of a request"):
        await flash("hello")


async def test_flashing_without_a_secret_key_says_to_set_one(flash_app: App, caplog: pytest.LogCaptureFixture) -> None:
    flash_app.secret_key = None
    client = flash_app.test_client()
    assert (await client.post("/save")).status_code == 500
    assert "SECRET_KEY" in caplog.text
    assert (await (await client.get("/messages")).get_json())["all"] == []


# -- over real sockets ---------------------------------------------------------------


async def test_the_session_over_a_real_socket(ws_app: App, live_server: str) -> None:
    async with httpx.AsyncClient(base_url=f"http://{live_server}") as client:
        login = await client.post("/login/ann")
        assert login.headers["Vary"] == "Cookie" and "HttpOnly" in login.headers["Set-Cookie"]
        assert (await client.get("/me")).json() == {"user": "ann"}
        good = client.cookies["session"]
        client.cookies.clear()
        client.cookies.set("session", "x" + good)
        assert (await client.get("/me")).json() == {"user": None}
        client.cookies.clear()
        client.cookies.set("session", signed({"user": "bob"}))
        assert (await client.get("/me")).json() == {"user": "bob"}
        client.cookies.clear()
        await client.post("/login/ann")
        assert "session" in client.cookies
        logout = await client.post("/logout")
        assert "session=;" in logout.headers["Set-Cookie"] and "session" not in client.cookies


async def test_a_websocket_session_cookie_comes_with_the_101_over_a_real_socket(ws_app: App, live_server: str) -> None:
    async with open_websocket_url(f"ws://{live_server}/ws/name/bob") as connection:
        headers = {name.decode().lower(): value.decode() for name, value in connection.handshake_headers}
        assert "cannot change after websocket.accept()" in await connection.get_message()
    cookie = parse_cookie(headers["set-cookie"])["session"]
    assert serializer(KEY).loads(cookie) == {"user": "bob"}
    extra = [(b"Cookie", f"session={cookie}".encode())]
    async with open_websocket_url(f"ws://{live_server}/ws/who", extra_headers=extra) as connection:
        assert await connection.get_message() == "bob"


async def test_a_refused_handshake_carries_the_session_cookie_over_a_real_socket(ws_app: App, live_server: str) -> None:
    with pytest.raises(ConnectionRejected) as rejected:
        async with open_websocket_url(f"ws://{live_server}/ws/refused"):
            pass
    headers = {name.decode().lower(): value.decode() for name, value in rejected.value.headers or ()}
    assert rejected.value.status_code == 403
    assert serializer(KEY).loads(parse_cookie(headers["set-cookie"])["session"]) == {"refused": True}
