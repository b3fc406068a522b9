"""Serving an app: startup, the app nursery, and graceful shutdown (docs/architecture.md, contract 5).

Every server runs the same sequence around its own work, through
:func:`serving`: the native server, the ASGI ``lifespan`` scope and
``app.test_app()``.

Startup
    The app nursery opens (``app.nursery`` works from here on), then the
    ``before_serving`` functions run in order, then each ``while_serving``
    generator runs up to its ``yield``.

Shutdown
    ``app.shutdown_event`` is set, so that loops and long polls that watch
    it can stop at once. The server stops taking new work and winds down
    what it has (the native
    server closes websockets with 1001 and lets requests finish). Background
    tasks in the app nursery get until the same deadline, ``SHUTDOWN_TIMEOUT``
    after the shutdown began, and are then cancelled. Then the
    ``while_serving`` generators resume, the last started first, and the
    ``after_serving`` functions run in order. Only then is shutdown complete.

All of it runs in one app context (``current_app``, and a ``g`` that
``before_serving`` and ``after_serving`` share; a request has a ``g`` of its
own).

If startup fails, the generators that did start are resumed (so that what
they opened is closed), ``after_serving`` does not run, and the error is
raised as it is, never inside an exception group.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import trio

from .ctx import AppContext
from .signals import got_background_exception, got_serving_exception, send_reporting

if TYPE_CHECKING:
    from .app import App

NOT_SERVING = (
    "app.nursery exists only while the app is serving, from startup to shutdown. "
    "Use it from a view, a hook, or a before_serving or while_serving function; "
    "in a test, run the code inside `async with app.test_app():`."
)


class Lifespan:
    """One period of serving: the app nursery, the shutdown event and the shutdown deadline."""

    def __init__(self, app: App, shutdown_event: trio.Event | None = None) -> None:
        self.app = app
        self.nursery: trio.Nursery | None = None
        #: Set when this period's shutdown begins (``app.shutdown_event``).
        self.shutdown_event = trio.Event() if shutdown_event is None else shutdown_event
        #: When the grace period ends; ``None`` until the shutdown begins.
        self.deadline: float | None = None
        #: Called when the shutdown begins: servers stop their own helper tasks here.
        self.on_shutdown: list[Callable[[], object]] = []
        #: The ASGI adapter's watch over slow requests and busy websocket views (see ``trioweb.asgi``).
        self.asgi_watch: Any = None

    @property
    def shutting_down(self) -> bool:
        return self.deadline is not None

    @property
    def background_tasks(self) -> int:
        """How many tasks run in the app nursery now (the ASGI adapter's own watch left out)."""
        if self.nursery is None:
            return 0
        return len(self.nursery.child_tasks) - (self.asgi_watch is not None)

    def begin_shutdown(self) -> float:
        """Start the grace period (once) and return its deadline; ``shutdown_event`` is set first."""
        if self.deadline is None:
            self.shutdown_event.set()
            self.deadline = trio.current_time() + self.app.config["SHUTDOWN_TIMEOUT"]
            for callback in self.on_shutdown:
                callback()
        return self.deadline


@asynccontextmanager
async def serving(app: App) -> AsyncIterator[Lifespan]:
    """Start ``app`` up, yield while it serves, then shut it down gracefully.

    The body of the ``async with`` is the server's work; leaving it normally
    is a graceful shutdown (the grace period starts then, unless the server
    started it earlier with :meth:`Lifespan.begin_shutdown`). Leaving it with
    an exception or a cancellation cancels the background tasks at once; the
    ``while_serving`` and ``after_serving`` code still runs, shielded and
    bounded by ``SHUTDOWN_TIMEOUT`` if it was a cancellation.
    """
    if app.lifespan is not None:
        raise RuntimeError(
            f"{app!r} is already serving; one app object serves one server at a time "
            "(give each server its own App, or one server several listeners)"
        )
    lifespan = Lifespan(app, app.next_shutdown_event)
    app.lifespan, app.next_shutdown_event = lifespan, None
    # One app context for the whole period: before_serving, the while_serving
    # generators on both sides of their yield, and after_serving share one g.
    app_context = AppContext(app)
    await app_context.push()
    generators: list[AsyncGenerator[Any, None]] = []
    started = False
    error: BaseException | None = None
    try:
        try:
            async with trio.open_nursery() as nursery:
                lifespan.nursery = nursery
                try:
                    await _start(app, generators)
                    started = True
                    yield lifespan
                except BaseException as exception:  # re-raised below, outside the nursery
                    error = exception
                    lifespan.shutdown_event.set()
                    nursery.cancel_scope.cancel(reason="the app stopped serving")
                else:
                    nursery.cancel_scope.deadline = lifespan.begin_shutdown()
        except BaseExceptionGroup as group:
            # A task started in app.nursery crashed: that is the error to report.
            error = _first_error(group)
        finally:
            lifespan.nursery = None
        cancelled = _is_cancellation(error)
        with trio.move_on_after(app.config["SHUTDOWN_TIMEOUT"] if cancelled else float("inf"), shield=cancelled):
            try:
                await _stop(app, generators, run_after_serving=started)
            except Exception:
                if error is None:
                    raise
                app.logger.exception("Shutdown failed, after an earlier error")
    finally:
        app.lifespan = None
        await app_context.pop(error)  # the teardown_appcontext functions get what ended serving, or None
    if cancelled:
        # Cancelled from outside: let the enclosing scope see it. (A Cancelled
        # that only belonged to the app nursery ends serving quietly.)
        await trio.lowlevel.checkpoint_if_cancelled()
    elif error is not None:
        raise error


def shutdown_event(app: App) -> trio.Event:
    """The event of the app's period of serving: the current one, or else the next one.

    Handed out before serving begins (or by a view served without startup:
    the plain test client, an ASGI server without lifespan), the event is
    kept for the next period of serving, which sets it when its shutdown
    begins. So it is never set while no shutdown is under way, and code that
    took it early still hears the shutdown.
    """
    if app.lifespan is not None:
        return app.lifespan.shutdown_event
    if app.next_shutdown_event is None:
        app.next_shutdown_event = trio.Event()
    return app.next_shutdown_event


def _is_cancellation(error: BaseException | None) -> bool:
    """A Cancelled, or a group of nothing else (a server's nursery inside the block makes one)."""
    if isinstance(error, BaseExceptionGroup):
        return error.split(trio.Cancelled)[1] is None
    return isinstance(error, trio.Cancelled)


async def _start(app: App, generators: list[AsyncGenerator[Any, None]]) -> None:
    try:
        await _start_each(app, generators)
    except Exception as error:
        if got_serving_exception.receivers:
            await send_reporting(got_serving_exception, app, exception=error)
        raise


async def _start_each(app: App, generators: list[AsyncGenerator[Any, None]]) -> None:
    for function in app.before_serving_funcs:
        await function()
    for generator_function in app.while_serving_gens:
        generator = generator_function()
        try:
            await generator.__anext__()
        except StopAsyncIteration:
            raise RuntimeError(
                f"The while_serving generator {generator_function.__name__} ended without yielding; "
                "it must yield exactly once"
            ) from None
        generators.append(generator)


async def _stop(app: App, generators: list[AsyncGenerator[Any, None]], *, run_after_serving: bool) -> None:
    """Resume the while_serving generators (last first), then run after_serving."""
    first_error: Exception | None = None
    while generators:
        generator = generators.pop()
        try:
            await generator.__anext__()
        except StopAsyncIteration:
            continue
        except Exception as exception:
            first_error = first_error or exception
            continue
        await generator.aclose()
        name = getattr(generator, "__name__", repr(generator))
        first_error = first_error or RuntimeError(
            f"The while_serving generator {name} yielded more than once; it must yield exactly once"
        )
    if run_after_serving:
        for function in app.after_serving_funcs:
            try:
                await function()
            except Exception as exception:
                first_error = first_error or exception
    if first_error is not None:
        if got_serving_exception.receivers:
            await send_reporting(got_serving_exception, app, exception=first_error)
        raise first_error


def _first_error(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The exception to raise for a group from the app nursery: its first non-Cancelled one."""
    rest = group.split(trio.Cancelled)[1]
    if rest is None:
        return group.exceptions[0]
    error: BaseException = rest
    while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
        error = error.exceptions[0]
    return error


async def run_background_task(app: App, function: Any, args: tuple[Any, ...]) -> None:
    """A task from ``app.add_background_task``: its error is logged, the app serves on."""
    try:
        await function(*args)
    except Exception as error:
        if got_background_exception.receivers:
            await send_reporting(got_background_exception, app, exception=error)
        app.logger.exception("Background task %s failed", getattr(function, "__name__", function))


__all__ = ["NOT_SERVING", "Lifespan", "serving", "shutdown_event"]
