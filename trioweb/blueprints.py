"""Blueprints: routes and hooks recorded now, added to an app with a prefix later."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from .scaffold import Scaffold

if TYPE_CHECKING:
    from .app import App
    from .typing import View


class Blueprint(Scaffold):
    """A group of routes with its own hooks and error handlers.

    Its endpoints are named ``"<blueprint>.<function>"``; ``url_for(".name")``
    inside one of its views refers to its own endpoints.
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
        self._deferred: list[Callable[[App, str], None]] = []

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
            app.add_url_rule(full_rule, name, view_func, methods, **options)

        self._deferred.append(add)

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
        ):
            mine: dict[str | None, list[Any]] = getattr(self, attribute)
            theirs: dict[str | None, list[Any]] = getattr(app, attribute)
            if mine.get(self.name):
                theirs[self.name].extend(mine[self.name])
        if self.error_handler_spec.get(self.name):
            app.error_handler_spec[self.name] = self.error_handler_spec[self.name]
