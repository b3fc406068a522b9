"""Blueprints: routes and hooks recorded now, added to an app (or to a parent blueprint) later.

Registration follows Flask's ``sansio/blueprints.py``, which Quart uses:
each registration resolves a name, a URL prefix, a subdomain and URL
defaults (a :class:`BlueprintSetupState`) and replays the blueprint's
recorded functions with it. A nested blueprint is registered on the app
under its dotted name (``"parent.child"``), so the app's dicts of hooks and
handlers, keyed by those names, are all a request needs: its endpoint's
dotted prefix gives the chain of blueprints whose hooks apply
(``trioweb.scaffold.inward`` and ``outward``).
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, TypedDict, TypeVar, Unpack, cast

from .cli import DEFAULT_CLI_GROUP, register_blueprint_commands
from .scaffold import Scaffold, _plain, exception_key
from .templating import BlueprintTemplating

if TYPE_CHECKING:
    from .app import App
    from .typing import View

F = TypeVar("F", bound=Callable[..., Any])


class RegisterOptions(TypedDict, total=False):
    """The keywords of ``register_blueprint``, on an app or a blueprint; each overrides the blueprint's own."""

    #: The name to register under instead of ``blueprint.name``: one blueprint registered twice needs two.
    name: str
    url_prefix: str | None
    subdomain: str | None
    url_defaults: dict[str, Any] | None
    #: The group of the blueprint's ``cli`` commands for this registration (see ``Blueprint(cli_group=)``).
    cli_group: str | None


#: The per-registration dicts of hooks that a blueprint's registration copies to the app, under its dotted name.
HOOK_ATTRIBUTES = (
    "before_request_funcs",
    "after_request_funcs",
    "teardown_request_funcs",
    "before_websocket_funcs",
    "after_websocket_funcs",
    "teardown_websocket_funcs",
    "template_context_processors",
    "url_value_preprocessors",
    "url_default_functions",
)


class BlueprintSetupState:
    """One registration of a blueprint: what its recorded functions are replayed with.

    ``url_prefix`` and ``subdomain`` are already joined with the parents'
    (``/parent`` + ``/child``, ``child`` + ``.`` + ``parent``), and
    ``url_defaults`` holds the blueprint's own values, then this
    registration's: as in Flask, a parent's are not passed down (its
    views take them; the child's need not). ``first_registration`` is False when the
    same blueprint object is already on the app under another name: the
    app-wide functions (``before_app_request`` and the like) are added on
    the first registration only, as Flask's ``record_once`` does.
    """

    def __init__(
        self,
        blueprint: Blueprint,
        app: App,
        options: RegisterOptions,
        first_registration: bool,
        parent: BlueprintSetupState | None = None,
    ) -> None:
        self.app = app
        self.blueprint = blueprint
        self.options = options
        self.first_registration = first_registration
        self.parent = parent
        #: The name it is registered under, without its parents'; ``name_prefix`` is theirs ("" at the top).
        self.name = options.get("name") or blueprint.name
        self.name_prefix = parent.full_name if parent is not None else ""
        subdomain = options.get("subdomain")
        if subdomain is None:
            subdomain = blueprint.subdomain
        url_prefix = options.get("url_prefix")
        if url_prefix is None:
            url_prefix = blueprint.url_prefix
        url_defaults = dict(blueprint.url_values_defaults)
        url_defaults.update(options.get("url_defaults") or {})
        if parent is not None:
            subdomain = join_subdomains(parent.subdomain, subdomain)
            url_prefix = join_prefixes(parent.url_prefix, url_prefix)
        #: The subdomain its rules get unless a rule has its own (werkzeug's ``Rule(subdomain=)``).
        self.subdomain: str | None = subdomain
        self.url_prefix: str | None = url_prefix
        #: The ``defaults`` every one of its rules gets; a rule's own win.
        self.url_defaults: dict[str, Any] = url_defaults

    @property
    def full_name(self) -> str:
        """The dotted name: its key in ``app.blueprints`` and the prefix of its endpoints."""
        return f"{self.name_prefix}.{self.name}" if self.name_prefix else self.name

    def add_url_rule(
        self,
        rule: str,
        endpoint: str | None = None,
        view_func: View | None = None,
        methods: Iterable[str] | None = None,
        **options: Any,
    ) -> None:
        """Add a rule of the blueprint to the app: under the prefix, as ``<dotted name>.<endpoint>``."""
        if self.url_prefix is not None:
            rule = "/".join((self.url_prefix.rstrip("/"), rule.lstrip("/"))) if rule else self.url_prefix
        if options.get("subdomain") is None:
            options["subdomain"] = self.subdomain
        if self.url_defaults:
            options["defaults"] = {**self.url_defaults, **(options.get("defaults") or {})}
        if endpoint is None:
            assert view_func is not None
            endpoint = view_func.__name__
        self.app.add_url_rule(rule, f"{self.full_name}.{endpoint}", view_func, methods, **options)


