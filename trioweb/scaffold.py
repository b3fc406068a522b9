"""The registration methods an App and a Blueprint share.

Hooks and error handlers are kept per blueprint name, ``None`` standing for
the app itself and a nested blueprint going by its dotted name
(``"parent.child"``). A request runs the hooks of the app and of each
blueprint around its endpoint, in the order :func:`inward` and
:func:`outward` give.
"""

from __future__ import annotations

import functools
import importlib.util
import inspect
import os
import sys
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar, cast

import trio
from werkzeug.exceptions import HTTPException, default_exceptions

from .cli import AppGroup
from .typing import AfterHook, BeforeHook, ErrorHandler, TeardownHook, URLDefaults, URLValuePreprocessor, View

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from jinja2 import BaseLoader

if TYPE_CHECKING:
    from .wrappers.response import Response

F = TypeVar("F", bound=Callable[..., Any])
Key = str | None


#: Whose hooks apply to an exchange outside every blueprint: the app's only.
APP_ONLY: tuple[Key, ...] = (None,)


@functools.lru_cache(maxsize=1024)
def blueprint_chain(blueprint: str) -> tuple[str, ...]:
    """A blueprint's dotted name and its parents', innermost first: ``"a.b"`` gives ``("a.b", "a")`` (Flask's order)."""
    names = [blueprint]
    while "." in blueprint:
        blueprint = blueprint.rpartition(".")[0]
        names.append(blueprint)
    return tuple(names)


class _Chains(dict[Key, tuple[Key, ...]]):
    """Whose hooks apply, by the blueprint of the exchange (``None`` or ``""``: none); made once per name.

    A dict rather than a cached function: the lookup is what every request
    pays, and for an app without blueprints it is ``chains[None]``.
    """

    def __init__(self, make: Callable[[str], tuple[Key, ...]]) -> None:
        super().__init__({None: APP_ONLY, "": APP_ONLY})
        self._make = make

    def __missing__(self, blueprint: Key) -> tuple[Key, ...]:
        assert blueprint is not None
        names = self._make(blueprint)
        if len(self) < 1024:  # names come from the endpoints, but url_for's may come from anywhere
            self[blueprint] = names
        return names


#: ``inward[blueprint]``: the app, then the blueprints from the outermost in (before hooks, URL, context processors).
inward = _Chains(lambda blueprint: (None, *reversed(blueprint_chain(blueprint))))
#: ``outward[blueprint]``: the innermost blueprint, then its parents, then the app (after hooks, teardown, errors).
outward = _Chains(lambda blueprint: (*blueprint_chain(blueprint), None))


def ensure_async(function: Callable[..., Any]) -> Callable[..., Any]:
    """Run a plain function in a worker thread, as Quart does, so it cannot block trio."""
    if inspect.iscoroutinefunction(function) or inspect.isasyncgenfunction(function):
        return function

    @functools.wraps(function)
    async def run_in_thread(*args: Any, **kwargs: Any) -> Any:
        return await trio.to_thread.run_sync(functools.partial(function, *args, **kwargs))

    return run_in_thread


def setupmethod(method: F) -> F:
    """A registration method: on a blueprint that is registered already, an error (Flask's ``setupmethod``).

    A blueprint's hooks are copied to the app when it is registered, so one
    added later would silently never run.
    """
    name = method.__name__

    @functools.wraps(method)
    def check_first(self: Scaffold, *args: Any, **kwargs: Any) -> Any:
        self._check_setup_finished(f"{name}()")
        return method(self, *args, **kwargs)

    return cast(F, check_first)


def _plain(decorator: str, function: F) -> F:
    """A URL processor, which is called synchronously (inside ``url_for``, say): an async one is a mistake."""
    if inspect.iscoroutinefunction(function):
        raise TypeError(
            f"{decorator} functions are called synchronously, as in Flask and Quart; "
            f"make {function.__name__} a plain def (it only moves values between dicts)"
        )
    return function


