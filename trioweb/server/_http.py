"""HTTP/1.1 on any ``trio.abc.Stream``: h11 for the protocol, one task per request.

Three tasks share a connection:

* the connection task reads: request heads, and while a handler runs,
  whatever comes next, so that a client that goes away is noticed and the
  handler cancelled;
* the handler task answers one request and reads its body. The two never
  read at once: the connection task waits until the body has been read (or
  the handler is done) before it reads again, and h11 keeps pipelined bytes
  until the next cycle;
* the timer task enforces the idle, request-head and response timeouts.
  Moving a deadline is a plain attribute write on the hot path; the timer
  wakes at most once per ``KEEP_ALIVE_TIMEOUT`` to look at it.
"""

from __future__ import annotations

import http
import logging
import math
from typing import TYPE_CHECKING
from urllib.parse import unquote

import h11
import trio
from werkzeug.datastructures import Headers
from werkzeug.exceptions import BadRequest

from ..wrappers.base import BaseRequestWebsocket
from ..wrappers.request import Body, Request
from ..wrappers.response import Response

if TYPE_CHECKING:
    from ..app import App
    from ._websocket import NativeTransport

MAX_RECEIVE = 65536
#: After a response that closes the connection, how long unread request bytes
#: are drained, so that closing does not reset the connection under the
#: response before the client has read it.
LINGER_SECONDS = 1.0
LINGER_BYTES = 1 << 20

access_logger = logging.getLogger("trioweb.access")
logger = logging.getLogger("trioweb.server")

REASONS = {status.value: status.phrase.encode() for status in http.HTTPStatus}


def simple_response(
    status: int, message: str = "", headers: list[tuple[bytes, bytes]] | None = None
) -> list[h11.Event]:
    """The h11 events of a small text response that closes the connection."""
    payload = (message or REASONS.get(status, b"").decode()).encode()
    return [
        h11.Response(
            status_code=status,
            reason=REASONS.get(status, b""),
            headers=[
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(payload)).encode()),
                (b"connection", b"close"),
                *(headers or []),
            ],
        ),
        h11.Data(data=payload),
        h11.EndOfMessage(),
    ]


