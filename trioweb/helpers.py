"""Functions used inside handlers: responses, redirects, URLs, streams and flashed messages."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from typing import Any, Generic, ParamSpec, TypeVar, overload

from markupsafe import escape
from werkzeug.urls import iri_to_uri

from .ctx import EXCHANGE_VARS, Captured, app_var, capture, enter, leave, request_var, session_var, websocket_var
from .signals import message_flashed, send
from .wrappers.response import Response

T = TypeVar("T")
P = ParamSpec("P")


async def make_response(*args: Any) -> Response:
    """A :class:`Response` from what a view could return: ``await make_response("hi", 201)``, as in Quart."""
    if not args:
        return Response()
    return app_var.get().response_for(args[0] if len(args) == 1 else args)


def jsonify(*args: Any, **kwargs: Any) -> Response:
    """A JSON response: ``jsonify(a=1)``, ``jsonify([1, 2])``."""
    if args and kwargs:
        raise TypeError("jsonify() takes positional or keyword arguments, not both")
    value: Any = kwargs if not args else args[0] if len(args) == 1 else list(args)
    app = app_var.get(None)
    if app is not None:
        return app.json_response(value)
    from .json import dumps

    return Response(dumps(value), mimetype="application/json")


def redirect(location: str, code: int = 302) -> Response:
    """A redirect to ``location`` (302 unless told otherwise)."""
    location = iri_to_uri(location)
    html = (
        "<!doctype html>\n<html lang=en>\n<title>Redirecting...</title>\n"
        "<h1>Redirecting...</h1>\n<p>You should be redirected automatically to the target URL: "
        f'<a href="{escape(location)}">{escape(location)}</a>. If not, click the link.\n'
    )
    response = Response(html, code)
    response.headers["Location"] = location
    return response


def url_for(
    endpoint: str,
    *,
    _anchor: str | None = None,
    _external: bool | None = None,
    _method: str | None = None,
    _scheme: str | None = None,
    **values: Any,
) -> str:
    """The URL of ``endpoint`` with ``values`` filled in; unknown values become the query.

    Inside a request the URL is relative, unless ``_external=True`` (or a
    ``_scheme``) asks for the scheme and host: the host the request came to.
    A rule on another subdomain or host is external anyway. Outside a
    request (an app context only) it is external, built from
    ``SERVER_NAME``, ``APPLICATION_ROOT`` and ``PREFERRED_URL_SCHEME``, as
    in Flask. A websocket rule's URL is always external (``ws://`` or
    ``wss://``): a browser needs the whole URL to connect.
    """
    app = app_var.get()
    current = request_var.get(None) or websocket_var.get(None)
    if current is not None:
        if endpoint.startswith("."):
            blueprint = current.blueprint
            endpoint = f"{blueprint}{endpoint}" if blueprint else endpoint[1:]
        adapter = app.router.bind_to(current)
        external = _scheme is not None if _external is None else _external
    else:
        config = app.config
        server_name = config["SERVER_NAME"]
        if server_name is None:
            raise RuntimeError(
                f"url_for({endpoint!r}) outside a request builds an external URL from app.config['SERVER_NAME'], "
                "which is not set: set it to the app's host (and port), e.g. 'example.com', and "
                "APPLICATION_ROOT and PREFERRED_URL_SCHEME as needed, or call url_for inside a request"
            )
        adapter = app.router.bind(server_name, config["PREFERRED_URL_SCHEME"], config["APPLICATION_ROOT"])
        external = True if _external is None else _external
    if app.url_default_functions:
        app.inject_url_defaults(endpoint, values)
    if _scheme is not None and not external:
        raise ValueError("url_for(_scheme=...) builds an external URL; it cannot be given with _external=False")
    url = adapter.build(endpoint, values, method=_method, force_external=external, url_scheme=_scheme)
    if _anchor is not None:
        from urllib.parse import quote

        url += f"#{quote(_anchor, safe='%!#$&*+,/:;=?@')}"
    return url


# -- streams that keep their request ----------------------------------------------


class _AsyncStreamWithContext(Generic[T]):
    """An async iterator whose every step runs in the request context it was made in."""

    def __init__(self, iterator: AsyncIterator[T], captured: Captured) -> None:
        self._iterator = iterator
        self._captured = captured

    def __aiter__(self) -> _AsyncStreamWithContext[T]:
        return self

    async def __anext__(self) -> T:
        tokens = enter(self._captured)
        try:
            return await self._iterator.__anext__()
        finally:
            leave(tokens)

    async def aclose(self) -> None:
        aclose = getattr(self._iterator, "aclose", None)
        if aclose is not None:
            tokens = enter(self._captured)
            try:
                await aclose()
            finally:
                leave(tokens)


class _StreamWithContext(Generic[T]):
    """A plain iterator whose every step runs in the request context it was made in."""

    def __init__(self, iterator: Iterator[T], captured: Captured) -> None:
        self._iterator = iterator
        self._captured = captured

    def __iter__(self) -> _StreamWithContext[T]:
        return self

    def __next__(self) -> T:
        tokens = enter(self._captured)
        try:
            return next(self._iterator)
        finally:
            leave(tokens)

    def close(self) -> None:
        close = getattr(self._iterator, "close", None)
        if close is not None:
            tokens = enter(self._captured)
            try:
                close()
            finally:
                leave(tokens)


@overload
def stream_with_context(generator_or_function: AsyncIterator[T]) -> AsyncIterator[T]: ...
@overload
def stream_with_context(generator_or_function: Iterator[T]) -> Iterator[T]: ...
@overload
def stream_with_context(
    generator_or_function: Callable[P, AsyncIterator[T]],
) -> Callable[P, AsyncIterator[T]]: ...
@overload
def stream_with_context(generator_or_function: Callable[P, Iterator[T]]) -> Callable[P, Iterator[T]]: ...
def stream_with_context(generator_or_function: Any) -> Any:
    """A streamed body that keeps the request it was made in: ``request``, ``g`` and ``session`` work in it.

    Give it a generator (``return stream_with_context(generate())``) or use
    it as a decorator on a generator function, which captures the request
    when the view calls it. Each step of the generator then runs in that
    request's context, wherever it is iterated.

    trioweb sends a streamed body inside the request's context on both
    servers, so a generator returned by a view sees ``request`` without
    this; it matters for a stream consumed elsewhere, and it keeps Flask
    and Quart code as it is.
    """
    if not isinstance(generator_or_function, AsyncIterator | Iterator) and callable(generator_or_function):
        function = generator_or_function

        @functools.wraps(function)
        def decorated(*args: Any, **kwargs: Any) -> Any:
            return stream_with_context(function(*args, **kwargs))

        return decorated
    if request_var.get(None) is None:
        raise RuntimeError(
            "stream_with_context needs a request: call it (or the generator function it decorates) "
            "inside an HTTP view, where the request it keeps is"
        )
    captured = capture(EXCHANGE_VARS)
    if isinstance(generator_or_function, AsyncIterator):
        return _AsyncStreamWithContext(generator_or_function, captured)
    if isinstance(generator_or_function, Iterator):
        return _StreamWithContext(generator_or_function, captured)
    raise TypeError(f"stream_with_context takes a generator or a generator function, not {generator_or_function!r}")


# -- flashed messages (Flask's place for them: the end of helpers) ------------------

NO_FLASH_SESSION = (
    "flash() and get_flashed_messages() are used outside of a request or websocket: the messages live in "
    "its session (in a test, use `async with app.test_request_context():`)"
)


async def flash(message: Any, category: str = "message") -> None:
    """Keep ``message`` in the session for the next page that calls :func:`get_flashed_messages`.

    A coroutine, as in Quart (``await flash("Saved")``), so that ported code
    runs unchanged. Without ``SECRET_KEY`` it raises the session's error
    that says to set one.
    """
    try:
        current = session_var.get()
    except LookupError:
        raise RuntimeError(NO_FLASH_SESSION) from None
    flashes = current.get("_flashes", [])
    flashes.append((category, message))
    current["_flashes"] = flashes
    if message_flashed.receivers:
        await send(message_flashed, app_var.get(), message=message, category=category)


def get_flashed_messages(
    with_categories: bool = False, category_filter: Iterable[str] = ()
) -> list[Any] | list[tuple[str, Any]]:
    """The flashed messages, taken out of the session: ``[message, ...]`` or ``[(category, message), ...]``.

    The first call in a request takes them out (so the next page does not
    show them again); later calls in the same request see the same list.
    """
    # Kept on the request (or websocket), as Flask keeps them on its context: every task of the
    # exchange sees the same list, and the next request on the connection starts without one.
    exchange = request_var.get(None) or websocket_var.get(None)
    if exchange is None:
        raise RuntimeError(NO_FLASH_SESSION)
    flashes = exchange.flashes
    if flashes is None:
        current = session_var.get()
        flashes = [tuple(flashed) for flashed in current.pop("_flashes")] if "_flashes" in current else []
        exchange.flashes = flashes
    if category_filter:
        wanted = set(category_filter)
        flashes = [flashed for flashed in flashes if flashed[0] in wanted]
    if not with_categories:
        return [message for _, message in flashes]
    return flashes
