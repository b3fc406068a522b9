"""The contexts: the variables behind ``request``, ``websocket``, ``g`` and ``current_app``.

They are :class:`contextvars.ContextVar` values, so trio copies them into every
child task a handler starts (and ``trio.to_thread.run_sync`` into its
thread): ``request`` works inside a nursery too. A context is a set of those
variables, pushed and popped together:

* :class:`AppContext` (``async with app.app_context():``): ``current_app``
  and a ``g`` of its own. The lifespan pushes one around ``before_serving``,
  ``while_serving`` and ``after_serving``.
* :class:`RequestContext` and :class:`WebsocketContext`: a request or a
  websocket, with its own app context (the app and a fresh ``g``, even inside
  an app context already pushed, as in Flask 3.2). Their ``push`` is the one
  place an exchange's context is entered, by the dispatch and by
  ``app.test_request_context()`` alike.

``copy_current_app_context`` and its siblings carry a context to where
trio does not copy it (a plain thread, a task started elsewhere), and
``after_this_request`` / ``after_this_websocket`` add a function for the
current exchange only.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from contextvars import ContextVar, Token
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar, cast

from .sessions import save_before_accept
from .signals import (
    appcontext_popped,
    appcontext_pushed,
    appcontext_tearing_down,
    request_tearing_down,
    send,
    send_reporting,
    websocket_tearing_down,
)

if TYPE_CHECKING:
    from blinker import Signal

    from .app import App
    from .sessions import SessionMixin
    from .wrappers.base import BaseRequestWebsocket
    from .wrappers.request import Request
    from .wrappers.websocket import Websocket

F = TypeVar("F", bound=Callable[..., Any])


class Globals:
    """``g``: a plain namespace that lives as long as its app context (one request, one websocket, or one
    ``async with app.app_context():`` block)."""

    def __getattr__(self, name: str) -> Any:
        # Only reached for a missing name; declared so that ``g.user`` type-checks.
        raise AttributeError(f"g has no attribute {name!r}; set it first (g.{name} = ...)")

    if TYPE_CHECKING:
        # For type checkers only, so that ``g.user = ...`` type-checks; at run
        # time setting an attribute stays the plain, fast object one.
        def __setattr__(self, name: str, value: Any) -> None: ...

    def get(self, name: str, default: Any = None) -> Any:
        return self.__dict__.get(name, default)

    def pop(self, name: str, default: Any = None) -> Any:
        return self.__dict__.pop(name, default)

    def setdefault(self, name: str, default: Any = None) -> Any:
        return self.__dict__.setdefault(name, default)

    def __contains__(self, name: str) -> bool:
        return name in self.__dict__

    def __repr__(self) -> str:
        return f"<trioweb.g {self.__dict__!r}>"


app_var: ContextVar[App] = ContextVar("trioweb.app")
request_var: ContextVar[Request] = ContextVar("trioweb.request")
websocket_var: ContextVar[Websocket] = ContextVar("trioweb.websocket")
g_var: ContextVar[Globals] = ContextVar("trioweb.g")
session_var: ContextVar[SessionMixin] = ContextVar("trioweb.session")


def context_proxy(var: ContextVar[Any], unbound: str, *, instead: tuple[ContextVar[Any], str] | None = None) -> Any:
    """The object ``var`` holds in the current task, as ``request``, ``websocket`` and ``g``.

    Like werkzeug's ``LocalProxy`` for attributes, ``in``, ``bool``,
    ``repr`` and ``isinstance``, at about a seventh of its cost per attribute
    (a websocket view reads ``websocket.receive`` and ``websocket.send`` for
    every message): the class is made for one variable, so a lookup is a
    closure call, not a walk through the proxy's own attributes.

    ``instead`` is a variable that may be set where this one is not, and a
    hint for that case (``request`` in a websocket view): only the error
    path looks at it.
    """
    get = var.get

    def unbound_error() -> RuntimeError:
        if instead is not None and instead[0].get(None) is not None:
            return RuntimeError(f"{unbound}; {instead[1]}")
        return RuntimeError(unbound)

    def current() -> Any:
        try:
            return get()
        except LookupError:
            raise unbound_error() from None

    class Proxy:
        __slots__ = ()

        def __getattribute__(self, name: str) -> Any:
            if name == "_get_current_object":
                return current
            try:
                return getattr(get(), name)
            except LookupError:
                if name == "__class__":
                    # As werkzeug's LocalProxy: isinstance() on an unbound
                    # proxy is False, not an error (Jinja2's ``is defined``).
                    return Proxy
                raise unbound_error() from None

        def __setattr__(self, name: str, value: Any) -> None:
            setattr(current(), name, value)

        def __delattr__(self, name: str) -> None:
            delattr(current(), name)

        def __contains__(self, item: Any) -> bool:
            return item in current()

        # The mapping operations, for ``session["user"] = ...``.
        def __getitem__(self, key: Any) -> Any:
            return current()[key]

        def __setitem__(self, key: Any, value: Any) -> None:
            current()[key] = value

        def __delitem__(self, key: Any) -> None:
            del current()[key]

        def __iter__(self) -> Any:
            return iter(current())

        def __len__(self) -> int:
            return len(current())

        def __bool__(self) -> bool:
            # werkzeug's LocalProxy: False when unbound, else the object's own truth (an empty session is False)
            value = var.get(None)
            return value is not None and bool(value)

        def __repr__(self) -> str:
            value = var.get(None)
            return repr(value) if value is not None else f"<unbound {var.name}>"

    return Proxy()


current_app = cast(
    "App",
    context_proxy(
        app_var,
        "current_app is used outside of an app context: in a view, a hook or a lifespan function it is set; "
        "elsewhere use `async with app.app_context():`",
    ),
)
request = cast(
    "Request",
    context_proxy(
        request_var,
        "request is used outside of an HTTP request handler",
        instead=(websocket_var, "use `websocket` in a websocket view"),
    ),
)
websocket = cast(
    "Websocket",
    context_proxy(
        websocket_var,
        "websocket is used outside of a websocket handler",
        instead=(request_var, "use `request` in an HTTP view"),
    ),
)
g = cast(
    "Globals",
    context_proxy(g_var, "g is used outside of an app context (a request, a websocket, or app.app_context())"),
)
session = cast(
    "SessionMixin",
    context_proxy(session_var, "session is used outside of a request or websocket (or app.test_request_context())"),
)


#: Set by the test client around the connection it serves: where an app that
#: propagates exceptions (``PROPAGATE_EXCEPTIONS``, or ``TESTING``) puts an
#: unhandled one, for the client to raise in the test instead of returning the 500.
propagated_errors_var: ContextVar[list[Exception]] = ContextVar("trioweb.propagated_errors")

#: The variables an exchange's context is made of. A copy of a request's or
#: websocket's context carries every one of them that is set; a variable a
#: request needs (the session is one) belongs here.
EXCHANGE_VARS: tuple[ContextVar[Any], ...] = (app_var, g_var, request_var, websocket_var, session_var)


def has_app_context() -> bool:
    """Whether ``current_app`` and ``g`` are set here: in a request, a websocket, a lifespan function,
    or ``async with app.app_context():``."""
    return app_var.get(None) is not None


def has_request_context() -> bool:
    """Whether the code runs for an HTTP request (a view, its hooks, the tasks they start)."""
    return request_var.get(None) is not None


def has_websocket_context() -> bool:
    """Whether the code runs for a websocket (a view, its hooks, the tasks they start)."""
    return websocket_var.get(None) is not None


def collect(errors: list[Exception] | None, error: Exception) -> list[Exception]:
    """``errors`` with ``error`` added: a list is made only once there is an error to keep."""
    if errors is None:
        return [error]
    errors.append(error)
    return errors


def raise_collected(errors: list[Exception], message: str) -> None:
    """Raise what ``collect`` kept: one error as it is, several in an ``ExceptionGroup``."""
    if len(errors) == 1:
        raise errors[0]
    raise ExceptionGroup(message, errors)


class AppContext:
    """The app context: ``current_app`` and a ``g`` of its own, for as long as it is pushed.

    ``async with app.app_context():`` pushes one; ``push()`` and ``pop()`` are
    coroutines, as in Quart. Pushes nest: each ``pop`` restores what the
    matching ``push`` replaced. A context is pushed and popped in one task:
    that is where its variables are set.
    """

    __slots__ = ("_tokens", "app", "g")

    def __init__(self, app: App, g: Globals | None = None) -> None:
        self.app = app
        self.g = Globals() if g is None else g
        self._tokens: list[tuple[Token[App], Token[Globals]]] = []

    def copy(self) -> AppContext:
        """A context for the same app with the same ``g``."""
        return AppContext(self.app, self.g)

    async def push(self) -> None:
        self._tokens.append((app_var.set(self.app), g_var.set(self.g)))
        if appcontext_pushed.receivers:
            try:
                await send(appcontext_pushed, self.app)
            except BaseException:  # the push failed (``async with`` will not pop it): leave nothing set
                leave(self._tokens.pop())
                raise

    async def pop(self, exc: BaseException | None = None) -> None:
        """Run the ``teardown_appcontext`` functions (on the last pop of a nested push), then restore the variables;
        an error the functions raised comes out last, once the context is popped."""
        if not self._tokens:
            raise RuntimeError(f"{self!r} is not pushed; pop a context only after pushing it")
        app = self.app
        errors: list[Exception] | None = None
        try:
            if len(self._tokens) == 1 and (app.teardown_appcontext_funcs or appcontext_tearing_down.receivers):
                try:
                    await app.do_teardown_appcontext(exc)
                except Exception as error:
                    errors = collect(errors, error)
        finally:
            leave(self._tokens.pop())
        if appcontext_popped.receivers:
            await send_reporting(appcontext_popped, app)
        if errors is not None:  # tested first: no message is formatted on every pop
            raise_collected(errors, f"Errors in the teardown of {self!r}")

    async def __aenter__(self) -> AppContext:
        await self.push()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.pop(exc)

    def __repr__(self) -> str:
        return f"<AppContext of {self.app!r}>"


class _ExchangeContext:
    """What a request's and a websocket's contexts share: the app, a fresh ``g``, the exchange.

    ``push`` is the one place an exchange's context is entered (by the
    dispatch on every server, and by ``app.test_request_context()``): it sets
    the variables and routes the request. ``pop`` runs the teardown functions
    with the error that ended the exchange, if any, then restores the
    variables. They are coroutines, as in Quart.
    """

    __slots__ = ("_tokens", "app", "g", "request_websocket", "session")
    _var: ContextVar[Any]
    _websocket: bool
    _teardown_funcs: str  # the app's attribute that holds them
    _tearing_down: Signal  # request_tearing_down or websocket_tearing_down

    def __init__(self, app: App, request_websocket: BaseRequestWebsocket) -> None:
        self.app = app
        self.request_websocket = request_websocket
        self.g = Globals()
        self._tokens: tuple[Token[App], Token[Globals], Token[Any], Token[SessionMixin]] | None = None

    async def push(self) -> None:
        if self._tokens is not None:
            raise RuntimeError(f"{self!r} is pushed already; push a context once, and pop it before pushing again")
        tokens = (app_var.set(self.app), g_var.set(self.g), self._var.set(self.request_websocket))
        try:
            self.app.router.match(self.request_websocket, websocket=self._websocket)
        except Exception as error:  # a URL converter's own bug: answered like a view's (500, logged)
            self.request_websocket.routing_exception = error
        interface = self.app.session_interface
        try:
            # Awaited here rather than through a helper: a coroutine frame less on every request.
            session = await interface.open_session(self.app, self.request_websocket)
        except Exception as error:  # a store that is down: answered with a 500 (logged), as Flask does
            self.request_websocket.session_error = error
            session = None
        except BaseException:  # cancelled while opening: leave nothing set
            leave(tokens)
            raise
        self.session = session if session is not None else interface.make_null_session(self.app)
        self._tokens = (*tokens, session_var.set(self.session))
        if appcontext_pushed.receivers:  # the exchange's own app context was pushed with it, as in Flask
            await send_reporting(appcontext_pushed, self.app)

    async def pop(self, exc: BaseException | None = None) -> None:
        """The teardown functions and ``*_tearing_down``, then the app context's, then the variables;
        ``appcontext_popped`` last, as Flask pops the request's app context after the request. Every step runs
        even if one raises (Flask 3.2's way); the errors the teardown functions raised come out last (several: in
        an ``ExceptionGroup``), for the dispatch to report (``handle_request`` does not drop the response)."""
        if self._tokens is None:
            raise RuntimeError(f"{self!r} is not pushed; pop a context only after pushing it")
        app = self.app
        errors: list[Exception] | None = None
        try:
            teardown = getattr(app, self._teardown_funcs)
            if teardown:
                try:
                    await app._teardown(teardown, self.request_websocket.blueprint, exc)
                except Exception as error:
                    errors = collect(errors, error)
            if self._tearing_down.receivers:
                await send_reporting(self._tearing_down, app, exc=exc)
        finally:
            try:
                if app.teardown_appcontext_funcs or appcontext_tearing_down.receivers:
                    try:
                        await app.do_teardown_appcontext(exc)
                    except Exception as error:
                        errors = collect(errors, error)
            finally:
                tokens, self._tokens = self._tokens, None
                leave(tokens)
        if appcontext_popped.receivers:
            await send_reporting(appcontext_popped, app)
        if errors is not None:  # tested first: no message is formatted on every pop
            raise_collected(errors, f"Errors in the teardown of {self!r}")

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.pop(exc)

    def __repr__(self) -> str:
        exchange = self.request_websocket
        return f"<{type(self).__name__} {exchange.method} {exchange.path} of {self.app!r}>"


class RequestContext(_ExchangeContext):
    """An HTTP request's context: ``request``, with ``current_app`` and a ``g`` of its own."""

    __slots__ = ()
    _var = request_var
    _websocket = False
    _teardown_funcs = "teardown_request_funcs"
    _tearing_down = request_tearing_down

    @property
    def request(self) -> Request:
        return cast("Request", self.request_websocket)

    async def __aenter__(self) -> RequestContext:
        await self.push()
        return self


