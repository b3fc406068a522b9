"""The websocket upgrade on the native server: h11 routes it, trio-websocket runs it.

The handshake request was parsed by h11 on the keep-alive connection. The
app routes it and decides: a rejection goes out as a plain HTTP response
through h11; an acceptance writes the 101 response itself and hands the
stream to trio-websocket already open (a wsproto connection past its
handshake), so that the request is not parsed a second time by wsproto's
own h11.

trio-websocket's reader task runs in the connection's nursery. When it ends
(the client closed or answered our close, the connection dropped, a limit or
a protocol error), the session is over (``Websocket.end_session``): the close
code is recorded on the websocket and the view is cancelled.

trio-websocket reads and writes through a stream of ours that watches the
frame headers going by, so that a message declared larger than the limit is
refused at its header (close 1009) instead of being read up to the limit
first, and that sends the close frames trio-websocket leaves out. On a
plain TCP socket that stream reads and writes the socket itself when it is
ready (see ``_socket_io``).

The session runs after the HTTP request loop has ended, from a coroutine
that ``websocket_session`` builds out of the h11 request, so that an open
websocket keeps none of the loop's frames or h11 objects.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, NoReturn

import h11
import trio
import trio_websocket
from werkzeug.datastructures import Headers
from wsproto import ConnectionType, WSConnection
from wsproto.connection import Connection, ConnectionState
from wsproto.utilities import generate_accept_token

from ..wrappers.response import Response
from ..wrappers.websocket import CLOSE_TIMEOUT, NOT_TAKEN, TAKEN, TAKEN_IN_PART, Websocket
from ._date import http_date
from ._frames import close_frame, data_frame
from ._socket_io import MAX_RECEIVE, plain_socket, read_now, write_now

if TYPE_CHECKING:
    from ._http import HTTPConnection

logger = logging.getLogger("trioweb.websocket")

#: trio-websocket reads 4 KiB at a time by default; 64 KiB moves large
#: messages about twice as fast and costs nothing for small ones.
RECEIVE_BUFFER_SIZE = 65536
GOING_AWAY = 1001
ABNORMAL_CLOSURE = 1006
MESSAGE_TOO_BIG = 1009
INTERNAL_ERROR = 1011


class FrameSizeGuard:
    """Follows the frame headers in a client's bytes and spots a message over the limit.

    wsproto buffers a frame's payload as it arrives and trio-websocket counts
    a message only as its data comes in, so on their own they would read a
    frame that declares 1 GiB up to the limit before refusing it. The server
    negotiates no extension, so a frame's declared length is what its payload
    will be, and a message's size is the sum over its data frames.
    """

    __slots__ = ("_message_size", "_partial", "_skip", "close_received", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        #: Bytes of a payload to pass over before the next frame header.
        self._skip = 0
        #: The start of a frame header that was cut off at the end of a read.
        self._partial = b""
        self._message_size = 0
        #: Set once the client's close frame has gone by.
        self.close_received = False

    def feed(self, data: bytes) -> int | None:
        """Follow the frames in ``data``; the offset of a header over the limit, or None.

        The offset is 0 when that header began in an earlier read.
        """
        carried = len(self._partial)
        if carried:
            data, self._partial = self._partial + data, b""
        end = len(data)
        position = self._skip
        while position < end:
            if end - position < 2:
                break
            first, second = data[position], data[position + 1]
            length = second & 0x7F
            header = 6 if second & 0x80 else 2  # the masking key
            if length == 126:
                header += 2
            elif length == 127:
                header += 8
            if end - position < header:
                break
            if length == 126:
                length = int.from_bytes(data[position + 2 : position + 4], "big")
            elif length == 127:
                length = int.from_bytes(data[position + 2 : position + 10], "big")
            opcode = first & 0x0F
            if opcode == 8:
                self.close_received = True
            elif opcode < 8:  # a data frame; control frames are not part of a message
                self._message_size = self._message_size + length if opcode == 0 else length
                # A length with the top bit set is invalid: wsproto fails it with 1002.
                if self._message_size > self.limit and length < 1 << 63:
                    return max(position - carried, 0)
            position += header + length
        if position < end:
            self._partial = data[position:]
            self._skip = 0
        else:
            self._skip = position - end
        return None


class _WebsocketStream(trio.abc.Stream):
    """The connection as trio-websocket sees it.

    The bytes h11 already read are given back first. Frame headers are
    watched (:class:`FrameSizeGuard`); at one over the limit, the bytes
    before it are passed on, a close 1009 is sent, and trio-websocket is told
    the stream has ended, so the payload is never read.

    trio-websocket sends under a lock of its own, one frame per send, so
    this sees one send at a time and knows when a close frame went out. A
    send that is still marked running when the next comes was cut short
    (cancelled or failed) and left half a frame on the wire, so nothing more
    is written.

    When trio-websocket is done it closes this stream, not the connection's:
    the HTTP connection closes the socket when the session ends, draining
    what the client still sends first (see ``HTTPConnection._close``).
    """

    __slots__ = (
        "_backlog",
        "_close_sent",
        "_guard",
        "_pending_close",
        "_replay",
        "_send_closed",
        "_sending",
        "_socket",
        "_stream",
        "connection",
        "message_too_big",
    )

    def __init__(self, stream: trio.abc.Stream, replay: bytes, max_message_size: int) -> None:
        self._stream = stream
        # Read and written directly when it is a plain TCP socket (see ``_socket_io``).
        self._socket = plain_socket(stream)
        self._replay = replay
        self._guard = FrameSizeGuard(max_message_size)
        #: Set once a message over the limit has been announced.
        self.message_too_big = False
        self.connection: trio_websocket.WebSocketConnection | None = None
        self._sending = False
        self._send_closed = False
        self._close_sent = False
        self._pending_close = b""
        #: The rest of a frame that ``offer`` wrote in part: the next write starts with it.
        self._backlog = b""

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        if self.message_too_big:
            await self._fail(MESSAGE_TOO_BIG, "message too big")
            return b""
        if self._replay:
            data, self._replay = self._replay, b""
            await trio.lowlevel.checkpoint()
        elif (fd := self._fileno()) >= 0:
            # Straight on the socket: fewer frames kept by every idle websocket,
            # and no extra trip through the scheduler when bytes are waiting.
            # As in trio: cancelled before reading, or not at all.
            await trio.lowlevel.checkpoint_if_cancelled()
            size = max_bytes or MAX_RECEIVE
            ready = read_now(fd, size)
            if ready is not None:
                await trio.lowlevel.cancel_shielded_checkpoint()
            while ready is None:
                await trio.lowlevel.wait_readable(fd)
                # Asked again: the socket may have been closed (and its number
                # reused) between the wakeup and now.
                if (fd := self._fileno()) < 0:
                    raise trio.ClosedResourceError("the websocket connection was closed")
                ready = read_now(fd, size)
            data = ready
        else:
            data = bytes(await self._stream.receive_some(max_bytes))
        refused_at = self._guard.feed(data)
        if refused_at is not None:
            self.message_too_big = True
            data = data[:refused_at]
            if not data:  # b"" would mean the end of the stream
                return await self.receive_some(max_bytes)
        return data

    def _fileno(self) -> int:
        """The socket's descriptor, asked each time: -1 once the connection has closed it.

        A number kept from before could by then belong to another connection.
        """
        return self._socket.fileno() if self._socket is not None else -1

    async def _fail(self, code: int, reason: str) -> None:
        """Send a close frame of our own; trio-websocket sends nothing more."""
        self._send_closed = True
        self._pending_close = close_frame(code, reason)
        if not self._sending:
            await self._send_pending_close()

    async def _send_pending_close(self) -> None:
        frame, self._pending_close = self._backlog + self._pending_close, b""
        self._backlog = b""
        self._close_sent = True
        with trio.move_on_after(CLOSE_TIMEOUT), contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            await self._stream.send_all(frame)

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        if self._send_closed:
            raise trio.ClosedResourceError("the websocket connection has failed")
        if self._sending:
            raise trio.BrokenResourceError("an earlier send was cut short in the middle of a frame")
        # As trio's socket does it: a cancelled send writes nothing, and a
        # frame the socket took whole is not cut short.
        await trio.lowlevel.checkpoint_if_cancelled()
        self._sending = True
        if data[:1] == b"\x88":
            self._close_sent = True
        if self._backlog:
            data, self._backlog = self._backlog + data, b""
        if (fd := self._fileno()) >= 0:
            sent = write_now(fd, data)
            if sent < len(data):
                await self._write_rest(fd, memoryview(data)[sent:])
            else:
                await trio.lowlevel.cancel_shielded_checkpoint()
        else:
            await self._stream.send_all(data)
        self._sending = False
        if self._pending_close:  # the reader failed the connection during this send
            await self._send_pending_close()

    async def _write_rest(self, fd: int, rest: memoryview) -> None:
        """The rest of a frame, as the socket takes it.

        Cancelled meanwhile (a timeout of the view's, the end of the
        session), the rest becomes the backlog: the next write (the view's
        next message, or the close frame) finishes the frame first, so the
        connection stays usable and the close handshake can still happen.
        """
        try:
            while rest:
                await trio.lowlevel.wait_writable(fd)
                if (fd := self._fileno()) < 0:
                    raise trio.ClosedResourceError("the websocket connection was closed")
                rest = rest[write_now(fd, rest) :]
        except trio.Cancelled:
            self._backlog, self._sending = bytes(rest), False
            raise

    def offer(self, frame: bytes) -> int:
        """Write ``frame`` now, without a task, if nothing else is being written; see ``NativeTransport.offer``."""
        if self._sending or self._send_closed or self._backlog or self.message_too_big:
            return NOT_TAKEN
        try:
            sent = write_now(self._fileno(), frame)
        except trio.BrokenResourceError:
            return NOT_TAKEN  # the reader sees the end too, and the session ends
        if sent == len(frame):
            return TAKEN
        if sent == 0:
            return NOT_TAKEN
        self._backlog = frame[sent:]
        return TAKEN_IN_PART

    async def wait_send_all_might_not_block(self) -> None:
        await self._stream.wait_send_all_might_not_block()

    async def aclose(self) -> None:
        connection = self.connection
        closed = connection.closed if connection is not None else None
        if closed is not None and not (self._close_sent or self._send_closed or self._sending):
            # wsproto failed the connection (1002, 1007) as if the client had
            # closed it, and trio-websocket sends no close frame for that.
            self._send_closed = True
            self._pending_close = close_frame(closed.code, closed.reason or "")
            await self._send_pending_close()
        self._send_closed = True
        if self._close_sent and self._guard.close_received and not self._sending:
            # The close handshake is complete: close TCP now, as RFC 6455 7.1.1
            # asks of a server, not once the view has ended. Nothing more is
            # to be read, so there is no unread data to turn the close into a reset.
            if self._socket is not None:
                self._socket.close()  # trio's close, without aclose's checkpoint
            else:
                await trio.aclose_forcefully(self._stream)


class SendLock:
    """trio-websocket's send lock, taken without a trip through the scheduler when it is free.

    trio's lock yields to the scheduler on every acquire, and the send that
    follows (``_WebsocketStream.send_all``) yields again: two trips per
    message where one does, which in a fan-out (one send per subscriber per
    message) is a third of the scheduling. The send is still a checkpoint
    (cancellable before it writes, and a yield after), and a task that finds
    the lock held or awaited waits in line as before (strict FIFO).
    """

    __slots__ = ("_lock",)

    def __init__(self) -> None:
        self._lock = trio.StrictFIFOLock()

    async def __aenter__(self) -> None:
        try:
            self._lock.acquire_nowait()  # refused while another task holds it or waits for it
        except trio.WouldBlock:
            await self._lock.acquire()

    async def __aexit__(self, *exc_info: object) -> None:
        self._lock.release()

    def locked(self) -> bool:
        """Whether a task holds it (one that waits for it is handed it on release, so it is held then too)."""
        return self._lock.locked()


#: RFC 9110 5.1 and 5.5: a field name is a token; a value has no control characters but tab.
_FIELD_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_FIELD_VALUE = re.compile(r"[^\x00-\x08\x0a-\x1f\x7f]*")


def _header_line(name: str, value: str) -> bytes:
    """One header of the 101, checked as h11 checks a response's (the 101 is written without it)."""
    if not _FIELD_NAME.fullmatch(name) or not _FIELD_VALUE.fullmatch(value):
        raise ValueError(f"Invalid header for the websocket handshake's response: {name!r}: {value!r}")
    return f"{name}: {value.strip()}\r\n".encode("latin-1")


