"""Routing: werkzeug's rule syntax and matcher, as in Quart.

One map holds HTTP and websocket rules. Matching a plain request against a
path that only has a websocket rule raises werkzeug's ``WebsocketMismatch``
(400), and the other way round, so the HTTP-or-websocket choice is the
matcher's, not ours.
"""

from __future__ import annotations

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, MapAdapter, RequestRedirect, Rule

from .wrappers.base import BaseRequestWebsocket

__all__ = ["Map", "Router", "Rule"]


class Router:
    """The app's URL map and the matching of requests against it."""

    def __init__(self) -> None:
        self.url_map = Map()
        # Host names are not matched, so one adapter serves every request;
        # only redirects and external URLs need the request's own host.
        self._adapter = self.url_map.bind("localhost")
        # Matches of rules without arguments, which depend on nothing but the
        # key: the bounded number of static routes skip werkzeug's matcher.
        self._static: dict[tuple[str, str, bool], Rule] = {}

    def add(self, rule: Rule) -> None:
        self.url_map.add(rule)
        self._static.clear()

    def match(self, request: BaseRequestWebsocket, *, websocket: bool) -> None:
        """Set ``url_rule`` and ``view_args`` on the request, or ``routing_exception``."""
        key = (request.path, request.method, websocket)
        rule = self._static.get(key)
        if rule is not None:
            request.url_rule, request.view_args = rule, {}
            return
        try:
            rule, view_args = self._adapter.match(request.path, request.method, return_rule=True, websocket=websocket)
            request.url_rule, request.view_args = rule, dict(view_args)
            if not view_args and not rule.arguments:
                self._static[key] = rule
        except RequestRedirect:
            try:
                # Again, bound to the request's host, for a correct Location.
                self.bind_to(request).match(
                    request.path,
                    request.method,
                    websocket=websocket,
                    query_args=request.query_string.decode("latin-1"),
                )
            except HTTPException as redirect:
                request.routing_exception = redirect
        except HTTPException as error:
            request.routing_exception = error

    def bind_to(self, request: BaseRequestWebsocket) -> MapAdapter:
        return self.url_map.bind(
            request.host,
            script_name=request.root_path or None,
            url_scheme=request.scheme,
        )

    def bind(self, server_name: str, scheme: str) -> MapAdapter:
        return self.url_map.bind(server_name, url_scheme=scheme)

    def allowed_methods(self, request: BaseRequestWebsocket) -> list[str]:
        return sorted(self._adapter.allowed_methods(request.path))