#: A function ``record`` keeps: called with each registration's state (what it returns is ignored).
DeferredSetup = Callable[[BlueprintSetupState], object]


def join_prefixes(outer: str | None, inner: str | None) -> str | None:
    """A nested blueprint's URL prefix: the parent's, a slash, the child's (Flask's rule)."""
    if outer is not None and inner is not None:
        return f"{outer.rstrip('/')}/{inner.lstrip('/')}"
    return inner if inner is not None else outer


def join_subdomains(outer: str | None, inner: str | None) -> str | None:
    """A nested blueprint's subdomain: the child's below the parent's, ``"child.parent"`` (Flask's rule).

    An empty one is the bare domain, so it adds nothing: Flask's join gives
    ``"child."`` or ``".parent"``, which no host matches.
    """
    if outer is not None and inner is not None:
        return ".".join(part for part in (inner, outer) if part)
    return inner if inner is not None else outer


class Blueprint(BlueprintTemplating, Scaffold):
    """A group of routes with its own hooks and error handlers, registered on an app or on another blueprint.

    Its endpoints are named ``"<blueprint>.<function>"`` (``"<parent>.<blueprint>.<function>"``
    when nested); ``url_for(".name")`` inside one of its views refers to its
    own endpoints. ``url_prefix``, ``subdomain`` and ``url_defaults`` (a dict
    every one of its rules gets as ``defaults``) are the defaults of each
    registration, which ``register_blueprint`` may override (as in Flask).
    ``cli_group`` names the group of its ``cli`` commands (Flask's rule:
    the blueprint's name by default; ``None`` adds them to ``app.cli``).
    """

    name: str
    _got_registered_once = False

    def __init__(
        self,
        name: str,
        import_name: str,
        static_folder: str | os.PathLike[str] | None = None,
        static_url_path: str | None = None,
        template_folder: str | os.PathLike[str] | None = None,
        url_prefix: str | None = None,
        subdomain: str | None = None,
        url_defaults: dict[str, Any] | None = None,
        root_path: str | None = None,
        cli_group: str | None = DEFAULT_CLI_GROUP,
    ) -> None:
        _check_name(name, "Blueprint names")
        super().__init__(
            import_name,
            static_folder=static_folder,
            static_url_path=static_url_path,
            template_folder=template_folder,
            root_path=root_path,
        )
        self.name = name
        self.url_prefix = url_prefix
        self.subdomain = subdomain
        # Flask's name: ``url_defaults`` is the decorator.
        self.url_values_defaults = dict(url_defaults or {})
        #: The command group of ``self.cli``'s commands: the blueprint's name by default; ``None``: the app's own.
        self.cli_group = cli_group
        #: What registering the blueprint replays (Flask's ``record``): its rules and its app-wide functions.
        self.deferred_functions: list[DeferredSetup] = []
        #: The blueprints registered on this one, with their options, in order.
        self._blueprints: list[tuple[Blueprint, RegisterOptions]] = []

    def __repr__(self) -> str:
        return f"<trioweb.Blueprint {self.name!r}>"

    def _check_setup_finished(self, what: str) -> None:
        """An error once the blueprint is registered: what is added later would not reach the app."""
        if self._got_registered_once:
            raise AssertionError(
                f"{what} on the blueprint {self.name!r} after it was registered would not reach the app: "
                "register the blueprint once everything is added to it"
            )

    def record(self, function: DeferredSetup) -> None:
        """Call ``function(state)`` at each registration of the blueprint, with its :class:`BlueprintSetupState`."""
        self._check_setup_finished("record()")
        self.deferred_functions.append(function)

    def record_once(self, function: DeferredSetup) -> None:
        """As :meth:`record`, but on the first registration of this blueprint on an app only."""

        def once(state: BlueprintSetupState) -> None:
            if state.first_registration:
                function(state)

        self.record(once)

    def make_setup_state(
        self,
        app: App,
        options: RegisterOptions,
        first_registration: bool = False,
        parent: BlueprintSetupState | None = None,
    ) -> BlueprintSetupState:
        """The state of one registration; a subclass may return a subclass of :class:`BlueprintSetupState`."""
        return BlueprintSetupState(self, app, options, first_registration, parent)

    def add_url_rule(
        self,
        rule: str,
        endpoint: str | None = None,
        view_func: View | None = None,
        methods: Iterable[str] | None = None,
        **options: Any,
    ) -> None:
        if view_func is None:
            raise TypeError(f"add_url_rule({rule!r}) needs a view_func")
        if endpoint is not None and "." in endpoint:
            raise ValueError(f"Blueprint endpoints may not contain dots ({endpoint!r}): the dots separate blueprints")
        if endpoint is None and "." in view_func.__name__:
            raise ValueError(f"The view {view_func.__name__!r} has a dot in its name; give it an endpoint=... without")
        self.record(lambda state: state.add_url_rule(rule, endpoint, view_func, methods, **options))

    def register_blueprint(self, blueprint: Blueprint, **options: Unpack[RegisterOptions]) -> None:
        """Nest ``blueprint`` in this one: it is registered on the app whenever this one is.

        Its endpoints become ``"<this>.<it>.<view>"``, its URL prefix and
        subdomain are joined below this one's (this one's ``url_defaults``
        are not passed down, as in Flask), and this one's hooks and error handlers apply
        to its requests too (this one's before hooks first, its after hooks
        last). The keywords are those of :class:`RegisterOptions`.
        """
        self._check_setup_finished("register_blueprint()")
        if blueprint is self or self in blueprint._descendants():
            raise ValueError(f"Cannot register the blueprint {self.name!r} on itself, even through another")
        self._blueprints.append((blueprint, _register_options(dict(options))))

    def _descendants(self) -> Iterator[Blueprint]:
        for child, _options in self._blueprints:
            yield child
            yield from child._descendants()

    def register(self, app: App, options: RegisterOptions, parent: BlueprintSetupState | None = None) -> None:
        """Add the blueprint, and those nested in it, to ``app`` (what ``app.register_blueprint`` calls).

        Every dotted name is checked before anything is added, so a clash
        leaves the app as it was.
        """
        if parent is None:
            options = _register_options(dict(options))
            _check_names_free(app, self, options)
        state = self.make_setup_state(app, options, not any(bp is self for bp in app.blueprints.values()), parent)
        name = state.full_name
        app.blueprints[name] = self
        self._got_registered_once = True
        if self.has_static_folder:
            # Flask's blueprint static route, under the blueprint's prefix: url_for("<name>.static", filename=...).
            state.add_url_rule(f"{self.static_url_path}/<path:filename>", "static", self.send_static_file)
        self._merge_hooks(app, name)
        for deferred in self.deferred_functions:
            deferred(state)
        for child, child_options in self._blueprints:
            child.register(app, child_options, state)
        register_blueprint_commands(self, app, name, options.get("cli_group", self.cli_group))

    def _merge_hooks(self, app: App, name: str) -> None:
        """Copy this blueprint's hooks and handlers to the app under the dotted name it is registered as."""
        for attribute in HOOK_ATTRIBUTES:
            mine: dict[str | None, list[Any]] = getattr(self, attribute)
            if mine.get(self.name):
                theirs: dict[str | None, list[Any]] = getattr(app, attribute)
                theirs[name].extend(mine[self.name])
        spec = self.error_handler_spec.get(self.name)
        if spec:
            app.error_handler_spec[name].update({code: dict(handlers) for code, handlers in spec.items()})

    # -- what a blueprint adds to the whole app (once per app, however often it is registered) --------

    def before_app_request(self, function: F) -> F:
        """A ``before_request`` function for every request of the app, not only this blueprint's."""
        self.record_once(lambda state: state.app.before_request(function))
        return function

    def after_app_request(self, function: F) -> F:
        """An ``after_request`` function for every request of the app."""
        self.record_once(lambda state: state.app.after_request(function))
        return function

    def teardown_app_request(self, function: F) -> F:
        """A ``teardown_request`` function for every request of the app."""
        self.record_once(lambda state: state.app.teardown_request(function))
        return function

    def before_app_websocket(self, function: F) -> F:
        """A ``before_websocket`` function for every websocket of the app."""
        self.record_once(lambda state: state.app.before_websocket(function))
        return function

    def after_app_websocket(self, function: F) -> F:
        """An ``after_websocket`` function for every websocket of the app."""
        self.record_once(lambda state: state.app.after_websocket(function))
        return function

    def teardown_app_websocket(self, function: F) -> F:
        """A ``teardown_websocket`` function for every websocket of the app."""
        self.record_once(lambda state: state.app.teardown_websocket(function))
        return function

    def app_errorhandler(self, code_or_exception: type[BaseException] | int) -> Callable[[F], F]:
        """An error handler of the app's (``@app.errorhandler``): every request's, URLs no rule matches included."""
        exception_key(code_or_exception)  # a wrong code is an error here, not at registration

        def decorator(function: F) -> F:
            self.record_once(lambda state: state.app.register_error_handler(code_or_exception, function))
            return function

        return decorator

    def app_url_value_preprocessor(self, function: F) -> F:
        """A URL value preprocessor for every request of the app, not only this blueprint's."""
        _plain("app_url_value_preprocessor", function)  # refused here, not half way through a registration
        self.record_once(lambda state: state.app.url_value_preprocessor(function))
        return function

    def app_url_defaults(self, function: F) -> F:
        """A ``url_defaults`` function for every ``url_for`` of the app, not only this blueprint's endpoints."""
        _plain("app_url_defaults", function)
        self.record_once(lambda state: state.app.url_defaults(function))
        return function

    def before_app_serving(self, function: F) -> F:
        """Run once at the app's startup (``app.before_serving``), as Quart's blueprints can."""
        self.record_once(lambda state: state.app.before_serving(function))
        return function

    def after_app_serving(self, function: F) -> F:
        """Run once at the app's shutdown (``app.after_serving``)."""
        self.record_once(lambda state: state.app.after_serving(function))
        return function

    def while_app_serving(self, function: F) -> F:
        """An async generator around the app's serving (``app.while_serving``)."""
        if not inspect.isasyncgenfunction(function):
            raise TypeError(f"while_app_serving needs an async generator function (one that yields), not {function!r}")
        self.record_once(lambda state: state.app.while_serving(function))
        return function


