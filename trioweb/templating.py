"""Templates: Jinja2 in async mode, with Flask's loader and autoescape and Quart's coroutines.

``render_template`` and its siblings are coroutines, as in Quart: the
environment runs Jinja2's async mode, so a template can call an async
function or loop over an async iterable, and nothing in it blocks trio.
The environment is made on first use (``app.jinja_env``), each template is
read and compiled once and then served from Jinja2's cache.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar, overload

import jinja2
from jinja2 import BaseLoader, Template, TemplateNotFound

from .ctx import app_var, g, request, request_var, session, websocket, websocket_var
from .helpers import get_flashed_messages, url_for
from .json import dumps
from .scaffold import ensure_async, inward
from .signals import before_render_template, send, template_rendered

if TYPE_CHECKING:
    from .app import App
    from .blueprints import Blueprint, DeferredSetup
    from .config import Config
    from .scaffold import Scaffold

T = TypeVar("T", bound=Callable[..., Any])
TemplateSource = tuple[str, str | None, Callable[[], bool] | None]
#: What ``render_template`` takes: a name, a compiled template, or a list to try in turn.
TemplateNames = str | Template | list[str | Template]

#: Template names that are autoescaped, as in Flask: markup, where an unescaped value is an injection.
AUTOESCAPED = (".html", ".htm", ".xml", ".xhtml", ".svg")


class Environment(jinja2.Environment):
    """Jinja2's environment for one app: async mode, and the app's loader unless one is given.

    Async mode is forced on (as Quart does): trioweb only renders with
    ``render_async`` and ``generate_async``, and Jinja2's synchronous
    ``render()`` in async mode would start an asyncio loop, which has no
    place under trio.
    """

    def __init__(self, app: App, **options: Any) -> None:
        if "loader" not in options:
            options["loader"] = app.create_global_jinja_loader()
        options["enable_async"] = True
        super().__init__(**options)
        self.app = app


class DispatchingJinjaLoader(BaseLoader):
    """Looks in the app's template folder first, then in each blueprint's, in the order they were registered.

    So an app overrides a blueprint's template by putting one of the same
    name in its own folder, as in Flask. A nested blueprint is in
    ``app.blueprints`` under its dotted name, after its parent; a blueprint
    registered twice is searched once.
    """

    def __init__(self, app: App) -> None:
        self.app = app

    def _loaders(self) -> Iterator[BaseLoader]:
        if self.app.jinja_loader is not None:
            yield self.app.jinja_loader
        for blueprint in dict.fromkeys(self.app.blueprints.values()):
            if blueprint.jinja_loader is not None:
                yield blueprint.jinja_loader

    def get_source(self, environment: jinja2.Environment, template: str) -> TemplateSource:
        for loader in self._loaders():
            try:
                return loader.get_source(environment, template)
            except TemplateNotFound:
                continue
        raise TemplateNotFound(template, message=self._not_found(template))

    def list_templates(self) -> list[str]:
        return sorted({name for loader in self._loaders() for name in loader.list_templates()})

    def _not_found(self, template: str) -> str:
        """The message for a missing template: where it was looked for, so the mistake shows."""
        scaffolds = (self.app, *dict.fromkeys(self.app.blueprints.values()))
        folders = [folder for folder in map(_folder, scaffolds) if folder]
        if not folders:
            return f"{template!r}: the app and its blueprints have no template_folder"
        return f"{template!r} is in none of the template folders: {', '.join(folders)}"


def _folder(scaffold: Scaffold) -> str | None:
    if scaffold.template_folder is None:
        return None
    return os.path.join(scaffold.root_path, scaffold.template_folder)


class AppTemplating:
    """What an :class:`~trioweb.App` has for templates: ``jinja_env`` and the registration of filters and the like.

    Filters, globals and tests registered before the environment exists are
    kept and added when it is made, so registering one does not fix
    ``jinja_options`` or ``TEMPLATES_AUTO_RELOAD`` early (as it does in Flask).
    """

    #: The environment class ``create_jinja_environment`` makes.
    jinja_environment: type[Environment] = Environment
    #: Options for the environment (``trim_blocks``, ``extensions``, ...); read once, when it is made.
    #: Each app has its own copy of its class's, so changing one in place changes that app only.
    jinja_options: dict[str, Any] = {}

    if TYPE_CHECKING:
        config: Config
        blueprints: dict[str, Blueprint]
        template_context_processors: dict[str | None, list[Callable[[], Awaitable[dict[str, Any]]]]]
        jinja_loader: BaseLoader | None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.jinja_options = dict(self.jinja_options)
        self._jinja_env: Environment | None = None
        # (``"filters"``, ``"globals"`` or ``"tests"``, name, function) until the environment exists
        self._jinja_additions: list[tuple[str, str, Callable[..., Any]]] = []

    @property
    def jinja_env(self) -> Environment:
        """The Jinja2 environment, made by :meth:`create_jinja_environment` the first time it is used."""
        env = self._jinja_env
        if env is None:
            env = self._jinja_env = self.create_jinja_environment()
            for kind, name, function in self._jinja_additions:
                getattr(env, kind)[name] = function
            self._jinja_additions.clear()
        return env

    def create_jinja_environment(self) -> Environment:
        """The environment from :attr:`jinja_options`, with the default context as its globals.

        ``TEMPLATES_AUTO_RELOAD`` of ``None`` follows ``DEBUG``, as in Flask.
        """
        options = dict(self.jinja_options)
        options.setdefault("autoescape", self.select_jinja_autoescape)
        if "auto_reload" not in options:
            auto_reload = self.config["TEMPLATES_AUTO_RELOAD"]
            options["auto_reload"] = self.config["DEBUG"] if auto_reload is None else auto_reload
        env = self.jinja_environment(self, **options)  # type: ignore[arg-type]
        # The proxies, not the objects: a template imported without context
        # sees the globals only, and they must follow the current request.
        env.globals.update(
            config=self.config,
            request=request,
            websocket=websocket,
            session=session,
            g=g,
            url_for=url_for,
            get_flashed_messages=get_flashed_messages,
        )
        env.policies["json.dumps_function"] = dumps
        return env

    def create_global_jinja_loader(self) -> DispatchingJinjaLoader:
        return DispatchingJinjaLoader(self)  # type: ignore[arg-type]

    def select_jinja_autoescape(self, filename: str | None) -> bool:
        """Whether a template is autoescaped: templates from strings, and the markup extensions."""
        return filename is None or filename.endswith(AUTOESCAPED)

    async def update_template_context(self, context: dict[str, Any]) -> None:
        """Add what the context processors return (the app's, then each blueprint's from the outermost in; the
        later win); ``context``'s own names win over all."""
        processors = self.template_context_processors
        if not processors:
            return
        current = request_var.get(None) or websocket_var.get(None)
        blueprint = current.blueprint if current is not None else None
        extra: dict[str, Any] = {}
        for name in inward[blueprint]:
            for processor in processors.get(name, ()):
                names = await processor()
                if not isinstance(names, dict):
                    raise TypeError(
                        f"The context processor {getattr(processor, '__qualname__', processor)!r} returned "
                        f"{type(names).__name__}; it must return a dict of the names it adds"
                    )
                extra.update(names)
        for name, value in extra.items():
            context.setdefault(name, value)

    # -- filters, globals and tests ------------------------------------------------------

    def _add_to_jinja(self, kind: str, function: Callable[..., Any], name: str | None) -> None:
        name = name or function.__name__
        if self._jinja_env is not None:
            getattr(self._jinja_env, kind)[name] = function
        else:
            self._jinja_additions.append((kind, name, function))

    def add_template_filter(self, function: Callable[..., Any], name: str | None = None) -> None:
        """Make ``function`` a filter (``{{ value|name }}``), under its own name unless ``name`` is given."""
        self._add_to_jinja("filters", function, name)

    def add_template_global(self, function: Callable[..., Any], name: str | None = None) -> None:
        """Make ``function`` a global every template can call."""
        self._add_to_jinja("globals", function, name)

    def add_template_test(self, function: Callable[..., Any], name: str | None = None) -> None:
        """Make ``function`` a test (``{% if value is name %}``)."""
        self._add_to_jinja("tests", function, name)

    @overload
    def template_filter(self, name: T) -> T: ...
    @overload
    def template_filter(self, name: str | None = None) -> Callable[[T], T]: ...
    def template_filter(self, name: T | str | None = None) -> T | Callable[[T], T]:
        """``@app.template_filter`` or ``@app.template_filter("name")``: a filter; async functions are awaited."""
        return _decorator(self.add_template_filter, name)

    @overload
    def template_global(self, name: T) -> T: ...
    @overload
    def template_global(self, name: str | None = None) -> Callable[[T], T]: ...
    def template_global(self, name: T | str | None = None) -> T | Callable[[T], T]:
        """``@app.template_global`` or ``@app.template_global("name")``: a global function."""
        return _decorator(self.add_template_global, name)

    @overload
    def template_test(self, name: T) -> T: ...
    @overload
    def template_test(self, name: str | None = None) -> Callable[[T], T]: ...
    def template_test(self, name: T | str | None = None) -> T | Callable[[T], T]:
        """``@app.template_test`` or ``@app.template_test("name")``: a test."""
        return _decorator(self.add_template_test, name)


