"""Files on the wire: real sockets on both servers, os.sendfile, memory, a client that leaves, and timeouts."""

from __future__ import annotations

import functools
import io
import logging
import os
import shutil
import ssl
import threading
import tracemalloc
from pathlib import Path
from typing import Any

import h11
import httpx
import pytest
import trio
import trio.testing

from tests.conftest import SERVERS, no_file_left_to_the_collector, raw_exchange, running
from trioweb import App, Response, request, send_file, serve
from trioweb.files import CHUNK_SIZE, SMALL_FILE_SIZE
from trioweb.server import serve_stream

MiB = 1 << 20
BIG = 3 * MiB + 4321  # a FileBody, several chunks and sendfile calls


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "tiny.css").write_bytes(b"p{}" * 300)
    (tmp_path / "static" / "big.bin").write_bytes(os.urandom(BIG))
    return tmp_path


@pytest.fixture
def app(folder: Path) -> App:
    """The app ``live_server`` serves: the static folder, and ``/download/<name>`` with send_file."""
    app = App(__name__, root_path=str(folder))

    @app.get("/download/<name>")
    async def download(name: str) -> Response:
        return await send_file(f"static/{name}", as_attachment=True)

    return app


# -- both servers, over a real socket, with httpx ---------------------------------


async def test_static_files_send_file_ranges_and_conditionals_on_a_real_socket(
    app: App, folder: Path, live_server: str
) -> None:
    data = (folder / "static" / "big.bin").read_bytes()
    async with httpx.AsyncClient(base_url=f"http://{live_server}") as client:
        tiny = await client.get("/static/tiny.css")
        assert (tiny.status_code, tiny.content, tiny.headers["content-type"]) == (
            200,
            b"p{}" * 300,
            "text/css; charset=utf-8",
        )
        big = await client.get("/download/big.bin")
        assert (big.status_code, len(big.content)) == (200, BIG)
        assert big.content == data
        assert big.headers["content-disposition"] == "attachment; filename=big.bin"
        cached = await client.get("/static/big.bin", headers={"If-None-Match": big.headers["etag"]})
        assert (cached.status_code, cached.content) == (304, b"")
        since = await client.get("/static/tiny.css", headers={"If-Modified-Since": tiny.headers["last-modified"]})
        assert since.status_code == 304
        middle = await client.get("/static/big.bin", headers={"Range": "bytes=2000000-2000099"})
        assert (middle.status_code, middle.content) == (206, data[2000000:2000100])
        assert middle.headers["content-range"] == f"bytes 2000000-2000099/{BIG}"
        several = await client.get("/static/big.bin", headers={"Range": "bytes=0-9,-10"})
        assert several.status_code == 206
        assert several.headers["content-type"].startswith("multipart/byteranges; boundary=")
        assert data[:10] in several.content and data[-10:] in several.content
        past = await client.get("/static/big.bin", headers={"Range": f"bytes={BIG}-"})
        assert (past.status_code, past.headers["content-range"]) == (416, f"bytes */{BIG}")
        malformed = await client.get("/static/tiny.css", headers={"Range": "bytes=z-"})
        assert (malformed.status_code, malformed.content) == (200, b"p{}" * 300)
        missing = await client.get("/static/nope.css")
        assert (missing.status_code, b"nope" in missing.content) == (404, False)
        head = await client.head("/static/big.bin")
        assert (head.status_code, head.headers["content-length"], head.content) == (200, str(BIG), b"")


async def test_a_304_keeps_the_validators_and_caching_headers_on_a_real_socket(app: App, live_server: str) -> None:
    app.config["SEND_FILE_MAX_AGE_DEFAULT"] = 60

    @app.after_request
    async def vary(response: Response) -> Response:
        response.headers["Vary"] = "Accept-Encoding"
        return response

    async with httpx.AsyncClient(base_url=f"http://{live_server}") as client:
        full = await client.get("/static/big.bin")
        cached = await client.get("/static/big.bin", headers={"If-None-Match": full.headers["etag"]})
    assert (cached.status_code, cached.content) == (304, b"")
    for name in ("etag", "last-modified", "cache-control", "vary"):
        assert cached.headers[name] == full.headers[name], name
    assert "content-length" not in cached.headers and "content-type" not in cached.headers


