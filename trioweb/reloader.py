"""``trioweb run --reload``: a supervisor that keeps the listening socket and restarts the app in a child.

The supervisor binds the address once and never closes it. It runs the
same command line again as a child process, with the socket passed down
(``pass_fds``) and named in ``TRIOWEB_RELOADER_CHILD``; the child serves on
it (``trioweb.server.run(sockets=...)``). When a watched file changes, the
child gets SIGTERM (a graceful shutdown), is killed if it has not exited
after :data:`STOP_TIMEOUT`, and a new one starts. Meanwhile the socket is
still listening, so a client that connects waits in the kernel's backlog
for the new child instead of being refused. A child that fails (a syntax
error, say) has printed its traceback; the supervisor waits for the next
change. The child runs in a session of its own, so Ctrl-C reaches only the
supervisor, which stops it once; and it watches a pipe from the
supervisor, so it stops if the supervisor dies.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import signal
import socket
import sys
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

import trio

if TYPE_CHECKING:
    from .app import App
    from .cli import ScriptInfo

logger = logging.getLogger("trioweb.reloader")

#: The environment variable that tells a child the descriptors of its sockets and of the supervisor's pipe.
CHILD_VARIABLE = "TRIOWEB_RELOADER_CHILD"
#: Seconds a child gets to shut down after SIGTERM before it is killed.
STOP_TIMEOUT = 5.0
#: The exit status of a child whose app could not be loaded (its error is printed).
LOAD_FAILED = 3


def child_settings() -> dict[str, Any] | None:
    """The sockets and pipe this process serves with, if it is a reloader's child."""
    value = os.environ.get(CHILD_VARIABLE)
    return None if not value else dict(json.loads(value))


def adopt(settings: dict[str, Any]) -> tuple[list[socket.socket], int]:
    """The inherited listening sockets and the supervisor's pipe, no longer inheritable.

    ``pass_fds`` made them inheritable; a process the app starts (``os.system``,
    ``subprocess`` with ``close_fds=False``) would otherwise keep the port bound
    after the child is gone.
    """
    sockets = [socket.socket(fileno=fd) for fd in settings["sockets"]]
    for sock in sockets:
        sock.set_inheritable(False)
    alive: int = settings["alive"]
    os.set_inheritable(alive, False)
    return sockets, alive


def load_or_exit(info: ScriptInfo) -> App:
    """The app, or its error printed and exit status :data:`LOAD_FAILED` (a child's parent reports it)."""
    from .cli import NoAppException

    try:
        return info.load_app()
    except NoAppException as error:
        print(f"Error: {error.format_message()}", file=sys.stderr, flush=True)
        raise SystemExit(LOAD_FAILED) from None
    except Exception:
        traceback.print_exc()
        raise SystemExit(LOAD_FAILED) from None


async def parent_gone(alive: int) -> None:
    """Return when the process at the write end of the pipe ``alive`` is gone.

    The parent never writes: the pipe becomes readable (EOF) only when the
    parent has exited, however it ended, even by SIGKILL.
    """
    await trio.lowlevel.wait_readable(alive)


def serve_child(info: ScriptInfo, settings: dict[str, Any], *, certfile: str | None, keyfile: str | None) -> None:
    """In the child: load the app (printing an error, then exiting) and serve on the inherited sockets."""
    from .server import configure_logging, run

    sockets, alive = adopt(settings)  # before the import, which may start processes (os.system)
    app = load_or_exit(info)
    configure_logging()
    run(
        app,
        sockets=sockets,
        certfile=certfile,
        keyfile=keyfile,
        shutdown_trigger=functools.partial(parent_gone, alive),
    )


def watched_paths(info: ScriptInfo) -> list[str]:
    """The current directory, and the folder of an app given as a file path outside it."""
    paths = [os.getcwd()]
    target = (info.app_import_path or "").split(":", 1)[0]
    if target.endswith(".py") or os.sep in target:
        folder = os.path.dirname(os.path.realpath(target))
        if not folder.startswith(paths[0] + os.sep) and folder != paths[0]:
            paths.append(folder)
    return paths