class WebsocketContext(_ExchangeContext):
    """A websocket's context: ``websocket``, with ``current_app`` and a ``g`` of its own."""

    __slots__ = ()
    _var = websocket_var
    _websocket = True
    _teardown_funcs = "teardown_websocket_funcs"
    _tearing_down = websocket_tearing_down

    @property
    def websocket(self) -> Websocket:
        return cast("Websocket", self.request_websocket)

    async def push(self) -> None:
        await super().push()
        # A change to the session before the accept goes out with the 101; after it, it is an error.
        self.websocket.before_accept = functools.partial(save_before_accept, self.app, self.session)

    async def __aenter__(self) -> WebsocketContext:
        await self.push()
        return self


# -- carrying a context elsewhere -------------------------------------------------

Captured = tuple[tuple[ContextVar[Any], Any], ...]
_UNSET: Any = object()


def capture(variables: tuple[ContextVar[Any], ...]) -> Captured:
    """The values ``variables`` have here, those that are set."""
    return tuple((var, value) for var in variables if (value := var.get(_UNSET)) is not _UNSET)


def enter(captured: Captured) -> list[Token[Any]]:
    return [var.set(value) for var, value in captured]


def leave(tokens: Sequence[Token[Any]]) -> None:
    """Restore the variables behind ``tokens`` (from ``enter`` or a push), the last set first."""
    for token in reversed(tokens):
        token.var.reset(token)


