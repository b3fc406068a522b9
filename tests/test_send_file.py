"""send_file and send_from_directory through the test client: Flask's and Quart's arguments and headers."""

from __future__ import annotations

import io
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import pytest
import trio

from tests.conftest import no_file_left_to_the_collector
from trioweb import App, Response, request, send_file, send_from_directory
from trioweb.files import SMALL_FILE_SIZE, FileBody, Opened, open_in_thread

BIG = SMALL_FILE_SIZE * 3 + 12345  # read in chunks, not whole


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "report.pdf").write_bytes(b"%PDF-1.4 tiny")
    (tmp_path / "files" / "notes.txt").write_text("notes\n")
    (tmp_path / "files" / "archive.tar.gz").write_bytes(b"\x1f\x8b not really")
    (tmp_path / "files" / "big.bin").write_bytes(os.urandom(BIG))
    return tmp_path


@pytest.fixture
def app(folder: Path) -> App:
    return App(__name__, root_path=str(folder))


def route(app: App, make: Any) -> None:
    """``/`` answers with ``await make()``."""

    @app.get("/")
    async def view() -> Response:
        result: Response = await make()
        return result


async def get(app: App, **kwargs: Any) -> Response:
    return await app.test_client().get("/", **kwargs)


async def test_a_path_is_relative_to_the_root_path_and_its_type_guessed(app: App) -> None:
    route(app, lambda: send_file("files/report.pdf"))
    response = await get(app)
    assert (response.status_code, response.mimetype) == (200, "application/pdf")
    assert await response.get_data() == b"%PDF-1.4 tiny"
    assert response.headers["Content-Disposition"] == "inline; filename=report.pdf"
    assert response.headers["Content-Length"] == "13"


async def test_a_text_file_gets_a_charset(app: App) -> None:
    route(app, lambda: send_file("files/notes.txt"))
    assert (await get(app)).headers["Content-Type"] == "text/plain; charset=utf-8"


async def test_an_absolute_path_is_used_as_it_is(app: App, folder: Path) -> None:
    route(app, lambda: send_file(folder / "files" / "notes.txt"))
    assert await (await get(app)).get_data() == b"notes\n"


async def test_a_large_file_is_sent_whole_in_chunks(app: App, folder: Path) -> None:
    seen: list[object] = []

    async def make() -> Response:
        response = await send_file("files/big.bin")
        seen.append(response.body)
        return response

    route(app, make)
    response = await get(app)
    assert await response.get_data() == (folder / "files" / "big.bin").read_bytes()
    assert isinstance(seen[0], FileBody)
    assert response.headers["Content-Length"] == str(BIG)


async def test_as_attachment_uses_the_download_name_with_rfc_6266_quoting(app: App) -> None:
    route(app, lambda: send_file("files/report.pdf", as_attachment=True, download_name="Résumé 2026.pdf"))
    response = await get(app)
    assert response.headers["Content-Disposition"] == (
        "attachment; filename=\"Resume 2026.pdf\"; filename*=UTF-8''R%C3%A9sum%C3%A9%202026.pdf"
    )
    assert response.mimetype == "application/pdf"


async def test_an_ascii_download_name_is_a_plain_filename(app: App) -> None:
    route(app, lambda: send_file("files/report.pdf", as_attachment=True, download_name="q3.pdf"))
    assert (await get(app)).headers["Content-Disposition"] == "attachment; filename=q3.pdf"


async def test_a_name_with_a_newline_cannot_break_the_head(app: App, folder: Path) -> None:
    """A control character cannot go in a header (h11 would drop the connection): it goes in filename*."""
    route(app, lambda: send_file(b"x", mimetype="text/plain", as_attachment=True, download_name="a\r\nSet-Cookie: x=1"))
    response = await get(app)
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    assert response.headers["Content-Disposition"] == (
        "attachment; filename=\"aSet-Cookie: x=1\"; filename*=UTF-8''a%0D%0ASet-Cookie%3A%20x%3D1"
    )
    (folder / "files" / "two\nlines.txt").write_text("both")

    @app.get("/lines")
    async def lines() -> Response:
        return await send_file("files/two\nlines.txt")

    served = await app.test_client().get("/lines")
    assert (served.status_code, await served.get_data()) == (200, b"both")
    assert served.headers["Content-Disposition"] == "inline; filename=twolines.txt; filename*=UTF-8''two%0Alines.txt"


