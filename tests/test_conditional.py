"""Conditional and partial responses on any response: preconditions (304, 412) and ranges (206, 416)."""

from __future__ import annotations

import email
import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from werkzeug.exceptions import RequestedRangeNotSatisfiable

from trioweb import App, Response, request, send_file
from trioweb.files import SMALL_FILE_SIZE

BODY = b"0123456789abcdefghijklmnopqrstuvwxyz"  # 36 bytes
LAST_MODIFIED = "Wed, 21 Oct 2026 07:28:00 GMT"


@pytest.fixture
def app() -> App:
    """``/`` answers BODY with an ETag and a Last-Modified, made conditional with ranges."""
    app = App(__name__)

    @app.get("/")
    async def index() -> Response:
        response = Response(BODY, mimetype="text/plain")
        await response.add_etag()
        response.headers["Last-Modified"] = LAST_MODIFIED
        return await response.make_conditional(request, accept_ranges=True)

    return app


async def etag_of(app: App) -> str:
    return (await app.test_client().get("/")).headers["ETag"]


async def get(app: App, **headers: str) -> Response:
    return await app.test_client().get("/", headers={name.replace("_", "-"): value for name, value in headers.items()})


async def test_a_plain_get_is_200_with_accept_ranges_and_an_etag(app: App) -> None:
    response = await get(app)
    assert (response.status_code, await response.get_data()) == (200, BODY)
    assert response.headers["Accept-Ranges"] == "bytes"
    assert response.headers["ETag"].startswith('"') and len(response.headers["ETag"]) > 10


async def test_if_none_match_with_the_etag_is_304_without_a_body(app: App) -> None:
    etag = await etag_of(app)
    for value in (etag, f'"other", {etag}', f"W/{etag}", "*"):
        response = await get(app, If_None_Match=value)
        assert response.status_code == 304, value
        assert await response.get_data() == b""
        assert "Content-Length" not in response.headers and "Content-Type" not in response.headers
        assert response.headers["ETag"] == etag
    assert (await get(app, If_None_Match='"other"')).status_code == 200


async def test_if_modified_since_is_304_when_not_newer(app: App) -> None:
    assert (await get(app, If_Modified_Since=LAST_MODIFIED)).status_code == 304
    assert (await get(app, If_Modified_Since="Thu, 22 Oct 2026 00:00:00 GMT")).status_code == 304
    assert (await get(app, If_Modified_Since="Tue, 20 Oct 2026 00:00:00 GMT")).status_code == 200
    assert (await get(app, If_Modified_Since="not a date")).status_code == 200


async def test_if_none_match_wins_over_if_modified_since(app: App) -> None:
    """RFC 9110 13.1.3: with If-None-Match, If-Modified-Since is not looked at."""
    response = await get(app, If_None_Match='"other"', If_Modified_Since=LAST_MODIFIED)
    assert response.status_code == 200


async def test_if_match_that_fails_is_412(app: App) -> None:
    etag = await etag_of(app)
    failed = await get(app, If_Match='"other"')
    assert (failed.status_code, await failed.get_data()) == (412, b"")
    assert (await get(app, If_Match=etag)).status_code == 200
    assert (await get(app, If_Match="*")).status_code == 200
    # If-Match compares strongly: a weak tag never matches.
    assert (await get(app, If_Match=f"W/{etag}")).status_code == 412


async def test_if_unmodified_since_that_fails_is_412(app: App) -> None:
    assert (await get(app, If_Unmodified_Since="Tue, 20 Oct 2026 00:00:00 GMT")).status_code == 412
    assert (await get(app, If_Unmodified_Since=LAST_MODIFIED)).status_code == 200
    assert (await get(app, If_Unmodified_Since="garbage")).status_code == 200


async def test_a_range_is_206_with_content_range(app: App) -> None:
    for value, part, content_range in (
        ("bytes=0-9", BODY[:10], "bytes 0-9/36"),
        ("bytes=30-", BODY[30:], "bytes 30-35/36"),
        ("bytes=-4", BODY[-4:], "bytes 32-35/36"),
        ("bytes=-100", BODY, "bytes 0-35/36"),  # a suffix longer than the body is all of it
        ("bytes=20-1000", BODY[20:], "bytes 20-35/36"),
    ):
        response = await get(app, Range=value)
        assert response.status_code == 206, value
        assert await response.get_data() == part
        assert response.headers["Content-Range"] == content_range
        assert response.headers["Content-Length"] == str(len(part))


