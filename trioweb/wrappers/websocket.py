"""The websocket a view talks to; ``trioweb.websocket`` points at the current one.

The wire work is a transport's (the native server's trio-websocket session,
or the ASGI adapter's messages); this class holds Quart's API and the rules
of the contract (docs/websockets.md): ``receive()`` and ``send()`` accept
first, ``close()`` before accepting answers 403, and the end of the session
is one event whoever causes it. The client closing or leaving, a limit, the
server shutting down, or the view's own ``close()`` once its handshake is
over: each calls :meth:`Websocket.end_session`, which keeps the close code
and cancels the view's scope, so every task still in the view's nurseries
sees ``Cancelled`` at its next checkpoint.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, NoReturn, Protocol

import trio
from werkzeug.datastructures import Headers

from ..json import dumps
from .base import BaseRequestWebsocket
from .response import NO_CONTENT_STATUSES, Response, drop_content

#: How long ``close()`` waits for the client to answer its close frame; then the session is over anyway.
CLOSE_TIMEOUT = 5.0


class WebsocketClosedError(RuntimeError):
    """``send()`` or ``receive()`` on a websocket whose session is over."""


class WebsocketTransport(Protocol):
    """What a server provides for one websocket handshake and session.

    ``receive`` and ``send`` call :meth:`Websocket.used_after_close` when the
    connection is closed or closing. ``close`` sends the close frame and
    returns once the close handshake is over (the client answered or left).
    """

    async def accept(self, headers: Headers, subprotocol: str | None) -> None: ...

    async def reject(self, response: Response) -> None: ...

    async def receive(self) -> str | bytes: ...

    async def send(self, data: str | bytes) -> None: ...

    async def close(self, code: int, reason: str) -> None: ...


#: What ``DirectWriter.offer`` did with a frame: wrote none of it (send it the usual way), all of it,
#: or a part (the rest is the next write's start; ``flush`` writes it).
NOT_TAKEN, TAKEN, TAKEN_IN_PART = 0, 1, 2


class DirectWriter(Protocol):
    """A transport that can write a data frame from any task (the native server on plain TCP).

    ``offer`` returns :data:`NOT_TAKEN`, :data:`TAKEN` or :data:`TAKEN_IN_PART`.
    """

    def offer(self, frame: bytes) -> int: ...

    async def flush(self) -> None: ...


class Websocket(BaseRequestWebsocket):
    """A websocket handshake, then the session once it is accepted."""

    def __init__(
        self,
        path: str,
        query_string: bytes,
        headers: Headers,
        transport: WebsocketTransport,
        *,
        scheme: str = "ws",
        root_path: str = "",
        http_version: str = "1.1",
        server: tuple[str, int | None] | None = None,
        remote_addr: str | None = None,
    ) -> None:
        super().__init__(
            "GET",
            scheme,
            path,
            query_string,
            headers,
            root_path=root_path,
            http_version=http_version,
            server=server,
            remote_addr=remote_addr,
        )
        self._transport = transport
        self.accepted = False
        self._accepting: trio.Event | None = None
        #: True once the session is over, whoever ended it.
        self.closed = False
        #: The code and reason of the close, set before the view is cancelled:
        #: the client's, or the one the view (or the server) sent.
        self.close_code: int | None = None
        self.close_reason: str | None = None
        #: Who ended the session, for the error a later ``send()``/``receive()`` raises.
        self.closed_by: str | None = None
        #: The view (its hooks and every task in its nurseries); cancelled when the session ends.
        self.view_scope = trio.CancelScope()
        #: Set while the view's ``close()`` waits for the client's answer; made only then.
        self._closing: trio.Event | None = None
        #: Adds to the 101's headers just before it goes out (the app puts the session cookie there).
        self.before_accept: Callable[[Headers], Awaitable[None]] | None = None

    @property
    def closing(self) -> bool:
        """Whether the view's ``close()`` is waiting for the client to answer its close frame."""
        return self._closing is not None and not self.closed

    @property
    def requested_subprotocols(self) -> list[str]:
        """The subprotocols the client offered, in its order of preference."""
        return [
            protocol.strip()
            for value in self.headers.getlist("Sec-WebSocket-Protocol")
            for protocol in value.split(",")
            if protocol.strip()
        ]

    async def accept(self, headers: Headers | dict[str, str] | None = None, subprotocol: str | None = None) -> None:
        """Complete the handshake, with extra response headers and a subprotocol."""
        if self.accepted:
            return
        if self.closed:
            raise WebsocketClosedError(
                "The websocket handshake was answered with an HTTP response; it can no longer be accepted"
            )
        if self._accepting is not None:
            # Another task (a sender beside a receiver) is accepting already.
            await self._accepting.wait()
            return
        if subprotocol is not None and subprotocol not in self.requested_subprotocols:
            raise ValueError(
                f"The client did not offer the subprotocol {subprotocol!r}; it offered {self.requested_subprotocols}"
            )
        accepting = self._accepting = trio.Event()
        try:
            accept_headers = Headers(headers)
            if self.before_accept is not None:
                await self.before_accept(accept_headers)
            await self._transport.accept(accept_headers, subprotocol)
            self.accepted = True
        finally:
            self._accepting = None
            accepting.set()

    def receive(self) -> Coroutine[Any, Any, str | bytes]:
        """The next message, str or bytes as the client sent it: ``await websocket.receive()``."""
        # Once accepted, the transport's own call: a frame less for every
        # websocket that waits here, which is most of them.
        # (Typed as a coroutine, not an Awaitable, so that mypy reports a forgotten ``await``.)
        if self.accepted:
            if self.closed:  # the server may have let go of the connection already
                return self.used_after_close()
            return self._transport.receive()
        return self._accept_then_receive()

    def send(self, data: str | bytes) -> Coroutine[Any, Any, None]:
        """Send a text (str) or binary (bytes) message: ``await websocket.send(data)``."""
        if self.accepted:
            if self.closed:
                return self.used_after_close()
            return self._transport.send(data)
        return self._accept_then_send(data)

    def direct_writer(self) -> DirectWriter | None:
        """The transport's writer, if it can write frames from other tasks (for ``Subscriber.forward``); else None.

        Only the native server's transport has one, and only on plain TCP.
        """
        writer = getattr(self._transport, "direct_writer", None)
        if self.accepted and not self.closed and writer is not None:
            return writer()  # type: ignore[no-any-return]
        return None

    async def _accept_then_receive(self) -> str | bytes:
        await self.accept()
        return await self._transport.receive()

    async def _accept_then_send(self, data: str | bytes) -> None:
        await self.accept()
        await self._transport.send(data)

    async def receive_json(self) -> Any:
        return json.loads(await self.receive())

    async def send_json(self, value: Any) -> None:
        await self.send(dumps(value))

    async def close(self, code: int, reason: str = "") -> None:
        """Close with ``code``, from any task; before accepting this rejects the handshake with 403.

        The close frame goes out at once. This returns when the client has
        answered it (or left, or ``CLOSE_TIMEOUT`` passed); the session is
        then over as if the client had closed: the view's scope is cancelled,
        so a view that carries on after ``close()`` is cancelled at its next
        checkpoint, and so is every task still in its nurseries.
        """
        if not self.accepted:
            await self.reject(Response("", 403))
            return
        if self.closed:
            return
        if self._closing is not None:  # another task is closing it: the session ends with its close
            await self._closing.wait()
            return
        self._closing = trio.Event()
        self.close_code, self.close_reason = code, reason
        try:
            with trio.move_on_after(CLOSE_TIMEOUT):
                await self._transport.close(code, reason)
        finally:
            self.end_session(code, reason, by="the view")

    def end_session(self, code: int, reason: str, *, by: str) -> None:
        """The session is over: keep the close code, then cancel the view (once).

        While the view's own ``close()`` is under way, the code it sent is
        the one kept, whatever the client answers.
        """
        if self.closed:
            return
        self.closed = True
        if self._closing is None:
            self.close_code, self.close_reason = code, reason
            self.closed_by = by
        else:
            self.closed_by = "the view"
            self._closing.set()
        self.view_scope.cancel(reason=f"{self.closed_by} closed the websocket with code {self.close_code}")

    async def used_after_close(self) -> NoReturn:
        """What ``send()`` and ``receive()`` do once the connection is closed or closing.

        During the view's ``close()`` they wait for it to end the session; a
        task in the view is then cancelled at this checkpoint, like its
        siblings. Anywhere else (a teardown hook, a task outside the view)
        they raise :class:`WebsocketClosedError`.
        """
        if self._closing is not None:
            await self._closing.wait()
        await trio.lowlevel.checkpoint()  # a waiter woken by the end is cancelled here, not raised at
        raise WebsocketClosedError(
            f"The websocket is closed: {self.closed_by or 'the client'} closed it with code {self.close_code}"
            + (f" ({self.close_reason!r})" if self.close_reason else "")
        )

    async def reject(self, response: Response) -> None:
        """Answer the handshake with an HTTP response instead of accepting it."""
        if self.accepted:
            raise RuntimeError("The websocket is already accepted; close it instead of rejecting it")
        self.closed = True
        if response.status_code in NO_CONTENT_STATUSES:
            await drop_content(response)
        await self._transport.reject(response)