def run_in(captured: Captured, function: F) -> F:
    """``function``, run with the captured variables set; a plain function stays plain, for a thread."""
    if inspect.iscoroutinefunction(function):

        @functools.wraps(function)
        async def run_async(*args: Any, **kwargs: Any) -> Any:
            tokens = enter(captured)
            try:
                return await function(*args, **kwargs)
            finally:
                leave(tokens)

        return cast(F, run_async)

    @functools.wraps(function)
    def run(*args: Any, **kwargs: Any) -> Any:
        tokens = enter(captured)
        try:
            return function(*args, **kwargs)
        finally:
            leave(tokens)

    return cast(F, run)


def copy_current_app_context(function: F) -> F:
    """``function`` run in the current app context (``current_app`` and ``g``), wherever it is called.

    A plain function stays plain, for a thread; an async one stays async.
    Child tasks of a view and ``trio.to_thread.run_sync`` get the context
    anyway; this is for a ``threading.Thread``, or a function called by code
    that runs in another context.
    """
    if app_var.get(None) is None:
        raise RuntimeError(
            "copy_current_app_context needs an app context to copy: decorate the function inside a view, "
            "a hook, a lifespan function, or `async with app.app_context():`"
        )
    return run_in(capture((app_var, g_var)), function)


def copy_current_request_context(function: F) -> F:
    """``function`` run in the current request's context (``request``, ``g``, ``current_app``), wherever it is
    called, even after the view has returned.

    A plain function stays plain (for ``threading.Thread`` or
    ``trio.to_thread.run_sync``); an async one stays async (for a task in
    ``app.nursery``). ``g`` is the request's own, shared, not a copy.
    """
    if request_var.get(None) is None:
        hint = (
            "; in a websocket view, use copy_current_websocket_context" if websocket_var.get(None) is not None else ""
        )
        raise RuntimeError(
            "copy_current_request_context needs a request to copy: decorate the function inside an HTTP view "
            f"or its hooks (or `async with app.test_request_context():`){hint}"
        )
    return run_in(capture(EXCHANGE_VARS), function)


