"""The samples of docs/tutorial.md, run; the tutorial's own tests run as tests of the suite."""

from __future__ import annotations

import pytest

from tests.docs_samples import load, sample_tests
from trioweb.testing import WebsocketDisconnectError

TESTED = {"hello", "routes", "books", "countdown", "test_tutorial"}

globals().update(sample_tests(load("tutorial", "test_tutorial")))


async def test_hello() -> None:
    response = await load("tutorial", "hello").app.test_client().get("/")
    assert await response.get_data(as_text=True) == "Hello, world!"


async def test_routes() -> None:
    client = load("tutorial", "routes").app.test_client()
    assert await (await client.get("/books/2")).get_data(as_text=True) == "Solaris"
    assert (await client.get("/books/3")).status_code == 404
    assert (await client.get("/books/two")).status_code == 404  # <int:...> takes digits only
    assert await (await client.get("/search", query_string={"q": "the DIS"})).get_data() == b"The Dispossessed"
    assert await (await client.get("/search", query_string={"q": "nothing"})).get_data() == b""
    moved = await client.get("/first")
    assert (moved.status_code, moved.headers["Location"]) == (302, "/books/1")
    hello = await client.get("/hello/ann")
    assert (hello.status_code, await hello.get_data()) == (200, b"Hello, ann.")
    met = await client.post("/hello/ann")
    assert (met.status_code, await met.get_data()) == (201, b"Nice to meet you, ann.")
    assert (await client.delete("/hello/ann")).status_code == 405


async def test_books() -> None:
    client = load("tutorial", "books").app.test_client()
    assert await (await client.get("/books")).get_json() == []
    for title, number in (("Kindred", 1), ("Parable of the Sower", 2)):
        response = await client.post("/books", json={"title": title})
        assert (response.status_code, await response.get_json()) == (201, {"id": number, "title": title})
    assert [book["title"] for book in await (await client.get("/books")).get_json()] == [
        "Kindred",
        "Parable of the Sower",
    ]
    assert (await client.get("/books/3")).status_code == 404
    not_json = await client.post("/books", data=b"Kindred", headers={"Content-Type": "application/json"})
    assert not_json.status_code == 400
    assert (await client.post("/books", json=["Kindred"])).status_code == 400


async def test_countdown_refuses_what_is_not_a_number() -> None:
    async with load("tutorial", "countdown").app.test_client().websocket("/countdown") as ws:
        await ws.send("soon")
        with pytest.raises(WebsocketDisconnectError) as closed:
            await ws.receive(timeout=5)
    assert (closed.value.code, closed.value.reason) == (1003, "send a whole number")
