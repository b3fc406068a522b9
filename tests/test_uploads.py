"""Uploaded files: ``await file.save(...)``, spooling to disk, and the form limits, on every server."""

from __future__ import annotations

import gc
import io
import tempfile
import threading
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
import trio
import trio.testing
from werkzeug.datastructures import FileStorage as WerkzeugFileStorage
from werkzeug.test import encode_multipart

from trioweb import App, formparser, request
from trioweb.datastructures import FileStorage
from trioweb.formparser import FormDataParser
from trioweb.server import serve_stream
from trioweb.wrappers.request import Body

MIB = 1024 * 1024


def upload(data: bytes, filename: str = "notes.txt") -> WerkzeugFileStorage:
    return WerkzeugFileStorage(io.BytesIO(data), filename=filename, content_type="text/plain")


class ThreadRecordingFile(io.BytesIO):
    """A destination that notes which thread writes to it."""

    def __init__(self) -> None:
        super().__init__()
        self.writers: set[int] = set()

    def write(self, data: Any) -> int:
        self.writers.add(threading.get_ident())
        return super().write(data)


async def test_save_to_a_path_and_to_a_file_object_in_a_worker_thread(app: App, tmp_path: Path) -> None:
    destination = ThreadRecordingFile()

    @app.post("/upload")
    async def save() -> dict[str, Any]:
        file = (await request.files)["file"]
        assert isinstance(file, FileStorage)
        await file.save(tmp_path / "by-path.txt")
        file.stream.seek(0)
        await file.save(str(tmp_path / "by-str.txt"), buffer_size=4)
        file.stream.seek(0)
        await file.save(destination)
        return {"name": file.filename, "type": file.content_type, "left_open": not destination.closed}

    response = await app.test_client().post("/upload", files={"file": upload(b"file body")})
    assert await response.get_json() == {"name": "notes.txt", "type": "text/plain", "left_open": True}
    assert (tmp_path / "by-path.txt").read_bytes() == b"file body"
    assert (tmp_path / "by-str.txt").read_bytes() == b"file body"
    assert destination.getvalue() == b"file body"
    assert threading.get_ident() not in destination.writers  # written off the trio thread


async def test_a_large_file_spools_to_a_temporary_file_and_a_small_one_stays_in_memory(app: App) -> None:
    streams: dict[str, IO[bytes]] = {}
    big = bytes(range(256)) * 4096  # 1 MiB

    @app.post("/upload")
    async def keep() -> dict[str, Any]:
        files = await request.files
        streams.update({name: file.stream for name, file in files.items()})
        return {
            "sizes": {name: len(file.read()) for name, file in files.items()},
            "file_descriptor": files["big"].stream.fileno() >= 0,  # io.BytesIO has none
        }

    response = await app.test_client().post("/upload", files={"big": upload(big), "small": upload(b"x" * 1000)})
    assert await response.get_json() == {"sizes": {"big": MIB, "small": 1000}, "file_descriptor": True}
    assert isinstance(streams["small"], io.BytesIO)
    big_stream = streams["big"]
    assert not isinstance(big_stream, io.BytesIO)
    gc.collect()
    # The request and its FileStorage are gone: the temporary file is closed, and so deleted.
    assert big_stream.closed


async def test_file_parts_are_not_bound_by_max_form_memory_size(app: App) -> None:
    """Only fields that are not files are held in memory; a file may be larger than the limit.

    (The limit is below a boundary's length: what the decoder keeps back
    while it looks for the next boundary does not count either.)
    """
    app.config["MAX_FORM_MEMORY_SIZE"] = 5

    @app.post("/upload")
    async def size() -> dict[str, int]:
        return {"size": len((await request.files)["file"].read()), "title": len((await request.form)["title"])}

    client = app.test_client()
    for length in (1, 1000, 200_000):
        response = await client.post("/upload", form={"title": "12345"}, files={"file": upload(b"y" * length)})
        assert await response.get_json() == {"size": length, "title": 5}