def copy_current_websocket_context(function: F) -> F:
    """``function`` run in the current websocket's context (``websocket``, ``g``, ``current_app``), wherever it is
    called, even after the view has returned (``send`` and ``receive`` then raise ``WebsocketClosedError``)."""
    if websocket_var.get(None) is None:
        hint = "; in an HTTP view, use copy_current_request_context" if request_var.get(None) is not None else ""
        raise RuntimeError(
            f"copy_current_websocket_context needs a websocket to copy: decorate the function inside a websocket "
            f"view or its hooks{hint}"
        )
    return run_in(capture(EXCHANGE_VARS), function)


# -- functions for this exchange only ---------------------------------------------


def after_this_request(function: F) -> F:
    """Run ``function(response)`` after this request only, before the ``after_request`` functions.

    Like an ``after_request`` function it must return the response (or a
    replacement); a plain function runs in a worker thread. Call it from a
    view or a ``before_request`` function.
    """
    current = request_var.get(None)
    if current is None:
        raise RuntimeError(
            "after_this_request can only be used during an HTTP request: call it in a view or a before_request "
            "function" + ("; in a websocket view, use after_this_websocket" if has_websocket_context() else "")
        )
    _add_after_this(current, function)
    return function


def after_this_websocket(function: F) -> F:
    """Run ``function(response)`` after this websocket only, before the ``after_websocket`` functions.

    As with ``after_websocket``, it runs when the websocket is answered with
    an HTTP response instead of being accepted, and may replace it.
    """
    current = websocket_var.get(None)
    if current is None:
        raise RuntimeError(
            "after_this_websocket can only be used during a websocket: call it in a websocket view or a "
            "before_websocket function" + ("; in an HTTP view, use after_this_request" if has_request_context() else "")
        )
    _add_after_this(current, function)
    return function


def _add_after_this(exchange: BaseRequestWebsocket, function: Callable[..., Any]) -> None:
    from .scaffold import ensure_async

    if exchange.after_this_functions is None:
        exchange.after_this_functions = []
    exchange.after_this_functions.append(ensure_async(function))
