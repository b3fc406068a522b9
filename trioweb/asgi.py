"""The ASGI adapter: ``App`` as an ASGI 3 application (docs/architecture.md#layers).

It maps ASGI messages onto the Request, Websocket and Response objects the
native server uses, so the app never sees an ASGI message. It is built and
tested for Hypercorn's trio worker, and how that worker calls the app shapes
the code:

* Hypercorn runs each request and each websocket in a task of its own and
  feeds ``receive`` from a memory channel. The view runs in that task. Only
  a task waiting on ``receive`` can see the client leave, but a second task
  per request or per message is most of the cost of a quick request or an
  echo. So the view reads ``receive`` itself (the body, websocket messages),
  and a watcher task is started only for a request still running after
  ``WATCH_AFTER``, or a websocket whose view has stayed out of ``receive()``
  that long (see ``_Watch``). Then the watcher owns ``receive``, hands what
  comes to the view, and cancels the view when the client disconnects.
* After the last body message of a response, Hypercorn queues
  ``http.disconnect`` and, for ``Connection: close`` or HTTP/1.0, closes the
  connection, all inside that ``send`` call. A disconnect after a complete
  response therefore cancels nothing: cancelling there would interrupt
  Hypercorn's close and leave the connection open.
* Hypercorn reports a close the client started as 1006, whatever code the
  client sent; ``websocket.close_code`` is what the server reports.
* A websocket message may be empty: ``text``/``bytes`` are tested against
  ``None``, never for truth.
"""

from __future__ import annotations

import logging
import math
import traceback
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, NoReturn, Protocol

import trio
from werkzeug.datastructures import Headers

from .files import FileBody
from .lifespan import serving
from .wrappers.base import trusted_headers
from .wrappers.request import Body, Request
from .wrappers.response import Response, close_body, timeout_warning
from .wrappers.websocket import Websocket

if TYPE_CHECKING:
    from .app import App

# Read-only mappings, and ``Any`` for what we send: ASGI servers type their
# scopes and events as unions of TypedDicts, which a MutableMapping would not accept.
Scope = Mapping[str, Any]
Message = Mapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Any], Awaitable[None]]

#: A request running this long, or a websocket view that has stayed out of
#: ``receive()`` this long, gets a watcher task (see ``_Watch``). Under load
#: a quick request can take tens of milliseconds of wall time just waiting
#: for its turn, so this is well above that.
WATCH_AFTER = 0.1
#: How long a close on the way out of a cancelled websocket may take.
GOODBYE_TIMEOUT = 1.0
GOING_AWAY = 1001
NO_STATUS_RECEIVED = 1005

logger = logging.getLogger("trioweb.asgi")


async def dispatch(app: App, scope: Scope, receive: Receive, send: Send) -> None:
    """Serve one ASGI scope: ``http``, ``websocket`` or ``lifespan``."""
    kind = scope["type"]
    if kind == "http":
        await serve_http(app, scope, receive, send)
    elif kind == "websocket":
        await serve_websocket(app, scope, receive, send)
    elif kind == "lifespan":
        await serve_lifespan(app, scope, receive, send)
    else:
        raise ValueError(f"trioweb cannot serve the ASGI scope type {kind!r}")


def _decode_head(scope: Scope) -> tuple[str, str, Headers, int | None, bool]:
    """Path, root path, headers and Content-Length of a scope, and whether it also has Transfer-Encoding."""
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    # ASGI's path includes root_path; werkzeug's path is what follows it.
    if root_path and path.startswith(root_path):
        path = path[len(root_path) :] or "/"
    pairs = []
    length: int | None = None
    chunked = False
    for name, value in scope["headers"]:
        pairs.append((name.decode("latin-1"), value.decode("latin-1")))
        if name == b"content-length" and value.isdigit():
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = True
    # The server has parsed and validated them (h11, h2 or aioquic).
    return path, root_path, trusted_headers(pairs), length, chunked


def _encode_headers(headers: Headers) -> list[tuple[bytes, bytes]]:
    # Lower case: HTTP/2 and HTTP/3 reject upper-case field names.
    return [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers]