def _check_name(name: str, what: str) -> None:
    if not name:
        raise ValueError(f"{what} may not be empty")
    if "." in name:
        raise ValueError(f"{what} may not contain dots: {name!r} (a dot separates a nested blueprint from its parent)")


def _register_options(options: dict[str, Any]) -> RegisterOptions:
    """``options`` checked: a misspelt keyword is an error, not a silent default."""
    unknown = set(options) - RegisterOptions.__optional_keys__
    if unknown:
        known = ", ".join(sorted(RegisterOptions.__optional_keys__))
        raise TypeError(f"register_blueprint() got unexpected keywords {sorted(unknown)}; it takes {known}")
    if "name" in options:
        _check_name(options["name"], "The name= of a registration")
    return cast(RegisterOptions, options)


def _check_names_free(app: App, blueprint: Blueprint, options: RegisterOptions) -> None:
    """A ValueError, before anything is added, if a name the registration needs is taken."""
    taken: dict[str, Blueprint] = dict(app.blueprints)
    for name, owner in _names_with_owners(blueprint, options, ""):
        if name in taken:
            which = "this blueprint" if taken[name] is owner else f"another blueprint, {taken[name]!r}"
            raise ValueError(
                f"The name {name!r} is already registered for {which}; "
                "register it with name='...' to give this registration a unique name"
            )
        taken[name] = owner


def _names_with_owners(blueprint: Blueprint, options: RegisterOptions, prefix: str) -> Iterator[tuple[str, Blueprint]]:
    name = options.get("name") or blueprint.name
    full_name = f"{prefix}.{name}" if prefix else name
    yield full_name, blueprint
    for child, child_options in blueprint._blueprints:
        yield from _names_with_owners(child, child_options, full_name)


__all__ = ["Blueprint", "BlueprintSetupState", "RegisterOptions"]
