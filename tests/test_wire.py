"""What goes on the wire beyond the body: no content on 204/304, the Date header, and a URL of the wrong kind.

Each rule is checked on both servers with real sockets (``live_server``) and
through the test client.
"""

from __future__ import annotations

import email.utils
import re
from collections.abc import AsyncIterator, Iterator

import h11
import httpx
import pytest
import trio

from trioweb import App, Response, websocket
from trioweb.server import _date
from trioweb.testing import WebsocketResponseError

from .conftest import raw_exchange

CONTENT_HEADERS = {b"content-length", b"content-type", b"transfer-encoding"}


async def exchanges(address: str, *requests: tuple[str, str]) -> list[tuple[int, list[tuple[bytes, bytes]], bytes]]:
    """Send ``(method, path)`` requests one after another on one keep-alive connection.

    h11 reads the answers, so a body sent where none may be (on a 204 or a
    304) would be taken for the next response and fail the exchange.
    """
    host, port = address.rsplit(":", 1)
    stream = await trio.open_tcp_stream(host, int(port))
    conn = h11.Connection(h11.CLIENT)
    answers = []
    async with stream:
        for method, path in requests:
            await stream.send_all(conn.send(h11.Request(method=method, target=path, headers=[("Host", "x")])))
            await stream.send_all(conn.send(h11.EndOfMessage()))
            status, headers, body = 0, [], b""
            with trio.fail_after(5):
                while True:
                    event = conn.next_event()
                    if event is h11.NEED_DATA:
                        conn.receive_data(await stream.receive_some(65536))
                    elif type(event) is h11.Response:
                        status, headers = event.status_code, list(event.headers)
                    elif type(event) is h11.Data:
                        body += event.data
                    elif type(event) is h11.EndOfMessage:
                        break
            answers.append((status, headers, body))
            conn.start_next_cycle()
    return answers


def names(headers: list[tuple[bytes, bytes]]) -> list[bytes]:
    return [name.lower() for name, _ in headers]


class Stream:
    """A streamed body that records whether it was read and whether it was closed."""

    def __init__(self) -> None:
        self.read = False
        self.closed = False

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        if self.read:
            raise StopAsyncIteration
        self.read = True
        return b"never sent"

    async def aclose(self) -> None:
        self.closed = True


# -- 204 and 304: no body, and no header that describes one ------------------------


@pytest.fixture
def no_content(app: App) -> dict[str, Stream]:
    streams: dict[str, Stream] = {}

    @app.route("/empty")
    async def empty() -> tuple[str, int]:
        return "", 204

    @app.route("/typed", methods=["PUT"])
    async def typed() -> Response:
        response = Response("ignored", 204, mimetype="application/json")
        response.headers["ETag"] = '"v2"'
        return response

    @app.route("/streamed-204")
    async def streamed_204() -> Response:
        streams["204"] = Stream()
        return Response(streams["204"], 204)

    @app.route("/not-modified")
    async def not_modified() -> tuple[str, int, dict[str, str]]:
        return "the representation", 304, {"ETag": '"v1"', "Cache-Control": "max-age=60", "Vary": "Accept"}

    @app.route("/streamed-304")
    async def streamed_304() -> Response:
        streams["304"] = Stream()
        return Response(streams["304"], 304, headers={"ETag": '"v1"'})

    @app.route("/next")
    async def next_one() -> str:
        return "next"

    @app.after_request
    async def add_type(response: Response) -> Response:
        response.headers["X-Hook"] = "ran"
        response.headers["Content-Type"] = "text/plain"
        return response

    return streams


async def test_204_and_304_carry_no_body_headers_on_the_wire(no_content: dict[str, Stream], live_server: str) -> None:
    answers = await exchanges(
        live_server,
        ("GET", "/empty"),
        ("PUT", "/typed"),
        ("GET", "/streamed-204"),
        ("GET", "/not-modified"),
        ("GET", "/streamed-304"),
        ("HEAD", "/empty"),
        ("GET", "/next"),
    )
    statuses = [status for status, _, _ in answers]
    assert statuses == [204, 204, 204, 304, 304, 204, 200]
    for _, headers, body in answers[:-1]:
        assert CONTENT_HEADERS.isdisjoint(names(headers)), headers
        assert body == b""
        assert b"x-hook" in names(headers)  # the hooks ran; only their Content-Type went
    # A 304 keeps the headers that update a cache.
    kept = dict((name.lower(), value) for name, value in answers[3][1])
    assert (kept[b"etag"], kept[b"cache-control"], kept[b"vary"]) == (b'"v1"', b"max-age=60", b"Accept")
    assert dict((name.lower(), value) for name, value in answers[1][1])[b"etag"] == b'"v2"'
    # Nothing was left on the connection: the next response reads cleanly.
    assert answers[-1][2] == b"next"
    for stream in no_content.values():
        assert stream.closed and not stream.read