class HTTPConnection:
    """Serves the requests of one connection until it closes."""

    def __init__(
        self,
        app: App,
        stream: trio.abc.Stream,
        *,
        scheme: str = "http",
        client: tuple[str, int] | None = None,
        server: tuple[str, int] | None = None,
        access_log: bool = False,
    ) -> None:
        config = app.config
        self.app = app
        self.stream = stream
        self.scheme = scheme
        self.client = client
        self.remote_addr = client[0] if client else None
        self.server = server
        self.access_log = access_log
        self.max_head_size: int = config["MAX_REQUEST_HEAD_SIZE"]
        self.conn = h11.Connection(h11.SERVER, max_incomplete_event_size=self.max_head_size)
        self.keep_alive_timeout: float = config["KEEP_ALIVE_TIMEOUT"]
        self.head_timeout: float = config["REQUEST_HEAD_TIMEOUT"]
        self.max_content_length: int | None = config["MAX_CONTENT_LENGTH"]
        self.body_timeout: float | None = config["BODY_TIMEOUT"]

        self._nursery: trio.Nursery | None = None
        # Cancelled to stop the connection task's reading: by the timer, or
        # (with ``_closing`` set) when a response ends the connection.
        self._read_scope = trio.CancelScope()
        self._closing = False
        self._eof = False
        # When the connection task's wait for a request (head) runs out;
        # infinite while a handler runs. And when the response must be sent.
        self._read_deadline = trio.current_time() + self.keep_alive_timeout
        self._send_deadline = math.inf
        self._head_started = False
        # The exchange in progress.
        self._request: BaseRequestWebsocket | None = None
        self._handler_running = False
        self._body_pending: trio.Event | None = None
        self._handler_done: trio.Event | None = None
        self._close_after_response = False
        self._first_chunk = b""
        # Server shutdown (see ``shut_down``), and the websocket session once upgraded.
        self._shutting_down = False
        self.websocket_transport: NativeTransport | None = None

    # -- the connection task -----------------------------------------------------

    async def run(self) -> None:
        """Serve requests until the client leaves or the connection must close."""
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                nursery.start_soon(self._enforce_timeouts)
                with self._read_scope:
                    await self._serve(nursery)
                if self._handler_running:
                    nursery.cancel_scope.cancel(reason="the client disconnected")
                else:
                    nursery.cancel_scope.cancel()  # the timer
            if self._read_scope.cancelled_caught and not self._closing and self._head_started:
                await self._send_error(408, "The request head was not received in time.")
        finally:
            await self._close()

    async def _serve(self, nursery: trio.Nursery) -> None:
        conn = self.conn
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError as error:
                await self._send_error(error.error_status_hint, str(error))
                return
            if event is h11.NEED_DATA:
                await self._receive()
            elif type(event) is h11.Request:
                self._head_started = False
                if not await self._start_exchange(event, nursery):
                    return
            elif event is h11.PAUSED:
                # Their next request is here; ours may still be going out.
                if self._handler_running:
                    self._handler_done = trio.Event()
                    await self._handler_done.wait()
                if conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                    return
                conn.start_next_cycle()
            else:
                # ConnectionClosed; or the rest of a body its handler left
                # unread, after a response that said "Connection: close".
                return

    async def _receive(self) -> None:
        """Read more bytes into h11 (``b""`` at the end of the stream)."""
        try:
            data = bytes(await self.stream.receive_some(MAX_RECEIVE))
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            data = b""
        if not data:
            self._eof = True
        elif not self._head_started and not self._handler_running:
            self._head_started = True
            self._read_deadline = trio.current_time() + self.head_timeout
        self.conn.receive_data(data)

    async def _start_exchange(self, event: h11.Request, nursery: trio.Nursery) -> bool:
        """Build the request and start its handler; False if the connection must close."""
        conn = self.conn
        path, _, query = event.target.partition(b"?")
        try:
            decoded_path = path.decode("ascii")
        except UnicodeDecodeError:
            await self._send_error(400, "The request target is not ASCII.")
            return False
        if b"%" in path:
            decoded_path = unquote(decoded_path, errors="surrogateescape")
        if event.http_version != b"1.1" and event.http_version != b"1.0":
            await self._send_error(505)
            return False
        header_list, size, length, chunked = _decode_headers(event.headers)
        # h11 bounds only an incomplete head; a complete one is bounded here.
        if size + len(event.target) > self.max_head_size:
            await self._send_error(431)
            return False
        headers = Headers(header_list)
        # RFC 9112 6.3: both framings at once may be a smuggling attempt; h11
        # reads the body as chunked, and the connection closes after.
        self._close_after_response = self._shutting_down or (chunked and length is not None)
        try:
            first = conn.next_event()
        except h11.RemoteProtocolError as error:
            await self._send_error(error.error_status_hint, str(error))
            return False
        if (
            conn.their_state is h11.MIGHT_SWITCH_PROTOCOL  # type: ignore[attr-defined]
            and "websocket" in headers.get("Upgrade", "").lower()
        ):
            await self._upgrade(event, decoded_path, query, headers)
            return False
        if type(first) is h11.EndOfMessage:
            body = Body(_empty_body)
            self._body_pending = None
        else:
            if isinstance(first, h11.Data):
                self._first_chunk = bytes(first.data)
            body = Body(
                self._receive_body_chunk,
                content_length=None if chunked else length,
                max_content_length=self.max_content_length,
                timeout=self.body_timeout,
            )
            self._body_pending = trio.Event()
        request = Request(
            event.method.decode("ascii"),
            self.scheme,
            decoded_path,
            query,
            headers,
            body=body,
            http_version=event.http_version.decode("ascii"),
            server=self.server,
            remote_addr=self.remote_addr,
        )
        self.exchange_started(request)
        self._handler_running = True
        nursery.start_soon(self._respond, request)
        if self._body_pending is not None:
            await self._body_pending.wait()
            if self._eof:
                return False  # the client left in the middle of its body
        return True

    async def _upgrade(self, event: h11.Request, path: str, query: bytes, headers: Headers) -> None:
        """Hand the connection over to the websocket server (see ``_websocket``)."""
        from ._websocket import serve_websocket

        trailing, _ = self.conn.trailing_data
        await serve_websocket(self, event, path, query, headers, trailing)

    def exchange_started(self, request: BaseRequestWebsocket) -> None:
        """A request (or websocket handshake) is being answered: no read timeout now."""
        self._request = request
        self._read_deadline = math.inf

    @property
    def nursery(self) -> trio.Nursery:
        """The connection's nursery: its tasks end when the connection does."""
        assert self._nursery is not None, "the connection is not running"
        return self._nursery

    # -- the timer task ------------------------------------------------------------

    async def _enforce_timeouts(self) -> None:
        while True:
            deadline = min(self._read_deadline, self._send_deadline)
            await trio.sleep_until(min(deadline, trio.current_time() + self.keep_alive_timeout))
            now = trio.current_time()
            if now >= self._send_deadline:
                request = self._request
                logger.warning(
                    "The response to %s %s was not sent in time; closing the connection",
                    request.method if request else "-",
                    request.path if request else "-",
                )
                assert self._nursery is not None
                self._nursery.cancel_scope.cancel(reason="the response timed out")
                return
            if now >= self._read_deadline:
                self._read_scope.cancel(reason="the client was idle or slow")
                return

    # -- the handler task --------------------------------------------------------

    async def _respond(self, request: Request) -> None:
        try:
            await self.app.handle_request(request, self.send_response)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass  # the client went away while we answered it
        finally:
            self._end_exchange()

    def _end_exchange(self) -> None:
        """The handler is done: let the connection task go on or close."""
        self._handler_running = False
        self._send_deadline = math.inf
        if self._body_pending is not None:
            self._body_pending.set()
        if self._handler_done is not None:
            self._handler_done.set()
            self._handler_done = None
        conn = self.conn
        if conn.our_state is h11.DONE and conn.their_state is h11.DONE and not self._shutting_down:
            self._read_deadline = trio.current_time() + self.keep_alive_timeout
        else:
            self._closing = True
            self._read_scope.cancel()

    async def _receive_body_chunk(self) -> bytes:
        """The next chunk of the request body (``b""`` at its end), for :class:`Body`."""
        if self._first_chunk:
            chunk, self._first_chunk = self._first_chunk, b""
            return chunk
        conn = self.conn
        if conn.they_are_waiting_for_100_continue:
            await self.stream.send_all(conn.send(h11.InformationalResponse(status_code=100, headers=[])))
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError as error:
                if self._eof:
                    return await self._client_left()
                raise BadRequest(f"The request body is malformed: {error}") from None
            if event is h11.NEED_DATA:
                try:
                    data = bytes(await self.stream.receive_some(MAX_RECEIVE))
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    data = b""
                if not data:
                    self._eof = True
                conn.receive_data(data)
            elif isinstance(event, h11.Data):
                if event.data:
                    return bytes(event.data)
            elif type(event) is h11.EndOfMessage:
                if self._body_pending is not None:
                    self._body_pending.set()
                return b""
            else:
                return await self._client_left()

    async def _client_left(self) -> bytes:
        assert self._nursery is not None
        self._nursery.cancel_scope.cancel(reason="the client disconnected")
        await trio.lowlevel.checkpoint()
        raise AssertionError("unreachable: the exchange is cancelled")

    async def send_response(self, response: Response) -> None:
        """Write a response from the handler task; a streamed body goes out chunked."""
        conn = self.conn
        request = self._request
        assert request is not None
        headers = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in response.headers.items()]
        if self._close_after_response or conn.their_state is not h11.DONE:
            headers.append((b"connection", b"close"))
        status = response.status_code
        timeout = response.timeout
        if isinstance(timeout, int | float):
            self._send_deadline = trio.current_time() + timeout
        head = h11.Response(status_code=status, headers=headers, reason=REASONS.get(status, b""))
        body = response.body
        sent = 0
        if isinstance(body, bytes) or request.method == "HEAD":
            data = conn.send(head)
            if isinstance(body, bytes) and body and request.method != "HEAD":
                data += conn.send(h11.Data(data=body))
                sent = len(body)
            data += conn.send(h11.EndOfMessage())
            await self.stream.send_all(data)
            aclose = getattr(body, "aclose", None)
            if aclose is not None:
                await aclose()  # a streamed body a HEAD request never reads
        else:
            await self.stream.send_all(conn.send(head))
            async for chunk in response.iter_encoded():
                if chunk:
                    await self.stream.send_all(conn.send(h11.Data(data=chunk)))
                    sent += len(chunk)
            await self.stream.send_all(conn.send(h11.EndOfMessage()))
        if self.access_log:
            access_logger.info(
                '%s - "%s %s HTTP/%s" %d %d',
                self.remote_addr or "-",
                request.method,
                request.full_path if request.query_string else request.path,
                request.http_version,
                status,
                sent,
            )

    # -- server shutdown -------------------------------------------------------------

    def shut_down(self) -> None:
        """Take no more requests: close now if idle, else after the exchange in progress.

        A response still to come says ``Connection: close``; an open websocket
        is closed with 1001 (see ``NativeTransport.shut_down``).
        """
        self._shutting_down = True
        self._close_after_response = True
        if self.websocket_transport is not None:
            self.websocket_transport.shut_down()
        elif not self._handler_running and not self._head_started:
            self._closing = True
            self._read_scope.cancel()

    # -- errors and closing -------------------------------------------------------

    async def _send_error(self, status: int, message: str = "") -> None:
        """Answer a request the app never saw (bad, too large, too slow), then close."""
        if self.conn.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
            return
        try:
            data = b"".join(self.conn.send(event) or b"" for event in simple_response(status, message))
            with trio.move_on_after(self.keep_alive_timeout):
                await self.stream.send_all(data)
        except (h11.LocalProtocolError, trio.BrokenResourceError, trio.ClosedResourceError):
            pass

    async def _close(self) -> None:
        """Close the stream; unread request bytes are drained briefly first."""
        stream = self.stream
        try:
            if not self._eof and isinstance(stream, trio.SocketStream):
                with trio.move_on_after(LINGER_SECONDS):
                    await stream.send_eof()
                    drained = 0
                    while drained < LINGER_BYTES and (data := await stream.receive_some(MAX_RECEIVE)):
                        drained += len(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            pass
        finally:
            await trio.aclose_forcefully(stream)


def _decode_headers(raw: h11._headers.Headers) -> tuple[list[tuple[str, str]], int, int | None, bool]:
    """The headers as text, their size, the Content-Length and whether the body is chunked."""
    headers = []
    size = 0
    length: int | None = None
    chunked = False
    for name, value in raw:
        headers.append((name.decode("latin-1"), value.decode("latin-1")))
        size += len(name) + len(value) + 4
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = True
    return headers, size, length, chunked


async def _empty_body() -> bytes:
    return b""