async def test_what_the_decoder_keeps_back_within_a_file_is_not_held_to_max_form_memory_size() -> None:
    """A chunk that ends in what may be the start of a boundary leaves that much in the decoder's buffer."""
    boundary = "b" * 60
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\n\r\n'.encode()
        + b"data\r\n--bbbbbbbbbb"  # the first chunk ends here: a boundary, or file data?
        + b"bbb, file data after all\r\n"
        + f"--{boundary}--\r\n".encode()
    )
    cut = body.index(b"bbb, file")
    chunks = [body[:cut], body[cut:], b""]

    async def receive() -> bytes:
        return chunks.pop(0)

    parser = FormDataParser(max_form_memory_size=5)
    _, files = await parser.parse(Body(receive), "multipart/form-data", {"boundary": boundary})
    assert files["file"].read() == b"data\r\n--bbbbbbbbbbbbb, file data after all"


@pytest.fixture
def form_app(app: App) -> App:
    @app.post("/form")
    async def fields() -> dict[str, Any]:
        form = await request.form
        files = await request.files
        return {"fields": len(form), "files": len(files)}

    return app


async def test_a_field_over_max_form_memory_size_is_413_saying_so(form_app: App) -> None:
    client = form_app.test_client()
    fine = await client.post("/form", form={"text": "x" * 500_000}, files={"file": upload(b"")})
    assert await fine.get_json() == {"fields": 1, "files": 1}
    response = await client.post("/form", form={"text": "x" * 500_001}, files={"file": upload(b"")})
    assert response.status_code == 413
    assert "larger than 500000 bytes (MAX_FORM_MEMORY_SIZE)" in await response.get_data(as_text=True)


async def test_more_parts_than_max_form_parts_is_413_saying_so(form_app: App) -> None:
    client = form_app.test_client()
    fields = {f"field{number}": "x" for number in range(999)}
    fine = await client.post("/form", form=fields, files={"file": upload(b"")})
    assert await fine.get_json() == {"fields": 999, "files": 1}
    response = await client.post("/form", form={**fields, "one_more": "x"}, files={"file": upload(b"")})
    assert response.status_code == 413
    assert "more than 1000 parts (MAX_FORM_PARTS)" in await response.get_data(as_text=True)


async def test_the_limits_are_read_from_the_app_config_when_a_form_is_parsed(form_app: App) -> None:
    client = form_app.test_client()
    three = {"a": "1", "b": "2", "c": "3"}
    form_app.config.update(MAX_FORM_PARTS=3, MAX_FORM_MEMORY_SIZE=10)
    response = await client.post("/form", form=three, files={"file": upload(b"")})
    assert response.status_code == 413
    assert "more than 3 parts" in await response.get_data(as_text=True)
    response = await client.post("/form", form={"a": "x" * 11}, files={"file": upload(b"")})
    assert "larger than 10 bytes" in await response.get_data(as_text=True)
    form_app.config.update(MAX_FORM_PARTS=None, MAX_FORM_MEMORY_SIZE=None)  # no limits
    response = await client.post("/form", form={**three, "d": "x" * 600_000}, files={"file": upload(b"")})
    assert await response.get_json() == {"fields": 4, "files": 1}


async def test_part_headers_that_never_end_are_413(form_app: App) -> None:
    form_app.config["MAX_FORM_MEMORY_SIZE"] = 1000
    body = b'--b\r\nContent-Disposition: form-data; name="a"\r\nX-Padding: ' + b"p" * 2000
    response = await form_app.test_client().post(
        "/form", data=body, headers={"Content-Type": "multipart/form-data; boundary=b"}
    )
    assert response.status_code == 413
    assert "are part headers or preamble (MAX_FORM_MEMORY_SIZE)" in await response.get_data(as_text=True)


