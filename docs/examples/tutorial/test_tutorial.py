import trio
import trio.testing
from books import app as books_app
from countdown import app as countdown_app
from login import app as login_app


async def test_add_and_get_a_book() -> None:
    client = books_app.test_client()
    response = await client.post("/books", json={"title": "Kindred"})
    assert response.status_code == 201
    book = await response.get_json()
    assert book["title"] == "Kindred"
    response = await client.get(f"/books/{book['id']}")
    assert await response.get_json() == book


async def test_a_book_needs_a_title() -> None:
    response = await books_app.test_client().post("/books", json={"name": "Kindred"})
    assert response.status_code == 400


async def test_countdown(autojump_clock: trio.testing.MockClock) -> None:
    async with countdown_app.test_client().websocket("/countdown") as ws:
        start = trio.current_time()
        await ws.send("3")
        assert [await ws.receive() for _ in range(4)] == ["3", "2", "1", "liftoff"]
    assert trio.current_time() - start == 3  # three seconds, none of them waited for


async def test_log_in_and_out() -> None:
    client = login_app.test_client()  # it keeps cookies, as a browser does
    form = {"name": "ann", "password": "correct horse"}
    response = await client.post("/login", form=form, follow_redirects=True)
    page = await response.get_data(as_text=True)
    assert "Hello, ann!" in page
    assert "You are logged in as ann." in page
    response = await client.post("/logout", follow_redirects=True)
    assert "Log in" in await response.get_data(as_text=True)


async def test_a_wrong_password_is_refused() -> None:
    client = login_app.test_client()
    response = await client.post("/login", form={"name": "ann", "password": "guess"})
    assert "Wrong name or password." in await response.get_data(as_text=True)
    async with client.session_transaction() as session:
        assert "user" not in session
