"""The context variables behind ``request``, ``websocket``, ``g`` and ``current_app``.

They are :class:`contextvars.ContextVar` values, so trio copies them into every
child task a handler starts: ``request`` works inside a nursery too.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from .app import App
    from .sessions import SessionMixin
    from .wrappers.request import Request
    from .wrappers.websocket import Websocket


class Globals:
    """``g``: a plain namespace that lives as long as one request or websocket."""

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


current_app = cast("App", context_proxy(app_var, "current_app is used outside of a trioweb app"))
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
g = cast("Globals", context_proxy(g_var, "g is used outside of a request or websocket"))
session = cast(
    "SessionMixin",
    context_proxy(session_var, "session is used outside of a request or websocket (or app.test_request_context())"),
)


def has_request_context() -> bool:
    return request_var.get(None) is not None


def has_websocket_context() -> bool:
    return websocket_var.get(None) is not None