async def _run_reader(reader: Callable[[], Awaitable[None]], on_exit: Callable[[], None]) -> None:
    """trio-websocket's reader task, with a hook at its end (the session is over).

    The reader can raise ``ConnectionClosed`` when a client resets right
    after a protocol error; that ends this one connection, never the server.
    """
    try:
        await reader()
    except (trio_websocket.ConnectionClosed, trio.BrokenResourceError, trio.ClosedResourceError):
        pass
    except Exception:
        logger.exception("The websocket reader failed")
    finally:
        on_exit()


class NativeTransport:
    """One websocket session on the native server (see ``WebsocketTransport``)."""

    __slots__ = (
        "connection",
        "http",
        "max_message_size",
        "ping_interval",
        "ping_timeout",
        "queue_size",
        "reader_gone",
        "reader_running",
        "replay",
        "stream",
        "websocket",
    )

    def __init__(self, http: HTTPConnection, replay: bytes) -> None:
        self.http = http
        #: What the client sent after the handshake's head, before the upgrade: its first frames.
        self.replay = replay
        self.websocket: Websocket | None = None
        self.stream: _WebsocketStream | None = None
        self.connection: trio_websocket.WebSocketConnection | None = None
        self.reader_running = False
        #: Made only when the view's close has to wait for the reader (see ``close``).
        self.reader_gone: trio.Event | None = None
        config = http.app.config
        self.max_message_size: int = config["WEBSOCKET_MAX_MESSAGE_SIZE"]
        self.queue_size: int = config["WEBSOCKET_QUEUE_SIZE"]
        self.ping_interval: float | None = config["WEBSOCKET_PING_INTERVAL"]
        self.ping_timeout: float = config["WEBSOCKET_PING_TIMEOUT"]

    async def accept(self, headers: Headers, subprotocol: str | None) -> None:
        """Write the 101, then start trio-websocket on a wsproto connection already open."""
        http = self.http
        assert self.websocket is not None
        key = self.websocket.headers.get("Sec-WebSocket-Key", "").strip().encode("ascii")
        # Written out rather than through h11: its own fields need no check,
        # and the view's are checked as h11 would (``_header_line``).
        head = [
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + generate_accept_token(key) + b"\r\n"
        ]
        if subprotocol is not None:
            head.append(b"Sec-WebSocket-Protocol: " + subprotocol.encode("ascii") + b"\r\n")
        head += [_header_line(name, value) for name, value in headers.items()]
        if "Date" not in headers:
            head.append(b"Date: " + http_date() + b"\r\n")
        head.append(b"\r\n")
        stream = _WebsocketStream(http.stream, self.replay, self.max_message_size)
        self.stream = stream
        self.replay = b""
        await stream.send_all(b"".join(head))
        http.switched_protocols()
        opened = WSConnection(ConnectionType.SERVER)
        opened.connection = Connection(ConnectionType.SERVER)  # past the handshake, which h11 did
        connection = trio_websocket.WebSocketConnection(
            stream,
            opened,
            message_queue_size=self.queue_size,
            max_message_size=self.max_message_size,
            receive_buffer_size=RECEIVE_BUFFER_SIZE,
        )
        # What trio-websocket's own accept records, for its ``subprotocol`` property.
        connection._subprotocol = subprotocol
        connection._stream_lock = SendLock()  # type: ignore[assignment]
        self.connection = stream.connection = connection
        self.reader_running = True
        http.nursery.start_soon(_run_reader, connection._reader_task, self._reader_ended)
        if self.ping_interval is not None:
            http.nursery.start_soon(self._keep_alive, connection)

    async def reject(self, response: Response) -> None:
        await self.http.send_response(response)

    def forget(self) -> None:
        """The connection is closed: drop the references that make cycles (connection <-> stream, and to us)."""
        if self.stream is not None:
            self.stream.connection = None
        self.connection = None
        self.websocket = None

    async def receive(self) -> str | bytes:
        assert self.connection is not None
        try:
            return await self.connection.get_message()
        except trio_websocket.ConnectionClosed:
            pass
        await self._closed()

    async def send(self, data: str | bytes, frame: bytes | None = None) -> None:
        """Send a message (or ``frame``, already encoded; ``b""`` only writes what :meth:`offer` left)."""
        connection = self.connection
        assert connection is not None and self.stream is not None
        if (
            type(data) in (str, bytes)
            and connection._close_reason is None
            and connection._wsproto.state is ConnectionState.OPEN
        ):
            # trio-websocket's send_message, with the frame encoded here (``data_frame``):
            # the same lock, the same stream, the same end when the stream breaks.
            if frame is None:
                frame = data_frame(data)
            async with connection._stream_lock:
                try:
                    await self.stream.send_all(frame)
                    return
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    await connection._abort_web_socket()
        else:
            try:
                await connection.send_message(data)  # closed or closing: trio-websocket's own answer
                return
            except trio_websocket.ConnectionClosed:
                pass
        await self._closed()

    def offer(self, frame: bytes) -> int:
        """Write a data frame straight to the socket from the caller's task, if that can be done at once.

        For a broadcast's forwarding (``Subscriber.forward``): one message to
        a thousand websockets is then a thousand writes from the task that
        received it, not a thousand tasks woken. Only on a plain TCP socket,
        an open connection, and when no task is sending (the send lock is
        free): frames never interleave, and what a task sends after this
        goes out after it. Returns ``NOT_TAKEN`` (the caller buffers the
        message for the view's task), ``TAKEN``, or ``TAKEN_IN_PART``: the
        rest is written first by the next send, and the caller has
        :meth:`flush` called so that it is not left waiting for one.
        """
        connection, stream, websocket = self.connection, self.stream, self.websocket
        if (
            connection is None
            or stream is None
            or websocket is None
            or websocket.closed  # ended (a shutdown's 1001, a ping timeout): only the close frame is to come
            or connection._close_reason is not None
            or connection._wsproto.state is not ConnectionState.OPEN
            or connection._stream_lock.locked()
        ):
            return NOT_TAKEN
        return stream.offer(frame)

    def direct_writer(self) -> NativeTransport | None:
        """This transport, for ``Subscriber.forward``, when on a plain TCP socket (not TLS, not a test's stream)."""
        return self if self.stream is not None and self.stream._socket is not None else None

    async def flush(self) -> None:
        """Write the rest of a frame that :meth:`offer` wrote in part (waiting until the socket takes it).

        Once the connection is closing, the close frame's write does it.
        """
        connection, stream = self.connection, self.stream
        if stream is not None and stream._backlog and connection is not None and connection._close_reason is None:
            await self.send(b"", frame=b"")
        else:
            await trio.lowlevel.checkpoint()

    async def _closed(self) -> NoReturn:
        """The view used a closed (or closing) connection: the session ends, if it has not yet."""
        self._reader_done()
        assert self.websocket is not None
        await self.websocket.used_after_close()

    async def close(self, code: int, reason: str) -> None:
        """Send the close frame; return once the client answered it (or left).

        When the client's close came first, trio-websocket's ``aclose``
        returns at once while its reader has still to send the answer:
        waiting for the reader keeps the end of the session from cancelling
        that answer (``Websocket.close`` bounds the wait).
        """
        connection = self.connection
        assert connection is not None
        if connection.closed is not None and self.reader_running:
            self.reader_gone = trio.Event()
            await self.reader_gone.wait()
            return
        await connection.aclose(code, reason or None)

    def _reader_ended(self) -> None:
        self.reader_running = False
        if self.reader_gone is not None:
            self.reader_gone.set()
        self._reader_done()

    def _reader_done(self) -> None:
        """The connection is closed (or closing): the session is over, unless the view is closing it.

        Called when the reader ends and when a send or receive finds the
        connection closed; the view's own close ends the session itself.
        """
        websocket = self.websocket
        if websocket is None or websocket.closing:
            return  # the view's close() waits for the client's answer, then ends the session
        close = self.connection.closed if self.connection is not None else None
        if self.stream is not None and self.stream.message_too_big:
            websocket.end_session(MESSAGE_TOO_BIG, "message too big", by="the server")
        elif close is not None:
            websocket.end_session(close.code, close.reason or "", by="the client")
        else:
            websocket.end_session(ABNORMAL_CLOSURE, "", by="the client")

    def shut_down(self) -> None:
        """Server shutdown: an open session ends with 1001, its view cancelled first.

        ``serve_websocket`` sends the close frame once the view is done. A
        handshake the view has not answered yet is an exchange in progress
        and gets the grace period, like a request.
        """
        websocket = self.websocket
        if websocket is not None and websocket.accepted:
            websocket.end_session(GOING_AWAY, "the server is shutting down", by="the server")

    async def _keep_alive(self, connection: trio_websocket.WebSocketConnection) -> None:
        """Ping every ``ping_interval`` seconds; no pong within ``ping_timeout`` ends the session.

        The view is cancelled with the code 1011 recorded; ``serve_websocket``
        then sends the close frame, once the view is done sending.
        """
        assert self.ping_interval is not None
        while True:
            await trio.sleep(self.ping_interval)
            with trio.move_on_after(self.ping_timeout) as waited:
                try:
                    await connection.ping()
                except trio_websocket.ConnectionClosed:
                    return
            if waited.cancelled_caught:
                break
        logger.info("No pong within %s s; closing the websocket", self.ping_timeout)
        if self.websocket is not None:
            self.websocket.end_session(INTERNAL_ERROR, "ping timeout", by="the server")


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


def websocket_session(
    http: HTTPConnection, event: h11.Request, path: str, query: bytes, headers: Headers, trailing: bytes
) -> Coroutine[Any, Any, None]:
    """The session of an upgrade request, to await: the app's websocket view, then the close.

    What the session needs is taken from the h11 request here, so that the
    request itself is not kept while the websocket is open.
    """
    transport = NativeTransport(http, trailing)
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
    return _serve_websocket(http, websocket, transport, handshake_error(event, headers))


async def _serve_websocket(
    http: HTTPConnection, websocket: Websocket, transport: NativeTransport, error: Response | None
) -> None:
    http.websocket_transport = transport
    http.exchange_started(websocket)
    if error is not None:
        await websocket.reject(error)
        return
    await http.app.handle_websocket(websocket)
    if transport.connection is not None and transport.connection.closed is None:
        # Usually closed already, by the view's end or by the client; a ping
        # timeout or a shutdown leaves the close to here.
        with trio.move_on_after(CLOSE_TIMEOUT):
            await transport.connection.aclose(websocket.close_code or 1000, websocket.close_reason or None)