@pytest.mark.parametrize(
    "target",
    [
        b"/static/../../etc/passwd",
        b"/static/%2e%2e/secret.txt",
        b"/static/%2E%2E%2Fsecret.txt",
        b"/static/..%2fsecret.txt",
        b"/static/..%5csecret.txt",
        b"/static/..\\secret.txt",
        b"/static/.%2e/secret.txt",
        b"/static/./../secret.txt",
        b"/static/js/%2e%2e/%2e%2e/secret.txt",
        b"/static/%c0%ae%c0%ae/secret.txt",
        b"http://x/static/../secret.txt",
        b"/static/a%00b",
        b"/static/" + b"a" * 300,
        b"/static/" + b"a/" * 3000,
        b"/static/js/..",
        b"/static/null",  # a link to a device
    ],
)
async def test_a_traversal_or_a_path_without_a_file_over_a_real_socket_is_404(
    app: App, folder: Path, live_server: str, target: bytes
) -> None:
    """The raw target, as a client sends it: neither server's URL handling lets it out of the folder."""
    (folder / "secret.txt").write_text("the password")
    (folder / "static" / "js").mkdir()
    os.symlink("/dev/null", folder / "static" / "null")
    received = await raw_exchange(live_server, b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 404 ")
    assert b"password" not in body and b"root:" not in body and b"secret" not in body and b"static" not in body


async def test_a_symbolic_link_in_the_static_folder_is_followed(app: App, folder: Path, live_server: str) -> None:
    """As in Flask: safe_join checks the path, not where its links lead; a link there is the site owner's choice."""
    (folder / "shared.txt").write_text("shared")
    os.symlink(folder / "shared.txt", folder / "static" / "shared.txt")
    async with httpx.AsyncClient(base_url=f"http://{live_server}") as client:
        response = await client.get("/static/shared.txt")
    assert (response.status_code, response.text) == (200, "shared")


# -- os.sendfile on the native server, and the fallback ------------------------------


def sendfile_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if "sent with os.sendfile" in record.getMessage()]


async def test_the_native_server_sends_a_file_with_sendfile_on_plain_tcp(
    app: App, folder: Path, native_server: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="trioweb.server")
    async with httpx.AsyncClient(base_url=f"http://{native_server}") as client:
        response = await client.get("/static/big.bin")
        ranged = await client.get("/static/big.bin", headers={"Range": "bytes=1000000-"})
        # The client can have every byte before the server's task logs its line; on the same
        # connection, the next response comes only once that exchange is over.
        await client.get("/static/tiny.css")
    assert response.content == (folder / "static" / "big.bin").read_bytes()
    assert ranged.content == response.content[1000000:]
    assert sendfile_lines(caplog) == [
        f"{BIG} bytes of <FileBody {str(folder / 'static' / 'big.bin')!r} offset=0 length={BIG}> sent with os.sendfile",
        f"{BIG - 1000000} bytes of <FileBody {str(folder / 'static' / 'big.bin')!r} offset=1000000 "
        f"length={BIG - 1000000}> sent with os.sendfile",
    ]


