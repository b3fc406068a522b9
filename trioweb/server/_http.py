"""HTTP/1.1 on any ``trio.abc.Stream``: h11 for the protocol, the handler inline.

The connection task reads a request head, then runs the app's handler for it
in the same task: no task per request. A client that goes away must still
cancel its handler, so the handler is watched (:func:`_await_watching`): the
first time it yields to trio's scheduler with its response unfinished and its
request fully read, a watcher task starts reading the connection. End of
stream there cancels the connection's nursery, and with it the handler. A
handler that answers without blocking, the common case, never pays for one.

A timer task enforces the idle, request-head and response timeouts. Moving a
deadline is a plain attribute write on the hot path; the timer wakes at most
once per ``KEEP_ALIVE_TIMEOUT`` to look at it. It starts the first time the
connection may wait (for bytes, for a write, or in a handler).
"""

from __future__ import annotations

import contextvars
import functools
import http
import logging
import math
import types
from collections.abc import Callable, Coroutine, Generator
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import h11
import trio
from werkzeug.datastructures import Headers
from werkzeug.exceptions import BadRequest

from ..files import FileBody
from ..wrappers.base import BaseRequestWebsocket, trusted_headers
from ..wrappers.request import Body, Request
from ..wrappers.response import Response, close_body, timeout_warning
from ._date import http_date
from ._sendfile import can_sendfile, send_file_body
from ._socket_io import MAX_RECEIVE, plain_socket, read_now, socket_fd, write_now
from ._websocket import NativeTransport, websocket_session

if TYPE_CHECKING:
    from ..app import App

#: After a response that closes the connection, how long unread request bytes
#: are drained, so that closing does not reset the connection under the
#: response before the client has read it.
LINGER_SECONDS = 1.0
LINGER_BYTES = 1 << 20

access_logger = logging.getLogger("trioweb.access")
logger = logging.getLogger("trioweb.server")

REASONS = {status.value: status.phrase.encode() for status in http.HTTPStatus}
_REQUEST_READ = (h11.DONE, h11.MUST_CLOSE)


def _no_progress() -> None:
    pass


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
                (b"date", http_date()),
                (b"connection", b"close"),
                *(headers or []),
            ],
        ),
        h11.Data(data=payload),
        h11.EndOfMessage(),
    ]


@types.coroutine
def _await_watching(
    coroutine: Coroutine[Any, Any, None],
    trap: Any,
    blocks: Callable[[], None],
    run: Callable[..., Any],
) -> Generator[Any, Any, None]:
    """Finish ``await coroutine``, which yielded ``trap``; call ``blocks()`` at each yield.

    This is ``yield from`` written out: trio's traps and what trio sends back
    pass through unchanged, so cancellation and errors behave as if the
    coroutine were awaited directly. Each step runs through ``run``, the
    ``Context.run`` of the exchange's own context.
    """
    resume: Callable[[Any], Any] = coroutine.send
    value: Any = None
    while True:
        blocks()
        try:
            value = yield trap
            resume = coroutine.send
        except BaseException as error:  # thrown in, or closed
            value = error
            resume = coroutine.throw
        try:
            trap = run(resume, value)
        except StopIteration:
            return


