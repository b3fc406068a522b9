"""The samples of docs/views.md, run: on the test client, and on a real socket on both servers."""

from __future__ import annotations

import httpx
import pytest

from tests.docs_samples import load
from trioweb import App

TESTED = {"method_view", "decorated_view"}


@pytest.fixture
def app() -> App:
    """The book API, which ``live_server`` serves (a fresh copy: its own BOOKS)."""
    sample: App = load("views", "method_view").app
    return sample


async def test_the_book_list_lists_and_adds_with_a_location(app: App) -> None:
    client = app.test_client()
    listed = await client.get("/books")
    assert await listed.get_json() == [{"id": 1, "title": "Kindred"}]
    added = await client.post("/books", json={"title": "Dawn"})
    assert (added.status_code, await added.get_json()) == (201, {"id": 2, "title": "Dawn"})
    assert added.headers["Location"] == "/books/2"
    assert len(await (await client.get("/books")).get_json()) == 2


async def test_one_book_is_read_patched_and_deleted(app: App) -> None:
    client = app.test_client()
    assert await (await client.get("/books/1")).get_json() == {"id": 1, "title": "Kindred"}
    patched = await client.patch("/books/1", json={"title": "Kindred (1979)"})
    assert (await patched.get_json())["title"] == "Kindred (1979)"
    assert (await client.delete("/books/1")).status_code == 204
    assert (await client.get("/books/1")).status_code == 404
    assert (await client.delete("/books/1")).status_code == 404


async def test_the_methods_come_from_the_class(app: App) -> None:
    client = app.test_client()
    refused = await client.delete("/books")
    assert refused.status_code == 405
    assert set(refused.headers["Allow"].split(", ")) == {"GET", "HEAD", "POST", "OPTIONS"}
    options = await client.options("/books/1")
    assert set(options.headers["Allow"].split(", ")) == {"GET", "HEAD", "PATCH", "DELETE", "OPTIONS"}


async def test_the_decorated_report_wants_its_key_and_is_under_the_blueprint() -> None:
    sample: App = load("views", "decorated_view").app
    client = sample.test_client()
    assert (await client.get("/reports/2024/monthly")).status_code == 401
    key = {"X-Api-Key": "s3cret"}
    monthly = await client.get("/reports/2024/monthly", headers=key)
    assert await monthly.get_json() == {"period": "month", "year": 2024}
    weekly = await client.get("/reports/2024/weekly", headers=key)
    assert await weekly.get_json() == {"period": "week", "year": 2024}
    assert (await client.post("/reports/2024/weekly", headers=key)).status_code == 405
    assert {"reports.monthly", "reports.weekly"} <= set(sample.view_functions)


async def test_the_book_api_on_a_real_socket(app: App, live_server: str) -> None:
    async with httpx.AsyncClient(base_url=f"http://{live_server}") as client:
        added = await client.post("/books", json={"title": "Dawn"})
        head = await client.head("/books/2")
        refused = await client.put("/books/2")
    assert (added.status_code, added.headers["Location"]) == (201, "/books/2")
    assert (head.status_code, head.headers["Content-Type"]) == (200, "application/json")
    assert refused.status_code == 405
