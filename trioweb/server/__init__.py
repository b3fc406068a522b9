"""The native server: ``trio.serve_tcp`` with h11, websockets on the same connection."""

from __future__ import annotations

import functools
import logging
import os
import signal
import socket
import ssl
import sys
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any

import trio

from ..lifespan import serving
from ._http import HTTPConnection

if TYPE_CHECKING:
    from ..app import App

logger = logging.getLogger("trioweb.server")

__all__ = ["HTTPConnection", "ListenError", "configure_logging", "run", "serve", "serve_stream", "tls_context"]


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
    sockets: Sequence[socket.socket] | None = None,
    task_status: trio.TaskStatus[list[trio.abc.Listener[Any]]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``app`` on ``host:port`` until ``shutdown_trigger`` returns (or until cancelled).

    The listening sockets are bound first: an address that cannot be used
    raises :class:`ListenError` before the app starts up. Then the app
    starts up (``before_serving``; an error there is raised as it is). When
    ``shutdown_trigger`` returns, the shutdown is graceful (see
    ``trioweb.lifespan``): the listeners close, idle connections close,
    websockets close with 1001, requests in progress get until
    ``SHUTDOWN_TIMEOUT`` to finish (their responses say ``Connection:
    close``), then whatever is left is cancelled and ``after_serving`` runs.
    Cancelling ``serve`` instead stops everything at once.

    Like ``trio.serve_tcp``: ``listeners = await nursery.start(serve, app)``
    gives the listening sockets (port 0 picks a free port).

    ``sockets``: serve on these listening TCP sockets instead of binding
    ``host:port`` (which are then ignored), and close them at the end.
    ``trioweb run --reload`` hands its child the socket it keeps bound.
    """
    await _serve(
        app,
        host=host,
        port=port,
        ssl_context=ssl_context,
        shutdown_trigger=shutdown_trigger,
        access_log=access_log,
        backlog=backlog,
        sockets=sockets,
        task_status=task_status,
    )


async def _serve(
    app: App,
    *,
    host: str | None,
    port: int,
    ssl_context: ssl.SSLContext | None,
    shutdown_trigger: Callable[[], Awaitable[Any]] | None,
    access_log: bool,
    backlog: int | None,
    sockets: Sequence[socket.socket] | None = None,
    task_status: trio.TaskStatus[list[trio.abc.Listener[Any]]] = trio.TASK_STATUS_IGNORED,
    how_to_stop: str = "",
    announce: bool = True,
) -> None:
    """``serve``, with a note for the "Serving on" line (``run`` says how to stop it), or without the line.

    A worker process does not announce (``announce=False``): its parent says
    "Serving on ... with N workers" once for all of them.
    """
    if sockets is None:
        tcp_listeners = await _listen(host, port, backlog)
    else:
        tcp_listeners = [trio.SocketListener(trio.socket.from_stdlib_socket(sock)) for sock in sockets]
    try:
        async with serving(app) as lifespan:
            listeners: list[trio.abc.Listener[Any]]
            if ssl_context is not None:
                listeners = [
                    trio.SSLListener(listener, ssl_context, https_compatible=True) for listener in tcp_listeners
                ]
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
                    app,
                    stream,
                    scheme=scheme,
                    client=client,
                    server=server,
                    access_log=access_log,
                    registry=connections,
                )
                if lifespan.shutting_down:
                    connection.shut_down()  # accepted just before the listeners closed
                return connection.run()

            async with trio.open_nursery() as nursery:
                accepting = trio.CancelScope()
                accepted: list[trio.abc.Listener[Any]] = list(tcp_listeners)
                if os.name == "posix":  # a socket's descriptor can be dup'ed
                    accepted = [BacklogListener(listener) for listener in tcp_listeners]
                if ssl_context is not None:
                    accepted = [trio.SSLListener(inner, ssl_context, https_compatible=True) for inner in accepted]
                nursery.start_soon(_accept, accepting, handle, accepted, nursery)
                for listener in tcp_listeners if announce else ():
                    address = listener.socket.getsockname()
                    logger.info("Serving on %s://%s%s", scheme, _display_address(address[0], address[1]), how_to_stop)
                task_status.started(listeners)
                if shutdown_trigger is None:
                    await trio.sleep_forever()
                else:
                    await shutdown_trigger()
                nursery.cancel_scope.deadline = lifespan.begin_shutdown()
                accepting.cancel()
                waiting_for = _what_shutdown_waits_for(connections, lifespan.background_tasks, app)
                for connection in list(connections):
                    connection.shut_down()
                logger.info("Shutting down: %s", waiting_for)
            if nursery.cancel_scope.cancelled_caught:
                logger.warning("Connections still open after SHUTDOWN_TIMEOUT were closed")
    finally:
        for listener in tcp_listeners:
            listener.socket.close()  # already closed unless the startup failed


class ListenError(OSError):
    """The server cannot listen on its address: it is in use, not permitted, or no such host.

    ``str(error)`` is one line for the terminal, such as ``cannot listen on
    127.0.0.1:8000: address already in use``; ``errno`` is the original
    error's, and the original error is the ``__cause__``.
    """

    def __init__(self, address: str, error: OSError) -> None:
        reason = str(error.strerror or error)
        super().__init__(error.errno, f"cannot listen on {address}: {reason[:1].lower()}{reason[1:]}")
        self.address = address

    def __str__(self) -> str:
        return str(self.strerror)


async def _listen(host: str | None, port: int, backlog: int | None) -> list[trio.SocketListener]:
    try:
        return await trio.open_tcp_listeners(port, host=host, backlog=backlog)
    except OSError as error:
        raise ListenError(_display_address(host, port), error) from error


def _display_address(host: str | None, port: int) -> str:
    """``host:port`` as in a URL (IPv6 in brackets); ``*:port`` for every interface."""
    if host is None:
        host = "*"
    elif ":" in host:
        host = f"[{host}]"
    return f"{host}:{port}"


def _what_shutdown_waits_for(connections: set[HTTPConnection], background_tasks: int, app: App) -> str:
    """What the grace period is for, in words: "waiting up to 10 s for 2 requests and 1 background task"."""
    requests = websockets = 0
    for connection in connections:
        busy = connection.busy_with
        if busy == "request":
            requests += 1
        elif busy == "websocket":
            websockets += 1
    waited = [_count(requests, "request"), _count(background_tasks, "background task")]
    waited = [part for part in waited if part]
    if waited:
        words = f"waiting up to {app.config['SHUTDOWN_TIMEOUT']:g} s for {' and '.join(waited)}"
    else:
        words = "no requests or background tasks to wait for"
    if websockets:
        words = f"closing {_count(websockets, 'websocket')}, {words}"
    return words


def _count(number: int, noun: str) -> str:
    return "" if number == 0 else f"1 {noun}" if number == 1 else f"{number} {noun}s"


async def _accept(
    scope: trio.CancelScope,
    handle: Callable[[trio.abc.Stream], Awaitable[None]],
    listeners: list[trio.abc.Listener[Any]],
    connections: trio.Nursery,
) -> None:
    """Accept connections until ``scope`` is cancelled; the listeners close then."""
    with scope:
        await trio.serve_listeners(handle, listeners, handler_nursery=connections)


#: How many connections are accepted in a row without a scheduling point (asyncio's default backlog).
ACCEPT_BATCH = 100


class BacklogListener(trio.abc.Listener[trio.SocketStream]):
    """A TCP listener that accepts every connection already waiting, not one per scheduling round.

    ``SocketListener.accept`` is a scheduling point, and under load a round
    of trio's scheduler answers one request on every open connection; so a
    burst of new connections was let in one per round, each round longer
    than the last: the 50th client of a 50-connection benchmark waited for
    ~1,200 requests to the others before its first was read (a p99 of
    150-200 ms on a 20 ms median). Here an accept first takes what the
    backlog holds, without waiting (up to :data:`ACCEPT_BATCH` in a row, as
    asyncio's loop does), and waits through trio only when it is empty.
    """

    def __init__(self, listener: trio.SocketListener) -> None:
        self.listener = listener
        # A second descriptor for the same socket, non-blocking like trio's; made
        # at the first accept (inside serve_listeners, which closes the listener).
        self._backlog: socket.socket | None = None
        self._in_a_row = 0

    async def accept(self) -> trio.SocketStream:
        backlog = self._backlog
        if backlog is None:
            backlog = self._backlog = socket.socket(fileno=os.dup(self.listener.socket.fileno()))
            backlog.setblocking(False)
        if self._in_a_row < ACCEPT_BATCH:
            try:
                sock, _ = backlog.accept()
            except OSError:
                pass  # nothing waiting (or an error, which the listener's own accept below meets and handles)
            else:
                self._in_a_row += 1
                return trio.SocketStream(trio.socket.from_stdlib_socket(sock))
        self._in_a_row = 0
        return await self.listener.accept()

    async def aclose(self) -> None:
        if self._backlog is not None:
            self._backlog.close()
        await self.listener.aclose()


def run(
    app: App,
    *,
    host: str | None = "127.0.0.1",
    port: int = 8000,
    ssl_context: ssl.SSLContext | None = None,
    certfile: str | os.PathLike[str] | None = None,
    keyfile: str | os.PathLike[str] | None = None,
    access_log: bool = True,
    shutdown_trigger: Callable[[], Awaitable[Any]] | None = None,
    backlog: int | None = None,
    sockets: Sequence[socket.socket] | None = None,
    workers: int = 1,
) -> None:
    """Serve ``app`` with ``trio.run``; SIGINT or SIGTERM shuts it down gracefully.

    It logs as the command line does (see :func:`configure_logging`): the
    address it serves on, and each request (``access_log=False`` turns
    that off). ``certfile`` and ``keyfile`` (PEM files), or an
    ``ssl_context``, serve https and wss. A second signal during the
    shutdown stops at once.

    An address it cannot listen on exits with a one-line message and status
    1 (``SystemExit``); an error in the app's startup propagates with its
    traceback. ``sockets`` are listening sockets to serve on instead of
    ``host:port`` (see :func:`serve`).

    ``workers``: with more than 1, this process binds the sockets and runs
    that many worker processes that serve on them (:mod:`trioweb.workers`);
    each imports the app again, so it must be a module-level name of an
    importable module (a script's call goes under ``if __name__ ==
    "__main__":``), and TLS is given as ``certfile``/``keyfile``.
    """
    from .. import workers as worker_processes

    worker_processes.refuse_in_a_worker("run()")
    if workers != 1:
        worker_processes.run(
            app,
            workers,
            host=host,
            port=port,
            ssl_context=ssl_context,
            certfile=certfile,
            keyfile=keyfile,
            access_log=access_log,
            shutdown_trigger=shutdown_trigger,
            backlog=backlog,
            sockets=sockets,
        )
        return
    if certfile is not None:
        if ssl_context is not None:
            raise TypeError("Give either ssl_context or certfile (and keyfile), not both")
        ssl_context = tls_context(certfile, keyfile)
    elif keyfile is not None:
        raise TypeError("keyfile needs a certfile")
    configure_logging()
    serve_app = functools.partial(
        _serve,
        app,
        host=host,
        port=port,
        ssl_context=ssl_context,
        access_log=access_log,
        backlog=backlog,
        sockets=sockets,
        how_to_stop=" (Ctrl-C to stop)",
    )
    try:
        trio.run(_serve_until_signalled, serve_app, shutdown_trigger)
    except ListenError as error:
        raise SystemExit(f"trioweb: {error}") from error


def tls_context(certfile: str | os.PathLike[str], keyfile: str | os.PathLike[str] | None = None) -> ssl.SSLContext:
    """A server's TLS context from a PEM certificate (chain) and its key (if not in the same file)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certfile, keyfile)
    return context


#: The format of ``configure_logging``: time, level, logger and message.
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(level: str | int = "INFO", *, format: str = LOG_FORMAT) -> bool:
    """Log to stderr at ``level``, as ``python -m trioweb serve`` does, unless logging is set up already.

    Only a root logger without handlers is configured, so a program that
    configured logging itself keeps its own setup. Returns whether it did
    anything. The CLI and ``run`` both call it. ``format`` is the lines'
    format; worker processes add the process id to it, to tell them apart.
    """
    root = logging.getLogger()
    if root.handlers:
        return False
    logging.basicConfig(level=level.upper() if isinstance(level, str) else level, format=format, stream=sys.stderr)
    return True


async def _serve_until_signalled(
    serve_app: Callable[..., Awaitable[None]], shutdown_trigger: Callable[[], Awaitable[Any]] | None
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
                await serve_app(shutdown_trigger=stop.wait)
            except Exception as exception:  # re-raised below, outside the nursery
                error = exception
            nursery.cancel_scope.cancel()
    if error is not None:
        raise error
    logger.info("Stopped")