def _remote_addr(scope: Scope) -> str | None:
    client = scope.get("client")
    return client[0] if client else None


# -- the watch over slow requests and busy websocket views -------------------------


class _Watched(Protocol):
    def sweep(self, generation: int) -> bool:
        """Start a watcher if it needs one by now; True once it needs no more looking at."""


class _Watch:
    """One task in the app nursery that starts watchers where they are needed.

    Every ``WATCH_AFTER`` seconds it starts a new generation and asks each
    registered request or websocket whether it needs a watcher: a request
    registered a generation ago or more is slow; a websocket view that left
    ``receive()`` a generation ago or more and has not come back is busy
    elsewhere. A client that leaves is then noticed at most ``2 *
    WATCH_AFTER`` late. While nothing is registered, the task sleeps.
    """

    def __init__(self, nursery: trio.Nursery) -> None:
        self.nursery = nursery
        self.generation = 0
        self.pending: dict[_Watched, None] = {}
        self._wakeup: trio.Event | None = None
        self._scope = trio.CancelScope()

    def add(self, item: _Watched) -> None:
        self.pending[item] = None
        if self._wakeup is not None:
            self._wakeup.set()
            self._wakeup = None

    def stop(self) -> None:
        self._scope.cancel()

    async def run(self) -> None:
        pending = self.pending
        with self._scope:
            while True:
                if not pending:
                    self._wakeup = wakeup = trio.Event()
                    await wakeup.wait()
                await trio.sleep(WATCH_AFTER)
                self.generation += 1
                for item in list(pending):
                    if item.sweep(self.generation):
                        del pending[item]


def _watch(app: App) -> _Watch | None:
    """The app's watch, while it serves; ``None`` otherwise (then everything gets a watcher at once)."""
    lifespan = app.lifespan
    if lifespan is None or lifespan.nursery is None or lifespan.shutting_down:
        return None
    watch: _Watch | None = lifespan.asgi_watch
    if watch is None:
        lifespan.asgi_watch = watch = _Watch(lifespan.nursery)
        lifespan.on_shutdown.append(watch.stop)
        lifespan.nursery.start_soon(watch.run)
    return watch


# -- HTTP --------------------------------------------------------------------------


