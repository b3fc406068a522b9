import secrets
from typing import Any

from itsdangerous import BadSignature, Signer

from trioweb import App, Response, session
from trioweb.sessions import SecureCookieSession, SessionInterface
from trioweb.wrappers.base import BaseRequestWebsocket


class ServerSession(SecureCookieSession):
    """The session's data, and the id it is stored under (None until saved)."""

    def __init__(
        self, data: dict[str, Any] | None = None, sid: str | None = None
    ) -> None:
        super().__init__(data)
        self.sid = sid


class MemorySessionInterface(SessionInterface):
    """Sessions kept on the server; the cookie holds a random id, signed."""

    def __init__(self) -> None:
        self.store: dict[str, dict[str, Any]] = {}

    def signer(self, app: App) -> Signer:
        keys = [*(app.config["SECRET_KEY_FALLBACKS"] or ()), app.secret_key]
        return Signer(keys, salt="server-session")

    async def open_session(
        self, app: App, request: BaseRequestWebsocket
    ) -> ServerSession | None:
        if not app.secret_key:
            return None  # a null session: reads work, writes say to set a key
        cookie = request.cookies.get(self.get_cookie_name(app))
        if cookie:
            try:
                sid = self.signer(app).unsign(cookie).decode()
            except BadSignature:
                return ServerSession()
            if sid in self.store:
                return ServerSession(self.store[sid], sid)
        return ServerSession()

    async def save_session(self, app: App, session: Any, response: Response) -> None:
        assert isinstance(session, ServerSession)
        if session.accessed:
            response.vary.add("Cookie")
        if not session:  # emptied (a logout): forget it on both sides
            if session.sid is not None:
                self.store.pop(session.sid, None)
            if session.modified:
                self.delete_cookie(app, response)
            return
        if not self.should_set_cookie(app, session):
            return
        if session.sid is None:
            session.sid = secrets.token_urlsafe(32)
        self.store[session.sid] = session.to_dict()
        cookie = self.signer(app).sign(session.sid).decode()
        expires = self.get_expiration_time(app, session)
        self.set_cookie(app, response, cookie, expires)


app = App(__name__)
app.secret_key = "a long random string"
sessions = MemorySessionInterface()
app.session_interface = sessions


@app.post("/cart/<item>")
async def add(item: str) -> dict[str, Any]:
    session["cart"] = [*session.get("cart", []), item]
    return {"cart": session["cart"]}


@app.post("/checkout")
async def checkout() -> str:
    session.clear()
    return "thanks"


async def test_the_data_stays_on_the_server() -> None:
    client = app.test_client()
    await client.post("/cart/tea")
    response = await client.post("/cart/milk")
    assert await response.get_json() == {"cart": ["tea", "milk"]}
    cookie = client.get_cookie("session")
    assert cookie is not None and "tea" not in cookie.value
    assert list(sessions.store.values()) == [{"cart": ["tea", "milk"]}]
    await client.post("/checkout")
    assert sessions.store == {}
