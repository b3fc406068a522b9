"""A message board: log in, then read and post messages live over a websocket.

It uses the app toolkit together: templates (``templates/``, with a base
layout), static files (``static/``), a login kept in the signed-cookie
session, flash messages, and a websocket view that reads the session to know
who is posting. The users are fixed (``USERS``); passwords are stored as
werkzeug hashes.

The secret key comes from ``BOARD_SECRET_KEY``, or is made up at start-up,
which logs everyone out whenever the server restarts.

Before copying it: the POST forms (log in, log out) carry no CSRF token,
and the websocket does not check ``Origin``. ``SESSION_COOKIE_SAMESITE =
"Lax"`` is what stands in: a browser does not send the session cookie with
another site's POST or websocket handshake, and a GET here changes nothing
but the flashed messages it shows. That does not stop login CSRF (another
site's form logging a visitor into an account it chose), nor help an old
browser: a real app puts a CSRF token in each form and checks ``Origin`` on
the websocket handshake. An open websocket also stays logged in after a
logout in another tab: it read the session once, at its handshake.
"""

from __future__ import annotations

import os
import secrets
from typing import Any

import trio
from werkzeug.security import check_password_hash, generate_password_hash

from trioweb import App, Response, flash, redirect, render_template, request, session, url_for, websocket

app = App(__name__)
app.config.update(
    SECRET_KEY=os.environ.get("BOARD_SECRET_KEY") or secrets.token_hex(32),
    SESSION_COOKIE_SAMESITE="Lax",
    WEBSOCKET_MAX_MESSAGE_SIZE=4 * 1024,
)

# pbkdf2 with few rounds: a demo that starts fast. Use werkzeug's default (scrypt) for real users.
USERS = {
    name: generate_password_hash(password, method="pbkdf2:sha256:10000")
    for name, password in (("ann", "ann-secret"), ("bob", "bob-secret"))
}
MAX_POST = 500  # characters
POLICY_VIOLATION = 1008


class Board:
    """The last ``keep`` posts, and a way to wait for the next one.

    Readers keep the number of posts they have seen and take what came
    after, so a post is stored once however many pages are open, and a
    reader that falls more than ``keep`` behind skips what was dropped.
    """

    def __init__(self, keep: int = 100) -> None:
        self.keep = keep
        self.posts: list[dict[str, str]] = []
        self.count = 0  # posts ever made; posts[-1] is number count - 1
        self._changed = trio.Event()

    def add(self, user: str, text: str) -> None:
        self.posts.append({"user": user, "text": text})
        del self.posts[: -self.keep]
        self.count += 1
        self._changed.set()
        self._changed = trio.Event()

    def since(self, seen: int) -> list[dict[str, str]]:
        """The posts after the first ``seen`` (at most ``keep`` of them)."""
        return self.posts[len(self.posts) - min(self.count - seen, len(self.posts)) :]

    async def wait_after(self, seen: int) -> None:
        """Return once there are more than ``seen`` posts."""
        while self.count <= seen:
            await self._changed.wait()


board = Board()


@app.route("/")
async def index() -> Any:
    if "user" not in session:
        return redirect(url_for("login"))
    # The page says how many posts it shows, so that its websocket sends every later one.
    return await render_template("board.html", user=session["user"], posts=list(board.posts), seen=board.count)


@app.route("/login", methods=["GET", "POST"])
async def login() -> Any:
    if request.method == "POST":
        form = await request.form
        name = form.get("name", "")
        if name in USERS and check_password_hash(USERS[name], form.get("password", "")):
            session.clear()
            session["user"] = name
            await flash(f"Welcome, {name}.")
            return redirect(url_for("index"))
        await flash("Wrong name or password.", "error")
    return await render_template("login.html")


@app.post("/logout")
async def logout() -> Response:
    session.pop("user", None)
    await flash("You are logged out.")
    return redirect(url_for("login"))


async def send_posts(seen: int) -> None:
    while True:
        await board.wait_after(seen)
        for post in board.since(seen):
            await websocket.send_json({"type": "post", **post})
        seen = board.count


async def receive_posts(user: str) -> None:
    while True:
        text = await websocket.receive()
        if isinstance(text, str) and text.strip():
            board.add(user, text.strip()[:MAX_POST])


@app.websocket("/ws")
async def live() -> None:
    user = session.get("user")
    # ?seen= is the count the page was rendered with: the posts made since then come first.
    seen = websocket.args.get("seen", type=int)
    if seen is None or not 0 <= seen <= board.count:
        seen = board.count
    # Accept before refusing, so that the page sees the close code and reason.
    await websocket.accept()
    if user is None:
        await websocket.close(POLICY_VIOLATION, "log in first")
        return
    await websocket.send_json({"type": "hello", "user": user})
    async with trio.open_nursery() as nursery:
        nursery.start_soon(send_posts, seen)
        nursery.start_soon(receive_posts, user)
