"""Routing: werkzeug's rule syntax and matcher, as in Quart.

One map holds HTTP and websocket rules, so the HTTP-or-websocket choice is
the matcher's. werkzeug reports a request of the wrong kind as
``WebsocketMismatch`` (400) only when a rule of the other kind takes its
method; otherwise as 405, with an ``Allow`` that mixes the methods of both
kinds. ``Router`` turns every such case into a 400 that says what the URL
is for, and computes a plain request's 405 from the HTTP rules alone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

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


#: Adapters kept for the hosts (or subdomains) requests came to; past this many the cache starts again, so
#: that clients who send a new ``Host`` every time cannot grow it.
MAX_ADAPTERS = 256


class Router:
    """The app's URL map and the matching of requests against it.

    Without host or subdomain matching (the default) the host does not take
    part: one adapter serves every request, and a static route's match is
    remembered by path alone. With ``host_matching`` a rule's ``host`` is
    matched against the request's ``Host``; with ``subdomain_matching`` a
    rule's ``subdomain`` against what ``Host`` has in front of
    ``SERVER_NAME``, as Flask 3.1 with werkzeug 3.2 does it: a host that is
    not under ``SERVER_NAME`` is the default subdomain, not a 404.
    """

    def __init__(
        self,
        config: Mapping[str, Any] | None = None,
        *,
        host_matching: bool = False,
        subdomain_matching: bool = False,
    ) -> None:
        self.url_map = Map(host_matching=host_matching)
        self._config: Mapping[str, Any] = {} if config is None else config
        self._subdomain_matching = subdomain_matching
        # Without host or subdomain matching, one adapter serves every request;
        # only redirects and external URLs need the request's own host.
        self._adapter = self.url_map.bind("localhost")
        # Matches of rules without arguments, which depend on nothing but the
        # key: the bounded number of static routes skip werkzeug's matcher.
        self._static: dict[tuple[str, str, bool], Rule] = {}
        # The same, with the host or subdomain first, when that is matched too.
        self._static_by_domain: dict[tuple[str, str, str, bool], Rule] = {}
        self._adapters: dict[str, MapAdapter] = {}
        self._has_websocket_rules = False
        self._by_domain = self.matches_domain
        # The HTTP rules alone, built when a 405 or an Allow needs them.
        self._http_map: Map | None = None
        self._http_adapters: dict[str, MapAdapter] = {}

    @property
    def subdomain_matching(self) -> bool:
        """Whether a rule's ``subdomain`` is matched (``App(subdomain_matching=True)``)."""
        return self._subdomain_matching

    @subdomain_matching.setter
    def subdomain_matching(self, value: bool) -> None:
        self._subdomain_matching = value
        self._forget()

    @property
    def matches_domain(self) -> bool:
        """Whether the host of a request takes part in matching it."""
        return self.url_map.host_matching or self._subdomain_matching

    def _forget(self) -> None:
        # Bound again: on the map's default_subdomain, which the rules added since may have taken (Flask's
        # url_map.default_subdomain = "www", set after the app is made).
        self._adapter = self.url_map.bind("localhost")
        self._static.clear()
        self._static_by_domain.clear()
        self._adapters.clear()
        self._http_map = None
        self._http_adapters.clear()
        self._by_domain = self.matches_domain

    def add(self, rule: Rule) -> None:
        # Hosts are matched in lower case (request.host lowered): a rule's own names too, not its variables'.
        if rule.host:
            rule.host = lower_names(rule.host)
        if rule.subdomain:
            rule.subdomain = lower_names(rule.subdomain)
        self.url_map.add(rule)
        self._has_websocket_rules = self._has_websocket_rules or rule.websocket
        # url_map.host_matching may have been set since the last rule.
        self._forget()

    def match(self, request: BaseRequestWebsocket, *, websocket: bool) -> None:
        """Set ``url_rule`` and ``view_args`` on the request, or ``routing_exception``."""
        key = (request.path, request.method, websocket)
        rule = self._static.get(key)
        if rule is not None:
            request.url_rule, request.view_args = rule, {}
            return
        if self._by_domain:
            # Tested after the cache, which stays empty then: a static route of
            # an app that matches no host costs what it did before hosts.
            self._match_by_domain(request, websocket)
            return
        try:
            rule, view_args = self._adapter.match(request.path, request.method, return_rule=True, websocket=websocket)
            request.url_rule, request.view_args = rule, dict(view_args)
            if not view_args and not rule.arguments:
                self._static[key] = rule
        except RequestRedirect:
            self._redirect(request, websocket)
        except HTTPException as error:
            request.routing_exception = self._wrong_kind(request, "", error, websocket)

    def _match_by_domain(self, request: BaseRequestWebsocket, websocket: bool) -> None:
        """``match`` when the host or subdomain is matched too: the same, with the domain in every key."""
        domain = self.domain_of(request)
        try:
            key = (domain, request.path, request.method, websocket)
            rule = self._static_by_domain.get(key)
            if rule is not None:
                request.url_rule, request.view_args = rule, {}
                return
            adapter = self._bound(self.url_map, self._adapters, domain)
            rule, view_args = adapter.match(request.path, request.method, return_rule=True, websocket=websocket)
            request.url_rule, request.view_args = rule, dict(view_args)
            if not view_args and not rule.arguments:
                self._static_by_domain[key] = rule
        except RequestRedirect:
            self._redirect(request, websocket)
        except HTTPException as error:
            request.routing_exception = self._wrong_kind(request, domain, error, websocket)

    def _redirect(self, request: BaseRequestWebsocket, websocket: bool) -> None:
        try:
            # Again, bound to the request's host, for a correct Location.
            self.bind_to(request, keep_host=True).match(
                request.path,
                request.method,
                websocket=websocket,
                query_args=request.query_string.decode("latin-1"),
            )
        except HTTPException as redirect:
            request.routing_exception = redirect

    def domain_of(self, request: BaseRequestWebsocket) -> str:
        """What the matcher compares rules with: the host (host matching) or the subdomain.

        werkzeug's ``request.host`` has checked the characters of ``Host``
        (and dropped the scheme's default port): an invalid one is "", which
        no rule's host matches.
        """
        host = request.host.lower()
        if self.url_map.host_matching:
            return host
        server_name = self._server_name(request.scheme)
        subdomain = None if server_name is None else subdomain_of(host, server_name)
        return self.url_map.default_subdomain if subdomain is None else subdomain

    def _server_name(self, scheme: str) -> str | None:
        """``SERVER_NAME`` as ``request.host`` is written: lower case, without the scheme's default port."""
        server_name: str | None = self._config.get("SERVER_NAME")
        if not self._subdomain_matching or not server_name:
            return None
        server_name = server_name.lower()
        if scheme in ("http", "ws"):
            return server_name.removesuffix(":80")
        return server_name.removesuffix(":443")

    def _bound(self, url_map: Map, adapters: dict[str, MapAdapter], domain: str) -> MapAdapter:
        """An adapter of ``url_map`` that matches ``domain`` (kept: binding costs more than matching)."""
        adapter = adapters.get(domain)
        if adapter is None:
            if len(adapters) >= MAX_ADAPTERS:
                adapters.clear()
            # BadHost (a 400, for the caller) for a name IDNA cannot encode: with subdomain matching, the
            # subdomain's labels are checked in front of a name (an empty one, as in "a..example.com", is no
            # host, and the redirect to it would be a 500).
            if url_map.host_matching:
                server_name, subdomain = domain, None
            else:
                server_name, subdomain = (f"{domain}.localhost" if domain else "localhost"), domain
            adapter = url_map.bind(server_name, subdomain=subdomain)
            adapters[domain] = adapter
        return adapter

    def _wrong_kind(
        self, request: BaseRequestWebsocket, domain: str, error: HTTPException, websocket: bool
    ) -> HTTPException:
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
                self._http_rules(domain).match(request.path, request.method)
            except NotFound:
                return websocket_only(request)
            except HTTPException as http_error:
                error = http_error
        if isinstance(error, MethodNotAllowed) and error.valid_methods:
            # werkzeug's come from a set, in a different order in each process.
            error.valid_methods = sorted(error.valid_methods)
        return error

    def _http_rules(self, domain: str) -> MapAdapter:
        """An adapter over the map's HTTP rules alone, built on first need."""
        if self._http_map is None:
            source = self.url_map
            self._http_map = Map(
                [rule.empty() for rule in source.iter_rules() if not rule.websocket],
                strict_slashes=source.strict_slashes,
                merge_slashes=source.merge_slashes,
                redirect_defaults=source.redirect_defaults,
                converters=source.converters,
                host_matching=source.host_matching,
            )
        if not self.matches_domain:
            domain = self.url_map.default_subdomain
        return self._bound(self._http_map, self._http_adapters, domain)

    def bind_to(self, request: BaseRequestWebsocket, *, keep_host: bool = False) -> MapAdapter:
        """The adapter for a request's URLs (Flask's ``create_url_adapter(request)``) and, ``keep_host``, redirects.

        It is bound to the host the request came to, so that an external URL
        names it. With subdomain matching, to ``SERVER_NAME`` and the
        request's subdomain: for a host not under ``SERVER_NAME`` (an IP
        address, say), URLs are built with ``SERVER_NAME``, where the other
        subdomains are, but a redirect (``keep_host``) stays on that host.
        """
        host = request.host
        script_name = request.root_path or None
        if self.url_map.host_matching:
            return self.url_map.bind(host, script_name=script_name, url_scheme=request.scheme)
        subdomain = self.url_map.default_subdomain
        server_name = self._server_name(request.scheme)
        if server_name is not None:
            under = subdomain_of(host.lower(), server_name)
            if under is not None:
                host, subdomain = server_name, under
            elif not keep_host:
                host = server_name
        return self.url_map.bind(host, script_name=script_name, subdomain=subdomain, url_scheme=request.scheme)

    def bind(self, server_name: str, scheme: str, script_name: str | None = None) -> MapAdapter:
        """The adapter for URLs built outside a request (``SERVER_NAME``, ``APPLICATION_ROOT``...)."""
        return self.url_map.bind(server_name, script_name=script_name, url_scheme=scheme)

    def allowed_methods(self, request: BaseRequestWebsocket) -> list[str]:
        """The methods the path's HTTP views take (for ``Allow``); a websocket rule's GET is not one."""
        if self.matches_domain:
            domain = self.domain_of(request)
            adapter = (
                self._http_rules(domain)
                if self._has_websocket_rules
                else self._bound(self.url_map, self._adapters, domain)
            )
        else:
            adapter = self._http_rules("") if self._has_websocket_rules else self._adapter
        return sorted(adapter.allowed_methods(request.path))


def check_static_host(host_matching: bool, static_host: str | None, has_static_folder: bool) -> None:
    """Flask's rule for ``App(static_host=...)``, with an error that says what to change."""
    if static_host is not None and not host_matching:
        raise ValueError(
            f"App(static_host={static_host!r}) needs host_matching=True: without host matching no rule has a host, "
            "and static files are served on every host"
        )
    if host_matching and static_host is None and has_static_folder:
        raise ValueError(
            "App(host_matching=True) needs static_host='...', the host the static files are served on "
            "(with the port, if not the default), or static_folder=None for an app without static files"
        )


def lower_names(host: str) -> str:
    """``host`` (a rule's ``host`` or ``subdomain``) in lower case outside its ``<variables>``."""
    return _NAMES.sub(lambda part: part[0] if part[0].startswith("<") else part[0].lower(), host)


_NAMES = re.compile(r"<[^>]*>|[^<]+")


def subdomain_of(host: str, server_name: str) -> str | None:
    """What ``host`` has in front of ``server_name`` ("" for the name itself), or None when it is not under it."""
    if host == server_name:
        return ""
    if host.endswith("." + server_name):
        return host[: -len(server_name) - 1]
    return None
