import os
from typing import Any

from trioweb import (
    App,
    Response,
    flash,
    get_flashed_messages,
    redirect,
    request,
    session,
    url_for,
    websocket,
)

app = App(__name__)
# A long random string, kept out of the code:
# python -c 'import secrets; print(secrets.token_hex())'
app.secret_key = os.environ.get("SECRET_KEY", "dev only: not secret")

USERS = {"ann": "wonderland"}


@app.get("/")
async def index() -> dict[str, Any]:
    return {"user": session.get("user"), "messages": get_flashed_messages()}


@app.post("/login")
async def login() -> Response:
    form = await request.form
    user = form.get("user", "")
    if user not in USERS or USERS[user] != form.get("password"):
        await flash("Wrong user or password", "error")
        return redirect(url_for("index"))
    session.clear()
    session["user"] = user
    session.permanent = form.get("remember") == "on"
    await flash(f"Welcome, {user}")
    return redirect(url_for("index"))


@app.post("/logout")
async def logout() -> Response:
    session.clear()
    return redirect(url_for("index"))


@app.websocket("/ws")
async def greet() -> None:
    user = session.get("user")
    if user is None:
        return  # returning before accepting refuses the handshake (403)
    session["websocket_seen"] = True  # before accepting: sent with the 101
    await websocket.accept()
    await websocket.send(f"hello {user}")


async def test_a_login_sets_the_session_and_flashes_once() -> None:
    client = app.test_client()
    form = {"user": "ann", "password": "wonderland"}
    page = await client.post("/login", form=form, follow_redirects=True)
    assert await page.get_json() == {"user": "ann", "messages": ["Welcome, ann"]}
    again = await client.get("/")
    assert await again.get_json() == {"user": "ann", "messages": []}


async def test_a_wrong_password_flashes_an_error() -> None:
    client = app.test_client()
    form = {"user": "ann", "password": "guess"}
    page = await client.post("/login", form=form, follow_redirects=True)
    expected = {"user": None, "messages": ["Wrong user or password"]}
    assert await page.get_json() == expected


async def test_remember_me_makes_the_cookie_outlive_the_browser() -> None:
    client = app.test_client()
    form = {"user": "ann", "password": "wonderland", "remember": "on"}
    response = await client.post("/login", form=form)
    assert "Expires=" in response.headers["Set-Cookie"]


async def test_the_websocket_knows_who_is_logged_in() -> None:
    client = app.test_client()
    async with client.session_transaction() as current:
        current["user"] = "ann"  # logged in without the form
    async with client.websocket("/ws") as ws:
        assert await ws.receive() == "hello ann"
    async with client.session_transaction() as current:
        assert current["websocket_seen"] is True
    await client.post("/logout")
    assert client.get_cookie("session") is None
