"""The samples of docs/tutorial.md, run; the tutorial's own tests run as tests of the suite."""

from __future__ import annotations

import io
from pathlib import Path
from types import ModuleType

import httpx
import pytest

from tests.conftest import running
from tests.docs_samples import load, sample_tests
from trioweb.datastructures import FileStorage
from trioweb.testing import WebsocketDisconnectError

TESTED = {"hello", "routes", "books", "countdown", "uploads", "login", "test_tutorial"}

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


@pytest.fixture
def uploads(tmp_path: Path) -> ModuleType:
    sample = load("tutorial", "uploads")
    sample.app.config["UPLOAD_FOLDER"] = str(tmp_path / "covers")
    return sample


def cover(data: bytes, filename: str) -> FileStorage:
    return FileStorage(io.BytesIO(data), filename=filename, content_type="image/png")


async def test_uploads_saves_the_cover_under_a_safe_name(uploads: ModuleType, tmp_path: Path) -> None:
    client = uploads.app.test_client()
    assert 'enctype="multipart/form-data"' in await (await client.get("/covers")).get_data(as_text=True)
    response = await client.post("/covers", form={"title": "Kindred"}, files={"cover": cover(b"png 1", "k.png")})
    assert (response.status_code, await response.get_json()) == (201, {"title": "Kindred", "file": "k.png"})
    assert (tmp_path / "covers" / "k.png").read_bytes() == b"png 1"
    sneaky = await client.post("/covers", files={"cover": cover(b"png 2", "../../etc/passwd")})
    assert await sneaky.get_json() == {"title": "", "file": "etc_passwd"}
    assert (tmp_path / "covers" / "etc_passwd").read_bytes() == b"png 2"


async def test_uploads_refuses_a_missing_file_or_name_and_holds_to_its_limits(uploads: ModuleType) -> None:
    client = uploads.app.test_client()
    assert (await client.post("/covers", form={"title": "no cover"})).status_code == 400
    assert (await client.post("/covers", files={"cover": cover(b"x", "..")})).status_code == 400
    long_title = await client.post("/covers", form={"title": "x" * 1001}, files={"cover": cover(b"x", "a.png")})
    assert long_title.status_code == 413
    assert "MAX_FORM_MEMORY_SIZE" in await long_title.get_data(as_text=True)
    fields = {f"field{number}": "x" for number in range(5)}
    too_many = await client.post("/covers", form=fields, files={"cover": cover(b"x", "a.png")})
    assert too_many.status_code == 413
    assert "MAX_FORM_PARTS" in await too_many.get_data(as_text=True)
    too_big = await client.post("/covers", files={"cover": cover(b"x" * (8 * 1024 * 1024), "a.png")})
    assert too_big.status_code == 413


async def test_uploads_from_a_real_client(uploads: ModuleType, tmp_path: Path, server_kind: str) -> None:
    image = bytes(range(256)) * 4096  # 1 MiB: past the 500 kB kept in memory
    async with (
        running(uploads.app, server_kind) as server,
        httpx.AsyncClient(base_url=f"http://{server.address}", timeout=10) as client,
    ):
        response = await client.post(
            "/covers", data={"title": "Kindred"}, files={"cover": ("my cover.png", image, "image/png")}
        )
    assert (response.status_code, response.json()) == (201, {"title": "Kindred", "file": "my_cover.png"})
    assert (tmp_path / "covers" / "my_cover.png").read_bytes() == image


async def test_login_escapes_the_name_and_shows_the_flash_once() -> None:
    client = load("tutorial", "login").app.test_client()
    refused = await client.post("/login", form={"name": "<b>eve</b>", "password": "x"})
    assert "Wrong name or password." in await refused.get_data(as_text=True)
    async with client.session_transaction() as session:
        session["user"] = "<b>eve</b>"
    page = await (await client.get("/")).get_data(as_text=True)
    assert "You are logged in as &lt;b&gt;eve&lt;/b&gt;." in page
    assert "Wrong name or password." not in page  # the flash was shown on the login page already


async def test_login_over_a_real_socket_keeps_the_browser_logged_in(server_kind: str) -> None:
    app = load("tutorial", "login").app
    async with (
        running(app, server_kind) as server,
        httpx.AsyncClient(base_url=f"http://{server.address}", timeout=10, follow_redirects=True) as client,
    ):
        response = await client.post("/login", data={"name": "ann", "password": "correct horse"})
        assert "You are logged in as ann." in response.text
        assert "Hello, ann!" in response.text
        assert "You are logged in as ann." in (await client.get("/")).text
        tampered = client.cookies["session"][:-2] + "xx"
        client.cookies.clear()
        client.cookies.set("session", tampered)  # a tampered cookie is an empty session: logged out
        assert "Log in" in (await client.get("/")).text