class BlueprintTemplating:
    """A blueprint's template registrations: they take effect on the app when it registers the blueprint.

    Filters, globals and tests are app-wide (Jinja2 has one namespace);
    ``context_processor`` (from the scaffold) runs for the blueprint's own
    requests and ``app_context_processor`` for every request. Each is added
    to the app once, however often the blueprint is registered.
    """

    if TYPE_CHECKING:

        def record_once(self, function: DeferredSetup) -> None: ...

    def add_app_template_filter(self, function: Callable[..., Any], name: str | None = None) -> None:
        self.record_once(lambda state: state.app.add_template_filter(function, name))

    def add_app_template_global(self, function: Callable[..., Any], name: str | None = None) -> None:
        self.record_once(lambda state: state.app.add_template_global(function, name))

    def add_app_template_test(self, function: Callable[..., Any], name: str | None = None) -> None:
        self.record_once(lambda state: state.app.add_template_test(function, name))

    @overload
    def app_template_filter(self, name: T) -> T: ...
    @overload
    def app_template_filter(self, name: str | None = None) -> Callable[[T], T]: ...
    def app_template_filter(self, name: T | str | None = None) -> T | Callable[[T], T]:
        """A filter for every template of the app: :meth:`App.template_filter <trioweb.App.template_filter>`."""
        return _decorator(self.add_app_template_filter, name)

    @overload
    def app_template_global(self, name: T) -> T: ...
    @overload
    def app_template_global(self, name: str | None = None) -> Callable[[T], T]: ...
    def app_template_global(self, name: T | str | None = None) -> T | Callable[[T], T]:
        """A global for every template of the app."""
        return _decorator(self.add_app_template_global, name)

    @overload
    def app_template_test(self, name: T) -> T: ...
    @overload
    def app_template_test(self, name: str | None = None) -> Callable[[T], T]: ...
    def app_template_test(self, name: T | str | None = None) -> T | Callable[[T], T]:
        """A test for every template of the app."""
        return _decorator(self.add_app_template_test, name)

    def app_context_processor(self, function: T) -> T:
        """A context processor for every template the app renders, not only this blueprint's."""
        processor = ensure_async(function)
        self.record_once(lambda state: state.app.template_context_processors[None].append(processor))
        return function