class _HTTPExchange:
    """One request: the body the view reads, the response it sends, and the disconnect watch.

    Until a watcher task exists, the view reads the body with ``receive``
    itself. Once one does, the watcher owns ``receive`` and hands the body
    over one chunk at a time through ``_chunk`` (one slot, so a client that
    sends faster than the view reads is held back); the events are made only
    when someone has to wait.
    """

    __slots__ = (
        "_body_ended",
        "_chunk",
        "_chunk_taken",
        "_chunk_waiter",
        "_watcher_scope",
        "cancel_scope",
        "close_connection",
        "head_only",
        "may_have_body",
        "reading",
        "receive",
        "registered",
        "request",
        "response_complete",
        "send",
        "watch_nursery",
        "watcher_started",
        "watching",
    )

    def __init__(self, app: App, scope: Scope, receive: Receive, send: Send) -> None:
        self.receive = receive
        self.send = send
        self.cancel_scope = trio.CancelScope()
        self.registered = 0
        self.watch_nursery: trio.Nursery | None = None
        self.watcher_started = False
        self.watching = False
        self._watcher_scope: trio.CancelScope | None = None
        self.reading = False
        self.response_complete = False
        self._body_ended = False
        self._chunk: tuple[bytes, bool] | None = None
        self._chunk_waiter: trio.Event | None = None
        self._chunk_taken: trio.Event | None = None
        path, root_path, headers, length, chunked = _decode_head(scope)
        config = app.config
        method: str = scope["method"]
        http_version: str = scope.get("http_version", "1.1")
        self.head_only = method == "HEAD"
        http_1 = http_version.startswith("1.")
        # HTTP/1 has a body only with a Content-Length or Transfer-Encoding.
        self.may_have_body = chunked or (length is not None and length > 0) or (length is None and not http_1)
        # RFC 9112 6.3: both framings at once may be request smuggling; answer,
        # then close (on HTTP/1.x, through a "Connection: close" the server obeys).
        self.close_connection = chunked and length is not None and http_1
        self.request = Request(
            method,
            scope.get("scheme", "http"),
            path,
            scope.get("query_string", b""),
            headers,
            body=Body(
                self.receive_body_chunk,
                content_length=length,
                max_content_length=config["MAX_CONTENT_LENGTH"],
                timeout=config["BODY_TIMEOUT"],
            ),
            root_path=root_path,
            http_version=http_version,
            server=scope.get("server"),
            remote_addr=_remote_addr(scope),
        )

    def forget_request(self) -> None:
        """Break the cycle request -> body -> this exchange -> request once the view is done.

        Left in place, every request would wait for the cyclic garbage
        collector: about 10% of a small request's time on Hypercorn.
        """
        del self.request

    # -- the watcher ---------------------------------------------------------------

    def sweep(self, generation: int) -> bool:
        """Slow by now: start the watcher, unless the view reading its body will see a disconnect itself."""
        if generation <= self.registered + 1 or self.reading:
            return False
        assert self.watch_nursery is not None
        self.start_watching(self.watch_nursery)
        return True

    def start_watching(self, nursery: trio.Nursery) -> None:
        """Start the watcher task in ``nursery``; from now on it owns ``receive``."""
        self.watcher_started = self.watching = True
        self._watcher_scope = trio.CancelScope()
        nursery.start_soon(self._watch_in_scope, self._watcher_scope)

    def stop_watching(self) -> None:
        """The exchange is over: a watcher still waiting for ``http.disconnect`` stops."""
        if self.watching and self._watcher_scope is not None:
            self._watcher_scope.cancel()

    async def _watch_in_scope(self, scope: trio.CancelScope) -> None:
        with scope:
            await self.watch()

    async def watch(self) -> None:
        """Hand the body to the view, then wait for ``http.disconnect``.

        It usually ends by itself: ASGI servers send ``http.disconnect`` once
        the response is complete.
        """
        receive = self.receive
        try:
            while True:
                message = await receive()
                kind = message["type"]
                if kind == "http.request":
                    chunk: bytes = message.get("body", b"")
                    more: bool = message.get("more_body", False)
                    if chunk or not more:
                        await self._hand_over(chunk, more)
                elif kind == "http.disconnect":
                    self._disconnected()
                    return
        finally:
            self.watching = False
            if self._chunk_waiter is not None:
                self._chunk_waiter.set()

    def _disconnected(self) -> None:
        if not self.response_complete:
            self.cancel_scope.cancel(reason="the client disconnected")

    async def _hand_over(self, chunk: bytes, more: bool) -> None:
        # Once the response is complete the rest of the body is dropped, so
        # that the server, which may block on a full queue, never waits on us.
        while self._chunk is not None and not self.response_complete:
            self._chunk_taken = taken = trio.Event()
            await taken.wait()
        if not self.response_complete:
            self._chunk = (chunk, more)
            if self._chunk_waiter is not None:
                self._chunk_waiter.set()

    # -- the body -----------------------------------------------------------------

    async def receive_body_chunk(self) -> bytes:
        """The next chunk of the body, ``b""`` at its end (for :class:`Body`)."""
        if self._body_ended:
            return b""
        if self.watcher_started:
            return await self._take_chunk()
        while True:
            self.reading = True
            try:
                message = await self.receive()
            finally:
                self.reading = False
            kind = message["type"]
            if kind == "http.request":
                chunk: bytes = message.get("body", b"")
                if not message.get("more_body", False):
                    self._body_ended = True
                    return chunk
                if chunk:
                    return chunk
            elif kind == "http.disconnect":
                self._disconnected()
                await trio.lowlevel.checkpoint()  # cancelled here
                return b""

    async def _take_chunk(self) -> bytes:
        while self._chunk is None:
            if not self.watching:
                await trio.lowlevel.checkpoint()  # the client left: cancelled here
                return b""
            self._chunk_waiter = waiter = trio.Event()
            await waiter.wait()
        chunk, more = self._chunk
        self._chunk = None
        if self._chunk_taken is not None:
            self._chunk_taken.set()
        if not more:
            self._body_ended = True
        return chunk

    # -- the response -----------------------------------------------------------------

    def _complete(self) -> None:
        """The last message of the response is about to go: a disconnect cancels nothing now.

        A body left unread may still be arriving; the server could block
        queueing it, inside our last ``send``. A watcher drains it.
        """
        self.response_complete = True
        if self._chunk_taken is not None:
            self._chunk_taken.set()
        if not self.watcher_started and not self._body_ended and self.may_have_body:
            assert self.watch_nursery is not None  # without a watch, the watcher runs from the start
            self.start_watching(self.watch_nursery)

    async def send_response(self, response: Response) -> None:
        send = self.send
        headers = _encode_headers(response.headers)
        if self.close_connection:
            headers.append((b"connection", b"close"))
        await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
        body = response.body
        if isinstance(body, bytes) or self.head_only:
            if not isinstance(body, bytes):
                await close_body(body)  # a streamed body a HEAD request never reads
            self._complete()
            await send({"type": "http.response.body", "body": b"" if self.head_only else body})
            return
        # Hypercorn shields its socket writes, so the timeout bounds making the
        # body rather than a slow reader. On expiry the response is left
        # incomplete, and the server closes the connection.
        timeout = response.timeout
        # A file's timeout restarts at each chunk: it bounds a stall, not a long download.
        progress = type(body) is FileBody and isinstance(timeout, int | float)
        with trio.move_on_after(timeout if isinstance(timeout, int | float) else math.inf) as timer:
            async for chunk in response.iter_encoded():
                if chunk:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                    if progress:
                        assert isinstance(timeout, int | float)
                        timer.deadline = trio.current_time() + timeout
        if timer.cancelled_caught:
            assert isinstance(timeout, int | float)  # only a finite timeout runs out
            logger.warning(timeout_warning(self.request.method, self.request.path, timeout))
            return
        self._complete()
        await send({"type": "http.response.body", "body": b""})