def exception_key(code_or_exception: type[BaseException] | int) -> tuple[int | None, type[BaseException]]:
    """``(code, class)`` for an error handler registered by code or by class."""
    if isinstance(code_or_exception, int):
        if code_or_exception not in default_exceptions:
            raise ValueError(
                f"{code_or_exception} is not an HTTP error code werkzeug knows; "
                "register a handler for an exception class instead"
            )
        return code_or_exception, default_exceptions[code_or_exception]
    if not (isinstance(code_or_exception, type) and issubclass(code_or_exception, BaseException)):
        raise TypeError(f"{code_or_exception!r} is neither an HTTP status code nor an exception class")
    if issubclass(code_or_exception, HTTPException) and code_or_exception.code is not None:
        return code_or_exception.code, code_or_exception
    return None, code_or_exception


def find_root_path(import_name: str) -> str:
    """The folder of the module ``import_name``: where its ``static`` and ``templates`` folders are.

    The module's own file when it is imported (``__main__`` included), else
    where importing it would find it, else the current directory (an
    interactive session).
    """
    module = sys.modules.get(import_name)
    file = getattr(module, "__file__", None)
    if file is None and import_name != "__main__":
        try:
            spec = importlib.util.find_spec(import_name)
        except (ImportError, ValueError):
            spec = None
        file = spec.origin if spec is not None and spec.origin not in (None, "namespace", "built-in") else None
    return os.path.dirname(os.path.abspath(file)) if file else os.getcwd()


