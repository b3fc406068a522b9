"""The test client: real HTTP/1.1 and websocket bytes over trio's in-memory streams.

Every request opens a ``trio.testing.memory_stream_pair`` and serves the
server end with the very connection handler that serves TCP, so framing,
keep-alive rules, upgrades and close handshakes are all under test.
"""

from __future__ import annotations

import functools
import json as json_module
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar, cast
from urllib.parse import unquote, urlencode, urljoin, urlsplit

import h11
import trio
import trio.testing
import trio_websocket
from werkzeug.datastructures import Authorization, FileStorage, Headers
from werkzeug.http import dump_cookie
from werkzeug.test import Cookie, encode_multipart

from .ctx import app_var, propagated_errors_var
from .json import NO_JSON, dumps
from .lifespan import serving
from .server import serve_stream
from .server._http import HTTPConnection
from .wrappers.request import Body, Request
from .wrappers.response import Response

if TYPE_CHECKING:
    from .app import App
    from .sessions import SessionMixin
    from .wrappers.base import BaseRequestWebsocket

T = TypeVar("T")


class WebsocketResponseError(Exception):
    """The app answered the websocket handshake with an HTTP response instead of accepting."""

    def __init__(self, response: Response) -> None:
        super().__init__(f"The websocket was rejected with HTTP {response.status_code}")
        self.response = response


class WebsocketDisconnectError(Exception):
    """The server closed the websocket; ``code`` and ``reason`` are what it sent."""

    def __init__(self, code: int, reason: str = "") -> None:
        super().__init__(f"The websocket was closed with code {code}: {reason!r}")
        self.code = code
        self.reason = reason


class TooManyRedirectsError(Exception):
    """``follow_redirects=True`` met more than ``MAX_REDIRECTS`` redirects in a row (a loop, most likely)."""


#: Redirects ``follow_redirects=True`` follows before it gives up.
MAX_REDIRECTS = 20


class CookieJar:
    """The test client's cookies, as a browser keeps them: by domain, path and name.

    The matching, the parsing of ``Set-Cookie`` and the deletion rule are
    werkzeug's test ``Cookie`` (what Flask's client uses); this adds the
    expiry a browser applies: a cookie past its ``Expires`` (or ``Max-Age``,
    counted from when it arrived) is dropped, not sent.
    """

    def __init__(self) -> None:
        self.cookies: dict[tuple[str, str, str], Cookie] = {}

    def store(self, cookie: Cookie) -> None:
        # A browser ignores a leading dot in Domain and compares hosts without case (RFC 6265 5.2.3, 5.1.3).
        cookie.domain = cookie.domain.lstrip(".").lower()
        if cookie.max_age is not None and cookie.max_age > 0 and cookie.expires is None:
            cookie.expires = datetime.now(UTC) + timedelta(seconds=cookie.max_age)
        if cookie._should_delete or _expired(cookie):
            self.cookies.pop(cookie._storage_key, None)
        else:
            self.cookies[cookie._storage_key] = cookie

    def extract(self, server_name: str, path: str, set_cookies: Iterable[str]) -> None:
        """Keep what the ``Set-Cookie`` headers of a response to ``server_name`` and ``path`` say."""
        for header in set_cookies:
            self.store(Cookie._from_response_header(server_name, path, header))

    def header(self, server_name: str, path: str) -> str:
        """The ``Cookie`` header for a request to ``server_name`` and ``path`` ("" when nothing matches)."""
        for key in [key for key, cookie in self.cookies.items() if _expired(cookie)]:
            del self.cookies[key]
        return "; ".join(
            cookie._to_request_header()
            for cookie in self.cookies.values()
            if cookie._matches_request(server_name, path)
        )


def _expired(cookie: Cookie) -> bool:
    return cookie.expires is not None and cookie.expires <= datetime.now(UTC)