def parse_multipart(response: Response, body: bytes) -> list[tuple[str, str, bytes]]:
    """The (Content-Type, Content-Range, payload) of each part of a multipart/byteranges body."""
    message = email.message_from_bytes(f"Content-Type: {response.headers['Content-Type']}\r\n\r\n".encode() + body)
    assert message.is_multipart()
    parts = message.get_payload()
    assert isinstance(parts, list)
    return [(part["Content-Type"], part["Content-Range"], part.get_payload(decode=True)) for part in parts]


async def test_several_ranges_are_multipart_byteranges(app: App) -> None:
    response = await get(app, Range="bytes=0-1, 10-12, -2")
    assert response.status_code == 206
    assert response.mimetype == "multipart/byteranges"
    body = await response.get_data()
    assert response.headers["Content-Length"] == str(len(body))
    assert "Content-Range" not in response.headers
    assert parse_multipart(response, body) == [
        ("text/plain; charset=utf-8", "bytes 0-1/36", b"01"),
        ("text/plain; charset=utf-8", "bytes 10-12/36", b"abc"),
        ("text/plain; charset=utf-8", "bytes 34-35/36", b"yz"),
    ]


async def test_of_several_ranges_only_the_satisfiable_ones_are_sent(app: App) -> None:
    response = await get(app, Range="bytes=2-3, 500-600")
    assert (response.status_code, await response.get_data()) == (206, b"23")
    assert response.headers["Content-Range"] == "bytes 2-3/36"


async def test_a_range_past_the_end_is_416_with_the_length(app: App) -> None:
    for value in ("bytes=36-", "bytes=100-200", "bytes=36-40, 50-"):
        response = await get(app, Range=value)
        assert response.status_code == 416, value
        assert response.headers["Content-Range"] == "bytes */36"


@pytest.mark.parametrize(
    "value",
    [
        "bytes=",
        "bytes=abc",
        "bytes=5-2",
        "bytes=0-1,0-1",
        "bytes=5-6,0-1",  # out of order
        "bytes=-0",
        "items=0-1",
        "0-1",
        "bytes=--1",
        "bytes=1-2-3",
    ],
)
async def test_a_malformed_or_foreign_range_is_ignored(app: App, value: str) -> None:
    response = await get(app, Range=value)
    assert (response.status_code, await response.get_data()) == (200, BODY)


async def test_a_range_of_an_empty_file_is_ignored(tmp_path: Path) -> None:
    (tmp_path / "empty.txt").write_bytes(b"")
    app = App(__name__, root_path=str(tmp_path))

    @app.get("/")
    async def empty() -> Response:
        return await send_file("empty.txt")

    response = await app.test_client().get("/", headers={"Range": "bytes=0-"})
    assert (response.status_code, response.headers["Content-Length"], await response.get_data()) == (200, "0", b"")


async def test_if_range_with_the_current_etag_or_date_allows_the_range(app: App) -> None:
    etag = await etag_of(app)
    assert (await get(app, Range="bytes=0-0", If_Range=etag)).status_code == 206
    assert (await get(app, Range="bytes=0-0", If_Range=LAST_MODIFIED)).status_code == 206


async def test_if_range_with_another_version_sends_everything(app: App) -> None:
    etag = await etag_of(app)
    for value in ('"old"', f"W/{etag}", "Thu, 22 Oct 2026 00:00:00 GMT", "nonsense"):
        response = await get(app, Range="bytes=0-0", If_Range=value)
        assert (response.status_code, await response.get_data()) == (200, BODY), value


async def test_a_precondition_comes_before_the_range(app: App) -> None:
    etag = await etag_of(app)
    assert (await get(app, Range="bytes=0-0", If_None_Match=etag)).status_code == 304
    assert (await get(app, Range="bytes=999-", If_Match='"other"')).status_code == 412


async def test_head_and_post_ignore_the_range(app: App) -> None:
    head = await app.test_client().head("/", headers={"Range": "bytes=0-1"})
    assert (head.status_code, head.headers["Content-Length"]) == (200, "36")

    @app.post("/post")
    async def post() -> Response:
        return await Response(BODY).make_conditional(request, accept_ranges=True)

    posted = await app.test_client().post("/post", headers={"Range": "bytes=0-1", "If-Match": '"x"'})
    assert (posted.status_code, await posted.get_data()) == (200, BODY)


async def test_without_accept_ranges_a_range_is_ignored() -> None:
    app = App(__name__)

    @app.get("/")
    async def index() -> Response:
        return await Response(BODY).make_conditional(request)

    response = await app.test_client().get("/", headers={"Range": "bytes=0-1"})
    assert (response.status_code, await response.get_data()) == (200, BODY)
    assert "Accept-Ranges" not in response.headers