async def test_204_and_304_with_httpx(no_content: dict[str, Stream], live_server: str) -> None:
    async with httpx.AsyncClient(base_url=f"http://{live_server}") as client:
        for path in ("/empty", "/streamed-204", "/not-modified"):
            response = await client.get(path)
            assert "content-length" not in response.headers and "content-type" not in response.headers
            assert response.content == b""


async def test_204_and_304_through_the_test_client(app: App, no_content: dict[str, Stream]) -> None:
    client = app.test_client()
    for path in ("/empty", "/streamed-204", "/not-modified", "/streamed-304"):
        response = await client.get(path)
        assert response.status_code in (204, 304)
        assert {name.lower() for name, _ in response.headers.items()}.isdisjoint({"content-length", "content-type"})
        assert await response.get_data() == b""
    assert no_content["204"].closed and no_content["304"].closed


async def test_a_plain_generator_body_on_a_204_is_closed_unread(app: App) -> None:
    started: list[bool] = []

    def chunks() -> Iterator[bytes]:
        started.append(True)
        yield b"never sent"

    generator = chunks()

    @app.route("/")
    async def index() -> Response:
        return Response(generator, 204)

    response = await app.test_client().get("/")
    assert (response.status_code, await response.get_data()) == (204, b"")
    assert generator.gi_frame is None and not started  # closed without running


async def test_a_websocket_rejected_with_204_sends_no_body_headers(app: App, live_server: str) -> None:
    @app.websocket("/ws")
    async def refuse() -> tuple[str, int]:
        return "no", 204

    from .conftest import HANDSHAKE

    received = await raw_exchange(live_server, HANDSHAKE, read_until_close=False)
    head = received.partition(b"\r\n\r\n")[0].lower()
    assert head.startswith(b"http/1.1 204")
    assert b"content-length" not in head and b"content-type" not in head


@pytest.mark.parametrize("status", [100, 101, 103, 199])
def test_a_response_cannot_have_an_interim_status(status: int) -> None:
    with pytest.raises(ValueError, match=f"cannot have the status {status}: a response needs a final status"):
        Response("", status)
    response = Response("")
    with pytest.raises(ValueError, match="1xx statuses are interim"):
        response.status_code = status


async def test_a_view_answering_1xx_gets_500_and_a_clear_log(
    app: App, live_server: str, caplog: pytest.LogCaptureFixture
) -> None:
    @app.route("/early")
    async def early() -> tuple[str, int]:
        return "", 103

    async with httpx.AsyncClient(base_url=f"http://{live_server}") as client:
        assert (await client.get("/early")).status_code == 500
    assert "A response cannot have the status 103" in caplog.text


# -- the Date header -----------------------------------------------------------------

HTTP_DATE = re.compile(
    rb"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT$"
)


@pytest.fixture
def hello(app: App) -> App:
    @app.route("/", methods=["GET", "POST"])
    async def index() -> str:
        return "hello"

    @app.route("/dated")
    async def dated() -> tuple[str, dict[str, str]]:
        return "from upstream", {"Date": "Sun, 06 Nov 1994 08:49:37 GMT"}

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.accept()

    return app


def dates(head: bytes) -> list[bytes]:
    return [line.partition(b":")[2].strip() for line in head.split(b"\r\n")[1:] if line.lower().startswith(b"date:")]


async def test_every_response_has_one_date(hello: App, live_server: str) -> None:
    answers = await exchanges(live_server, ("GET", "/"), ("GET", "/nowhere"), ("POST", "/"))
    for _, headers, _ in answers:
        [date] = [value for name, value in headers if name.lower() == b"date"]
        assert HTTP_DATE.match(date), date
        assert email.utils.parsedate_to_datetime(date.decode()).tzinfo is not None


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"NOT A REQUEST\r\n\r\n", id="the server's own 400"),
        pytest.param(
            b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
            id="101",
        ),
        pytest.param(
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nExpect: 100-continue\r\n\r\n", id="100 Continue"
        ),
    ],
)
async def test_the_servers_own_responses_have_a_date(hello: App, live_server: str, data: bytes) -> None:
    received = await raw_exchange(live_server, data, read_until_close=False)
    [date] = dates(received.partition(b"\r\n\r\n")[0])
    assert HTTP_DATE.match(date), date


@pytest.mark.native_only("Hypercorn adds its own Date to every response, beside one the app set")
async def test_a_date_the_app_set_is_the_only_one(hello: App, live_server: str) -> None:
    [(_, headers, _)] = await exchanges(live_server, ("GET", "/dated"))
    assert [value for name, value in headers if name.lower() == b"date"] == [b"Sun, 06 Nov 1994 08:49:37 GMT"]