def _server_name(headers: Headers) -> str:
    """The host a request goes to, for cookie matching: its ``Host`` header without the port."""
    host = headers.get("Host", "localhost")
    try:
        return (urlsplit("//" + host).hostname or "localhost").lower()
    except ValueError:  # a test of a garbage Host ("[::1"): its cookies are its own
        return host.lower()


def choose_host(
    app: App,
    headers: Headers,
    *,
    subdomain: str | None = None,
    base_url: str | None = None,
    scheme: str = "http",
    websocket: bool = False,
) -> tuple[str, str]:
    """Put the ``Host`` a test request goes to in ``headers``; return the scheme and root path it has.

    As Flask's test client: ``base_url`` ("https://example.com/root") gives
    the scheme, host and root path; ``subdomain`` a host under
    ``SERVER_NAME`` (or ``localhost``); without either, the host is
    ``SERVER_NAME`` or ``localhost``. A ``Host`` in ``headers`` is kept, and
    may not be given twice. ``base_url``'s scheme is made the request's kind:
    ``https`` is ``wss`` for a websocket, and ``wss`` is ``https`` for a request.
    """
    root_path = ""
    if base_url is not None:
        if subdomain is not None:
            raise TypeError("Give subdomain= or base_url=, not both: base_url has the whole host")
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https", "ws", "wss") or not parts.netloc:
            raise ValueError(f"base_url={base_url!r} needs a scheme and a host, like 'http://example.com/root'")
        host, root_path = parts.netloc, parts.path.rstrip("/")
        secure = parts.scheme in ("https", "wss")
        scheme = ("wss" if secure else "ws") if websocket else ("https" if secure else "http")
    else:
        server_name = app.config["SERVER_NAME"] or "localhost"
        host = f"{subdomain}.{server_name}" if subdomain else server_name
    if "Host" not in headers:
        headers["Host"] = host
    elif base_url is not None or subdomain is not None:
        raise TypeError("headers has a Host, and subdomain= or base_url= gives another: give the host one way")
    return scheme, root_path


class TestWebsocket:
    """The client end of a test websocket (see :meth:`TestClient.websocket`)."""

    __test__ = False

    def __init__(
        self, connection: trio_websocket.WebSocketConnection, unhandled: list[Exception] | None = None
    ) -> None:
        self.connection = connection
        # The app's unhandled errors, when it propagates them (TESTING): raised instead of the 1011.
        self._unhandled = [] if unhandled is None else unhandled

    def _closed(self, closed: trio_websocket.ConnectionClosed) -> Exception:
        return self._unhandled.pop(0) if self._unhandled else _disconnect_error(closed)

    @property
    def headers(self) -> Headers:
        """The headers of the 101 response that accepted the websocket (``Set-Cookie`` among them)."""
        return _headers(self.connection.handshake_headers)

    @property
    def subprotocol(self) -> str | None:
        """The subprotocol the app accepted, if any."""
        return self.connection.subprotocol

    async def send(self, data: str | bytes) -> None:
        try:
            await self.connection.send_message(data)
        except trio_websocket.ConnectionClosed as closed:
            raise self._closed(closed) from None

    async def receive(self, timeout: float | None = None) -> str | bytes:
        """The next message; ``WebsocketDisconnectError`` once the server has closed.

        ``timeout`` (seconds) raises ``trio.TooSlowError`` instead of waiting forever.
        """
        try:
            with trio.fail_after(math.inf if timeout is None else timeout):
                return await self.connection.get_message()
        except trio_websocket.ConnectionClosed as closed:
            raise self._closed(closed) from None

    async def send_json(self, value: Any) -> None:
        await self.send(dumps(value))

    async def receive_json(self, timeout: float | None = None) -> Any:
        return json_module.loads(await self.receive(timeout))

    async def close(self, code: int = 1000, reason: str = "") -> None:
        await self.connection.aclose(code, reason or None)


