"""The samples of docs/coming-from.md, run."""

from __future__ import annotations

from tests.docs_samples import load

TESTED = {"blueprint", "route_table"}


async def test_blueprint() -> None:
    client = load("coming-from", "blueprint").app.test_client()
    anonymous = await client.get("/api/notes/1")
    assert (anonymous.status_code, await anonymous.get_json()) == (401, {"error": "who are you?"})
    note = await client.get("/api/notes/1", headers={"X-User": "ann"})
    assert await note.get_json() == {"text": "buy milk", "for": "ann", "self": "/api/notes/1"}
    missing = await client.get("/api/notes/2", headers={"X-User": "ann"})
    assert (missing.status_code, await missing.get_json()) == (404, {"error": "no such note"})
    assert (await client.get("/notes/1", headers={"X-User": "ann"})).status_code == 404  # only under /api


async def test_route_table() -> None:
    client = load("coming-from", "route_table").app.test_client()
    assert await (await client.get("/")).get_data() == b"home"
    assert await (await client.get("/users/ann")).get_json() == {"user": "ann"}
    upload = await client.post("/upload", data=b"12345")
    assert (upload.status_code, upload.mimetype, await upload.get_data()) == (201, "text/plain", b"5 bytes")
    assert (await client.get("/upload")).status_code == 405
