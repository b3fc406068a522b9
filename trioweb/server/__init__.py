"""The native server: ``trio.serve_tcp`` with h11, websockets on the same connection."""

from __future__ import annotations

import functools
import logging
import signal
import socket
import ssl
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any

import trio

from ..lifespan import serving
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
    """Serve ``app`` on ``host:port`` until ``shutdown_trigger`` returns (or until cancelled).

    The app starts up first (``before_serving``; an error there is raised
    as it is). When ``shutdown_trigger`` returns, the shutdown is graceful
    (see ``trioweb.lifespan``): the listeners close, idle connections close,
    websockets close with 1001, requests in progress get until
    ``SHUTDOWN_TIMEOUT`` to finish (their responses say ``Connection:
    close``), then whatever is left is cancelled and ``after_serving`` runs.
    Cancelling ``serve`` instead stops everything at once.

    Like ``trio.serve_tcp``: ``listeners = await nursery.start(serve, app)``
    gives the listening sockets (port 0 picks a free port).
    """
    async with serving(app) as lifespan:
        tcp_listeners = await trio.open_tcp_listeners(port, host=host, backlog=backlog)
        listeners: list[trio.abc.Listener[Any]]
        if ssl_context is not None:
            listeners = [trio.SSLListener(listener, ssl_context, https_compatible=True) for listener in tcp_listeners]
        else:
            listeners = list(tcp_listeners)
        scheme = "https" if ssl_context is not None else "http"
        connections: set[HTTPConnection] = set()

        def handle(stream: trio.abc.Stream) -> Coroutine[Any, Any, None]:
            # Returns the coroutine for serve_listeners to await (no frame of its own).
            try:
                client, server = _addresses(stream)
            except OSError:
                return trio.aclose_forcefully(stream)  # noqa: ASYNC105 - already gone; awaited by serve_listeners
            connection = HTTPConnection(
                app, stream, scheme=scheme, client=client, server=server, access_log=access_log, registry=connections
            )
            if lifespan.shutting_down:
                connection.shut_down()  # accepted just before the listeners closed
            return connection.run()

        async with trio.open_nursery() as nursery:
            accepting = trio.CancelScope()
            nursery.start_soon(_accept, accepting, handle, listeners, nursery)
            for listener in tcp_listeners:
                address = listener.socket.getsockname()
                logger.info("Serving on %s://%s:%s", scheme, address[0], address[1])
            task_status.started(listeners)
            if shutdown_trigger is None:
                await trio.sleep_forever()
            else:
                await shutdown_trigger()
            logger.info("Shutting down: %d connections open", len(connections))
            nursery.cancel_scope.deadline = lifespan.begin_shutdown()
            accepting.cancel()
            for connection in list(connections):
                connection.shut_down()
        if nursery.cancel_scope.cancelled_caught:
            logger.warning("Connections still open after SHUTDOWN_TIMEOUT were closed")


async def _accept(
    scope: trio.CancelScope,
    handle: Callable[[trio.abc.Stream], Awaitable[None]],
    listeners: list[trio.abc.Listener[Any]],
    connections: trio.Nursery,
) -> None:
    """Accept connections until ``scope`` is cancelled; the listeners close then."""
    with scope:
        await trio.serve_listeners(handle, listeners, handler_nursery=connections)


def run(app: App, *, host: str = "127.0.0.1", port: int = 8000, **options: Any) -> None:
    """Serve ``app`` with ``trio.run``; SIGINT or SIGTERM shuts it down gracefully.

    A second signal during the shutdown stops at once. A startup error
    propagates (the process exits non-zero with its traceback).
    """
    trio.run(functools.partial(_serve_until_signalled, app, host=host, port=port, **options))


async def _serve_until_signalled(
    app: App, *, shutdown_trigger: Callable[[], Awaitable[Any]] | None = None, **options: Any
) -> None:
    stop = trio.Event()
    error: BaseException | None = None
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:

            async def watch_signals() -> None:
                async for number in signals:
                    if stop.is_set():
                        logger.warning("%s again: stopping now", signal.Signals(number).name)
                        nursery.cancel_scope.cancel()
                        return
                    logger.info("%s: shutting down gracefully", signal.Signals(number).name)
                    stop.set()

            async def watch_trigger(trigger: Callable[[], Awaitable[Any]]) -> None:
                await trigger()
                stop.set()

            nursery.start_soon(watch_signals)
            if shutdown_trigger is not None:
                nursery.start_soon(watch_trigger, shutdown_trigger)
            try:
                await serve(app, shutdown_trigger=stop.wait, **options)
            except Exception as exception:  # re-raised below, outside the nursery
                error = exception
            nursery.cancel_scope.cancel()
    if error is not None:
        raise error
    logger.info("Stopped")
