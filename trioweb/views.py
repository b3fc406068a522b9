"""Class-based views: ``View`` and ``MethodView``, with Flask's and Quart's semantics.

``as_view`` turns a class into the view function ``add_url_rule`` takes, and
puts the class's ``methods`` and ``provide_automatic_options`` on it, which
``App.add_url_rule`` reads as it reads a function's. A method may be anything
a function view may be: ``async def`` (awaited), an async generator (a
streamed body) or a plain ``def`` (run in a worker thread, as Quart does).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Collection
from typing import Any, ClassVar

from werkzeug.exceptions import MethodNotAllowed

from .ctx import request
from .scaffold import ensure_async
from .typing import ResponseReturnValue

#: The methods ``MethodView`` maps to a method of the same name, lower-cased.
HTTP_METHOD_FUNCS = frozenset(["get", "post", "head", "options", "delete", "put", "trace", "patch"])


def _call(function: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
    """What a function view of ``function`` would be awaited for: a coroutine, a generator handed back, a thread."""
    if inspect.isasyncgenfunction(function):
        return _ready(function(**kwargs))
    return ensure_async(function)(**kwargs)


async def _ready(value: Any) -> Any:
    return value


class View:
    """A view as a class: subclass it, implement ``dispatch_request``, register ``as_view(name)``.

    ``methods``, ``provide_automatic_options`` and ``decorators`` are read when
    ``as_view`` is called; ``init_every_request = False`` makes one instance for
    every request (cheaper, but its attributes are shared by concurrent
    requests, so keep no per-request state on ``self``).
    """

    #: The methods the rule takes (``None``: ``add_url_rule``'s default, GET).
    methods: ClassVar[Collection[str] | None] = None
    #: Whether the app answers OPTIONS itself (``None``: unless ``methods`` has OPTIONS).
    provide_automatic_options: ClassVar[bool | None] = None
    #: Applied to the view function ``as_view`` makes, first one innermost.
    decorators: ClassVar[list[Callable[..., Any]]] = []
    #: A fresh instance per request (``True``) or one made by ``as_view`` (``False``).
    init_every_request: ClassVar[bool] = True

    async def dispatch_request(self, **kwargs: Any) -> ResponseReturnValue:
        """Answer the request: the rule's values come as keyword arguments, as to a function view."""
        raise NotImplementedError(f"{type(self).__name__} must implement dispatch_request (or be a MethodView)")

    @classmethod
    def as_view(cls, name: str, *class_args: Any, **class_kwargs: Any) -> Callable[..., Any]:
        """The view function for ``add_url_rule``, named ``name`` (the endpoint unless one is given).

        ``class_args`` and ``class_kwargs`` go to the constructor: per request,
        or once here when ``init_every_request`` is False.
        """
        if cls.init_every_request:

            async def fresh(**kwargs: Any) -> Any:
                self = cls(*class_args, **class_kwargs)
                return await _call(self.dispatch_request, kwargs)

            view: Any = fresh
        else:
            instance = cls(*class_args, **class_kwargs)

            async def shared(**kwargs: Any) -> Any:
                return await _call(instance.dispatch_request, kwargs)

            view = shared

        if cls.decorators:
            # So that a decorator using functools.wraps copies the right name.
            view.__name__ = name
            view.__module__ = cls.__module__
            for decorator in cls.decorators:
                view = decorator(view)
        view.view_class = cls
        view.__name__ = name
        view.__doc__ = cls.__doc__
        view.__module__ = cls.__module__
        view.methods = cls.methods
        view.provide_automatic_options = cls.provide_automatic_options
        function: Callable[..., Any] = view
        return function


class MethodView(View):
    """A view whose ``get``, ``post``, ... methods answer those HTTP methods.

    ``methods`` is derived from the methods the class (or a base) defines,
    unless the class sets it. HEAD falls back to ``get``. A method the rule
    takes but the class does not define answers 405 with ``Allow``.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "methods" not in cls.__dict__:
            methods: set[str] = set()
            for base in cls.__bases__:
                methods.update(getattr(base, "methods", None) or ())
            methods.update(name.upper() for name in HTTP_METHOD_FUNCS if hasattr(cls, name))
            if methods:
                cls.methods = methods

    async def dispatch_request(self, **kwargs: Any) -> ResponseReturnValue:
        method = request.method.lower()
        handler = getattr(self, method, None) if method in HTTP_METHOD_FUNCS else None
        if handler is None and method == "head":
            handler = getattr(self, "get", None)
        if handler is None:
            # Flask and Quart assert here (a 500); the client asked for a method this class lacks.
            implemented = {name.upper() for name in HTTP_METHOD_FUNCS if hasattr(self, name)}
            if "GET" in implemented:
                implemented.add("HEAD")
            raise MethodNotAllowed(valid_methods=sorted(implemented))
        return await _call(handler, kwargs)  # type: ignore[no-any-return]


__all__ = ["HTTP_METHOD_FUNCS", "MethodView", "View"]