async def test_the_date_is_formatted_at_most_once_a_second(hello: App, monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.2]
    formatted: list[float] = []

    def formatdate(timeval: float, usegmt: bool) -> str:
        formatted.append(timeval)
        return email.utils.formatdate(timeval, usegmt=usegmt)

    monkeypatch.setattr(_date, "wall_clock", lambda: now[0])
    monkeypatch.setattr(_date, "formatdate", formatdate)
    monkeypatch.setattr(_date, "_second", -1)
    client = hello.test_client()
    first = (await client.get("/")).headers["Date"]
    now[0] = 1000.9
    second = (await client.get("/")).headers["Date"]
    assert first == second == "Thu, 01 Jan 1970 00:16:40 GMT"
    assert formatted == [1000]
    now[0] = 1001.0
    assert (await client.get("/")).headers["Date"] == "Thu, 01 Jan 1970 00:16:41 GMT"
    assert formatted == [1000, 1001]


# -- a URL of the other kind: HTTP to a websocket route, a websocket to an HTTP route --

WEBSOCKET_ONLY = "This URL only accepts websocket connections, not plain HTTP requests"
HTTP_ONLY = "This URL only answers plain HTTP requests; it has no websocket view to connect to."


@pytest.fixture
def kinds(app: App) -> App:
    @app.route("/split")
    async def split_get() -> str:
        return "get"

    @app.route("/split", methods=["POST"])
    async def split_post() -> str:
        return "post"

    @app.route("/post-only", methods=["POST"])
    async def post_only() -> str:
        return "post"

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.send("hi")

    @app.route("/mixed", methods=["POST"])
    async def mixed_http() -> str:
        return "post"

    @app.websocket("/mixed")
    async def mixed_ws() -> None:
        await websocket.send("socket")

    return app


async def refused_handshake(address: str, path: str) -> tuple[bytes, bytes]:
    """The head and body of the HTTP response to a websocket handshake to ``path``."""
    data = (
        f"GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()
    host, port = address.rsplit(":", 1)
    async with await trio.open_tcp_stream(host, int(port)) as stream:
        await stream.send_all(data)
        received = b""
        with trio.fail_after(5):
            while True:
                received += await stream.receive_some(65536)
                head, _, body = received.partition(b"\r\n\r\n")
                length = re.search(rb"(?im)^content-length: *(\d+)", head)
                if length is not None and len(body) >= int(length.group(1)):
                    return head, body


@pytest.mark.parametrize("path", ["/split", "/post-only"])
async def test_a_websocket_to_http_views_gets_400_whatever_their_methods(
    kinds: App, live_server: str, path: str
) -> None:
    head, body = await refused_handshake(live_server, path)
    assert head.startswith(b"HTTP/1.1 400"), head
    assert b"allow:" not in head.lower()
    assert HTTP_ONLY.encode() in body


async def test_a_websocket_to_http_views_through_the_test_client(kinds: App) -> None:
    for path in ("/split", "/post-only"):
        with pytest.raises(WebsocketResponseError) as raised:
            async with kinds.test_client().websocket(path):
                pass
        assert raised.value.response.status_code == 400
        assert HTTP_ONLY in (await raised.value.response.get_data()).decode()


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST", "OPTIONS", "DELETE"])
async def test_plain_http_to_a_websocket_route_gets_400_that_says_why(
    kinds: App, live_server: str, method: str
) -> None:
    async with httpx.AsyncClient(base_url=f"http://{live_server}") as client:
        response = await client.request(method, "/ws?room=1")
    assert response.status_code == 400
    assert "allow" not in response.headers
    if method != "HEAD":
        assert WEBSOCKET_ONLY in response.text
        assert "connect to ws://" + live_server + "/ws?room=1 with a websocket client" in response.text


async def test_plain_http_to_a_websocket_route_through_the_test_client(kinds: App) -> None:
    client = kinds.test_client()
    response = await client.post("/ws")
    assert response.status_code == 400
    assert "connect to ws://localhost/ws with a websocket client" in await response.get_data(as_text=True)
    secure = await client.get("/ws", scheme="https")
    assert "connect to wss://localhost/ws with a websocket client" in await secure.get_data(as_text=True)


async def test_a_path_with_both_kinds_answers_each_and_allows_only_http_methods(kinds: App, live_server: str) -> None:
    async with httpx.AsyncClient(base_url=f"http://{live_server}") as client:
        assert (await client.post("/mixed")).text == "post"
        for method in ("GET", "PUT"):
            refused = await client.request(method, "/mixed")
            assert (refused.status_code, refused.headers["Allow"]) == (405, "OPTIONS, POST")
        options = await client.options("/mixed")
        assert (options.status_code, options.headers["Allow"]) == (200, "OPTIONS, POST")
        # Sorted, as OPTIONS has it, on a path of HTTP views only as well.
        assert (await client.put("/split")).headers["Allow"] == "GET, HEAD, OPTIONS, POST"
    async with kinds.test_client().websocket("/mixed") as client_ws:
        assert await client_ws.receive() == "socket"
