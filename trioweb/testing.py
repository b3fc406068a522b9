"""The test client: real HTTP/1.1 and websocket bytes over trio's in-memory streams.

Every request opens a ``trio.testing.memory_stream_pair`` and serves the
server end with the very connection handler that serves TCP, so framing,
keep-alive rules, upgrades and close handshakes are all under test.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlencode

import h11
import trio
import trio.testing
from werkzeug.datastructures import FileStorage, Headers
from werkzeug.test import encode_multipart

from .json import dumps
from .server import serve_stream
from .wrappers.response import Response

if TYPE_CHECKING:
    from .app import App

T = TypeVar("T")

_NO_JSON: Any = object()
QueryString = Mapping[str, Any] | str | bytes | None


def encode_query(query_string: QueryString) -> bytes:
    if query_string is None:
        return b""
    if isinstance(query_string, bytes):
        return query_string
    if isinstance(query_string, str):
        return query_string.encode()
    return urlencode(query_string, doseq=True).encode()


class TestClient:
    """Sends requests to an app through its real connection handler.

    ``response = await client.get("/path", query_string={"q": "x"})``; the
    response has ``status_code``, ``headers``, ``await get_data()`` and
    ``await get_json()``.
    """

    __test__ = False  # not a pytest test class

    def __init__(self, app: App, *, remote_addr: str = "127.0.0.1") -> None:
        self.app = app
        self.remote_addr = remote_addr

    async def _serving(self, scheme: str, work: Callable[[trio.StapledStream[Any, Any]], Awaitable[T]]) -> T:
        """Run ``work`` on the client end while the app serves the other end.

        Errors from ``work`` are raised plainly, not inside an exception group.
        """
        client_stream, server_stream = trio.testing.memory_stream_pair()
        result: list[T] = []
        error: list[BaseException] = []
        async with trio.open_nursery() as nursery:
            nursery.start_soon(
                functools.partial(
                    serve_stream,
                    self.app,
                    server_stream,
                    scheme=scheme,
                    client=(self.remote_addr, 0),
                    server=("localhost", 80),
                )
            )
            try:
                result.append(await work(client_stream))
            except BaseException as exception:  # re-raised below, outside the nursery
                error.append(exception)
            finally:
                await trio.aclose_forcefully(client_stream)
        if error:
            raise error[0]
        return result[0]

    async def open(
        self,
        path: str,
        *,
        method: str = "GET",
        headers: Mapping[str, str] | Headers | None = None,
        query_string: QueryString = None,
        data: bytes | str | None = None,
        form: Mapping[str, Any] | None = None,
        files: Mapping[str, FileStorage] | None = None,
        json: Any = _NO_JSON,
        http_version: str = "1.1",
        scheme: str = "http",
    ) -> Response:
        """Send one request and read the whole response."""
        request_headers = Headers(headers)
        path, _, query_in_path = path.partition("?")
        query = encode_query(query_string) or query_in_path.encode()
        target = path + ("?" + query.decode() if query else "")
        body = b""
        if sum(value is not None for value in (data, form, files)) + (json is not _NO_JSON) > 1:
            raise ValueError("Give only one of data=, form= (with files=), or json=")
        if json is not _NO_JSON:
            body = dumps(json).encode()
            request_headers.setdefault("Content-Type", "application/json")
        elif files is not None:
            boundary, body = encode_multipart({**(form or {}), **files})
            request_headers.setdefault("Content-Type", f"multipart/form-data; boundary={boundary}")
        elif form is not None:
            body = urlencode(form, doseq=True).encode()
            request_headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        elif data is not None:
            body = data.encode() if isinstance(data, str) else data
        request_headers.setdefault("Host", "localhost")
        if body or method in ("POST", "PUT", "PATCH"):
            request_headers["Content-Length"] = str(len(body))

        async def exchange(stream: trio.StapledStream[Any, Any]) -> Response:
            conn = h11.Connection(h11.CLIENT)
            request = h11.Request(
                method=method,
                target=target.encode(),
                headers=list(request_headers.items()),
                http_version=http_version,
            )
            data = conn.send(request) + conn.send(h11.Data(data=body)) if body else conn.send(request)
            await stream.send_all(data + conn.send(h11.EndOfMessage()))
            return await read_response(conn, stream)

        return await self._serving(scheme, exchange)

    async def get(self, path: str, **kwargs: Any) -> Response:
        return await self.open(path, method="GET", **kwargs)

    async def head(self, path: str, **kwargs: Any) -> Response:
        return await self.open(path, method="HEAD", **kwargs)

    async def options(self, path: str, **kwargs: Any) -> Response:
        return await self.open(path, method="OPTIONS", **kwargs)

    async def post(self, path: str, **kwargs: Any) -> Response:
        return await self.open(path, method="POST", **kwargs)

    async def put(self, path: str, **kwargs: Any) -> Response:
        return await self.open(path, method="PUT", **kwargs)

    async def patch(self, path: str, **kwargs: Any) -> Response:
        return await self.open(path, method="PATCH", **kwargs)

    async def delete(self, path: str, **kwargs: Any) -> Response:
        return await self.open(path, method="DELETE", **kwargs)


async def read_response(conn: h11.Connection, stream: trio.abc.ReceiveStream) -> Response:
    """Read one whole response with an h11 client connection."""
    head: h11.Response | None = None
    chunks: list[bytes] = []
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            conn.receive_data(bytes(await stream.receive_some(65536)))
        elif isinstance(event, h11.Response):
            head = event
        elif isinstance(event, h11.Data):
            chunks.append(bytes(event.data))
        elif isinstance(event, h11.EndOfMessage):
            break
        elif isinstance(event, h11.ConnectionClosed):
            raise ConnectionError("The server closed the connection without a response")
    assert head is not None
    response = Response(b"".join(chunks), head.status_code)
    response.headers = Headers([(name.decode("latin-1"), value.decode("latin-1")) for name, value in head.headers])
    return response
