"""The samples of docs/sending-files.md, run: on the test client, and on a real socket on both servers."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.docs_samples import EXAMPLES, load
from trioweb import App

TESTED = {"downloads", "generated", "conditional"}
REPORT = (EXAMPLES / "sending-files" / "reports" / "q3.csv").read_bytes()


@pytest.fixture
def app() -> App:
    """The downloads sample, which ``live_server`` serves."""
    sample: App = load("sending-files", "downloads").app
    return sample


async def test_a_report_downloads_and_nothing_outside_does(app: App) -> None:
    client = app.test_client()
    response = await client.get("/reports/q3.csv")
    assert (response.status_code, await response.get_data()) == (200, REPORT)
    assert response.headers["Content-Disposition"] == "attachment; filename=q3.csv"
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    for target in ("/reports/../downloads.py", "/reports/%2e%2e/downloads.py", "/reports/nope.csv", "/reports/"):
        missing = await client.get(target)
        assert missing.status_code == 404, target
        assert b"reports" not in await missing.get_data()


async def test_a_report_on_a_real_socket_with_a_range(app: App, live_server: str) -> None:
    async with httpx.AsyncClient(base_url=f"http://{live_server}") as client:
        response = await client.get("/reports/q3.csv")
        assert response.content == REPORT
        part = await client.get("/reports/q3.csv", headers={"Range": "bytes=0-6"})
        assert (part.status_code, part.content, part.headers["content-range"]) == (
            206,
            REPORT[:7],
            f"bytes 0-6/{len(REPORT)}",
        )
        unchanged = await client.get("/reports/q3.csv", headers={"If-None-Match": response.headers["etag"]})
        assert unchanged.status_code == 304


async def test_the_export_is_a_csv_attachment_with_its_unicode_name() -> None:
    app = load("sending-files", "generated").app
    response = await app.test_client().get("/export")
    assert await response.get_data() == b"quarter,revenue\r\nQ1,900\r\nQ2,1100\r\nQ3,1200\r\n"
    assert response.headers["Content-Disposition"] == (
        "attachment; filename=\"Umsatze 2026.csv\"; filename*=UTF-8''Ums%C3%A4tze%202026.csv"
    )


async def test_the_catalogue_answers_304_to_a_client_that_has_it() -> None:
    app = load("sending-files", "conditional").app
    client = app.test_client()
    first = await client.get("/catalogue")
    assert json.loads(await first.get_data()) == {"books": ["Kindred", "Parable of the Sower"]}
    again = await client.get("/catalogue", headers={"If-None-Match": first.headers["ETag"]})
    assert (again.status_code, await again.get_data()) == (304, b"")
    part = await client.get("/catalogue", headers={"Range": "bytes=0-8"})
    assert (part.status_code, await part.get_data()) == (206, b'{"books":')
