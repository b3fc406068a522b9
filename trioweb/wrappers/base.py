"""What a request and a websocket share: the request line and headers.

Parsing of ``args``, ``cookies``, ``authorization``, ``url`` and the rest comes
from werkzeug's sans-IO request, as in Quart.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from werkzeug.datastructures import Headers
from werkzeug.sansio.request import Request as SansIORequest

if TYPE_CHECKING:
    from werkzeug.routing import Rule

    from ..typing import AfterHook


def trusted_headers(items: list[tuple[str, str]]) -> Headers:
    """werkzeug ``Headers`` over items that are already valid, without checking them again.

    h11 has validated request headers, and a response's own headers are
    built by trioweb; werkzeug's per-item checks would cost more than the
    rest of building a request.
    """
    headers = Headers.__new__(Headers)
    headers._list = items
    return headers


class BaseRequestWebsocket(SansIORequest):
    """The request line and headers of an HTTP request or a websocket handshake."""

    #: The rule that matched, and the values taken from the path.
    url_rule: Rule | None = None
    view_args: dict[str, Any] | None = None
    #: The routing error to raise when the request is dispatched.
    routing_exception: Exception | None = None
    #: The session interface's error when it could not open the session: raised before the hooks (a 500).
    session_error: Exception | None = None
    #: What ``after_this_request`` (or ``after_this_websocket``) added for this exchange only.
    after_this_functions: list[AfterHook] | None = None
    #: The flashed messages ``get_flashed_messages`` took out of the session for this exchange.
    flashes: list[tuple[str, Any]] | None = None

    def __init__(
        self,
        method: str,
        scheme: str,
        path: str,
        query_string: bytes,
        headers: Headers,
        *,
        root_path: str = "",
        http_version: str = "1.1",
        server: tuple[str, int | None] | None = None,
        remote_addr: str | None = None,
    ) -> None:
        super().__init__(method, scheme, server, root_path, path, query_string, headers, remote_addr)
        self.http_version = http_version

    @property
    def endpoint(self) -> str | None:
        return self.url_rule.endpoint if self.url_rule is not None else None

    @property
    def blueprint(self) -> str | None:
        """The (dotted) name of the blueprint the matched endpoint belongs to, if any: ``"parent.child"``."""
        endpoint = self.endpoint
        if endpoint is not None and "." in endpoint:
            return endpoint.rpartition(".")[0]
        return None

    @property
    def blueprints(self) -> list[str]:
        """The matched endpoint's blueprint and its parents, innermost first: ``["parent.child", "parent"]``."""
        blueprint = self.blueprint
        if blueprint is None:
            return []
        from ..scaffold import blueprint_chain

        return list(blueprint_chain(blueprint))