class _ClientReaderNursery:
    """Runs trio-websocket's client reader, which raises a rejection instead of returning it."""

    def __init__(self, nursery: trio.Nursery) -> None:
        self.nursery = nursery
        self.rejection: trio_websocket.ConnectionRejected | None = None
        self.handshake_scope = trio.CancelScope()

    def start_soon(self, function: Callable[..., Awaitable[Any]], *args: Any) -> None:
        self.nursery.start_soon(self._run, function, args)

    async def _run(self, function: Callable[..., Awaitable[Any]], args: tuple[Any, ...]) -> None:
        try:
            await function(*args)
        except trio_websocket.ConnectionRejected as rejection:
            self.rejection = rejection
        except (trio_websocket.ConnectionClosed, trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        # The reader is done: a handshake still waiting would wait forever (trio-websocket's reader
        # returns, without a word, when the server closes the connection before its answer).
        self.handshake_scope.cancel()


class MountedConnection(HTTPConnection):
    """trioweb's connection, for an app mounted under a root path (the client's ``base_url="http://host/root"``).

    As an ASGI server with a ``root_path``: a request for ``/root/x`` is the
    path ``/x`` with ``request.root_path`` ``/root``. A subclass of the test
    client's own, so that trioweb's server pays nothing for it.
    """

    __slots__ = ("root_path",)

    def __init__(self, app: App, stream: trio.abc.Stream, *, root_path: str, **options: Any) -> None:
        super().__init__(app, stream, **options)
        self.root_path = root_path

    def exchange_started(self, request: BaseRequestWebsocket) -> None:
        path, root = request.path, self.root_path
        if path == root or path.startswith(root + "/"):
            request.root_path, request.path = root, path[len(root) :] or "/"
        super().exchange_started(request)


async def _serve_collecting(
    unhandled: list[Exception], app: App, stream: trio.abc.Stream, root_path: str = "", **options: Any
) -> None:
    """``serve_stream``, with the app's unhandled errors put in ``unhandled`` when it propagates them."""
    propagated_errors_var.set(unhandled)  # this task's own context: nothing leaks to the test
    if root_path:
        await MountedConnection(app, stream, root_path=root_path, **options).run()
    else:
        await serve_stream(app, stream, **options)


def _disconnect_error(closed: trio_websocket.ConnectionClosed) -> WebsocketDisconnectError:
    reason = closed.reason
    if reason is None:
        return WebsocketDisconnectError(1006, "")
    return WebsocketDisconnectError(reason.code, reason.reason or "")


_NO_JSON: Any = NO_JSON
#: Seconds a websocket view gets to finish after the test client has closed.
SERVER_GRACE = 5.0
QueryString = Mapping[str, Any] | str | bytes | None


def encode_query(query_string: QueryString) -> bytes:
    if query_string is None:
        return b""
    if isinstance(query_string, bytes):
        return query_string
    if isinstance(query_string, str):
        return query_string.encode()
    return urlencode(query_string, doseq=True).encode()


def encode_body(
    headers: Headers,
    method: str,
    *,
    data: bytes | str | None = None,
    form: Mapping[str, Any] | None = None,
    files: Mapping[str, FileStorage] | None = None,
    json: Any = _NO_JSON,
) -> bytes:
    """The body of a test request, from one of ``data=``, ``form=`` (with ``files=``) or ``json=``.

    It sets the ``Content-Type`` the body needs (unless ``headers`` has
    one), ``Content-Length``, and ``Host: localhost`` unless given.
    """
    body = b""
    if (data is not None) + (form is not None or files is not None) + (json is not _NO_JSON) > 1:
        raise ValueError("Give only one of data=, form= (with files=), or json=")
    if json is not _NO_JSON:
        body = dumps(json).encode()
        headers.setdefault("Content-Type", "application/json")
    elif files is not None:
        boundary, body = encode_multipart({**(form or {}), **files})
        headers.setdefault("Content-Type", f"multipart/form-data; boundary={boundary}")
    elif form is not None:
        body = urlencode(form, doseq=True).encode()
        headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
    elif data is not None:
        body = data.encode() if isinstance(data, str) else data
    headers.setdefault("Host", "localhost")
    if body or method in ("POST", "PUT", "PATCH"):
        headers["Content-Length"] = str(len(body))
    return body


def make_test_request(
    app: App,
    path: str,
    *,
    method: str = "GET",
    headers: Mapping[str, str] | Headers | None = None,
    query_string: QueryString = None,
    data: bytes | str | None = None,
    form: Mapping[str, Any] | None = None,
    files: Mapping[str, FileStorage] | None = None,
    json: Any = _NO_JSON,
    scheme: str = "http",
    root_path: str = "",
    http_version: str = "1.1",
    remote_addr: str = "127.0.0.1",
    subdomain: str | None = None,
    base_url: str | None = None,
) -> Request:
    """The request the test client would send, built directly, its body ready to read (``app.test_request_context``)."""
    request_headers = Headers(headers)
    scheme, base_root = choose_host(app, request_headers, subdomain=subdomain, base_url=base_url, scheme=scheme)
    if base_root:
        if root_path:
            raise TypeError("base_url= has a root path, and root_path= gives another: give it one way")
        root_path = base_root
    path, _, query_in_path = path.partition("?")
    query = encode_query(query_string) or query_in_path.encode()
    body = encode_body(request_headers, method, data=data, form=form, files=files, json=json)
    if "%" in path:
        path = unquote(path, errors="surrogateescape")  # as the server decodes the target
    request_body: Body | None = None
    if body:
        chunks = [body]

        async def receive() -> bytes:
            return chunks.pop() if chunks else b""

        request_body = Body(receive, content_length=len(body), max_content_length=app.config["MAX_CONTENT_LENGTH"])
    return app.request_class(
        method,
        scheme,
        path,
        query,
        request_headers,
        body=request_body,
        root_path=root_path,
        http_version=http_version,
        server=("localhost", 80),
        remote_addr=remote_addr,
    )


class TestClient:
    """Sends requests to an app through its real connection handler.

    ``response = await client.get("/path", query_string={"q": "x"})``; the
    response has ``status_code``, ``headers``, ``await get_data()`` and
    ``await get_json()``.
    """

    __test__ = False  # not a pytest test class

    def __init__(self, app: App, *, remote_addr: str = "127.0.0.1", use_cookies: bool = True) -> None:
        self.app = app
        self.remote_addr = remote_addr
        #: The cookies responses set, sent back on later requests and websockets (None: ``use_cookies=False``).
        self.cookie_jar: CookieJar | None = CookieJar() if use_cookies else None

    # -- cookies ---------------------------------------------------------------

    def _jar(self) -> CookieJar:
        if self.cookie_jar is None:
            raise TypeError("Cookies are disabled. Create the client with use_cookies=True (the default).")
        return self.cookie_jar

    def get_cookie(self, key: str, domain: str = "localhost", path: str = "/") -> Cookie | None:
        """The cookie ``key`` set for ``domain`` and ``path`` (werkzeug's ``Cookie``: ``.value``, ``.expires``...)."""
        cookie = self._jar().cookies.get((domain, path, key))
        return None if cookie is None or _expired(cookie) else cookie

    def set_cookie(
        self,
        key: str,
        value: str = "",
        *,
        domain: str = "localhost",
        origin_only: bool = True,
        path: str = "/",
        **kwargs: Any,
    ) -> None:
        """Put a cookie in the jar, as if a response had set it (Flask 3's signature).

        It is sent to ``domain`` (or, with ``origin_only=False``, its
        subdomains too) for ``path`` and the paths under it; ``kwargs`` go to
        werkzeug's ``dump_cookie`` (``max_age``, ``expires``, ``secure``...).
        """
        cookie = Cookie._from_response_header(domain, "/", dump_cookie(key, value, domain=domain, path=path, **kwargs))
        cookie.origin_only = origin_only
        self._jar().store(cookie)

    def delete_cookie(self, key: str, *, domain: str = "localhost", path: str = "/") -> None:
        """Take the cookie ``key`` for ``domain`` and ``path`` out of the jar, if it is there."""
        self._jar().cookies.pop((domain, path, key), None)

    def _add_cookies(self, headers: Headers, path: str) -> None:
        if self.cookie_jar is not None and "Cookie" not in headers:
            value = self.cookie_jar.header(_server_name(headers), path)
            if value:
                headers["Cookie"] = value

    def _keep_cookies(self, headers: Headers, path: str, response_headers: Headers) -> None:
        if self.cookie_jar is not None:
            self.cookie_jar.extract(_server_name(headers), path, response_headers.getlist("Set-Cookie"))

    @asynccontextmanager
    async def session_transaction(
        self,
        path: str = "/",
        *,
        headers: Mapping[str, str] | Headers | None = None,
        query_string: QueryString = None,
        scheme: str = "http",
        subdomain: str | None = None,
        base_url: str | None = None,
    ) -> AsyncIterator[SessionMixin]:
        """``async with client.session_transaction() as session:`` reads and changes the session between requests.

        The session is opened through ``app.session_interface`` from the
        jar's cookies for ``path``, as a request there would open it; what
        the block leaves in it is saved back into the jar when it ends.
        ``subdomain`` and ``base_url`` choose the host as for :meth:`open`,
        and ``path`` is under ``base_url``'s path.
        """
        jar = self._jar()
        request_headers = Headers(headers)
        scheme, root_path = choose_host(
            self.app, request_headers, subdomain=subdomain, base_url=base_url, scheme=scheme
        )
        self._add_cookies(request_headers, root_path + path)  # under base_url's path, as a request's is
        request = Request(
            "GET",
            scheme,
            path,
            encode_query(query_string),
            request_headers,
            root_path=root_path,
            remote_addr=self.remote_addr,
        )
        interface = self.app.session_interface
        app_token = app_var.set(self.app)  # for a store that looks at current_app
        try:
            session = await interface.open_session(self.app, request)
            if session is None:
                raise RuntimeError(
                    "The session could not be opened: session_transaction() needs app.secret_key "
                    "(or app.config['SECRET_KEY']) to be set"
                )
            yield session
            response = self.app.response_class()
            await interface.save_session(self.app, session, response)
        finally:
            app_var.reset(app_token)
        jar.extract(_server_name(request_headers), root_path + path, response.headers.getlist("Set-Cookie"))

    # -- requests --------------------------------------------------------------

    async def _serving(
        self, scheme: str, work: Callable[[trio.StapledStream[Any, Any]], Awaitable[T]], root_path: str = ""
    ) -> T:
        """Run ``work`` on the client end while the app serves the other end.

        Errors from ``work`` are raised plainly, not inside an exception group,
        and so is an error of the app's that no handler took, when the app
        propagates exceptions (``TESTING``), instead of the 500 it answered.
        """
        client_stream, server_stream = trio.testing.memory_stream_pair()
        result: list[T] = []
        error: list[BaseException] = []
        unhandled: list[Exception] = []
        async with trio.open_nursery() as nursery:
            nursery.start_soon(
                functools.partial(
                    _serve_collecting,
                    unhandled,
                    self.app,
                    server_stream,
                    root_path=root_path,
                    scheme=scheme,
                    client=(self.remote_addr, 0),
                    server=("localhost", 80),
                )
            )
            try:
                result.append(await work(client_stream))
            except BaseException as exception:  # re-raised below, outside the nursery
                error.append(exception)
            finally:
                await trio.aclose_forcefully(client_stream)
        if unhandled and not (error and not isinstance(error[0], ConnectionError)):
            raise unhandled[0]
        if error:
            raise error[0]
        return result[0]

    async def open(
        self,
        path: str,
        *,
        method: str = "GET",
        headers: Mapping[str, str] | Headers | None = None,
        query_string: QueryString = None,
        data: bytes | str | None = None,
        form: Mapping[str, Any] | None = None,
        files: Mapping[str, FileStorage] | None = None,
        json: Any = _NO_JSON,
        http_version: str = "1.1",
        scheme: str = "http",
        follow_redirects: bool = False,
        auth: Authorization | tuple[str, str] | None = None,
        subdomain: str | None = None,
        base_url: str | None = None,
    ) -> Response:
        """Send one request and read the whole response.

        ``follow_redirects=True`` follows ``Location`` as a browser does (301,
        302 and 303 become a GET without a body; 307 and 308 repeat the
        request) and returns the last response. ``auth=("user", "password")``
        sends HTTP basic authentication. Cookies in the jar that match the
        host and path are sent, and the response's ``Set-Cookie`` kept.

        The request goes to ``SERVER_NAME`` (or ``localhost``), or to the
        ``Host`` in ``headers``; ``subdomain="api"`` sends it to
        ``api.<SERVER_NAME or localhost>``, and ``base_url`` (like
        ``"https://example.com/root"``) gives the scheme, the host and the
        root path the app is mounted at (``path`` is under it).
        """
        request_headers = Headers(headers)
        scheme, root_path = choose_host(
            self.app, request_headers, subdomain=subdomain, base_url=base_url, scheme=scheme
        )
        path = root_path + path  # the app is mounted there: a redirect's Location has the whole path
        if auth is not None:
            if isinstance(auth, tuple):
                auth = Authorization("basic", {"username": auth[0], "password": auth[1]})
            request_headers.setdefault("Authorization", auth.to_header())
        response = await self._open_one(
            path, method, request_headers, query_string, data, form, files, json, http_version, scheme, root_path
        )
        followed = 0
        while True:
            location = response.headers.get("Location")
            if not follow_redirects or location is None or not 300 <= response.status_code < 400:
                return response
            if followed == MAX_REDIRECTS:
                raise TooManyRedirectsError(f"More than {MAX_REDIRECTS} redirects in a row; the last to {location!r}")
            followed += 1
            # A relative Location is relative to the URL that answered with it.
            here = f"{scheme}://{request_headers['Host']}{path.partition('?')[0]}"
            target = urlsplit(urljoin(here, location))
            request_headers["Host"], scheme = target.netloc, target.scheme
            path = (target.path or "/") + (f"?{target.query}" if target.query else "")
            query_string = None
            if response.status_code in (301, 302, 303) and method != "HEAD":
                method, data, form, files, json = "GET", None, None, None, _NO_JSON
                for name in ("Content-Type", "Content-Length"):
                    request_headers.pop(name, None)
            response = await self._open_one(
                path, method, request_headers, query_string, data, form, files, json, http_version, scheme, root_path
            )

    async def _open_one(
        self,
        path: str,
        method: str,
        headers: Headers,
        query_string: QueryString,
        data: bytes | str | None,
        form: Mapping[str, Any] | None,
        files: Mapping[str, FileStorage] | None,
        json: Any,
        http_version: str,
        scheme: str,
        root_path: str = "",
    ) -> Response:
        request_headers = Headers(headers)
        path, _, query_in_path = path.partition("?")
        query = encode_query(query_string) or query_in_path.encode()
        target = path + ("?" + query.decode() if query else "")
        body = encode_body(request_headers, method, data=data, form=form, files=files, json=json)
        self._add_cookies(request_headers, path)

        async def exchange(stream: trio.StapledStream[Any, Any]) -> Response:
            conn = h11.Connection(h11.CLIENT)
            request = h11.Request(
                method=method,
                target=target.encode(),
                headers=list(request_headers.items()),
                http_version=http_version,
            )
            data = conn.send(request) + conn.send(h11.Data(data=body)) if body else conn.send(request)
            await stream.send_all(data + conn.send(h11.EndOfMessage()))
            return await read_response(conn, stream)

        response = await self._serving(scheme, exchange, root_path)
        self._keep_cookies(request_headers, path, response.headers)
        return response

    @asynccontextmanager
    async def websocket(
        self,
        path: str,
        *,
        headers: Mapping[str, str] | Headers | None = None,
        query_string: QueryString = None,
        subprotocols: Sequence[str] | None = None,
        scheme: str = "ws",
        auth: Authorization | tuple[str, str] | None = None,
        subdomain: str | None = None,
        base_url: str | None = None,
    ) -> AsyncIterator[TestWebsocket]:
        """Open a websocket to the app: ``async with client.websocket("/ws") as ws:``.

        A handshake the app rejects raises :class:`WebsocketResponseError`;
        errors are raised plainly, never inside an exception group. The host
        is chosen as for :meth:`open` (``subdomain=``, ``base_url=``, a
        ``Host`` in ``headers``).
        """
        path, _, query_in_path = path.partition("?")
        query = encode_query(query_string) or query_in_path.encode()
        resource = path + ("?" + query.decode() if query else "")
        handshake_headers = Headers(headers)
        scheme, root_path = choose_host(
            self.app, handshake_headers, subdomain=subdomain, base_url=base_url, scheme=scheme, websocket=True
        )
        path, resource = root_path + path, root_path + resource
        secure = scheme in ("https", "wss")
        if auth is not None:
            if isinstance(auth, tuple):
                auth = Authorization("basic", {"username": auth[0], "password": auth[1]})
            handshake_headers.setdefault("Authorization", auth.to_header())
        self._add_cookies(handshake_headers, path)
        host = handshake_headers["Host"]
        try:
            host.encode("idna")  # what wsproto sends
        except UnicodeError:
            raise ValueError(
                f"The test client's websocket cannot send the Host {host!r}: the handshake's Host is IDNA-encoded, "
                "which an empty or too long label cannot be; test it with client.get(...)"
            ) from None
        extra = [  # trio-websocket sends the Host itself
            (name.encode("latin-1"), value.encode("latin-1"))
            for name, value in handshake_headers.items()
            if name.lower() != "host"
        ]
        client_stream, server_stream = trio.testing.memory_stream_pair()
        errors: list[BaseException] = []
        unhandled: list[Exception] = []
        server_done = trio.Event()

        async def serve() -> None:
            try:
                await _serve_collecting(
                    unhandled,
                    self.app,
                    server_stream,
                    root_path=root_path,
                    scheme="https" if secure else "http",
                    client=(self.remote_addr, 0),
                    server=("localhost", 80),
                )
            finally:
                server_done.set()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(serve)
            reader = _ClientReaderNursery(nursery)
            try:
                with reader.handshake_scope:
                    connection = await trio_websocket.wrap_client_stream(
                        cast(trio.Nursery, reader),
                        client_stream,  # type: ignore[arg-type]  # any trio Stream works
                        host,
                        resource,
                        subprotocols=subprotocols,
                        extra_headers=extra,
                    )
                if reader.rejection is not None:
                    raise reader.rejection
                if reader.handshake_scope.cancelled_caught:
                    raise ConnectionError("The server closed the connection without answering the websocket handshake")
            except trio_websocket.ConnectionRejected as rejected:
                response = Response(rejected.body or b"", rejected.status_code)
                response.headers = _headers(rejected.headers or ())
                self._keep_cookies(handshake_headers, path, response.headers)
                errors.append(WebsocketResponseError(response))
            except BaseException as error:  # re-raised below, outside the nursery
                errors.append(error)
            else:
                test_websocket = TestWebsocket(connection, unhandled)
                self._keep_cookies(handshake_headers, path, test_websocket.headers)
                try:
                    yield test_websocket
                except BaseException as error:  # re-raised below, outside the nursery
                    errors.append(error)
                finally:
                    with trio.move_on_after(SERVER_GRACE) as cleanup:
                        cleanup.shield = True
                        await connection.aclose()
                        # Let the view see the disconnect and finish on its own.
                        await server_done.wait()
            nursery.cancel_scope.cancel()
        if unhandled and not (errors and not isinstance(errors[0], WebsocketResponseError | WebsocketDisconnectError)):
            raise unhandled[0]  # what the view raised, rather than the 500 or the 1011 it caused
        if errors:
            raise errors[0]

    async def get(self, path: str, **kwargs: Any) -> Response:
        return await self.open(path, method="GET", **kwargs)

    async def head(self, path: str, **kwargs: Any) -> Response:
        return await self.open(path, method="HEAD", **kwargs)

    async def options(self, path: str, **kwargs: Any) -> Response:
        return await self.open(path, method="OPTIONS", **kwargs)

    async def post(self, path: str, **kwargs: Any) -> Response:
        return await self.open(path, method="POST", **kwargs)

    async def put(self, path: str, **kwargs: Any) -> Response:
        return await self.open(path, method="PUT", **kwargs)

    async def patch(self, path: str, **kwargs: Any) -> Response:
        return await self.open(path, method="PATCH", **kwargs)

    async def delete(self, path: str, **kwargs: Any) -> Response:
        return await self.open(path, method="DELETE", **kwargs)


class IncompleteResponseError(ConnectionError):
    """The server closed the connection in the middle of a response; ``response`` holds what arrived.

    That is how a response that ran out of ``RESPONSE_TIMEOUT`` (or its own
    ``response.timeout``) ends: the server logs a warning and closes the
    connection, since the status has gone out already.
    """

    def __init__(self, response: Response, body_size: int) -> None:
        super().__init__(
            f"The server closed the connection before the response was complete "
            f"(HTTP {response.status_code}, {body_size} bytes of the body had arrived); "
            "a response cut short by RESPONSE_TIMEOUT or response.timeout ends like this, "
            "and the server's log says why"
        )
        self.response = response


async def read_response(conn: h11.Connection, stream: trio.abc.ReceiveStream) -> Response:
    """Read one whole response with an h11 client connection."""
    head: h11.Response | None = None
    chunks: list[bytes] = []
    while True:
        try:
            event = conn.next_event()
        except h11.RemoteProtocolError as error:
            if head is None:
                raise ConnectionError(f"The server sent no valid response head: {error}") from None
            body = b"".join(chunks)
            raise IncompleteResponseError(_response(head, body), len(body)) from None
        if event is h11.NEED_DATA:
            conn.receive_data(bytes(await stream.receive_some(65536)))
        elif isinstance(event, h11.Response):
            head = event
        elif isinstance(event, h11.Data):
            chunks.append(bytes(event.data))
        elif isinstance(event, h11.EndOfMessage):
            break
        elif isinstance(event, h11.ConnectionClosed):
            raise ConnectionError("The server closed the connection without a response")
    assert head is not None
    return _response(head, b"".join(chunks))


def _headers(pairs: Iterable[tuple[bytes, bytes]]) -> Headers:
    return Headers([(name.decode("latin-1"), value.decode("latin-1")) for name, value in pairs])


def _response(head: h11.Response, body: bytes) -> Response:
    response = Response(body, head.status_code)
    response.headers = Headers([(name.decode("latin-1"), value.decode("latin-1")) for name, value in head.headers])
    return response


class TestApp:
    """The app, started up: ``async with app.test_app() as test_app:``.

    Entering runs the startup (``before_serving``, ``while_serving``, and
    ``app.nursery`` opens); leaving runs the graceful shutdown, so background
    tasks get ``SHUTDOWN_TIMEOUT`` (instant under ``autojump_clock``).
    """

    __test__ = False

    def __init__(self, app: App) -> None:
        self.app = app
        self._serving: AbstractAsyncContextManager[Any] | None = None

    def test_client(self, use_cookies: bool = True) -> TestClient:
        """A client for the running app (see :class:`TestClient`)."""
        return TestClient(self.app, use_cookies=use_cookies)

    async def __aenter__(self) -> TestApp:
        self._serving = serving(self.app)
        await self._serving.__aenter__()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool | None:
        assert self._serving is not None
        serving_, self._serving = self._serving, None
        return await serving_.__aexit__(exc_type, exc, tb)
