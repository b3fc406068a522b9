"""The context variables behind ``request``, ``websocket``, ``g`` and ``current_app``.

They are :class:`contextvars.ContextVar` values, so trio copies them into every
child task a handler starts: ``request`` works inside a nursery too.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, cast

from werkzeug.local import LocalProxy

if TYPE_CHECKING:
    from .app import App
    from .wrappers.request import Request
    from .wrappers.websocket import Websocket


class Globals:
    """``g``: a plain namespace that lives as long as one request or websocket."""

    def __getattr__(self, name: str) -> Any:
        # Only reached for a missing name; declared so that ``g.user`` type-checks.
        raise AttributeError(f"g has no attribute {name!r}; set it first (g.{name} = ...)")

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

current_app = cast("App", LocalProxy(app_var, unbound_message="current_app is used outside of a trioweb app"))
request = cast(
    "Request",
    LocalProxy(request_var, unbound_message="request is used outside of an HTTP request handler"),
)
websocket = cast(
    "Websocket",
    LocalProxy(websocket_var, unbound_message="websocket is used outside of a websocket handler"),
)
g = cast("Globals", LocalProxy(g_var, unbound_message="g is used outside of a request or websocket"))


def has_request_context() -> bool:
    return request_var.get(None) is not None


def has_websocket_context() -> bool:
    return websocket_var.get(None) is not None
