"""Blueprints: routes and hooks recorded now, added to an app with a prefix later."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from .cli import DEFAULT_CLI_GROUP, register_blueprint_commands
from .scaffold import Scaffold
from .templating import BlueprintTemplating

if TYPE_CHECKING:
    from .app import App
    from .typing import View

F = TypeVar("F", bound=Callable[..., Any])


class Blueprint(BlueprintTemplating, Scaffold):
    """A group of routes with its own hooks and error handlers.

    Its endpoints are named ``"<blueprint>.<function>"``; ``url_for(".name")``
    inside one of its views refers to its own endpoints. ``url_defaults`` is a
    dict of values every one of its rules gets as ``defaults`` (as in Flask).
    ``cli_group`` names the group of its ``cli`` commands (Flask's rule:
    the blueprint's name by default; ``None`` adds them to ``app.cli``).
    """

    def __init__(
        self,
        name: str,
        import_name: str,
        static_folder: str | os.PathLike[str] | None = None,
        static_url_path: str | None = None,
        template_folder: str | os.PathLike[str] | None = None,
        url_prefix: str | None = None,
        root_path: str | None = None,
        url_defaults: dict[str, Any] | None = None,
        cli_group: str | None = DEFAULT_CLI_GROUP,
    ) -> None:
        if "." in name:
            raise ValueError(f"Blueprint names may not contain dots: {name!r}")
        super().__init__(
            import_name,
            static_folder=static_folder,
            static_url_path=static_url_path,
            template_folder=template_folder,
            root_path=root_path,
        )
        self.name = name
        self.url_prefix = url_prefix
        # Flask's name: ``url_defaults`` is the decorator.
        self.url_values_defaults = dict(url_defaults or {})
        self._deferred: list[Callable[[App, str], None]] = []
        #: The command group of ``self.cli``'s commands: the blueprint's name by default; ``None``: the app's own.
        self.cli_group = cli_group

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
        name = f"{self.name}.{endpoint or view_func.__name__}"

        def add(app: App, prefix: str) -> None:
            full_rule = prefix.rstrip("/") + rule if prefix else rule
            rule_options = options
            if self.url_values_defaults:
                defaults = {**self.url_values_defaults, **(options.get("defaults") or {})}
                rule_options = {**options, "defaults": defaults}
            app.add_url_rule(full_rule, name, view_func, methods, **rule_options)

        self._deferred.append(add)

    def app_url_value_preprocessor(self, function: F) -> F:
        """A URL value preprocessor for every request of the app, not only this blueprint's."""

        def add(app: App, prefix: str) -> None:
            app.url_value_preprocessor(function)

        self._deferred.append(add)
        return function

    def app_url_defaults(self, function: F) -> F:
        """A ``url_defaults`` function for every ``url_for`` of the app, not only this blueprint's endpoints."""

        def add(app: App, prefix: str) -> None:
            app.url_defaults(function)

        self._deferred.append(add)
        return function

    def register(self, app: App, url_prefix: str | None) -> None:
        prefix = url_prefix if url_prefix is not None else self.url_prefix or ""
        for add in self._deferred:
            add(app, prefix)
        if self.has_static_folder:
            # Flask's blueprint static route, under the blueprint's prefix: url_for("<name>.static", filename=...).
            rule = f"{prefix.rstrip('/')}{self.static_url_path}/<path:filename>"
            app.add_url_rule(rule, f"{self.name}.static", self.send_static_file)
        for attribute in (
            "before_request_funcs",
            "after_request_funcs",
            "teardown_request_funcs",
            "before_websocket_funcs",
            "after_websocket_funcs",
            "teardown_websocket_funcs",
            "template_context_processors",
            "url_value_preprocessors",
            "url_default_functions",
        ):
            mine: dict[str | None, list[Any]] = getattr(self, attribute)
            theirs: dict[str | None, list[Any]] = getattr(app, attribute)
            if mine.get(self.name):
                theirs[self.name].extend(mine[self.name])
        if self.error_handler_spec.get(self.name):
            app.error_handler_spec[self.name] = self.error_handler_spec[self.name]
        register_blueprint_commands(self, app, self.name)