async def test_a_compressed_file_says_its_encoding_inline_but_not_as_an_attachment(app: App) -> None:
    route(app, lambda: send_file("files/archive.tar.gz"))
    response = await get(app)
    assert (response.mimetype, response.headers["Content-Encoding"]) == ("application/x-tar", "gzip")
    app2 = App(__name__, root_path=app.root_path)
    route(app2, lambda: send_file("files/archive.tar.gz", as_attachment=True))
    assert "Content-Encoding" not in (await get(app2)).headers


async def test_bytes_are_sent_with_a_mimetype(app: App) -> None:
    route(app, lambda: send_file(b"a,b\n1,2\n", mimetype="text/csv", download_name="t.csv", as_attachment=True))
    response = await get(app)
    assert await response.get_data() == b"a,b\n1,2\n"
    assert response.headers["Content-Disposition"] == "attachment; filename=t.csv"
    assert "ETag" not in response.headers  # no path to make one from, as in werkzeug


async def test_a_bytesio_is_sent_from_its_position_and_ranges_work(app: App) -> None:
    def make() -> Any:
        buffer = io.BytesIO(b"skip:0123456789")
        buffer.seek(5)
        return send_file(buffer, download_name="digits.txt")

    route(app, make)
    assert await (await get(app)).get_data() == b"0123456789"
    partial = await get(app, headers={"Range": "bytes=2-4"})
    assert (partial.status_code, await partial.get_data()) == (206, b"234")
    assert partial.headers["Content-Range"] == "bytes 2-4/10"


async def test_an_open_file_is_sent_from_its_position_and_closed(app: App, folder: Path) -> None:
    opened: list[IO[bytes]] = []

    def make() -> Any:
        file = (folder / "files" / "big.bin").open("rb")
        file.seek(100)
        opened.append(file)
        return send_file(file, mimetype="application/octet-stream")

    route(app, make)
    response = await get(app)
    assert await response.get_data() == (folder / "files" / "big.bin").read_bytes()[100:]
    assert response.headers["Content-Length"] == str(BIG - 100)
    assert opened[0].closed


async def test_a_file_object_without_a_name_needs_a_mimetype(app: App, caplog: pytest.LogCaptureFixture) -> None:
    route(app, lambda: send_file(io.BytesIO(b"x")))
    assert (await get(app)).status_code == 500
    assert "cannot guess the MIME type" in caplog.text


async def test_an_attachment_needs_a_name(app: App, caplog: pytest.LogCaptureFixture) -> None:
    route(app, lambda: send_file(io.BytesIO(b"x"), mimetype="text/plain", as_attachment=True))
    assert (await get(app)).status_code == 500
    assert "needs a name" in caplog.text


async def test_a_text_mode_file_is_refused(app: App, folder: Path, caplog: pytest.LogCaptureFixture) -> None:
    route(app, lambda: send_file(io.StringIO("text"), mimetype="text/plain"))
    assert (await get(app)).status_code == 500
    assert "binary mode" in caplog.text


async def test_etag_and_last_modified_can_be_given_or_left_out(app: App) -> None:
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    route(app, lambda: send_file("files/notes.txt", etag="v7", last_modified=moment))
    response = await get(app)
    assert (response.headers["ETag"], response.headers["Last-Modified"]) == ('"v7"', "Fri, 02 Jan 2026 03:04:05 GMT")
    app2 = App(__name__, root_path=app.root_path)
    route(app2, lambda: send_file("files/notes.txt", etag=False))
    assert "ETag" not in (await get(app2)).headers


async def test_max_age_is_seconds_or_a_function_of_the_path(app: App) -> None:
    route(app, lambda: send_file("files/notes.txt", max_age=60))
    assert set((await get(app)).headers["Cache-Control"].split(", ")) == {"public", "max-age=60"}
    paths: list[str | None] = []

    def by_path(path: str | None) -> int:
        paths.append(path)
        return 5

    app2 = App(__name__, root_path=app.root_path)
    route(app2, lambda: send_file("files/notes.txt", max_age=by_path))
    assert "max-age=5" in (await get(app2)).headers["Cache-Control"]
    assert paths == [os.path.join(app.root_path, "files/notes.txt")]