def _decorator(add: Callable[[Callable[..., Any], str | None], None], name: T | str | None) -> T | Callable[[T], T]:
    """The decorator for ``@template_filter`` and its kin, which work with and without ``(name)``."""
    if callable(name):
        add(name, None)
        return name
    given = name

    def decorator(function: T) -> T:
        add(function, given)
        return function

    return decorator


# -- rendering ---------------------------------------------------------------------------


def _current_app(what: str) -> App:
    app = app_var.get(None)
    if app is None:
        raise RuntimeError(
            f"{what}() needs an app: call it in a view, a hook or a websocket handler, "
            "or inside `async with app.app_context():`"
        )
    return app


async def render_template(template_name_or_list: TemplateNames, **context: Any) -> str:
    """The template (the first of a list that exists) rendered with ``context`` and the context processors' names."""
    app = _current_app("render_template")
    template = app.jinja_env.get_or_select_template(template_name_or_list)
    await app.update_template_context(context)
    if _announced():
        return await _render(app, template, context)
    return await template.render_async(context)


async def render_template_string(source: str, **context: Any) -> str:
    """``source`` rendered as a template (autoescaped), with ``context`` and the context processors' names."""
    app = _current_app("render_template_string")
    template = app.jinja_env.from_string(source)
    await app.update_template_context(context)
    if _announced():
        return await _render(app, template, context)
    return await template.render_async(context)