async def test_an_error_response_is_not_made_conditional() -> None:
    app = App(__name__)

    @app.get("/")
    async def index() -> Response:
        response = Response("gone", 404)
        response.set_etag("e")
        return await response.make_conditional(request, accept_ranges=True)

    response = await app.test_client().get("/", headers={"If-None-Match": '"e"', "Range": "bytes=0-0"})
    assert (response.status_code, await response.get_data()) == (404, b"gone")


async def test_a_streamed_body_is_sent_whole_for_a_range_but_304_works() -> None:
    app = App(__name__)

    async def stream() -> AsyncIterator[bytes]:
        yield b"abc"
        yield b"def"

    @app.get("/")
    async def index() -> Response:
        response = Response(stream())
        response.set_etag("s")
        return await response.make_conditional(request, accept_ranges=True)

    client = app.test_client()
    whole = await client.get("/", headers={"Range": "bytes=0-1"})
    assert (whole.status_code, await whole.get_data()) == (200, b"abcdef")
    assert (await client.get("/", headers={"If-None-Match": '"s"'})).status_code == 304


async def test_add_etag_keeps_an_etag_unless_told_and_can_be_weak() -> None:
    response = Response(b"data")
    response.set_etag("mine")
    await response.add_etag()
    assert response.headers["ETag"] == '"mine"'
    await response.add_etag(overwrite=True, weak=True)
    assert response.headers["ETag"].startswith('W/"') and response.headers["ETag"] != 'W/"mine"'


async def test_add_etag_reads_a_stream_whole() -> None:
    async def stream() -> AsyncIterator[bytes]:
        yield b"da"
        yield b"ta"

    streamed = Response(stream())
    await streamed.add_etag()
    plain = Response(b"data")
    await plain.add_etag()
    assert streamed.headers["ETag"] == plain.headers["ETag"]


async def test_a_files_range_is_read_from_its_offset(tmp_path: Path) -> None:
    data = bytes(range(256)) * (SMALL_FILE_SIZE // 64)  # large enough to stay a FileBody
    (tmp_path / "data.bin").write_bytes(data)
    app = App(__name__, root_path=str(tmp_path))

    @app.get("/")
    async def index() -> Response:
        return await send_file("data.bin")

    client = app.test_client()
    middle = await client.get("/", headers={"Range": f"bytes={len(data) // 2}-{len(data) // 2 + 9}"})
    assert await middle.get_data() == data[len(data) // 2 : len(data) // 2 + 10]
    several = await client.get("/", headers={"Range": "bytes=0-2,-3"})
    parts = parse_multipart(several, await several.get_data())
    assert [payload for _, _, payload in parts] == [data[:3], data[-3:]]
    assert parts[0][0] == "application/octet-stream"
    past = await client.get("/", headers={"Range": f"bytes={len(data)}-"})
    assert (past.status_code, past.headers["Content-Range"]) == (416, f"bytes */{len(data)}")


async def test_a_416_goes_through_the_error_handlers() -> None:
    app = App(__name__)

    @app.errorhandler(RequestedRangeNotSatisfiable)
    async def range_error(error: RequestedRangeNotSatisfiable) -> tuple[dict[str, int], int]:
        return {"length": error.length or 0}, 416

    @app.get("/")
    async def index() -> Response:
        return await Response(BODY).make_conditional(request, accept_ranges=True)

    response = await app.test_client().get("/", headers={"Range": "bytes=99-"})
    assert (response.status_code, await response.get_json()) == (416, {"length": 36})


class RecordingReader(io.BufferedReader):
    """A file without a descriptor that records where it is read, and how much."""

    def __init__(self, data: bytes) -> None:
        super().__init__(io.BytesIO(data))  # type: ignore[arg-type]
        self.reads: list[tuple[int, int]] = []

    def read(self, size: int | None = -1) -> bytes:
        position = self.tell()
        data = super().read(size)
        self.reads.append((position, len(data)))
        return data


async def test_a_range_is_read_from_its_offset_not_from_the_start() -> None:
    data = bytes(range(256)) * 8192  # 2 MiB
    files: list[RecordingReader] = []
    app = App(__name__)

    @app.get("/")
    async def index() -> Response:
        files.append(RecordingReader(data))
        return await send_file(files[-1], mimetype="application/octet-stream")

    response = await app.test_client().get("/", headers={"Range": "bytes=1500000-1500009"})
    assert (response.status_code, await response.get_data()) == (206, data[1500000:1500010])
    assert files[0].reads == [(1500000, 10)]
    several = await app.test_client().get("/", headers={"Range": "bytes=100-101,2000000-2000001"})
    assert several.status_code == 206
    assert files[1].reads == [(100, 2), (2000000, 2)]
