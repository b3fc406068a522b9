"""Signals: blinker signals the app sends at the points of a request, a websocket and a context.

They have Quart's (and Flask's) names, senders and keyword arguments: the
sender is always the app, so ``@request_started.connect_via(app)`` hears one
app only, and ``request_finished`` comes with ``response=``,
``got_request_exception`` with ``exception=``, the tearing-down ones with
``exc=``. They live in trioweb's own blinker :class:`~blinker.Namespace`,
:data:`namespace`; an app's own signals belong in a namespace of its own.

Signals are for observing (metrics, logging, tests), not for changing what a
request does: for that there are the hooks. Two rules keep them cheap and
simple:

* Every send point is guarded by ``if signal.receivers:`` (blinker's dict of
  connected receivers, empty when nothing is connected), so an app with no
  receiver pays one attribute test per point and makes no coroutine.
* :func:`send` awaits an async receiver and calls a plain one directly, in
  trio's thread: a receiver that would block should be async and use
  ``trio.to_thread.run_sync`` itself (Quart runs plain receivers in a
  worker thread, which costs a thread hop per receiver per request).

What a raising receiver does depends on where it is sent: docs/signals.md
has the table.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from blinker import Namespace, Signal

if TYPE_CHECKING:
    from .app import App

#: trioweb's signals, and no one else's.
namespace = Namespace()

#: Sent before the ``before_request`` functions, in the request's context: ``receiver(app)``.
request_started = namespace.signal("request-started")
#: Sent once the response is final (after the ``after_request`` functions and the session's save), before it is
#: sent: ``receiver(app, response=response)``.
request_finished = namespace.signal("request-finished")
#: Sent after the ``teardown_request`` functions: ``receiver(app, exc=error_or_None)``.
request_tearing_down = namespace.signal("request-tearing-down")
#: Sent when an exception no error handler took reaches ``handle_exception``, before the 500 handler:
#: ``receiver(app, exception=error)``.
got_request_exception = namespace.signal("got-request-exception")

#: Sent before the ``before_websocket`` functions: ``receiver(app)``.
websocket_started = namespace.signal("websocket-started")
#: Sent after the view and the ``after_websocket`` functions, before the close (or the rejection):
#: ``receiver(app, response=response_or_None)`` (``None`` for an accepted websocket).
websocket_finished = namespace.signal("websocket-finished")
#: Sent after the ``teardown_websocket`` functions: ``receiver(app, exc=error_or_None)``.
websocket_tearing_down = namespace.signal("websocket-tearing-down")
#: Sent when a websocket view (or a hook) raises an error no handler took: ``receiver(app, exception=error)``.
got_websocket_exception = namespace.signal("got-websocket-exception")

#: Sent when an app context is pushed (every request and websocket has its own): ``receiver(app)``.
appcontext_pushed = namespace.signal("appcontext-pushed")
#: Sent after the ``teardown_appcontext`` functions, still in the context: ``receiver(app, exc=error_or_None)``.
appcontext_tearing_down = namespace.signal("appcontext-tearing-down")
#: Sent once an app context is popped (``current_app`` is what it was before the push): ``receiver(app)``.
appcontext_popped = namespace.signal("appcontext-popped")

#: Sent by ``flash()``: ``receiver(app, message=message, category=category)``.
message_flashed = namespace.signal("message-flashed")
#: Sent before a template renders (or starts streaming): ``receiver(app, template=template, context=context)``.
before_render_template = namespace.signal("before-render-template")
#: Sent once a template has rendered (a streamed one: after its last piece):
#: ``receiver(app, template=template, context=context)``.
template_rendered = namespace.signal("template-rendered")

#: Sent when a ``before_serving``, ``while_serving`` or ``after_serving`` function raises:
#: ``receiver(app, exception=error)``.
got_serving_exception = namespace.signal("got-serving-exception")
#: Sent when a task of ``app.add_background_task`` raises: ``receiver(app, exception=error)``.
got_background_exception = namespace.signal("got-background-exception")


async def send(signal: Signal, sender: Any, /, **kwargs: Any) -> list[tuple[Callable[..., Any], Any]]:
    """Call every receiver of ``signal`` for ``sender``, awaiting what returns an awaitable.

    blinker's ``send_async`` would do with a ``_sync_wrapper``, but it tells
    async receivers apart with ``iscoroutinefunction``, so an object with an
    async ``__call__`` (or an async function behind a plain decorator) would
    be taken for a plain one and its coroutine dropped unawaited; and the
    wrapper is one more coroutine per plain receiver per send. Here a
    receiver is called, and its result awaited if it is awaitable. As
    blinker does, a muted signal calls nothing, the receivers for ``ANY``
    are called too, and a receiver's error propagates (each send point
    decides what that means). Returns ``(receiver, result)`` pairs, as
    blinker's ``send``.

    A caller on a hot path tests ``signal.receivers`` first, so that no
    coroutine is made when nothing is connected.
    """
    if signal.is_muted:
        return []
    results = []
    for receiver in signal.receivers_for(sender):
        result = receiver(sender, **kwargs)
        if inspect.isawaitable(result):
            result = await result
        results.append((receiver, result))
    return results


async def send_reporting(signal: Signal, app: App, /, **kwargs: Any) -> None:
    """:func:`send`, for a signal about an error already being handled: a receiver's own error is reported
    (logged, or handed to the test client when the app propagates exceptions) instead of raised, so that it
    neither hides the first error nor leaves the client without its 500."""
    try:
        await send(signal, app, **kwargs)
    except Exception as error:
        app.report_unhandled(error)


__all__ = [
    "appcontext_popped",
    "appcontext_pushed",
    "appcontext_tearing_down",
    "before_render_template",
    "got_background_exception",
    "got_request_exception",
    "got_serving_exception",
    "got_websocket_exception",
    "message_flashed",
    "namespace",
    "request_finished",
    "request_started",
    "request_tearing_down",
    "send",
    "send_reporting",
    "template_rendered",
    "websocket_finished",
    "websocket_started",
    "websocket_tearing_down",
]
