"""The ASGI adapter: ``App`` as an ASGI 3 application (DESIGN §1).

It maps ASGI messages onto the Request, Websocket and Response objects the
native server uses, so the app never sees an ASGI message. It is built and
tested for Hypercorn's trio worker, and how that worker calls the app shapes
the code:

* Hypercorn runs each request and each websocket in a task of its own and
  feeds ``receive`` from a memory channel. The view runs in that task, inside
  a nursery of ours, next to one more task that reads ``receive``: it hands
  body chunks (or websocket messages) to the view and cancels the view when
  the client disconnects. Without it, a view busy elsewhere would never learn
  that its client left.
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
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any, NoReturn

import trio
from werkzeug.datastructures import Headers

from .lifespan import serving
from .wrappers.request import Body, Request
from .wrappers.response import Response
from .wrappers.websocket import Websocket

if TYPE_CHECKING:
    from .app import App

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

#: How long, after our close frame, we wait for the client's before returning
#: (the server closes the connection when the app returns).
CLOSE_TIMEOUT = 5.0
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
    return path, root_path, Headers(pairs), length, chunked


def _encode_headers(headers: Headers) -> list[tuple[bytes, bytes]]:
    # Lower case: HTTP/2 and HTTP/3 reject upper-case field names.
    return [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()]


def _remote_addr(scope: Scope) -> str | None:
    client = scope.get("client")
    return client[0] if client else None


# -- HTTP --------------------------------------------------------------------------


class _HTTPExchange:
    """One request: the watcher task, the body the view reads and the response it sends."""

    __slots__ = (
        "body_ended",
        "body_receiver",
        "body_sender",
        "cancel_scope",
        "close_connection",
        "head_only",
        "receive",
        "request",
        "response_complete",
        "send",
    )

    def __init__(self, app: App, scope: Scope, receive: Receive, send: Send) -> None:
        self.receive = receive
        self.send = send
        self.cancel_scope: trio.CancelScope | None = None
        self.response_complete = False
        self.body_ended = False
        # One slot: a request without a body leaves its end marker there unread.
        self.body_sender, self.body_receiver = trio.open_memory_channel[tuple[bytes, bool]](1)
        path, root_path, headers, length, chunked = _decode_head(scope)
        config = app.config
        method: str = scope["method"]
        http_version: str = scope.get("http_version", "1.1")
        self.head_only = method == "HEAD"
        # RFC 9112 6.3: both framings at once may be request smuggling; answer,
        # then close (on HTTP/1.x, through a "Connection: close" the server obeys).
        self.close_connection = chunked and length is not None and http_version.startswith("1.")
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

    async def watch(self) -> None:
        """Hand the body to the view, then wait for ``http.disconnect``."""
        receive = self.receive
        sender: trio.MemorySendChannel[tuple[bytes, bool]] | None = self.body_sender
        while True:
            message = await receive()
            kind = message["type"]
            if kind == "http.request":
                if sender is None:
                    continue  # a body the view stopped reading: drained, so the server never blocks
                chunk: bytes = message.get("body", b"")
                more: bool = message.get("more_body", False)
                try:
                    if chunk or not more:
                        try:
                            sender.send_nowait((chunk, more))
                        except trio.WouldBlock:
                            await sender.send((chunk, more))
                except trio.BrokenResourceError:
                    sender = None  # the response is complete
                if not more:
                    sender = None
            elif kind == "http.disconnect":
                if not self.response_complete:
                    assert self.cancel_scope is not None
                    self.cancel_scope.cancel(reason="the client disconnected")
                return

    async def receive_body_chunk(self) -> bytes:
        """The next chunk of the body, ``b""`` at its end (for :class:`Body`)."""
        if self.body_ended:
            return b""
        try:
            chunk, more = await self.body_receiver.receive()
        except (trio.EndOfChannel, trio.ClosedResourceError):
            chunk, more = b"", False
        if not more:
            self.body_ended = True
        return chunk

    def _complete(self) -> None:
        """The last message of the response is about to go: a disconnect cancels nothing now."""
        self.response_complete = True
        self.body_receiver.close()

    async def send_response(self, response: Response) -> None:
        send = self.send
        headers = _encode_headers(response.headers)
        if self.close_connection:
            headers.append((b"connection", b"close"))
        await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
        body = response.body
        if isinstance(body, bytes) or self.head_only:
            if not isinstance(body, bytes):
                aclose = getattr(body, "aclose", None)
                if aclose is not None:
                    await aclose()  # a streamed body a HEAD request never reads
            self._complete()
            await send({"type": "http.response.body", "body": b"" if self.head_only else body})
            return
        # Hypercorn shields its socket writes, so the timeout bounds making the
        # body rather than a slow reader. On expiry the response is left
        # incomplete, and the server closes the connection.
        timeout = response.timeout
        with trio.move_on_after(timeout if isinstance(timeout, int | float) else math.inf) as timer:
            async for chunk in response.iter_encoded():
                if chunk:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
        if timer.cancelled_caught:
            logger.warning(
                "The response to %s %s was not sent in time; closing the connection",
                self.request.method,
                self.request.path,
            )
            return
        self._complete()
        await send({"type": "http.response.body", "body": b""})


async def serve_http(app: App, scope: Scope, receive: Receive, send: Send) -> None:
    """Answer one HTTP request; a client that leaves before the response is complete cancels the view."""
    exchange = _HTTPExchange(app, scope, receive, send)
    error: Exception | None = None
    async with trio.open_nursery() as nursery:
        exchange.cancel_scope = nursery.cancel_scope
        nursery.start_soon(exchange.watch)
        try:
            await app.handle_request(exchange.request, exchange.send_response)
        except Exception as exception:  # the server's send failed: re-raised below, outside the nursery
            error = exception
        nursery.cancel_scope.cancel()
    if error is not None:
        raise error


# -- websockets ----------------------------------------------------------------------


class _ASGITransport:
    """One websocket session on an ASGI server (see ``WebsocketTransport``)."""

    def __init__(self, scope: Scope, receive: Receive, send: Send, queue_size: int) -> None:
        self._scope = scope
        self._receive = receive
        self._send = send
        self._inbox_in, self._inbox_out = trio.open_memory_channel[str | bytes](queue_size)
        self.websocket: Websocket | None = None
        #: The view's scope, cancelled when the client disconnects.
        self.view_scope = trio.CancelScope()
        self.reader_done = trio.Event()
        self.sent_close = False
        self._gone = False

    async def read(self) -> None:
        """Queue the client's messages for the view until ``websocket.disconnect``."""
        receive = self._receive
        inbox = self._inbox_in
        try:
            while True:
                message = await receive()
                kind = message["type"]
                if kind == "websocket.receive":
                    data: str | bytes | None = message.get("text")
                    if data is None:
                        data = message.get("bytes")
                        if data is None:
                            data = b""
                    try:
                        inbox.send_nowait(data)
                    except trio.WouldBlock:
                        await inbox.send(data)  # the view is behind: backpressure on the client
                elif kind == "websocket.disconnect":
                    self._disconnected(message.get("code", NO_STATUS_RECEIVED), message.get("reason") or "")
                    return
        finally:
            inbox.close()
            self.reader_done.set()

    def _disconnected(self, code: int, reason: str) -> None:
        """The session is over: keep the close code, then cancel the view."""
        self._gone = True
        websocket = self.websocket
        if websocket is None or websocket.closed:
            return  # we closed it ourselves
        websocket.closed = True
        websocket.close_code, websocket.close_reason = code, reason
        self.view_scope.cancel(reason=f"the websocket closed with code {code}")

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
        if self.sent_close:
            await self._closed()
        try:
            return await self._inbox_out.receive()
        except trio.EndOfChannel:
            await self._closed()

    async def send(self, data: str | bytes) -> None:
        if self._gone:
            await self._closed()
        if isinstance(data, str):
            await self._send({"type": "websocket.send", "text": data})
        else:
            await self._send({"type": "websocket.send", "bytes": data})

    async def close(self, code: int, reason: str) -> None:
        self.sent_close = True
        await self._send({"type": "websocket.close", "code": code, "reason": reason})

    async def _closed(self) -> NoReturn:
        """The view used a closed websocket: if the client left, it is cancelled at this checkpoint."""
        await trio.lowlevel.checkpoint()
        raise RuntimeError("The websocket is closed")


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
    view_scope = transport.view_scope
    async with trio.open_nursery() as nursery:
        nursery.start_soon(transport.read)
        try:
            with view_scope:
                await app.handle_websocket(websocket)
        except BaseException:
            # Cancelled from outside, as when the server's grace period ends: say goodbye.
            if websocket.accepted and not websocket.closed:
                websocket.closed = True
                websocket.close_code, websocket.close_reason = GOING_AWAY, "the server is shutting down"
                with trio.move_on_after(GOODBYE_TIMEOUT, shield=True):
                    await transport.close(GOING_AWAY, "the server is shutting down")
            raise
        if view_scope.cancel_called and not view_scope.cancelled_caught:
            app.logger.warning(
                "The websocket view for %s swallowed trio.Cancelled after its client left; "
                "re-raise it (except CancelledError: ...; raise)",
                path,
            )
        if transport.sent_close:
            # Let the client answer our close frame before the server drops the connection.
            with trio.move_on_after(CLOSE_TIMEOUT):
                await transport.reader_done.wait()
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