async def serve_http(app: App, scope: Scope, receive: Receive, send: Send) -> None:
    """Answer one HTTP request; a client that leaves before the response is complete cancels the view."""
    exchange = _HTTPExchange(app, scope, receive, send)
    watch = _watch(app)
    if watch is None:
        await _serve_watched(app, exchange)
        return
    exchange.registered = watch.generation
    exchange.watch_nursery = watch.nursery
    watch.add(exchange)
    try:
        with exchange.cancel_scope:
            await app.handle_request(exchange.request, exchange.send_response)
    finally:
        watch.pending.pop(exchange, None)
        exchange.stop_watching()
        exchange.forget_request()


async def _serve_watched(app: App, exchange: _HTTPExchange) -> None:
    """A request with its watcher from the start, both in a nursery of its own."""
    error: Exception | None = None
    async with trio.open_nursery() as nursery:
        exchange.cancel_scope = nursery.cancel_scope
        exchange.start_watching(nursery)
        try:
            await app.handle_request(exchange.request, exchange.send_response)
        except Exception as exception:  # the server's send failed: re-raised below, outside the nursery
            error = exception
        exchange.stop_watching()
        exchange.forget_request()
    if error is not None:
        raise error


# -- websockets ----------------------------------------------------------------------


def _message_data(message: Message) -> str | bytes:
    """The payload of a ``websocket.receive``; an empty one is a message too."""
    text: str | None = message.get("text")
    if text is not None:
        return text
    data: bytes | None = message.get("bytes")
    return data if data is not None else b""


