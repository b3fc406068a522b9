"""The websocket a view talks to; ``trioweb.websocket`` points at the current one.

The wire work is a transport's (the native server's trio-websocket session,
or the ASGI adapter's messages); this class holds Quart's API and the rules
of the contract: ``receive()`` and ``send()`` accept first, ``close()``
before accepting answers 403, and the close code a client sent is kept.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable
from typing import Any, Protocol

import trio
from werkzeug.datastructures import Headers

from ..json import dumps
from .base import BaseRequestWebsocket
from .response import NO_CONTENT_STATUSES, Response, drop_content


class WebsocketTransport(Protocol):
    """What a server provides for one websocket handshake and session."""

    async def accept(self, headers: Headers, subprotocol: str | None) -> None: ...

    async def reject(self, response: Response) -> None: ...

    async def receive(self) -> str | bytes: ...

    async def send(self, data: str | bytes) -> None: ...

    async def close(self, code: int, reason: str) -> None: ...


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
        #: True once the connection is closed, by either side.
        self.closed = False
        #: The code and reason of the close, set before the view is cancelled.
        self.close_code: int | None = None
        self.close_reason: str | None = None

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
            await self._transport.accept(Headers(headers), subprotocol)
            self.accepted = True
        finally:
            self._accepting = None
            accepting.set()

    def receive(self) -> Awaitable[str | bytes]:
        """The next message, str or bytes as the client sent it: ``await websocket.receive()``."""
        # Once accepted, the transport's own call: a frame less for every
        # websocket that waits here, which is most of them.
        if self.accepted:
            return self._transport.receive()
        return self._accept_then_receive()

    def send(self, data: str | bytes) -> Awaitable[None]:
        """Send a text (str) or binary (bytes) message: ``await websocket.send(data)``."""
        if self.accepted:
            return self._transport.send(data)
        return self._accept_then_send(data)

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
        """Close with ``code``; before accepting this rejects the handshake with 403."""
        if not self.accepted:
            await self.reject(Response("", 403))
            return
        if not self.closed:
            self.closed = True
            self.close_code, self.close_reason = code, reason
            await self._transport.close(code, reason)

    async def reject(self, response: Response) -> None:
        """Answer the handshake with an HTTP response instead of accepting it."""
        if self.accepted:
            raise RuntimeError("The websocket is already accepted; close it instead of rejecting it")
        self.closed = True
        if response.status_code in NO_CONTENT_STATUSES:
            await drop_content(response)
        await self._transport.reject(response)
