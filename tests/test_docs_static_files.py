"""The samples of docs/static-files.md, run: on the test client, and on a real socket on both servers."""

from __future__ import annotations

import httpx
import pytest

from tests.docs_samples import EXAMPLES, load
from trioweb import App

TESTED = {"site", "admin", "caching"}
FOLDER = EXAMPLES / "static-files"


@pytest.fixture
def app() -> App:
    """The site sample, which ``live_server`` serves."""
    sample: App = load("static-files", "site").app
    return sample


async def test_the_page_links_the_stylesheet_it_serves(app: App) -> None:
    client = app.test_client()
    page = await (await client.get("/")).get_data(as_text=True)
    assert 'href="/static/css/site.css"' in page
    css = await client.get("/static/css/site.css")
    assert (css.status_code, css.mimetype) == (200, "text/css")
    assert await css.get_data() == (FOLDER / "static" / "css" / "site.css").read_bytes()
    again = await client.get("/static/css/site.css", headers={"If-None-Match": css.headers["ETag"]})
    assert again.status_code == 304
    assert (await client.get("/static/../site.py")).status_code == 404


async def test_the_site_on_a_real_socket(app: App, live_server: str) -> None:
    async with httpx.AsyncClient(base_url=f"http://{live_server}") as client:
        css = await client.get("/static/css/site.css")
        assert (css.status_code, css.headers["cache-control"]) == (200, "no-cache")
        assert css.content == (FOLDER / "static" / "css" / "site.css").read_bytes()
        since = await client.get("/static/css/site.css", headers={"If-Modified-Since": css.headers["last-modified"]})
        assert since.status_code == 304


async def test_the_blueprints_assets_are_under_its_prefix() -> None:
    app = load("static-files", "admin").app
    client = app.test_client()
    page = await (await client.get("/admin/")).get_data(as_text=True)
    assert 'href="/admin/assets/admin.css"' in page
    css = await client.get("/admin/assets/admin.css")
    assert await css.get_data() == (FOLDER / "admin" / "static" / "admin.css").read_bytes()
    assert (await client.get("/static/css/site.css")).status_code == 200  # the app's own folder too


async def test_fingerprinted_files_are_cached_for_a_year_the_rest_ten_minutes() -> None:
    app = load("static-files", "caching").app
    client = app.test_client()
    script = await client.get("/static/app.v3f9a.js")
    assert set(script.headers["Cache-Control"].split(", ")) == {"public", "max-age=31536000"}
    css = await client.get("/static/css/site.css")
    assert set(css.headers["Cache-Control"].split(", ")) == {"public", "max-age=600"}
