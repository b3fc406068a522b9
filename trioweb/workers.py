"""Worker processes for the native server: ``trioweb serve --workers N``, ``run(app, workers=N)``.

The parent binds the listening sockets once (as the reloader's supervisor
does, with the same code) and starts N worker processes. Each is a fresh
interpreter (spawned, not forked: no trio state, no open connection of the
parent is copied) that imports the app from its ``MODULE:APP``, runs its own
lifespan (``before_serving`` and the rest, as under Hypercorn), and accepts
on the inherited sockets (``pass_fds`` and the ``sockets=`` seam of the
server). They share one accept queue: the kernel hands each connection to
whichever worker accepts it first, so a busy worker takes fewer.

A worker tells the parent it is serving by writing a byte to a pipe once its
startup succeeded and it listens. A worker that exits before that byte (its
import failed, ``before_serving`` raised) is a startup failure: the parent
stops the others gracefully and exits with status 1, since starting it again
would fail the same way. A worker that dies after it had started is started
again after a back-off (:class:`Backoff`), and each restart is logged.

SIGINT and SIGTERM to the parent become SIGTERM to every worker, which then
shuts down as a single server does (websockets closed with 1001, requests in
progress given ``SHUTDOWN_TIMEOUT``); a second signal kills them. The
workers run in a session of their own, so a Ctrl-C in the terminal reaches
only the parent, and they watch the reloader's pipe, so they stop if the
parent is killed.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import signal
import socket
import ssl
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

import trio

from .reloader import adopt, load_or_exit, parent_gone, watch_stop_signals

if TYPE_CHECKING:
    from .app import App

logger = logging.getLogger("trioweb.workers")

#: The environment variable that gives a worker its settings (the app, the descriptors); removed once read.
WORKER_VARIABLE = "TRIOWEB_WORKER"
#: What a worker runs: a fresh interpreter, which reads :data:`WORKER_VARIABLE`.
WORKER_COMMAND = [sys.executable, "-c", "from trioweb.workers import worker_main; worker_main()"]
#: The log format of the parent and its workers: the process id says which worker logged a line.
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(process)d]: %(message)s"
#: The restart back-off: the first delay, the longest, and how long a worker runs to count as a fresh start.
FIRST_DELAY = 0.5
LAST_DELAY = 10.0
RESET_AFTER = 30.0

_importing_the_app = False  # true in a worker while it imports the app


class Backoff:
    """How long to wait before starting a worker again, after it crashed having run ``ran_for`` seconds.

    ``first``, doubled at each crash in a row, up to ``last``: a worker that
    crashes at once is not restarted in a tight loop. One that ran at least
    ``reset_after`` seconds had a fresh start, so its next delay is ``first``.
    """

    def __init__(self, first: float = FIRST_DELAY, last: float = LAST_DELAY, reset_after: float = RESET_AFTER) -> None:
        self.first = first
        self.last = last
        self.reset_after = reset_after
        self._next = first

    def after_crash(self, ran_for: float) -> float:
        if ran_for >= self.reset_after:
            self._next = self.first
        delay = self._next
        self._next = min(self._next * 2, self.last)
        return delay


def refuse_in_a_worker(what: str) -> None:
    """Raise if a worker is importing the app and the import itself starts a server (an unguarded ``app.run``)."""
    if _importing_the_app:
        raise RuntimeError(
            f"{what} was called while a worker process imported the app: worker processes import the app's "
            'module again, so call it under `if __name__ == "__main__":`.'
        )


def import_string(app: App, workers: int) -> str:
    """How a worker imports ``app``: ``module:name``, or ``path/to/script.py:name`` for the ``__main__`` module.

    A worker imports the app's module afresh, as multiprocessing's spawn
    does, so the app must be a module-level name of it; an app made by a
    function (a factory) cannot be found that way.
    """
    module = sys.modules.get(app.import_name)
    names = [name for name, value in vars(module).items() if value is app] if module is not None else []
    target: str | None = app.import_name
    if module is not None and app.import_name == "__main__":
        spec = getattr(module, "__spec__", None)
        file = getattr(module, "__file__", None)
        if spec is not None and spec.name and spec.name != "__main__":
            target = spec.name  # python -m package.module
        else:
            target = os.path.realpath(file) if file else None
    if not names or target is None:
        raise ValueError(
            f"run(workers={workers}) starts processes that import the app again, and found it under no name of "
            f"module {app.import_name!r}: make it a module-level name (app = App(__name__)) of a module or script, "
            f"or serve a factory with 'trioweb serve module:create_app() --workers {workers}'."
        )
    return f"{target}:{names[0]}"


def run(
    app: App,
    workers: int,
    *,
    host: str | None,
    port: int,
    ssl_context: ssl.SSLContext | None,
    certfile: str | os.PathLike[str] | None,
    keyfile: str | os.PathLike[str] | None,
    access_log: bool,
    shutdown_trigger: Callable[[], Awaitable[Any]] | None,
    backlog: int | None,
    sockets: Sequence[socket.socket] | None,
) -> None:
    """``trioweb.server.run(app, workers=N)``: check the arguments, then :func:`supervise` (exits if it failed)."""
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a whole number of processes, 1 or more, not {workers!r}")
    if ssl_context is not None:
        raise TypeError("With workers, give certfile (and keyfile), not ssl_context: each worker makes its own context")
    if keyfile is not None and certfile is None:
        raise TypeError("keyfile needs a certfile")
    target = import_string(app, workers)
    from .server import configure_logging

    configure_logging(format=LOG_FORMAT)
    status = supervise(
        target,
        workers,
        host=host,
        port=port,
        certfile=None if certfile is None else os.fspath(certfile),
        keyfile=None if keyfile is None else os.fspath(keyfile),
        access_log=access_log,
        shutdown_trigger=shutdown_trigger,
        backlog=backlog,
        sockets=sockets,
    )
    if status:
        raise SystemExit(status)


def supervise(
    app: str | None,
    workers: int,
    *,
    host: str | None,
    port: int,
    certfile: str | None = None,
    keyfile: str | None = None,
    access_log: bool = True,
    log_level: str = "info",
    shutdown_trigger: Callable[[], Awaitable[Any]] | None = None,
    backlog: int | None = None,
    sockets: Sequence[socket.socket] | None = None,
) -> int:
    """Bind, run ``workers`` processes serving ``app`` (a ``--app`` string) until stopped; the exit status.

    ``app=None`` lets each worker find the app as the command line does
    without ``--app`` (``wsgi.py`` or ``app.py`` in the current folder).
    """
    from .server import ListenError

    if os.name != "posix":
        raise SystemExit("trioweb: worker processes inherit the listening socket, which needs a POSIX system")
    settings = {
        "app": app,
        "certfile": certfile,
        "keyfile": keyfile,
        "access_log": access_log,
        "log_level": log_level,
        "path": sys.path,  # as multiprocessing's spawn: a module the parent imported from a script's folder
    }
    parent = Parent(settings, workers, "https" if certfile else "http", shutdown_trigger)
    try:
        return trio.run(parent.run, host, port, backlog, sockets)
    except ListenError as error:
        raise SystemExit(f"trioweb: {error}") from error


def _exit_status(returncode: int | None) -> str:
    if returncode is not None and returncode < 0:
        return f"killed by {signal.Signals(-returncode).name}"
    return f"exit status {returncode}"


class Parent:
    """The parent process: the sockets, N slots that each keep one worker running, and the signals."""

    def __init__(
        self,
        settings: dict[str, Any],
        count: int,
        scheme: str,
        shutdown_trigger: Callable[[], Awaitable[Any]] | None = None,
    ) -> None:
        self.settings = settings
        self.count = count
        self.scheme = scheme
        self.shutdown_trigger = shutdown_trigger
        self.stopping = trio.Event()  # the first signal, the trigger, or a worker that could not start
        self.hurry = trio.Event()  # the second signal: kill the workers now
        self.processes: set[trio.Process] = set()  # the workers alive
        self.failure: str | None = None
        self._started: set[int] = set()  # the slots whose worker started at least once
        self._addresses: list[str] = []

    async def run(
        self, host: str | None, port: int, backlog: int | None, sockets: Sequence[socket.socket] | None
    ) -> int:
        from .server import _display_address, _listen

        if sockets is None:
            bound = [listener.socket for listener in await _listen(host, port, backlog)]
        else:
            bound = [trio.socket.from_stdlib_socket(sock) for sock in sockets]
        self._addresses = [_display_address(*sock.getsockname()[:2]) for sock in bound]
        descriptors = [sock.fileno() for sock in bound]
        alive_read, alive_write = os.pipe()  # the write end stays here, unwritten, for the parent's life
        try:
            with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(
                        watch_stop_signals,
                        signals,
                        self.stopping,
                        self.hurry,
                        logger,
                        "shutting the workers down gracefully",
                        "killing the workers",
                    )
                    if self.shutdown_trigger is not None:
                        nursery.start_soon(self._watch_trigger, self.shutdown_trigger)
                    nursery.start_soon(self._forward_stop)
                    async with trio.open_nursery() as slots:
                        for slot in range(self.count):
                            slots.start_soon(self._keep_running, slot, descriptors, alive_read)
                    nursery.cancel_scope.cancel()
        finally:
            for process in self.processes:  # only after an error of the parent's own
                if process.returncode is None:
                    process.kill()
            os.close(alive_read)
            os.close(alive_write)
            for sock in bound:
                sock.close()
        if self.failure is not None:
            logger.error("Stopped: %s", self.failure)
            return 1
        logger.info("Stopped")
        return 0

    async def _keep_running(self, slot: int, descriptors: list[int], alive: int) -> None:
        """Start a worker in this slot, and again after each crash, until the parent stops."""
        backoff = Backoff()
        while not self.stopping.is_set():
            ready_read, ready_write = os.pipe()
            settings = {**self.settings, "sockets": descriptors, "alive": alive, "ready": ready_write}
            async with trio.lowlevel.FdStream(ready_read) as ready:
                try:
                    process = await trio.lowlevel.open_process(
                        WORKER_COMMAND,
                        pass_fds=[*descriptors, alive, ready_write],
                        env=dict(os.environ, **{WORKER_VARIABLE: json.dumps(settings)}),
                        start_new_session=True,
                    )
                finally:
                    os.close(ready_write)
                self.processes.add(process)
                if self.stopping.is_set():
                    process.send_signal(signal.SIGTERM)  # started just as the parent began to stop
                started = await ready.receive_some(1)  # b"" (end of file): it exited before it could serve
            if not started:
                await process.wait()
                self.processes.discard(process)
                if not self.stopping.is_set():
                    self._fail(f"worker {process.pid} could not start ({_exit_status(process.returncode)})")
                self._check_stop(process)
                return
            logger.info("Worker %d started", process.pid)
            self._announce(slot)
            began = trio.current_time()
            await process.wait()
            self.processes.discard(process)
            if self.stopping.is_set():
                if process.returncode != 0:
                    logger.warning("Worker %d stopped: %s", process.pid, _exit_status(process.returncode))
                self._check_stop(process)
                return
            delay = backoff.after_crash(trio.current_time() - began)
            logger.error(
                "Worker %d stopped unexpectedly (%s): starting another in %g s",
                process.pid,
                _exit_status(process.returncode),
                delay,
            )
            with trio.move_on_after(delay):
                await self.stopping.wait()

    def _announce(self, slot: int) -> None:
        """Log "Serving on" once, when every slot has started a worker (not if the parent is stopping)."""
        if slot in self._started or self.stopping.is_set():
            return
        self._started.add(slot)
        if len(self._started) == self.count:
            for address in self._addresses:
                logger.info("Serving on %s://%s with %d workers (Ctrl-C to stop)", self.scheme, address, self.count)

    def _check_stop(self, process: trio.Process) -> None:
        """A worker that failed while the parent stopped (``after_serving`` raised) fails the stop, as one server's.

        A worker killed by a signal (the second one, or SIGTERM before it
        could handle it) did not fail on its own: the stop still succeeds.
        """
        if self.failure is None and process.returncode is not None and process.returncode > 0:
            self.failure = f"worker {process.pid} stopped with {_exit_status(process.returncode)}"

    def _fail(self, message: str) -> None:
        if self.failure is None:
            self.failure = message
            logger.error("%s: stopping the other workers", message)
        self.stopping.set()

    async def _forward_stop(self) -> None:
        """SIGTERM to every worker once stopping, a graceful shutdown; SIGKILL on a second signal."""
        await self.stopping.wait()
        for process in list(self.processes):
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
        await self.hurry.wait()
        for process in list(self.processes):
            if process.returncode is None:
                process.kill()

    async def _watch_trigger(self, trigger: Callable[[], Awaitable[Any]]) -> None:
        await trigger()
        if not self.stopping.is_set():
            logger.info("Shutting the workers down gracefully")
            self.stopping.set()


class _Ready(trio.TaskStatus[Any]):
    """The server's ``task_status`` in a worker: ``started()`` (it listens, its startup succeeded) writes the byte."""

    def __init__(self, descriptor: int) -> None:
        self.descriptor = descriptor

    def started(self, value: Any = None) -> None:
        try:
            os.write(self.descriptor, b"1")
        except BrokenPipeError:
            pass  # the parent was killed during this startup: parent_gone has begun the shutdown
        finally:
            os.close(self.descriptor)


def worker_main() -> None:
    """A worker process: import the app, serve on the inherited sockets until SIGTERM or the parent is gone."""
    global _importing_the_app
    from .cli import ScriptInfo
    from .server import _serve, _serve_until_signalled, configure_logging, tls_context

    settings = json.loads(os.environ.pop(WORKER_VARIABLE))  # not passed on to what the app starts
    ready: int = settings["ready"]
    os.set_inheritable(ready, False)
    sockets, alive = adopt(settings)  # before the import, which may start processes (os.system)
    sys.path[:] = settings["path"]
    _importing_the_app = True
    try:
        app = load_or_exit(ScriptInfo(settings["app"]))
    finally:
        _importing_the_app = False
    configure_logging(settings["log_level"].upper(), format=LOG_FORMAT)  # after the import, as `serve` does
    certfile = settings["certfile"]
    serve_app = functools.partial(
        _serve,
        app,
        host=None,
        port=0,
        ssl_context=None if certfile is None else tls_context(certfile, settings["keyfile"]),
        access_log=settings["access_log"],
        backlog=None,
        sockets=sockets,
        task_status=_Ready(ready),
        announce=False,
    )
    trio.run(_serve_until_signalled, serve_app, functools.partial(parent_gone, alive))
