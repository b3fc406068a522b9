"""The websocket upgrade on the native server: h11 routes it, trio-websocket runs it.

The handshake request was parsed by h11 on the keep-alive connection. The
app routes it and decides: a rejection goes out as a plain HTTP response
through h11; an acceptance hands the stream to trio-websocket, with the
request bytes replayed so that its handshake sees them as if first read.

trio-websocket's reader task runs in the connection's nursery. When it ends
(the client closed, the connection dropped, a limit or a protocol error),
the close code is recorded on the websocket and the view is cancelled.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, cast

import h11
import trio
import trio_websocket
from werkzeug.datastructures import Headers

from ..wrappers.response import Response
from ..wrappers.websocket import Websocket

if TYPE_CHECKING:
    from ._http import HTTPConnection

logger = logging.getLogger("trioweb.websocket")

#: trio-websocket reads 4 KiB at a time by default; 64 KiB moves large
#: messages about twice as fast and costs nothing for small ones.
RECEIVE_BUFFER_SIZE = 65536
#: How long our close waits for the client's close frame.
CLOSE_TIMEOUT = 5.0
GOING_AWAY = 1001
ABNORMAL_CLOSURE = 1006


class _ReplayStream(trio.abc.Stream):
    """The connection, with the bytes h11 already read given back first."""

    def __init__(self, stream: trio.abc.Stream, replay: bytes) -> None:
        self._stream = stream
        self._replay = replay

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        if self._replay:
            data, self._replay = self._replay, b""
            await trio.lowlevel.checkpoint()
            return data
        return bytes(await self._stream.receive_some(max_bytes))

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await self._stream.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self._stream.wait_send_all_might_not_block()

    async def aclose(self) -> None:
        await self._stream.aclose()


class _ReaderNursery:
    """What trio-websocket starts its reader task in: ours, with a hook at its end.

    ``wrap_server_stream`` only calls ``start_soon``. The reader can raise
    ``ConnectionClosed`` when a client resets right after a protocol error;
    that ends this one connection, never the server.
    """

    def __init__(self, nursery: trio.Nursery, on_exit: Callable[[], None]) -> None:
        self._nursery = nursery
        self._on_exit = on_exit

    def start_soon(self, function: Callable[..., Awaitable[Any]], *args: Any) -> None:
        self._nursery.start_soon(self._run, function, args)

    async def _run(self, function: Callable[..., Awaitable[Any]], args: tuple[Any, ...]) -> None:
        try:
            await function(*args)
        except (trio_websocket.ConnectionClosed, trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        except Exception:
            logger.exception("The websocket reader failed")
        finally:
            self._on_exit()


class NativeTransport:
    """One websocket session on the native server (see ``WebsocketTransport``)."""

    def __init__(self, http: HTTPConnection, replay: bytes, scope: trio.CancelScope) -> None:
        self.http = http
        self.replay = replay
        self.scope = scope
        self.websocket: Websocket | None = None
        self.connection: trio_websocket.WebSocketConnection | None = None
        config = http.app.config
        self.max_message_size: int = config["WEBSOCKET_MAX_MESSAGE_SIZE"]
        self.queue_size: int = config["WEBSOCKET_QUEUE_SIZE"]
        self.ping_interval: float | None = config["WEBSOCKET_PING_INTERVAL"]
        self.ping_timeout: float = config["WEBSOCKET_PING_TIMEOUT"]

    async def accept(self, headers: Headers, subprotocol: str | None) -> None:
        nursery = self.http.nursery
        request = await trio_websocket.wrap_server_stream(
            cast(trio.Nursery, _ReaderNursery(nursery, self._reader_done)),
            _ReplayStream(self.http.stream, self.replay),
            message_queue_size=self.queue_size,
            max_message_size=self.max_message_size,
            receive_buffer_size=RECEIVE_BUFFER_SIZE,
        )
        extra = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()]
        self.connection = await request.accept(subprotocol=subprotocol, extra_headers=extra)
        if self.ping_interval is not None:
            nursery.start_soon(self._keep_alive, self.connection)

    async def reject(self, response: Response) -> None:
        await self.http.send_response(response)

    async def receive(self) -> str | bytes:
        assert self.connection is not None
        try:
            return await self.connection.get_message()
        except trio_websocket.ConnectionClosed:
            return await self._closed()

    async def send(self, data: str | bytes) -> None:
        assert self.connection is not None
        try:
            await self.connection.send_message(data)
        except trio_websocket.ConnectionClosed:
            await self._closed()

    async def close(self, code: int, reason: str) -> None:
        assert self.connection is not None
        with trio.move_on_after(CLOSE_TIMEOUT):
            await self.connection.aclose(code, reason or None)

    def _reader_done(self) -> None:
        """The session is over: keep the close code, then cancel the view."""
        websocket = self.websocket
        if websocket is None or websocket.closed:
            return  # we closed it ourselves
        close = self.connection.closed if self.connection is not None else None
        websocket.closed = True
        websocket.close_code = close.code if close is not None else ABNORMAL_CLOSURE
        websocket.close_reason = (close.reason or "") if close is not None else ""
        self.scope.cancel(reason=f"the websocket closed with code {websocket.close_code}")

    def shut_down(self) -> None:
        """Server shutdown: an open session ends with 1001, its view cancelled first.

        ``serve_websocket`` sends the close frame once the view is done. A
        handshake the view has not answered yet is an exchange in progress
        and gets the grace period, like a request.
        """
        websocket = self.websocket
        if websocket is None or not websocket.accepted or websocket.closed:
            return
        websocket.closed = True
        websocket.close_code, websocket.close_reason = GOING_AWAY, "the server is shutting down"
        self.scope.cancel(reason="the server is shutting down")

    async def _closed(self) -> str | bytes:
        """The view used a closed websocket: it is cancelled at this checkpoint."""
        self._reader_done()
        await trio.lowlevel.checkpoint()
        raise RuntimeError("The websocket is closed")

    async def _keep_alive(self, connection: trio_websocket.WebSocketConnection) -> None:
        assert self.ping_interval is not None
        while connection.closed is None:
            await trio.sleep(self.ping_interval)
            with trio.move_on_after(self.ping_timeout) as waited:
                try:
                    await connection.ping()
                except trio_websocket.ConnectionClosed:
                    return
            if waited.cancelled_caught:
                logger.info("No pong within %s s; closing the websocket", self.ping_timeout)
                websocket = self.websocket
                if websocket is not None and not websocket.closed:
                    websocket.closed = True
                    websocket.close_code, websocket.close_reason = 1011, "ping timeout"
                    self.scope.cancel(reason="the client did not answer a ping")
                await self.close(1011, "ping timeout")
                return


def handshake_error(event: h11.Request, headers: Headers) -> Response | None:
    """An HTTP error for an upgrade request that is not a valid websocket handshake."""
    if event.method != b"GET":
        return Response("A websocket handshake must be a GET request.", 400, mimetype="text/plain")
    if event.http_version != b"1.1":
        return Response("A websocket handshake needs HTTP/1.1.", 400, mimetype="text/plain")
    if headers.get("Sec-WebSocket-Version", "").strip() != "13":
        response = Response("Only websocket version 13 is supported.", 426, mimetype="text/plain")
        response.headers["Sec-WebSocket-Version"] = "13"
        return response
    try:
        key = base64.b64decode(headers.get("Sec-WebSocket-Key", ""), validate=True)
    except binascii.Error:
        key = b""
    if len(key) != 16:
        return Response("The Sec-WebSocket-Key header is not valid.", 400, mimetype="text/plain")
    return None


async def serve_websocket(
    http: HTTPConnection, event: h11.Request, path: str, query: bytes, headers: Headers, trailing: bytes
) -> None:
    """Run the app's websocket view for an upgrade request, then close."""
    websocket_scope = trio.CancelScope()
    replay = b"".join(
        [
            event.method,
            b" ",
            event.target,
            b" HTTP/1.1\r\n",
            *(name + b": " + value + b"\r\n" for name, value in event.headers.raw_items()),
            b"\r\n",
            trailing,
        ]
    )
    transport = NativeTransport(http, replay, websocket_scope)
    websocket = Websocket(
        path,
        query,
        headers,
        transport,
        scheme="wss" if http.scheme == "https" else "ws",
        http_version=event.http_version.decode("ascii"),
        server=http.server,
        remote_addr=http.remote_addr,
    )
    transport.websocket = websocket
    http.websocket_transport = transport
    http.exchange_started(websocket)
    error = handshake_error(event, headers)
    if error is not None:
        await websocket.reject(error)
        return
    with websocket_scope:
        await http.app.handle_websocket(websocket)
    if websocket_scope.cancel_called and not websocket_scope.cancelled_caught:
        http.app.logger.warning(
            "The websocket view for %s swallowed trio.Cancelled after its client left; "
            "re-raise it (except CancelledError: ...; raise)",
            path,
        )
    if transport.connection is not None:
        with trio.move_on_after(CLOSE_TIMEOUT):
            # Sends a close frame only if none went yet: 1001 after shut_down.
            await transport.connection.aclose(websocket.close_code or 1000, websocket.close_reason or None)