async def test_sendfile_runs_in_a_worker_thread_not_on_the_trio_thread(
    app: App, folder: Path, native_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file whose pages are not in the page cache makes sendfile wait for the disk: not on the trio thread."""
    threads: list[int] = []
    real_sendfile = os.sendfile

    def sendfile(*args: Any) -> int:
        threads.append(threading.get_ident())
        return real_sendfile(*args)

    monkeypatch.setattr(os, "sendfile", sendfile)
    async with httpx.AsyncClient(base_url=f"http://{native_server}") as client:
        response = await client.get("/static/big.bin")
    assert response.content == (folder / "static" / "big.bin").read_bytes()
    assert threads and threading.get_ident() not in threads


async def test_a_memory_stream_gets_the_chunked_path(app: App, folder: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="trioweb.server")
    response = await app.test_client().get("/static/big.bin")
    assert await response.get_data() == (folder / "static" / "big.bin").read_bytes()
    assert sendfile_lines(caplog) == []


async def test_a_small_file_is_one_bytes_response_without_sendfile(
    app: App, native_server: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="trioweb.server")
    async with httpx.AsyncClient(base_url=f"http://{native_server}") as client:
        assert (await client.get("/static/tiny.css")).status_code == 200
    assert sendfile_lines(caplog) == []
    assert len(b"p{}" * 300) <= SMALL_FILE_SIZE


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command to make a certificate")
async def test_tls_gets_the_chunked_path(
    app: App, folder: Path, tmp_path: Path, nursery: trio.Nursery, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="trioweb.server")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    command = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost"]
    await trio.run_process([*command, "-keyout", str(key), "-out", str(cert)], capture_stdout=True, capture_stderr=True)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    listeners = await nursery.start(functools.partial(serve, app, host="127.0.0.1", port=0, ssl_context=context))
    port = listeners[0].transport_listener.socket.getsockname()[1]
    async with httpx.AsyncClient(base_url=f"https://127.0.0.1:{port}", verify=False) as client:
        response = await client.get("/static/big.bin", headers={"Range": "bytes=10-"})
    assert (response.status_code, response.content) == (206, (folder / "static" / "big.bin").read_bytes()[10:])
    assert sendfile_lines(caplog) == []


# -- a client that leaves mid-download -----------------------------------------------


class WatchedFile(io.FileIO):
    """A file that says when it is closed."""

    closed_event: trio.Event

    def close(self) -> None:
        if not self.closed:
            self.closed_event.set()
        super().close()


async def test_a_client_that_leaves_mid_download_ends_the_send(
    app: App, tmp_path: Path, live_server: str, server_kind: str
) -> None:
    huge = tmp_path / "huge.bin"
    with huge.open("wb") as file:
        file.truncate(512 * MiB)  # sparse: no disk, but far more than socket buffers hold
    closed = trio.Event()

    @app.get("/huge")
    async def huge_view() -> Response:
        file = WatchedFile(huge, "rb")
        file.closed_event = closed
        response = await send_file(file, mimetype="application/octet-stream")
        response.timeout = None  # only the client's leaving can end it
        return response

    received = 0
    async with (
        httpx.AsyncClient(base_url=f"http://{live_server}") as client,
        client.stream("GET", "/huge") as response,
    ):
        async for chunk in response.aiter_raw():
            received += len(chunk)
            if received > MiB:
                break
    with trio.fail_after(10):
        await closed.wait()  # the send stopped and closed the file, though the client read only 1 MiB
    assert MiB < received < 512 * MiB


# -- memory --------------------------------------------------------------------------


async def download_discarding(app: App, target: str) -> tuple[int, int]:
    """GET ``target`` through the native connection handler over a memory stream, reading and
    discarding the body (the test client keeps it, which would hide the server's memory); returns
    (status, body bytes)."""
    client_stream, server_stream = trio.testing.lockstep_stream_pair()
    conn = h11.Connection(h11.CLIENT)
    status = size = 0
    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve_stream, app, server_stream)
        await client_stream.send_all(
            conn.send(h11.Request(method="GET", target=target, headers=[("Host", "x"), ("Connection", "close")]))
            + conn.send(h11.EndOfMessage())
        )
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                conn.receive_data(await client_stream.receive_some(65536))
            elif isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.Data):
                size += len(event.data)
            elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                break
        await client_stream.aclose()
    return status, size


async def test_sending_a_large_file_does_not_hold_it_in_memory(app: App, tmp_path: Path) -> None:
    large = tmp_path / "large.bin"
    with large.open("wb") as file:
        file.truncate(50 * MiB)

    @app.get("/large")
    async def large_view() -> Response:
        return await send_file(large)

    tracemalloc.start()
    try:
        start, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        status, size = await download_discarding(app, "/large")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (status, size) == (200, 50 * MiB)
    assert peak - start < 8 * CHUNK_SIZE, f"{(peak - start) / MiB:.1f} MiB at the peak for a 50 MiB file"


# -- the timeout of a file response: progress, not the whole download ------------------


def slow_reader_app(size: int, timeout: float) -> App:
    app = App(__name__)
    app.config["RESPONSE_TIMEOUT"] = timeout

    @app.get("/file")
    async def file_view() -> Response:
        return await send_file(io.BytesIO(b"x" * size), mimetype="application/octet-stream")

    @app.get("/stream")
    async def stream_view() -> Response:
        async def chunks() -> Any:
            for _ in range(size // CHUNK_SIZE):
                yield b"x" * CHUNK_SIZE

        return Response(chunks())

    return app


async def read_slowly(app: App, target: str) -> tuple[int, bool]:
    """Read a response 16 KiB a second; (body bytes read, whether it was complete)."""
    client_stream, server_stream = trio.testing.lockstep_stream_pair()
    conn = h11.Connection(h11.CLIENT)
    size = 0
    complete = False
    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve_stream, app, server_stream)
        await client_stream.send_all(
            conn.send(h11.Request(method="GET", target=target, headers=[("Host", "x")])) + conn.send(h11.EndOfMessage())
        )
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError:
                break  # closed in the middle of the body
            if event is h11.NEED_DATA:
                await trio.sleep(1)
                conn.receive_data(await client_stream.receive_some(16 * 1024))
            elif isinstance(event, h11.Data):
                size += len(event.data)
            elif isinstance(event, h11.EndOfMessage):
                complete = True
                break
            elif isinstance(event, h11.ConnectionClosed):
                break
        nursery.cancel_scope.cancel()
    return size, complete


async def test_a_slow_but_steady_download_outlasts_the_response_timeout(autojump_clock: trio.testing.MockClock) -> None:
    size = 4 * CHUNK_SIZE  # 32 s at 16 KiB/s, with RESPONSE_TIMEOUT at 10 s
    app = slow_reader_app(size, 10.0)
    start = trio.current_time()
    assert await read_slowly(app, "/file") == (size, True)
    assert trio.current_time() - start > 30
    # A streamed body is still bounded as a whole.
    streamed, complete = await read_slowly(app, "/stream")
    assert not complete and streamed < size


async def test_a_stalled_download_is_cut_after_the_response_timeout(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    app = slow_reader_app(4 * CHUNK_SIZE, 10.0)
    client_stream, server_stream = trio.testing.lockstep_stream_pair()
    done = trio.Event()

    async def serve() -> None:
        await serve_stream(app, server_stream)
        done.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve)
        conn = h11.Connection(h11.CLIENT)
        await client_stream.send_all(
            conn.send(h11.Request(method="GET", target="/file", headers=[("Host", "x")]))
            + conn.send(h11.EndOfMessage())
        )
        await client_stream.receive_some(16 * 1024)  # then read no more
        start = trio.current_time()
        with trio.fail_after(60):
            await done.wait()
        assert 10 <= trio.current_time() - start < 11
        nursery.cancel_scope.cancel()
    assert "was not sent within its timeout" in caplog.text


# -- the same on real sockets, both servers ---------------------------------------------


def sparse_file(path: Path, size: int) -> Path:
    with path.open("wb") as file:
        file.truncate(size)
    return path


@pytest.mark.parametrize("kind", SERVERS)
async def test_a_slow_but_steady_download_completes_on_a_real_socket(
    kind: str, tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    # The clock jumps only once trio has been idle for 10 ms of real time, not while a
    # worker thread reads the file (sendfile, pread): that would skip over the deadline.
    autojump_clock.autojump_threshold = 0.01
    size = 32 * MiB  # 64 s at 512 KiB/s, with RESPONSE_TIMEOUT at 10 s
    big = sparse_file(tmp_path / "big.bin", size)
    app = App(__name__)
    app.config["RESPONSE_TIMEOUT"] = 10.0

    @app.get("/big")
    async def big_view() -> Response:
        return await send_file(big)

    async with running(app, kind) as server:
        host, port = server.address.rsplit(":", 1)
        async with await trio.open_tcp_stream(host, int(port)) as stream:
            await stream.send_all(b"GET /big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            start = trio.current_time()
            received = b""
            while True:  # 512 KiB, then a second's pause
                second = b""
                while len(second) < 512 * 1024 and (chunk := await stream.receive_some(512 * 1024 - len(second))):
                    second += chunk
                received += second
                if len(second) < 512 * 1024:
                    break
                await trio.sleep(1)
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ") and len(body) == size
    assert trio.current_time() - start > 30


@pytest.mark.parametrize("kind", SERVERS)
async def test_a_stalled_download_on_a_real_socket(
    kind: str, tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    """The native server cuts a client that stops reading; Hypercorn cannot: its socket writes are shielded."""
    # As above, and more: Hypercorn reads the file in a worker thread when the client leaves, and a
    # jump during that read would skip to the final fail_after (one such failure seen in a full run).
    autojump_clock.autojump_threshold = 0.1
    huge = sparse_file(tmp_path / "huge.bin", 256 * MiB)  # far more than the socket buffers hold
    closed = trio.Event()
    app = App(__name__)
    app.config["RESPONSE_TIMEOUT"] = 10.0

    @app.get("/huge")
    async def huge_view() -> Response:
        file = WatchedFile(huge, "rb")
        file.closed_event = closed
        return await send_file(file, mimetype="application/octet-stream")

    async with running(app, kind) as server:
        host, port = server.address.rsplit(":", 1)
        stream = await trio.open_tcp_stream(host, int(port))
        await stream.send_all(b"GET /huge HTTP/1.1\r\nHost: x\r\n\r\n")
        await stream.receive_some(65536)  # then read no more
        start = trio.current_time()
        if kind == "native":
            with trio.fail_after(60):
                await closed.wait()
            assert 10 <= trio.current_time() - start < 11
        else:
            await trio.sleep(60)
            assert not closed.is_set()  # docs/sending-files.md#timeouts says so
        await stream.aclose()
        with trio.fail_after(10):
            await closed.wait()  # a client that leaves ends it on both


# -- no descriptor is left open, whatever becomes of the response ------------------------


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def fd_app(folder: Path) -> App:
    """``/file`` sends a file large enough to stay open; ``?boom=1`` makes an after_request function fail."""
    app = App(__name__, root_path=str(folder))

    @app.get("/file")
    async def file_view() -> Response:
        return await send_file("static/big.bin")

    @app.after_request
    async def after(response: Response) -> Response:
        if request.args.get("boom"):
            raise RuntimeError("boom")
        if request.args.get("hang"):
            await trio.sleep_forever()
        return response

    return app


async def test_a_request_cancelled_in_an_after_request_function_has_the_file_closed(
    folder: Path, autojump_clock: trio.testing.MockClock
) -> None:
    app = fd_app(folder)
    client = app.test_client()
    await client.get("/static/tiny.css")  # the client's own descriptors, opened once
    with no_file_left_to_the_collector():  # which collects the garbage of earlier tests first
        before = open_fds()
        with trio.move_on_after(5) as scope:
            await client.get("/file?hang=1")
        assert scope.cancelled_caught
        assert open_fds() == before


@pytest.mark.parametrize(
    ("method", "target", "headers", "status"),
    [
        ("GET", "/file", {}, 200),
        ("HEAD", "/file", {}, 200),
        ("GET", "/file", {"If-None-Match": "*"}, 304),
        ("GET", "/file", {"If-Match": '"other"'}, 412),
        ("GET", "/file", {"Range": f"bytes={BIG}-"}, 416),
        ("GET", "/file", {"Range": "bytes=0-9"}, 206),
        ("GET", "/file", {"Range": "bytes=0-9,100-109"}, 206),
        ("GET", "/file?boom=1", {}, 500),
    ],
)
async def test_no_file_is_left_open_whatever_the_response(
    folder: Path, method: str, target: str, headers: dict[str, str], status: int, caplog: pytest.LogCaptureFixture
) -> None:
    app = fd_app(folder)
    client = app.test_client()
    await client.get("/static/tiny.css")  # the client's own descriptors, opened once
    with no_file_left_to_the_collector():  # which collects the garbage of earlier tests first
        before = open_fds()
        response = await client.open(target, method=method, headers=headers)
        assert response.status_code == status
        assert open_fds() == before  # closed in the request, not by the collector later


@pytest.mark.parametrize("ranges", [None, "bytes=0-9,100-109"])
async def test_a_client_that_leaves_before_the_head_has_the_file_closed(folder: Path, ranges: str | None) -> None:
    app = fd_app(folder)
    headers = [("Host", "x")] if ranges is None else [("Host", "x"), ("Range", ranges)]
    with no_file_left_to_the_collector():  # which collects the garbage of earlier tests first
        before = open_fds()
        client_stream, server_stream = trio.testing.lockstep_stream_pair()
        conn = h11.Connection(h11.CLIENT)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(serve_stream, app, server_stream)
            await client_stream.send_all(
                conn.send(h11.Request(method="GET", target="/file", headers=headers)) + conn.send(h11.EndOfMessage())
            )
            await client_stream.aclose()  # gone before reading a byte
        assert open_fds() == before