class _ASGITransport:
    """One websocket session on an ASGI server (see ``WebsocketTransport``).

    The view's ``receive()`` calls the server's ``receive`` itself, until a
    reader task is started (at once without a ``_Watch``, else once the view
    has stayed out of ``receive()`` for a generation). From then on the
    reader owns ``receive`` and queues messages for the view, up to
    ``WEBSOCKET_QUEUE_SIZE`` (then the client is held back).
    """

    def __init__(self, scope: Scope, receive: Receive, send: Send, queue_size: int) -> None:
        self._scope = scope
        self._receive = receive
        self._send = send
        self._queue_size = queue_size
        self._inbox_in: trio.MemorySendChannel[str | bytes] | None = None
        self._inbox_out: trio.MemoryReceiveChannel[str | bytes] | None = None
        self.websocket: Websocket | None = None
        #: The session's nursery, where a reader task starts.
        self.nursery: trio.Nursery | None = None
        self.reader_started = False
        self.receiving = False
        self.left_receive = 0
        self.watch: _Watch | None = None
        self.sent_close = False
        #: Set at ``websocket.disconnect``: the session is over.
        self.gone = trio.Event()

    # -- the reader ------------------------------------------------------------------

    def sweep(self, generation: int) -> bool:
        """Start the reader if the view has been busy elsewhere for a generation."""
        if self.reader_started or self.gone.is_set():
            return True
        if self.receiving:
            return True  # the view waits in receive() and will see a disconnect itself
        if generation <= self.left_receive + 1:
            return False
        self.start_reader()
        return True

    def start_reader(self) -> None:
        assert self.nursery is not None
        self.reader_started = True
        self._inbox_in, self._inbox_out = trio.open_memory_channel[str | bytes](self._queue_size)
        self.nursery.start_soon(self._read, self._inbox_in)

    async def _read(self, inbox: trio.MemorySendChannel[str | bytes]) -> None:
        """Queue the client's messages for the view until ``websocket.disconnect``."""
        receive = self._receive
        try:
            while True:
                message = await receive()
                kind = message["type"]
                if kind == "websocket.receive":
                    if self.sent_close:
                        continue  # the view is closing: what the client sent meanwhile is dropped
                    data = _message_data(message)
                    try:
                        try:
                            inbox.send_nowait(data)
                        except trio.WouldBlock:
                            await inbox.send(data)  # the view is behind: backpressure on the client
                    except trio.BrokenResourceError:
                        pass  # the view is closing (``send_close`` closed the inbox): dropped
                elif kind == "websocket.disconnect":
                    self._disconnected(message)
                    return
        finally:
            inbox.close()

    def _disconnected(self, message: Message) -> None:
        """The session is over: keep the close code, then cancel the view."""
        self.gone.set()
        if self.websocket is not None:
            code: int = message.get("code", NO_STATUS_RECEIVED)
            self.websocket.end_session(code, message.get("reason") or "", by="the client")

    async def wait_for_disconnect(self) -> None:
        """After our close frame: until the client's answer (the server then closes the connection).

        Someone must be reading ``receive`` for the disconnect to arrive: a
        reader is started if none runs. (A view's task already waiting in
        ``receive()`` may be the one that gets it; either ends the session.)
        """
        if not self.reader_started and not self.gone.is_set():
            self.start_reader()
        await self.gone.wait()

    # -- what the view calls ------------------------------------------------------------

    async def accept(self, headers: Headers, subprotocol: str | None) -> None:
        await self._send({"type": "websocket.accept", "subprotocol": subprotocol, "headers": _encode_headers(headers)})

    async def reject(self, response: Response) -> None:
        if "websocket.http.response" in (self._scope.get("extensions") or {}):
            await self._send(
                {
                    "type": "websocket.http.response.start",
                    "status": response.status_code,
                    "headers": _encode_headers(response.headers),
                }
            )
            await self._send({"type": "websocket.http.response.body", "body": await response.get_data()})
        else:
            # Without the extension the server answers a close before accepting with 403.
            await self._send({"type": "websocket.close", "code": 1000})

    async def receive(self) -> str | bytes:
        while True:
            if self.sent_close or self.gone.is_set():
                await self._used_after_close()
            if self.reader_started:
                assert self._inbox_out is not None
                try:
                    return await self._inbox_out.receive()
                except (trio.EndOfChannel, trio.ClosedResourceError):
                    continue
            self.receiving = True
            try:
                message = await self._receive()
            finally:
                self.receiving = False
                watch = self.watch
                if watch is not None:
                    self.left_receive = watch.generation
                    if self not in watch.pending:
                        watch.add(self)
            kind = message["type"]
            if kind == "websocket.receive" and not self.sent_close:
                return _message_data(message)
            if kind == "websocket.disconnect":
                self._disconnected(message)

    async def send(self, data: str | bytes) -> None:
        if self.sent_close or self.gone.is_set():
            await self._used_after_close()
        if isinstance(data, str):
            await self._send({"type": "websocket.send", "text": data})
        else:
            await self._send({"type": "websocket.send", "bytes": data})

    async def close(self, code: int, reason: str) -> None:
        """Send the close; return once the client has answered (``websocket.disconnect``)."""
        await self.send_close(code, reason)
        await self.wait_for_disconnect()

    async def send_close(self, code: int, reason: str) -> None:
        self.sent_close = True
        if self._inbox_out is not None:
            # A reader held back by a full inbox must go on to the disconnect.
            self._inbox_out.close()
        await self._send({"type": "websocket.close", "code": code, "reason": reason})

    async def _used_after_close(self) -> NoReturn:
        assert self.websocket is not None
        await self.websocket.used_after_close()