class Scaffold:
    """Routes, websockets, hooks and error handlers, with Quart's decorators.

    ``static_folder`` and ``template_folder`` are relative to ``root_path``
    (the folder of the module named by ``import_name``), as in Flask and Quart.
    """

    name: str | None = None

    def __init__(
        self,
        import_name: str,
        *,
        static_folder: str | os.PathLike[str] | None = None,
        static_url_path: str | None = None,
        template_folder: str | os.PathLike[str] | None = None,
        root_path: str | None = None,
    ) -> None:
        self.import_name = import_name
        self.root_path = find_root_path(import_name) if root_path is None else root_path
        self.static_folder = None if static_folder is None else os.fspath(static_folder)
        self.static_url_path = static_url_path
        self.template_folder = None if template_folder is None else os.fspath(template_folder)
        #: Command-line commands (``@app.cli.command()``, ``@blueprint.cli.command()``): docs/command-line.md.
        self.cli = AppGroup()
        self.before_request_funcs: dict[Key, list[BeforeHook]] = defaultdict(list)
        self.after_request_funcs: dict[Key, list[AfterHook]] = defaultdict(list)
        self.teardown_request_funcs: dict[Key, list[TeardownHook]] = defaultdict(list)
        self.before_websocket_funcs: dict[Key, list[BeforeHook]] = defaultdict(list)
        self.after_websocket_funcs: dict[Key, list[AfterHook]] = defaultdict(list)
        self.teardown_websocket_funcs: dict[Key, list[TeardownHook]] = defaultdict(list)
        # URL processors, called synchronously as in Flask and Quart.
        self.url_value_preprocessors: dict[Key, list[URLValuePreprocessor]] = defaultdict(list)
        self.url_default_functions: dict[Key, list[URLDefaults]] = defaultdict(list)
        # blueprint -> status code (or None) -> exception class -> handler
        self.error_handler_spec: dict[Key, dict[int | None, dict[type[BaseException], ErrorHandler]]] = defaultdict(
            lambda: defaultdict(dict)
        )
        # blueprint -> its context processors (trioweb.templating), each awaitable
        self.template_context_processors: dict[Key, list[Callable[[], Awaitable[dict[str, Any]]]]] = defaultdict(list)

    def add_url_rule(
        self,
        rule: str,
        endpoint: str | None = None,
        view_func: View | None = None,
        methods: Iterable[str] | None = None,
        *,
        websocket: bool = False,
        defaults: dict[str, Any] | None = None,
        strict_slashes: bool | None = None,
        provide_automatic_options: bool | None = None,
        subdomain: str | None = None,
        host: str | None = None,
    ) -> None:
        raise NotImplementedError

    def _check_setup_finished(self, what: str) -> None:
        """Nothing on an app; a blueprint raises once it is registered (see :func:`setupmethod`)."""

    # -- static files (Flask's properties; the sending is trioweb.files') ------

    @property
    def static_folder(self) -> str | None:
        """The absolute path of the static folder (set relative to ``root_path``), or None."""
        folder = self._static_folder
        return os.path.join(self.root_path, folder) if folder is not None else None

    @static_folder.setter
    def static_folder(self, value: str | os.PathLike[str] | None) -> None:
        self._static_folder = os.fspath(value).rstrip("\\/") if value is not None else None

    @property
    def has_static_folder(self) -> bool:
        return self._static_folder is not None

    @property
    def static_url_path(self) -> str | None:
        """The URL prefix of the static route: as set, else ``"/"`` and the folder's name (Flask's rule)."""
        if self._static_url_path is not None:
            return self._static_url_path
        folder = self.static_folder
        return f"/{os.path.basename(folder)}".rstrip("/") if folder is not None else None

    @static_url_path.setter
    def static_url_path(self, value: str | None) -> None:
        self._static_url_path = value.rstrip("/") if value is not None else None

    def get_send_file_max_age(self, filename: str | None) -> int | None:
        """The ``max_age`` of a file response: ``SEND_FILE_MAX_AGE_DEFAULT``; override it per file."""
        from .ctx import app_var

        value = app_var.get().config["SEND_FILE_MAX_AGE_DEFAULT"]
        if isinstance(value, timedelta):
            return int(value.total_seconds())
        return value  # type: ignore[no-any-return]

    async def send_static_file(self, filename: str) -> Response:
        """The view of the ``static`` endpoint: ``filename`` from the static folder, 404 if not there."""
        if self.static_folder is None:
            raise RuntimeError("static_folder must be set to serve static files")
        from .files import send_from_directory

        return await send_from_directory(self.static_folder, filename, max_age=self.get_send_file_max_age(filename))

    def route(
        self,
        rule: str,
        methods: Iterable[str] | None = None,
        *,
        endpoint: str | None = None,
        defaults: dict[str, Any] | None = None,
        strict_slashes: bool | None = None,
        provide_automatic_options: bool | None = None,
        subdomain: str | None = None,
        host: str | None = None,
    ) -> Callable[[F], F]:
        """Register an HTTP view: ``@app.route("/items/<int:item_id>", methods=["GET"])``."""

        def decorator(view: F) -> F:
            self.add_url_rule(
                rule,
                endpoint,
                view,
                methods,
                defaults=defaults,
                strict_slashes=strict_slashes,
                provide_automatic_options=provide_automatic_options,
                subdomain=subdomain,
                host=host,
            )
            return view

        return decorator

    def _method_route(self, method: str, rule: str, **options: Any) -> Callable[[F], F]:
        if "methods" in options:
            raise TypeError(f"Use @route(methods=...) instead of passing methods to @{method.lower()}")
        return self.route(rule, [method], **options)

    def get(self, rule: str, **options: Any) -> Callable[[F], F]:
        return self._method_route("GET", rule, **options)

    def post(self, rule: str, **options: Any) -> Callable[[F], F]:
        return self._method_route("POST", rule, **options)

    def put(self, rule: str, **options: Any) -> Callable[[F], F]:
        return self._method_route("PUT", rule, **options)

    def patch(self, rule: str, **options: Any) -> Callable[[F], F]:
        return self._method_route("PATCH", rule, **options)

    def delete(self, rule: str, **options: Any) -> Callable[[F], F]:
        return self._method_route("DELETE", rule, **options)

    def websocket(
        self,
        rule: str,
        *,
        endpoint: str | None = None,
        defaults: dict[str, Any] | None = None,
        strict_slashes: bool | None = None,
        subdomain: str | None = None,
        host: str | None = None,
    ) -> Callable[[F], F]:
        """Register a websocket view: ``@app.websocket("/ws")``."""

        def decorator(view: F) -> F:
            self.add_url_rule(
                rule,
                endpoint,
                view,
                websocket=True,
                defaults=defaults,
                strict_slashes=strict_slashes,
                subdomain=subdomain,
                host=host,
            )
            return view

        return decorator

    # -- hooks -------------------------------------------------------------

    @setupmethod
    def before_request(self, function: F) -> F:
        """Run before each request; returning a value other than None answers with it."""
        self.before_request_funcs[self.name].append(ensure_async(function))
        return function

    @setupmethod
    def after_request(self, function: F) -> F:
        """Run with each response; must return the response (or a replacement)."""
        self.after_request_funcs[self.name].append(ensure_async(function))
        return function

    @setupmethod
    def teardown_request(self, function: F) -> F:
        """Run after each request has been answered, with the exception if one escaped."""
        self.teardown_request_funcs[self.name].append(ensure_async(function))
        return function

    @setupmethod
    def before_websocket(self, function: F) -> F:
        self.before_websocket_funcs[self.name].append(ensure_async(function))
        return function

    @setupmethod
    def after_websocket(self, function: F) -> F:
        self.after_websocket_funcs[self.name].append(ensure_async(function))
        return function

    @setupmethod
    def teardown_websocket(self, function: F) -> F:
        self.teardown_websocket_funcs[self.name].append(ensure_async(function))
        return function

    # -- URL processors ----------------------------------------------------

    @setupmethod
    def url_value_preprocessor(self, function: F) -> F:
        """Called as ``function(endpoint, values)`` before the ``before_request`` (and ``before_websocket``)
        functions, for a request that matched; it may take values out of the dict the view would get.

        On a blueprint, only for that blueprint's endpoints (``app_url_value_preprocessor`` for all).
        """
        self.url_value_preprocessors[self.name].append(_plain("url_value_preprocessor", function))
        return function

    @setupmethod
    def url_defaults(self, function: F) -> F:
        """Called as ``function(endpoint, values)`` by ``url_for``, to fill in values it was not given.

        On a blueprint, only for URLs of that blueprint's endpoints (``app_url_defaults`` for all).
        """
        self.url_default_functions[self.name].append(_plain("url_defaults", function))
        return function

    # -- errors ------------------------------------------------------------

    def errorhandler(self, code_or_exception: type[BaseException] | int) -> Callable[[F], F]:
        """Handle an HTTP status code or an exception class: ``@app.errorhandler(404)``."""

        def decorator(function: F) -> F:
            self.register_error_handler(code_or_exception, function)
            return function

        return decorator

    @setupmethod
    def register_error_handler(
        self, code_or_exception: type[BaseException] | int, function: Callable[..., Any]
    ) -> None:
        code, exception_class = exception_key(code_or_exception)
        self.error_handler_spec[self.name][code][exception_class] = ensure_async(function)

    # -- templates (trioweb.templating) ---------------------------------------

    @functools.cached_property
    def jinja_loader(self) -> BaseLoader | None:
        """The loader of this app's or blueprint's ``template_folder`` (``None`` without one)."""
        if self.template_folder is None:
            return None
        from jinja2 import FileSystemLoader

        return FileSystemLoader(os.path.join(self.root_path, self.template_folder))

    @setupmethod
    def context_processor(self, function: F) -> F:
        """Add names to the context of templates: the function returns a dict of them (it may be async).

        On an app it runs for every template; on a blueprint, for the
        templates its own views render (``app_context_processor``: every
        template). A plain function runs in a worker thread, as Quart does.
        """
        self.template_context_processors[self.name].append(ensure_async(function))
        return function
