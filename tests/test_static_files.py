"""Static files: Flask's static folder and route on the app and on blueprints, through the test client."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest

from trioweb import App, Blueprint, url_for
from trioweb.wrappers.response import Response


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A project folder: ``static/`` with a stylesheet and a nested script, and a secret beside it."""
    (tmp_path / "static" / "js").mkdir(parents=True)
    (tmp_path / "static" / "style.css").write_text("body { color: teal }\n")
    (tmp_path / "static" / "js" / "app.js").write_text("console.log('hi')\n")
    (tmp_path / "secret.txt").write_text("the password\n")
    return tmp_path


@pytest.fixture
def app(site: Path) -> App:
    return App(__name__, root_path=str(site))


async def test_the_static_folder_is_served_under_static(app: App) -> None:
    response = await app.test_client().get("/static/style.css")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/css; charset=utf-8"
    assert await response.get_data() == b"body { color: teal }\n"
    nested = await app.test_client().get("/static/js/app.js")
    assert (nested.status_code, await nested.get_data()) == (200, b"console.log('hi')\n")


async def test_a_static_file_carries_its_validators_and_no_max_age_by_default(app: App) -> None:
    response = await app.test_client().get("/static/style.css")
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.headers["Accept-Ranges"] == "bytes"
    assert response.headers["ETag"].startswith('"')
    assert "Last-Modified" in response.headers
    again = await app.test_client().get("/static/style.css", headers={"If-None-Match": response.headers["ETag"]})
    assert (again.status_code, await again.get_data()) == (304, b"")


async def test_the_url_path_follows_the_folders_name_or_is_set(site: Path) -> None:
    (site / "assets").mkdir()
    (site / "assets" / "logo.svg").write_text("<svg/>")
    named = App(__name__, root_path=str(site), static_folder="assets")
    assert named.static_url_path == "/assets"
    assert (await named.test_client().get("/assets/logo.svg")).status_code == 200
    moved = App(__name__, root_path=str(site), static_folder="assets", static_url_path="/s/")
    assert moved.static_url_path == "/s"
    assert (await moved.test_client().get("/s/logo.svg")).status_code == 200
    at_root = App(__name__, root_path=str(site), static_folder="assets", static_url_path="")
    assert (await at_root.test_client().get("/logo.svg")).status_code == 200


async def test_without_a_static_folder_there_is_no_static_route(site: Path) -> None:
    app = App(__name__, root_path=str(site), static_folder=None)
    assert (app.static_folder, app.static_url_path, app.has_static_folder) == (None, None, False)
    assert "static" not in app.view_functions
    assert (await app.test_client().get("/static/style.css")).status_code == 404
    with pytest.raises(RuntimeError, match="static_folder must be set"):
        await app.send_static_file("style.css")


async def test_the_static_folder_is_absolute_under_the_root_path(app: App, site: Path) -> None:
    assert app.static_folder == os.path.join(str(site), "static")


async def test_url_for_static_builds_the_files_url(app: App) -> None:
    @app.get("/")
    async def index() -> str:
        return url_for("static", filename="js/app.js")

    assert await (await app.test_client().get("/")).get_data() == b"/static/js/app.js"


async def test_a_blueprints_static_folder_is_served_under_its_prefix(app: App, site: Path) -> None:
    (site / "admin_static").mkdir()
    (site / "admin_static" / "admin.css").write_text("h1 {}")
    admin = Blueprint("admin", __name__, static_folder="admin_static", url_prefix="/admin", root_path=str(site))

    @admin.get("/")
    async def home() -> str:
        return url_for(".static", filename="admin.css") + " " + url_for("admin.static", filename="admin.css")

    app.register_blueprint(admin)
    client = app.test_client()
    response = await client.get("/admin/admin_static/admin.css")
    assert (response.status_code, await response.get_data()) == (200, b"h1 {}")
    urls = await (await client.get("/admin/")).get_data()
    assert urls == b"/admin/admin_static/admin.css /admin/admin_static/admin.css"


async def test_a_blueprints_static_url_path_is_its_own(app: App, site: Path) -> None:
    admin = Blueprint(
        "admin", __name__, static_folder="static", static_url_path="/files", url_prefix="/admin", root_path=str(site)
    )
    app.register_blueprint(admin)
    assert (await app.test_client().get("/admin/files/style.css")).status_code == 200


async def test_a_blueprint_without_a_static_folder_adds_no_route(app: App) -> None:
    app.register_blueprint(Blueprint("plain", __name__, url_prefix="/plain"))
    assert "plain.static" not in app.view_functions


@pytest.mark.parametrize(
    "target",
    [
        "/static/missing.css",
        "/static/js",  # a directory
        "/static/js/",
        "/static/../secret.txt",
        "/static/%2e%2e/secret.txt",
        "/static/js/../../secret.txt",
        "/static/..%2fsecret.txt",
        "/static/%00style.css",
        "/static/" + "a" * 5000,
    ],
)
async def test_a_missing_file_a_directory_and_traversal_answer_404_without_the_path(app: App, target: str) -> None:
    response = await app.test_client().get(target)
    assert response.status_code == 404
    body = await response.get_data()
    assert b"secret" not in body and b"static" not in body and b"the password" not in body


async def test_a_fifo_in_the_static_folder_is_404_not_a_hang(app: App, site: Path) -> None:
    os.mkfifo(site / "static" / "pipe")
    assert (await app.test_client().get("/static/pipe")).status_code == 404


async def test_send_file_max_age_default_sets_the_cache_headers(app: App) -> None:
    app.config["SEND_FILE_MAX_AGE_DEFAULT"] = 3600
    response = await app.test_client().get("/static/style.css")
    assert set(response.headers["Cache-Control"].split(", ")) == {"public", "max-age=3600"}
    assert "Expires" in response.headers
    app.config["SEND_FILE_MAX_AGE_DEFAULT"] = timedelta(minutes=2)
    response = await app.test_client().get("/static/style.css")
    assert "max-age=120" in response.headers["Cache-Control"]
    app.config["SEND_FILE_MAX_AGE_DEFAULT"] = 0
    response = await app.test_client().get("/static/style.css")
    assert set(response.headers["Cache-Control"].split(", ")) == {"no-cache", "max-age=0"}


async def test_get_send_file_max_age_can_be_overridden_per_file(site: Path) -> None:
    class CachingApp(App):
        def get_send_file_max_age(self, filename: str | None) -> int | None:
            return 31536000 if filename and filename.endswith(".js") else None

    app = CachingApp(__name__, root_path=str(site))
    client = app.test_client()
    assert "max-age=31536000" in (await client.get("/static/js/app.js")).headers["Cache-Control"]
    assert (await client.get("/static/style.css")).headers["Cache-Control"] == "no-cache"


async def test_send_static_file_can_be_called_from_a_view(app: App) -> None:
    @app.get("/favicon.css")
    async def favicon() -> Response:
        return await app.send_static_file("style.css")

    response = await app.test_client().get("/favicon.css")
    assert (response.status_code, response.mimetype) == (200, "text/css")


async def test_head_of_a_static_file_has_its_length_and_no_body(app: App) -> None:
    response = await app.test_client().head("/static/style.css")
    assert response.status_code == 200
    assert response.headers["Content-Length"] == str(len("body { color: teal }\n"))
    assert await response.get_data() == b""