def child_command() -> list[str]:
    """This process's command line, to run again as the child (``-m`` kept, as werkzeug's reloader does)."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if spec is not None and spec.name:
        name = spec.name.removesuffix(".__main__")
        return [sys.executable, "-m", name, *sys.argv[1:]]
    return [sys.executable, *sys.argv]


def supervise(*, host: str, port: int, watch: Sequence[str], command: Sequence[str] | None = None) -> int:
    """Bind ``host:port``, run the app in a child, restart it on every change; the exit status when stopped."""
    from .server import ListenError, configure_logging

    if os.name != "posix":
        raise SystemExit("trioweb: --reload passes the socket to a child process, which needs a POSIX system")
    configure_logging()
    logging.getLogger("watchfiles").setLevel(logging.WARNING)  # its "1 change detected"; ours names the files
    supervisor = Supervisor(list(command or child_command()), list(watch))
    try:
        return trio.run(supervisor.run, host, port)
    except ListenError as error:
        raise SystemExit(f"trioweb: {error}") from error


class Supervisor:
    """The reloader's parent process: the socket, the watcher, and one child at a time."""

    def __init__(self, command: list[str], watch: list[str]) -> None:
        self.command = command
        self.watch = watch
        self.stopping = trio.Event()  # the first SIGINT or SIGTERM
        self.hurry = trio.Event()  # the second: kill the child now
        self.changed: set[str] = set()

    async def run(self, host: str, port: int) -> int:
        from .server import _listen

        listeners = await _listen(host, port, None)
        alive_read, alive_write = os.pipe()  # the write end stays here, unwritten, for the supervisor's life
        descriptors = [listener.socket.fileno() for listener in listeners]
        env = dict(os.environ, **{CHILD_VARIABLE: json.dumps({"sockets": descriptors, "alive": alive_read})})
        try:
            with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                async with trio.open_nursery() as nursery:
                    send_changes, changes = trio.open_memory_channel[set[str]](math.inf)
                    nursery.start_soon(self._watch_files, send_changes)
                    nursery.start_soon(
                        watch_stop_signals,
                        signals,
                        self.stopping,
                        self.hurry,
                        logger,
                        "stopping the app",
                        "stopping it at once",
                    )
                    logger.info("Watching %s for changes (Ctrl-C to stop)", ", ".join(self.watch))
                    await self._restart_on_changes(changes, env, [*descriptors, alive_read])
                    nursery.cancel_scope.cancel()
        finally:
            os.close(alive_read)
            os.close(alive_write)
            for listener in listeners:
                listener.socket.close()
        logger.info("Stopped")
        return 0

    async def _restart_on_changes(
        self, changes: trio.MemoryReceiveChannel[set[str]], env: dict[str, str], descriptors: list[int]
    ) -> None:
        while not self.stopping.is_set():
            process = await trio.lowlevel.open_process(
                self.command, pass_fds=descriptors, env=env, start_new_session=True
            )
            logger.info("Started the app in process %d", process.pid)
            next_change = functools.partial(self._next_change, changes)
            happened = await _first(change=next_change, exit=process.wait, stop=self.stopping.wait)
            if happened == "exit":
                logger.error(
                    "The app stopped (exit status %s); it starts again when a file changes", process.returncode
                )
                await _first(change=next_change, stop=self.stopping.wait)
            else:
                if happened == "change":
                    logger.info("%s changed: restarting", ", ".join(sorted(self.changed)))
                await self.stop(process)
                self._drain(changes)  # what changed while it stopped: the next child has it already
            self.changed.clear()

    async def _next_change(self, changes: trio.MemoryReceiveChannel[set[str]]) -> None:
        self.changed.update(await changes.receive())
        self._drain(changes)  # and whatever else changed meanwhile

    def _drain(self, changes: trio.MemoryReceiveChannel[set[str]]) -> None:
        while True:
            try:
                self.changed.update(changes.receive_nowait())
            except trio.WouldBlock:
                return

    async def stop(self, process: trio.Process) -> None:
        """SIGTERM, a graceful shutdown; the kill after ``STOP_TIMEOUT`` or a second Ctrl-C."""
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            with trio.move_on_after(STOP_TIMEOUT) as waited:
                await _first(exit=process.wait, hurry=self.hurry.wait)
            if process.returncode is None:
                why = f"did not stop within {STOP_TIMEOUT:g} s" if waited.cancelled_caught else "asked to stop now"
                logger.warning("The app in process %d %s: killing it", process.pid, why)
                process.kill()
        await process.wait()

    async def _watch_files(self, send: trio.MemorySendChannel[set[str]]) -> None:
        import watchfiles

        # stop_event: the watcher waits in a thread (up to 5 s at a time) that a trio cancellation does not reach.
        watching = watchfiles.awatch(*self.watch, watch_filter=watchfiles.PythonFilter(), stop_event=self.stopping)
        async for changes in watching:
            await send.send({os.path.relpath(path) for _, path in changes})  # noqa: ASYNC240 - string work and a getcwd


async def watch_stop_signals(
    signals: AsyncIterator[int],
    stopping: trio.Event,
    hurry: trio.Event,
    log: logging.Logger,
    first: str,
    again: str,
) -> None:
    """A parent's SIGINT and SIGTERM: the first sets ``stopping`` (a graceful stop), the next ``hurry`` (kill now).

    The reloader's supervisor and the workers' parent both work this way.
    """
    async for number in signals:
        name = signal.Signals(number).name
        if stopping.is_set():
            log.warning("%s again: %s", name, again)
            hurry.set()
        else:
            log.info("%s: %s", name, first)
            stopping.set()


async def _first(**waiters: Callable[[], Awaitable[Any]]) -> str:
    """Wait for the first of ``waiters`` to return, cancel the others, and give its name."""
    winner = ""
    async with trio.open_nursery() as nursery:
        for name, wait in waiters.items():

            async def one(name: str = name, wait: Callable[[], Awaitable[Any]] = wait) -> None:
                nonlocal winner
                await wait()
                if not winner:
                    winner = name
                nursery.cancel_scope.cancel()

            nursery.start_soon(one)
    return winner
