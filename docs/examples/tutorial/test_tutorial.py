import trio
import trio.testing
from books import app as books_app
from countdown import app as countdown_app


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