async def test_conditional_false_ignores_range_and_validators(app: App) -> None:
    route(app, lambda: send_file("files/notes.txt", conditional=False))
    response = await get(app, headers={"Range": "bytes=0-1", "If-None-Match": "*"})
    assert (response.status_code, await response.get_data()) == (200, b"notes\n")
    assert "Accept-Ranges" not in response.headers


async def test_a_missing_path_in_send_file_is_the_views_error(app: App, caplog: pytest.LogCaptureFixture) -> None:
    route(app, lambda: send_file("files/nope.txt"))
    assert (await get(app)).status_code == 500
    assert "FileNotFoundError" in caplog.text


async def test_send_from_directory_serves_inside_and_404s_outside(app: App) -> None:
    @app.get("/files/<path:name>")
    async def files(name: str) -> Response:
        return await send_from_directory("files", name, as_attachment=True)

    client = app.test_client()
    response = await client.get("/files/report.pdf")
    assert (response.status_code, response.headers["Content-Disposition"]) == (200, "attachment; filename=report.pdf")
    for target in ("/files/../files/report.pdf", "/files/nope", "/files/", "/files/%2e%2e/%2e%2e/etc/passwd"):
        missing = await client.get(target)
        assert missing.status_code == 404, target
        assert b"files" not in await missing.get_data()


async def test_send_from_directory_never_opens_a_file_outside(app: App, folder: Path) -> None:
    (folder / "outside.txt").write_text("outside")

    @app.get("/files")
    async def files() -> Response:
        return await send_from_directory(folder / "files", request.args["name"])

    for name in ("../outside.txt", "/etc/passwd", str(folder / "outside.txt"), "..\\outside.txt", "", "."):
        response = await app.test_client().get("/files", query_string={"name": name})
        assert response.status_code == 404, name


async def test_send_file_outside_a_view_says_what_it_needs() -> None:
    with pytest.raises(RuntimeError, match="needs the app"):
        await send_file(b"x", mimetype="text/plain")


async def test_files_opened_at_the_same_time_share_a_thread_call_and_keep_their_own_results(
    app: App, folder: Path
) -> None:
    @app.get("/files/<path:name>")
    async def files(name: str) -> Response:
        return await send_from_directory("files", name)

    names = ["notes.txt", "big.bin", "nope.txt", "report.pdf"] * 10
    results: dict[int, tuple[int, bytes]] = {}

    async def fetch(index: int, name: str) -> None:
        response = await app.test_client().get(f"/files/{name}")
        results[index] = (response.status_code, await response.get_data())

    async with trio.open_nursery() as nursery:
        for index, name in enumerate(names):
            nursery.start_soon(fetch, index, name)
    for index, name in enumerate(names):
        path = folder / "files" / name
        expected = (200, path.read_bytes()) if path.exists() else (404, results[index][1])
        assert results[index] == expected, name


async def test_a_request_cancelled_while_its_file_is_opened_has_the_file_closed(folder: Path) -> None:
    """The batch's leader closes the files of the requests that gave up: none is left to the collector."""
    path = str(folder / "files" / "big.bin")  # a large file: it stays open after the thread call
    opened: list[object] = []

    async def open_one(cancelled: bool) -> None:
        with trio.CancelScope() as scope:
            if cancelled:
                scope.cancel()
            opened.append(await open_in_thread(path))

    with no_file_left_to_the_collector():
        async with trio.open_nursery() as nursery:
            for index in range(12):
                nursery.start_soon(open_one, index % 3 != 0)
        for result in opened:
            assert isinstance(result, Opened) and result.file is not None
            result.file.close()
    assert 4 <= len(opened) <= 5  # the batch's leader returns its file even if cancelled meanwhile


async def test_a_misspelt_argument_to_send_from_directory_is_a_type_error(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    route(app, lambda: send_from_directory("files", "notes.txt", download_nmae="x.txt"))
    assert (await get(app)).status_code == 500
    assert "TypeError" in caplog.text and "download_nmae" in caplog.text