class HTTPConnection:
    """Serves the requests of one connection until it closes."""

    # Slots: one of these lives as long as each open websocket.
    __slots__ = (
        "_close_after_response",
        "_eof",
        "_first_chunk",
        "_has_body",
        "_head_started",
        "_in_exchange",
        "_now",
        "_nursery",
        "_output",
        "_read_deadline",
        "_read_scope",
        "_registry",
        "_request",
        "_send_deadline",
        "_session",
        "_shutting_down",
        "_timer_scope",
        "_timer_started",
        "_watched",
        "access_log",
        "app",
        "body_timeout",
        "client",
        "conn",
        "head_timeout",
        "keep_alive_timeout",
        "max_content_length",
        "max_head_size",
        "remote_addr",
        "scheme",
        "server",
        "stream",
        "websocket_transport",
    )

    def __init__(
        self,
        app: App,
        stream: trio.abc.Stream,
        *,
        scheme: str = "http",
        client: tuple[str, int] | None = None,
        server: tuple[str, int] | None = None,
        access_log: bool = False,
        registry: set[HTTPConnection] | None = None,
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

        self._now = trio.lowlevel.current_clock().current_time
        self._nursery: trio.Nursery | None = None
        # Cancelled by the timer to stop waiting for a request (head).
        self._read_scope = trio.CancelScope()
        self._timer_scope = trio.CancelScope()
        self._timer_started = False
        self._eof = False
        # When the wait for a request (head) runs out; infinite while a
        # handler runs. And when the response must be sent.
        self._read_deadline = trio.current_time() + self.keep_alive_timeout
        self._send_deadline = math.inf
        self._head_started = False
        # The exchange in progress, and the watcher's end while one reads.
        self._request: BaseRequestWebsocket | None = None
        self._in_exchange = False
        self._watched: trio.Event | None = None
        self._close_after_response = False
        self._has_body = False
        self._first_chunk = b""
        self._output = b""
        # Server shutdown (see ``shut_down``), and the websocket session once upgraded.
        self._shutting_down = False
        self._session: Coroutine[Any, Any, None] | None = None
        self.websocket_transport: NativeTransport | None = None
        # The server's set of open connections, which this leaves when it closes.
        self._registry = registry
        if registry is not None:
            registry.add(self)

    # -- the connection task -----------------------------------------------------

    async def run(self) -> None:
        """Serve requests until the client leaves or the connection must close.

        Errors are logged, never raised: one connection cannot stop a server.
        The request loop is written inline, and reads and whole responses are
        awaited right in it, because every frame between the task and a trap
        is resumed again at each read and write.

        On a plain TCP socket the loop first tries each read and each write
        without trio (see ``_socket_io``) and waits through trio
        only when the socket is not ready. Under load the bytes are
        usually there already, and one scheduling point per request (after its
        response is written) replaces the two that ``receive_some`` and
        ``send_all`` would take: 12-15% more requests per second (bench/RESULTS.md).
        """
        conn = self.conn
        stream = self.stream
        fd = socket_fd(stream)  # valid until _close(), after the loop
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                with self._read_scope:
                    while True:
                        try:
                            event = conn.next_event()
                        except h11.RemoteProtocolError as error:
                            await self._send_error(error.error_status_hint, str(error))
                            break
                        if event is h11.NEED_DATA:
                            watched = self._watched
                            if watched is not None:
                                await watched.wait()  # the watcher's read is this read
                                self._watched = None
                                continue
                            data = read_now(fd)
                            if data is None:
                                self._start_timer()
                                try:
                                    data = bytes(await stream.receive_some(MAX_RECEIVE))
                                except (trio.BrokenResourceError, trio.ClosedResourceError):
                                    data = b""
                            self._feed(data)
                        elif type(event) is h11.Request:
                            self._head_started = False
                            if not await self._exchange(event):
                                break
                            output, self._output = self._output, b""
                            if output:
                                try:
                                    sent = write_now(fd, output)
                                    if sent < len(output):
                                        self._start_timer()
                                        await stream.send_all(memoryview(output)[sent:])
                                    else:
                                        await trio.lowlevel.checkpoint()  # each request's one
                                except (trio.BrokenResourceError, trio.ClosedResourceError):
                                    break
                            self._send_deadline = math.inf
                            if self._shutting_down:
                                break
                            try:
                                conn.start_next_cycle()
                            except h11.LocalProtocolError:
                                break  # "Connection: close", or a body the handler left unread
                            self._read_deadline = self._now() + self.keep_alive_timeout
                        else:
                            break  # ConnectionClosed
                session, self._session = self._session, None
                if session is not None:
                    # Outside the loop's frames, so that the handshake's h11
                    # objects are not kept for as long as the websocket is open.
                    del conn, event
                    started = self._now()
                    try:
                        await session
                    except BaseException as error:
                        if self.access_log:
                            self._log_websocket(started, error)
                        raise
                    if self.access_log:
                        self._log_websocket(started, None)
                nursery.cancel_scope.cancel()  # the timer, and a watcher
            if self._read_scope.cancelled_caught and self._head_started:
                await self._send_error(408, "The request head was not received in time.")
        except Exception:
            logger.exception("Connection from %s failed", self.client)
        finally:
            if self._registry is not None:
                self._registry.discard(self)
            try:
                await self._close()
            finally:
                # What makes cycles through this connection, so that none is left
                # for the collector at every connection's end: the nursery (whose
                # task runs this method), the exchange (a websocket refers back to
                # us through its transport), and a websocket session's objects.
                self._nursery = None
                self._request = None
                if self.websocket_transport is not None:
                    self.websocket_transport.forget()
                    self.websocket_transport = None

    async def _read(self) -> bytes:
        """Read once into h11 (``b""`` at the end of the stream): the watcher's and the body's reads.

        The request loop in ``run`` reads for itself, to keep the frames of
        its hot path few.
        """
        self._start_timer()
        try:
            data = bytes(await self.stream.receive_some(MAX_RECEIVE))
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            data = b""
        self._feed(data)
        return data

    def _feed(self, data: bytes) -> None:
        if not data:
            self._eof = True
        elif not self._head_started and not self._in_exchange:
            self._head_started = True
            self._read_deadline = self._now() + self.head_timeout
        self.conn.receive_data(data)

    async def _exchange(self, event: h11.Request) -> bool:
        """Answer one request; False if the connection must close."""
        conn = self.conn
        path, _, query = event.target.partition(b"?")
        try:
            decoded_path = path.decode("ascii")
        except UnicodeDecodeError:
            await self._send_error(400, "The request target is not ASCII.", event)
            return False
        if b"%" in path:
            decoded_path = unquote(decoded_path, errors="surrogateescape")
        if event.http_version != b"1.1" and event.http_version != b"1.0":
            await self._send_error(505, "", event)
            return False
        headers, size, length, chunked, upgrade = _decode_headers(event.headers)
        # h11 bounds only an incomplete head; a complete one is bounded here.
        if size + len(event.target) > self.max_head_size:
            await self._send_error(431, "", event)
            return False
        # RFC 9112 6.3: both framings at once may be a smuggling attempt; h11
        # reads the body as chunked, and the connection closes after.
        self._close_after_response = self._shutting_down or (chunked and length is not None)
        try:
            first = conn.next_event()
        except h11.RemoteProtocolError as error:
            await self._send_error(error.error_status_hint, str(error), event)
            return False
        if (
            upgrade
            and conn.their_state is h11.MIGHT_SWITCH_PROTOCOL  # type: ignore[attr-defined]
            and "websocket" in headers.get("Upgrade", "").lower()
        ):
            # A websocket has timeouts of its own (pings, the close handshake);
            # ending the timer saves its task's memory on every idle websocket.
            self._timer_scope.cancel()
            trailing, _ = conn.trailing_data
            self._session = websocket_session(self, event, decoded_path, query, headers, trailing)
            return False
        self._has_body = type(first) is not h11.EndOfMessage
        body: Body | None = None
        if self._has_body:
            if isinstance(first, h11.Data):
                self._first_chunk = bytes(first.data)
            body = Body(
                self._receive_body_chunk,
                content_length=None if chunked else length,
                max_content_length=self.max_content_length,
                timeout=self.body_timeout,
            )
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
        self._in_exchange = True
        try:
            # Run the handler up to its first yield to the scheduler, right
            # here; most never yield, and only one that does needs watching.
            handler = self.app.handle_request(request, self.send_response)
            # In a copy of the connection's context, as if in a task of its own (Hypercorn's way): a
            # variable the view sets (and does not reset) must not reach the next request on the connection.
            run = contextvars.copy_context().run
            try:
                trap = run(handler.send, None)
            except StopIteration:
                pass
            else:
                await _await_watching(handler, trap, self._handler_blocks, run)
        except BaseException as error:
            if self.access_log and self.conn.our_state is h11.SEND_RESPONSE:
                self._log_cut_short(request, error)  # a head that went out was logged with it
            if isinstance(error, trio.BrokenResourceError | trio.ClosedResourceError):
                return False  # the client went away while we answered it
            raise
        finally:
            self._in_exchange = False
            self._request = None  # nothing of a finished exchange is kept between requests
        return not self._eof

    def switched_protocols(self) -> None:
        """The websocket is accepted: h11's state is not needed again.

        Dropping it saves about a kilobyte on every open websocket; nothing
        after this point may use ``conn``.
        """
        del self.conn

    def exchange_started(self, request: BaseRequestWebsocket) -> None:
        """A request (or websocket handshake) is being answered: no read timeout now."""
        self._request = request
        self._read_deadline = math.inf

    @property
    def busy_with(self) -> str | None:
        """What a shutdown finds here: ``"request"`` (one being answered, or a websocket
        handshake), ``"websocket"`` (an open one), or ``None`` (idle)."""
        transport = self.websocket_transport
        if transport is None:
            return "request" if self._in_exchange else None
        websocket = transport.websocket
        if websocket is None or websocket.closed:
            return None
        return "websocket" if websocket.accepted else "request"

    @property
    def nursery(self) -> trio.Nursery:
        """The connection's nursery: its tasks end when the connection does."""
        assert self._nursery is not None, "the connection is not running"
        return self._nursery

    # -- the watcher -------------------------------------------------------------

    def _handler_blocks(self) -> None:
        """The handler yields to the scheduler: watch the client if it may now leave unseen."""
        self._start_timer()
        if self._watched is not None or self._eof:
            return
        conn = self.conn
        # Reading is safe once the request is read; pointless once the response is out.
        if conn.our_state is not h11.DONE and conn.their_state in _REQUEST_READ:
            self._watched = trio.Event()
            self.nursery.start_soon(self._watch)

    async def _watch(self) -> None:
        """Read once while the handler runs: end of stream cancels it, bytes go to h11."""
        assert self._watched is not None
        if not await self._read() and self._in_exchange:
            self.nursery.cancel_scope.cancel(reason="the client disconnected")
        self._watched.set()

    # -- the timer task ------------------------------------------------------------

    def _start_timer(self) -> None:
        """Start the timer task, the first time the connection may wait.

        Until then nothing can overrun a deadline; a connection whose first
        request (a websocket handshake, say) is answered without waiting
        never pays for the task.
        """
        if not self._timer_started:
            self._timer_started = True
            self.nursery.start_soon(self._enforce_timeouts)

    async def _enforce_timeouts(self) -> None:
        with self._timer_scope:
            await self._run_timer()

    async def _run_timer(self) -> None:
        while True:
            deadline = min(self._read_deadline, self._send_deadline)
            await trio.sleep_until(min(deadline, trio.current_time() + self.keep_alive_timeout))
            now = trio.current_time()
            if now >= self._send_deadline:
                request = self._request
                logger.warning(timeout_warning(request.method if request else "-", request.path if request else "-"))
                assert self._nursery is not None
                self._nursery.cancel_scope.cancel(reason="the response timed out")
                return
            if now >= self._read_deadline:
                self._read_scope.cancel(reason="the client was idle or slow")
                return

    # -- the handler's reads and writes --------------------------------------------

    async def _receive_body_chunk(self) -> bytes:
        """The next chunk of the request body (``b""`` at its end), for :class:`Body`."""
        if self._first_chunk:
            chunk, self._first_chunk = self._first_chunk, b""
            return chunk
        conn = self.conn
        if conn.they_are_waiting_for_100_continue:
            await self.stream.send_all(
                conn.send(h11.InformationalResponse(status_code=100, headers=[(b"date", http_date())]))
            )
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError as error:
                if self._eof:
                    return await self._client_left()
                raise BadRequest(f"The request body is malformed: {error}") from None
            if event is h11.NEED_DATA:
                await self._read()
            elif isinstance(event, h11.Data):
                if event.data:
                    return bytes(event.data)
            elif type(event) is h11.EndOfMessage:
                return b""
            else:
                return await self._client_left()

    async def _client_left(self) -> bytes:
        assert self._nursery is not None
        self._nursery.cancel_scope.cancel(reason="the client disconnected")
        await trio.lowlevel.checkpoint()
        raise AssertionError("unreachable: the exchange is cancelled")

    async def send_response(self, response: Response) -> None:
        """Write a response from the handler task; a streamed body goes out chunked.

        A ``Date`` is added unless the app set one.
        """
        conn = self.conn
        request = self._request
        assert request is not None
        headers = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in response.headers]
        for name, _ in headers:
            if len(name) == 4 and name.lower() == b"date":
                break  # the app's own, as a proxying view copies it from upstream
        else:
            headers.append((b"date", http_date()))
        if self._close_after_response or (self._has_body and conn.their_state is not h11.DONE):
            headers.append((b"connection", b"close"))
        status = response.status_code
        timeout = response.timeout
        if isinstance(timeout, (int, float)):
            self._send_deadline = self._now() + timeout
        head = h11.Response(status_code=status, headers=headers, reason=REASONS.get(status, b""))
        body = response.body
        sent = 0
        if isinstance(body, bytes) or request.method == "HEAD":
            data = conn.send(head)
            if isinstance(body, bytes) and body and request.method != "HEAD":
                data += conn.send(h11.Data(data=body))
                sent = len(body)
            data += conn.send(h11.EndOfMessage())
            if self._in_exchange:
                # Written by the connection task once the handler is done
                # (after teardown, as in Quart), away from the handler's frames.
                self._output = data
            else:
                await self.stream.send_all(data)
            if type(body) is not bytes:
                await close_body(body)  # a streamed body a HEAD request never reads
        else:
            # A file's timeout restarts at each write that moves bytes: it bounds
            # a stalled client, not a long download (docs/sending-files.md).
            progress = (
                functools.partial(self._restart_send_deadline, timeout)
                if type(body) is FileBody and isinstance(timeout, (int, float))
                else None
            )
            try:
                await self.stream.send_all(conn.send(head))
                if can_sendfile(body, self.stream):
                    assert isinstance(body, FileBody) and isinstance(self.stream, trio.SocketStream)
                    try:
                        sent = await send_file_body(conn, self.stream, body, progress or _no_progress)
                    finally:
                        await body.aclose()
                else:
                    chunks = response.iter_encoded()
                    try:
                        async for chunk in chunks:
                            if chunk:
                                await self.stream.send_all(conn.send(h11.Data(data=chunk)))
                                sent += len(chunk)
                                if progress is not None:
                                    progress()
                    finally:
                        # Closed here, inside the request, even when the client left:
                        # not later by the garbage collector, outside of it.
                        await chunks.aclose()
                await self.stream.send_all(conn.send(h11.EndOfMessage()))
            except BaseException as error:
                if self.access_log:
                    self._log_cut_short(request, error, status, sent)
                raise
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

    def _restart_send_deadline(self, timeout: float) -> None:
        self._send_deadline = self._now() + timeout

    # -- the access log's other lines -------------------------------------------------
    # (A completed response is logged by send_response itself: one call, no frame.)

    def _log_cut_short(
        self, request: BaseRequestWebsocket, error: BaseException | None, status: int | None = None, sent: int = 0
    ) -> None:
        """A response that was cut short: its status and the body bytes sent so far, and why."""
        if self._eof or isinstance(error, trio.BrokenResourceError | trio.ClosedResourceError):
            why = "client left"
        elif self._now() >= self._send_deadline:
            why = "response timed out"
        else:
            why = "cancelled"
        access_logger.info(
            '%s - "%s %s HTTP/%s" %s %d (%s)',
            self.remote_addr or "-",
            request.method,
            request.full_path if request.query_string else request.path,
            request.http_version,
            "-" if status is None else status,
            sent,
            why,
        )

    def _log_websocket(self, started: float, error: BaseException | None) -> None:
        """A websocket session is over: its path, 101, how long it lasted and its close code."""
        transport = self.websocket_transport
        websocket = transport.websocket if transport is not None else None
        if websocket is None:
            return
        if not websocket.accepted:
            if not websocket.closed:  # never answered; a rejection was logged as its response
                self._log_cut_short(websocket, error)
            return
        access_logger.info(
            '%s - "GET %s HTTP/%s" 101 - (websocket, %.2f s, close %d)',
            self.remote_addr or "-",
            websocket.full_path if websocket.query_string else websocket.path,
            websocket.http_version,
            self._now() - started,
            # No close code: the connection dropped, which a client sees as 1006.
            websocket.close_code if websocket.close_code is not None else 1006,
        )

    def _log_protocol_error(self, status: int, size: int, message: str, event: h11.Request | None) -> None:
        """An answer of the server's own to a request the app never saw; ``"-"`` for a head it could not read."""
        note = f" ({message})" if message else ""
        if event is None:
            access_logger.info('%s - "-" %d %d%s', self.remote_addr or "-", status, size, note)
            return
        access_logger.info(
            '%s - "%s %s HTTP/%s" %d %d%s',
            self.remote_addr or "-",
            event.method.decode("ascii", "replace"),
            event.target.decode("ascii", "replace"),
            event.http_version.decode("ascii", "replace"),
            status,
            size,
            note,
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
        elif self.conn.our_state is h11.IDLE and not self._head_started:
            # Waiting for a request; a response still being written is left to finish.
            self._read_scope.cancel()

    # -- errors and closing -------------------------------------------------------

    async def _send_error(self, status: int, message: str = "", request: h11.Request | None = None) -> None:
        """Answer a request the app never saw (bad, too large, too slow), then close.

        ``request`` is its head, when it could be read.
        """
        if self.conn.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
            return
        events = simple_response(status, message)
        try:
            data = b"".join(self.conn.send(event) or b"" for event in events)
            with trio.move_on_after(self.keep_alive_timeout):
                await self.stream.send_all(data)
        except (h11.LocalProtocolError, trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        if self.access_log:
            size = sum(len(event.data) for event in events if isinstance(event, h11.Data))
            self._log_protocol_error(status, size, message, request)

    async def _close(self) -> None:
        """Close the stream; unread request bytes are drained briefly first.

        A plain socket is closed with trio's socket ``close()``, which is what
        ``SocketStream.aclose`` does before its checkpoint: under a cancel
        scope made for it (``aclose_forcefully``) that checkpoint raises and
        catches a ``Cancelled``, and ``serve_listeners`` closes the stream
        once more anyway. A websocket's socket may be closed already, at the
        end of its close handshake.
        """
        stream = self.stream
        sock = plain_socket(stream)
        if sock is not None and sock.fileno() < 0:
            return
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
            if sock is not None:
                sock.close()
            else:
                await trio.aclose_forcefully(stream)


#: Header names as text, shared by every request (and open websocket) that sends them.
_header_names: dict[bytes, str] = {}


def _decode_headers(raw: h11._headers.Headers) -> tuple[Headers, int, int | None, bool, bool]:
    """The headers as text, their size, the Content-Length, whether the body is chunked
    and whether an Upgrade is asked for."""
    items = []
    size = 0
    length: int | None = None
    chunked = upgrade = False
    for name, value in raw.raw_items():
        text = _header_names.get(name)
        if text is None:
            text = name.decode("latin-1")
            if len(name) <= 40 and len(_header_names) < 1024:  # bounded: a client picks the names
                _header_names[name] = text
        items.append((text, value.decode("latin-1")))
        size += len(name) + len(value) + 4
        if len(name) == 14 and name.lower() == b"content-length":
            length = int(value)
        elif len(name) == 17 and name.lower() == b"transfer-encoding":
            chunked = True
        elif len(name) == 7 and name.lower() == b"upgrade":
            upgrade = True
    return trusted_headers(items), size, length, chunked, upgrade
