"""The native server: ``trio.serve_tcp`` with h11, websockets on the same connection."""

from __future__ import annotations

import logging
import socket
import ssl
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any

import trio

from ._http import HTTPConnection

if TYPE_CHECKING:
    from ..app import App

logger = logging.getLogger("trioweb.server")

__all__ = ["HTTPConnection", "run", "serve", "serve_stream"]


def _addresses(stream: trio.abc.Stream) -> tuple[tuple[str, int] | None, tuple[str, int] | None]:
    """(client, server) addresses of a TCP stream, TLS or not; ``None`` otherwise."""
    while isinstance(stream, trio.SSLStream):
        stream = stream.transport_stream
    if not isinstance(stream, trio.SocketStream):
        return None, None
    sock = stream.socket
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return None, None
    peer = sock.getpeername()
    local = sock.getsockname()
    return (peer[0], peer[1]), (local[0], local[1])


def serve_stream(
    app: App,
    stream: trio.abc.Stream,
    *,
    scheme: str = "http",
    client: tuple[str, int] | None = None,
    server: tuple[str, int] | None = None,
    access_log: bool = False,
) -> Coroutine[Any, Any, None]:
    """Serve one connection on any stream until it closes; errors are logged, not raised.

    This is what TCP connections and the test client's memory streams both go
    through, so a test exercises the real protocol handling. Await it, or pass
    it to ``nursery.start_soon`` like an async function. (It returns the
    connection's coroutine rather than awaiting it: one frame less to resume
    at every read and write.)
    """
    return HTTPConnection(app, stream, scheme=scheme, client=client, server=server, access_log=access_log).run()


async def serve(
    app: App,
    *,
    host: str | None = "127.0.0.1",
    port: int = 8000,
    ssl_context: ssl.SSLContext | None = None,
    shutdown_trigger: Callable[[], Awaitable[Any]] | None = None,
    access_log: bool = False,
    backlog: int | None = None,
    task_status: trio.TaskStatus[list[trio.abc.Listener[Any]]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``app`` on ``host:port`` until cancelled or until ``shutdown_trigger`` returns.

    Like ``trio.serve_tcp``: ``listeners = await nursery.start(serve, app)``
    gives the listening sockets (port 0 picks a free port).
    """
    tcp_listeners = await trio.open_tcp_listeners(port, host=host, backlog=backlog)
    listeners: list[trio.abc.Listener[Any]]
    if ssl_context is not None:
        listeners = [trio.SSLListener(listener, ssl_context, https_compatible=True) for listener in tcp_listeners]
    else:
        listeners = list(tcp_listeners)
    scheme = "https" if ssl_context is not None else "http"

    def handle(stream: trio.abc.Stream) -> Coroutine[Any, Any, None]:
        # Returns the coroutine for serve_listeners to await (no frame of its own).
        try:
            client, server = _addresses(stream)
        except OSError:
            return trio.aclose_forcefully(stream)  # noqa: ASYNC105 - already gone; awaited by serve_listeners
        return serve_stream(app, stream, scheme=scheme, client=client, server=server, access_log=access_log)

    async with trio.open_nursery() as nursery:
        await nursery.start(trio.serve_listeners, handle, listeners)
        for listener in tcp_listeners:
            address = listener.socket.getsockname()
            logger.info("Serving on %s://%s:%s", scheme, address[0], address[1])
        task_status.started(listeners)
        if shutdown_trigger is not None:
            await shutdown_trigger()
            nursery.cancel_scope.cancel(reason="shutdown")


def run(app: App, *, host: str = "127.0.0.1", port: int = 8000, **options: Any) -> None:
    """Serve ``app`` with ``trio.run`` until Ctrl-C."""
    try:
        trio.run(lambda: serve(app, host=host, port=port, **options))
    except* KeyboardInterrupt:
        logger.info("Stopped")