async def serve_websocket(app: App, scope: Scope, receive: Receive, send: Send) -> None:
    """Run the websocket view for one ASGI websocket scope."""
    if (await receive())["type"] != "websocket.connect":
        return  # gone before the handshake reached us
    path, root_path, headers, _, _ = _decode_head(scope)
    transport = _ASGITransport(scope, receive, send, app.config["WEBSOCKET_QUEUE_SIZE"])
    websocket = Websocket(
        path,
        scope.get("query_string", b""),
        headers,
        transport,
        scheme=scope.get("scheme", "ws"),
        root_path=root_path,
        http_version=scope.get("http_version", "1.1"),
        server=scope.get("server"),
        remote_addr=_remote_addr(scope),
    )
    transport.websocket = websocket
    watch = _watch(app)
    async with trio.open_nursery() as nursery:
        transport.nursery = nursery
        if watch is None:
            transport.start_reader()
        else:
            transport.watch = watch
            transport.left_receive = watch.generation
            watch.add(transport)  # until the view first waits in receive()
        try:
            await app.handle_websocket(websocket)
        except BaseException:
            # Cancelled from outside, as when the server's grace period ends: say goodbye.
            if websocket.accepted and not websocket.closed:
                websocket.end_session(GOING_AWAY, "the server is shutting down", by="the server")
                with trio.move_on_after(GOODBYE_TIMEOUT, shield=True):
                    await transport.send_close(GOING_AWAY, "the server is shutting down")
            raise
        finally:
            if watch is not None:
                watch.pending.pop(transport, None)
        nursery.cancel_scope.cancel()


# -- lifespan ----------------------------------------------------------------------


async def serve_lifespan(app: App, scope: Scope, receive: Receive, send: Send) -> None:
    """Startup on ``lifespan.startup``, graceful shutdown on ``lifespan.shutdown`` (see ``trioweb.lifespan``).

    ``lifespan.shutdown.complete`` is sent only once background tasks are
    done (or cancelled after ``SHUTDOWN_TIMEOUT``) and ``after_serving`` has
    run. A failure is reported with ``*.failed`` and the error, and logged
    with its traceback.
    """
    if (await receive())["type"] != "lifespan.startup":
        return
    started = False
    try:
        async with serving(app):
            started = True
            await send({"type": "lifespan.startup.complete"})
            while (await receive())["type"] != "lifespan.shutdown":
                pass
    except Exception as error:
        message = "".join(traceback.format_exception_only(error)).strip()
        phase = "shutdown" if started else "startup"
        app.logger.error("The app's %s failed", phase, exc_info=error)
        await send({"type": f"lifespan.{phase}.failed", "message": message})
        return
    await send({"type": "lifespan.shutdown.complete"})


__all__ = ["Receive", "Scope", "Send", "dispatch", "serve_http", "serve_lifespan", "serve_websocket"]
