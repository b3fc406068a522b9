"""The board example through the test client: login, flash messages, templates, static files, the live websocket."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from examples.board import app, board
from trioweb.testing import TestClient, WebsocketDisconnectError


@pytest.fixture(autouse=True)
def empty_board() -> Iterator[None]:
    """The example's board is module state: every test starts with no posts."""
    board.posts.clear()
    board.count = 0
    yield
    board.posts.clear()
    board.count = 0


async def log_in(client: TestClient, name: str = "ann", password: str = "ann-secret") -> str:
    response = await client.post("/login", form={"name": name, "password": password}, follow_redirects=True)
    assert response.status_code == 200
    return str(await response.get_data(as_text=True))


async def test_the_board_sends_a_visitor_to_the_login_page() -> None:
    response = await app.test_client().get("/")
    assert (response.status_code, response.headers["Location"]) == (302, "/login")


async def test_logging_in_shows_the_board_with_a_welcome_flashed_once() -> None:
    client = app.test_client()
    page = await log_in(client)
    assert "Welcome, ann." in page
    assert 'Logged in as <strong id="user">ann</strong>' in page
    again = await (await client.get("/")).get_data(as_text=True)
    assert "Welcome, ann." not in again  # a flashed message is shown once


async def test_a_wrong_password_flashes_an_error_and_logs_nobody_in() -> None:
    client = app.test_client()
    response = await client.post("/login", form={"name": "ann", "password": "nope"})
    page = await response.get_data(as_text=True)
    assert '<li class="error">Wrong name or password.</li>' in page
    assert (await client.get("/")).status_code == 302


async def test_logging_out_ends_the_session() -> None:
    client = app.test_client()
    await log_in(client)
    page = await (await client.post("/logout", follow_redirects=True)).get_data(as_text=True)
    assert "You are logged out." in page
    assert (await client.get("/")).status_code == 302


async def test_the_pages_link_their_static_files_and_the_files_are_served() -> None:
    client = app.test_client()
    page = await (await client.get("/login")).get_data(as_text=True)
    assert 'href="/static/style.css"' in page
    css = await client.get("/static/style.css")
    assert (css.status_code, css.mimetype) == (200, "text/css")
    assert (await client.get("/static/board.js")).mimetype == "text/javascript"


async def test_posts_are_escaped_on_the_page() -> None:
    client = app.test_client()
    await log_in(client)
    board.add("bob", "<script>alert(1)</script>")
    page = await (await client.get("/")).get_data(as_text=True)
    assert "bob: &lt;script&gt;alert(1)&lt;/script&gt;" in page


async def test_the_websocket_knows_the_user_from_the_session_and_relays_posts() -> None:
    client = app.test_client()
    await log_in(client)
    async with client.websocket("/ws") as first, client.websocket("/ws") as second:
        assert await first.receive_json(timeout=5) == {"type": "hello", "user": "ann"}
        assert await second.receive_json(timeout=5) == {"type": "hello", "user": "ann"}
        await second.send("  hello board  ")
        assert await first.receive_json(timeout=5) == {"type": "post", "user": "ann", "text": "hello board"}
        assert await second.receive_json(timeout=5) == {"type": "post", "user": "ann", "text": "hello board"}
    assert board.posts == [{"user": "ann", "text": "hello board"}]


async def test_the_websocket_refuses_a_visitor_who_is_not_logged_in() -> None:
    async with app.test_client().websocket("/ws") as ws:
        with pytest.raises(WebsocketDisconnectError) as closed:
            await ws.receive(timeout=5)
    assert (closed.value.code, closed.value.reason) == (1008, "log in first")


def test_a_reader_that_fell_behind_gets_the_posts_still_kept() -> None:
    small = type(board)(keep=3)
    for number in range(5):
        small.add("ann", str(number))
    assert [post["text"] for post in small.since(0)] == ["2", "3", "4"]
    assert [post["text"] for post in small.since(4)] == ["4"]
    assert small.since(5) == []


async def test_a_post_made_between_the_page_and_its_websocket_is_not_lost() -> None:
    client = app.test_client()
    page = await log_in(client)
    seen = re.search(r'data-seen="(\d+)"', page)
    assert seen is not None, "the page says how many posts it shows, for its websocket"
    board.add("bob", "while the page loaded")
    async with client.websocket(f"/ws?seen={seen[1]}") as ws:
        assert await ws.receive_json(timeout=5) == {"type": "hello", "user": "ann"}
        assert await ws.receive_json(timeout=5) == {"type": "post", "user": "bob", "text": "while the page loaded"}


@pytest.mark.parametrize("seen", ["", "-1", "7", "x"])
async def test_a_websocket_with_a_bad_count_starts_from_now(seen: str) -> None:
    client = app.test_client()
    await log_in(client)
    board.add("bob", "old")
    async with client.websocket(f"/ws?seen={seen}") as ws:
        assert await ws.receive_json(timeout=5) == {"type": "hello", "user": "ann"}
        board.add("bob", "new")
        assert await ws.receive_json(timeout=5) == {"type": "post", "user": "bob", "text": "new"}