async def test_a_malformed_multipart_body_is_400(form_app: App) -> None:
    client = form_app.test_client()
    for body, content_type in (
        (b'--b\r\nContent-Disposition: form-data; name="a"\r\n\r\nno end', "multipart/form-data; boundary=b"),
        (b"anything", "multipart/form-data"),
    ):
        response = await client.post("/form", data=body, headers={"Content-Type": content_type})
        assert response.status_code == 400
        assert "could not be parsed" in await response.get_data(as_text=True)


async def test_a_malformed_urlencoded_body_is_400(form_app: App) -> None:
    response = await form_app.test_client().post(
        "/form", data=b"name=\xff\xfe", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 400
    assert "could not be parsed" in await response.get_data(as_text=True)


async def test_a_multipart_body_is_not_kept_once_parsed_unless_it_was_read_first(app: App) -> None:
    @app.post("/form-first")
    async def form_first() -> dict[str, Any]:
        title = (await request.form)["title"]
        return {"title": title, "data": len(await request.get_data())}

    @app.post("/data-first")
    async def data_first() -> dict[str, Any]:
        size = len(await request.get_data())
        return {"title": (await request.form)["title"], "data": size}

    client = app.test_client()
    boundary, body = encode_multipart({"title": "x", "file": upload(b"file body")})
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    assert await (await client.post("/form-first", data=body, headers=headers)).get_json() == {"title": "x", "data": 0}
    response = await client.post("/data-first", data=body, headers=headers)
    assert await response.get_json() == {"title": "x", "data": len(body)}


async def test_a_client_that_leaves_mid_upload_leaves_no_temporary_file_open(
    form_app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[IO[bytes]] = []
    spooled = trio.Event()
    real = tempfile.TemporaryFile

    def recording(*args: Any, **kwargs: Any) -> IO[bytes]:  # in the parser's worker thread
        file: IO[bytes] = real(*args, **kwargs)
        opened.append(file)
        trio.from_thread.run_sync(spooled.set)
        return file

    monkeypatch.setattr(formparser.tempfile, "TemporaryFile", recording)
    boundary, body = encode_multipart({"file": upload(b"z" * MIB)})
    head = (
        b"POST /form HTTP/1.1\r\nHost: x\r\n"
        + f"Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
    )
    client, server = trio.testing.memory_stream_pair()
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(serve_stream, form_app, server)
            await client.send_all(head + body[: 700 * 1024])  # past the spool size, not the end
            await spooled.wait()
            await client.aclose()
    assert len(opened) == 1 and opened[0].closed


# -- on real sockets, both servers ---------------------------------------------------------


async def test_uploads_and_limits_on_a_real_socket(app: App, live_server: str, tmp_path: Path) -> None:
    saved: dict[str, bool] = {}

    @app.post("/upload")
    async def save() -> dict[str, Any]:
        form = await request.form
        file = (await request.files)["file"]
        saved["spooled"] = not isinstance(file.stream, io.BytesIO)
        await file.save(tmp_path / "upload.bin")
        return {"title": form["title"], "name": file.filename}

    big = bytes(range(256)) * 8192  # 2 MiB
    async with httpx.AsyncClient(base_url=f"http://{live_server}", timeout=10) as client:
        response = await client.post("/upload", data={"title": "a film"}, files={"file": ("film.bin", big)})
        assert response.json() == {"title": "a film", "name": "film.bin"}
        assert (tmp_path / "upload.bin").read_bytes() == big
        assert saved == {"spooled": True}

        app.config.update(MAX_FORM_PARTS=3)
        many = {"a": "1", "b": "2", "c": "3"}
        response = await client.post("/upload", data=many, files={"file": ("f.txt", b"x")})
        assert response.status_code == 413
        assert "more than 3 parts (MAX_FORM_PARTS)" in response.text

        app.config.update(MAX_FORM_PARTS=1000, MAX_FORM_MEMORY_SIZE=100)
        response = await client.post("/upload", data={"title": "x" * 101}, files={"file": ("f.txt", b"x")})
        assert response.status_code == 413
        assert "larger than 100 bytes (MAX_FORM_MEMORY_SIZE)" in response.text
