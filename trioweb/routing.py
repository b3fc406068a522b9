"""Routing: werkzeug's rule syntax and matcher, as in Quart.

One map holds HTTP and websocket rules, so the HTTP-or-websocket choice is
the matcher's. werkzeug reports a request of the wrong kind as
``WebsocketMismatch`` (400) only when a rule of the other kind takes its
method; otherwise as 405, with an ``Allow`` that mixes the methods of both
kinds. ``Router`` turns every such case into a 400 that says what the URL
is for, and computes a plain request's 405 from the HTTP rules alone.
"""

from __future__ import annotations

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, MapAdapter, RequestRedirect, Rule, WebsocketMismatch

from .wrappers.base import BaseRequestWebsocket

__all__ = ["Map", "Router", "Rule"]


def websocket_only(request: BaseRequestWebsocket) -> WebsocketMismatch:
    """The 400 for a plain HTTP request to a URL that has only websocket views."""
    url = request.url
    websocket_url = "ws" + url[4:] if url.startswith("http") else url
    return WebsocketMismatch(
        f"This URL only accepts websocket connections, not plain HTTP requests: "
        f"connect to {websocket_url} with a websocket client."
    )


def http_only() -> WebsocketMismatch:
    """The 400 for a websocket handshake to a URL that has only HTTP views."""
    return WebsocketMismatch("This URL only answers plain HTTP requests; it has no websocket view to connect to.")


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
        self._has_websocket_rules = False
        # The HTTP rules alone, built when a 405 or an Allow needs them.
        self._http_adapter: MapAdapter | None = None

    def add(self, rule: Rule) -> None:
        self.url_map.add(rule)
        self._static.clear()
        self._has_websocket_rules = self._has_websocket_rules or rule.websocket
        self._http_adapter = None

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
            request.routing_exception = self._wrong_kind(request, error, websocket)

    def _wrong_kind(self, request: BaseRequestWebsocket, error: HTTPException, websocket: bool) -> HTTPException:
        """werkzeug's error, made a 400 that says so when the URL only serves the other kind."""
        if websocket:
            # A handshake is a GET, which every websocket rule takes: a 405
            # came from the path's HTTP rules, and there is no websocket rule.
            return http_only() if isinstance(error, MethodNotAllowed | WebsocketMismatch) else error
        if isinstance(error, WebsocketMismatch):
            return websocket_only(request)
        if isinstance(error, MethodNotAllowed) and self._has_websocket_rules:
            # The 405 may come from websocket rules alone, or list their methods.
            try:
                self._http_rules().match(request.path, request.method)
            except NotFound:
                return websocket_only(request)
            except HTTPException as http_error:
                error = http_error
        if isinstance(error, MethodNotAllowed) and error.valid_methods:
            # werkzeug's come from a set, in a different order in each process.
            error.valid_methods = sorted(error.valid_methods)
        return error

    def _http_rules(self) -> MapAdapter:
        """An adapter over the map's HTTP rules alone, built on first need."""
        if self._http_adapter is None:
            source = self.url_map
            http_map = Map(
                [rule.empty() for rule in source.iter_rules() if not rule.websocket],
                strict_slashes=source.strict_slashes,
                merge_slashes=source.merge_slashes,
                redirect_defaults=source.redirect_defaults,
                converters=source.converters,
            )
            self._http_adapter = http_map.bind("localhost")
        return self._http_adapter

    def bind_to(self, request: BaseRequestWebsocket) -> MapAdapter:
        return self.url_map.bind(
            request.host,
            script_name=request.root_path or None,
            url_scheme=request.scheme,
        )

    def bind(self, server_name: str, scheme: str) -> MapAdapter:
        return self.url_map.bind(server_name, url_scheme=scheme)

    def allowed_methods(self, request: BaseRequestWebsocket) -> list[str]:
        """The methods the path's HTTP views take (for ``Allow``); a websocket rule's GET is not one."""
        adapter = self._http_rules() if self._has_websocket_rules else self._adapter
        return sorted(adapter.allowed_methods(request.path))