async def stream_template(template_name_or_list: TemplateNames, **context: Any) -> AsyncIterator[str]:
    """The template rendered piece by piece, as Jinja2 makes it: return it from a view to stream it.

    Each piece is sent as it is made, so the start of a page goes out
    while a slow loop further down still waits. Like any streamed
    response, the render is cancelled when the client leaves, and bounded
    by ``RESPONSE_TIMEOUT``.
    """
    app = _current_app("stream_template")
    template = app.jinja_env.get_or_select_template(template_name_or_list)
    await app.update_template_context(context)
    if _announced():
        return await _stream(app, template, context)
    return template.generate_async(context)


async def stream_template_string(source: str, **context: Any) -> AsyncIterator[str]:
    """``source`` rendered piece by piece, as :func:`stream_template` does."""
    app = _current_app("stream_template_string")
    template = app.jinja_env.from_string(source)
    await app.update_template_context(context)
    if _announced():
        return await _stream(app, template, context)
    return template.generate_async(context)


def _announced() -> bool:
    """Whether a template signal has a receiver; without one a render goes straight to Jinja2, as before them."""
    return bool(before_render_template.receivers or template_rendered.receivers)


async def _render(app: App, template: Template, context: dict[str, Any]) -> str:
    if before_render_template.receivers:
        await send(before_render_template, app, template=template, context=context)
    text = await template.render_async(context)
    if template_rendered.receivers:
        await send(template_rendered, app, template=template, context=context)
    return text


async def _stream(app: App, template: Template, context: dict[str, Any]) -> AsyncIterator[str]:
    if before_render_template.receivers:
        await send(before_render_template, app, template=template, context=context)
    pieces = template.generate_async(context)
    if not template_rendered.receivers:  # decided as the stream starts: no wrapper when nothing listens
        return pieces
    return _rendered_after(app, template, context, pieces)


async def _rendered_after(
    app: App, template: Template, context: dict[str, Any], pieces: AsyncIterator[str]
) -> AsyncIterator[str]:
    """``pieces``, then ``template_rendered``: sent once the last piece is made (a stream cut short sends none)."""
    try:
        async for piece in pieces:
            yield piece
    finally:
        aclose = getattr(pieces, "aclose", None)
        if aclose is not None:
            await aclose()  # now, in this task, not when the collector finds it
    await send(template_rendered, app, template=template, context=context)


__all__ = [
    "AppTemplating",
    "BlueprintTemplating",
    "DispatchingJinjaLoader",
    "Environment",
    "render_template",
    "render_template_string",
    "stream_template",
    "stream_template_string",
]
