"""The HTTP response: werkzeug's sans-IO headers and cookies, with an async body."""

from __future__ import annotations

import enum
import json
from collections.abc import AsyncGenerator, AsyncIterable, Iterable
from http import HTTPStatus
from typing import Any, Final

from werkzeug.datastructures import Headers
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.sansio.response import Response as SansIOResponse

from .base import BaseRequestWebsocket, trusted_headers

#: What a response body can be built from.
ResponseBody = bytes | str | Iterable[bytes | str] | AsyncIterable[bytes | str] | None


_STATUS_LINES: dict[object, tuple[str, int]] = {
    code: (f"{code} {phrase.upper()}", code) for code, phrase in HTTP_STATUS_CODES.items() if code >= 200
}

#: The statuses whose responses never carry content: 204 and 304 (a 1xx is
#: never a response's status, see ``Response._clean_status``). Tested on
#: every response; ``drop_content`` does the rest.
NO_CONTENT_STATUSES: Final = frozenset({204, 304})
#: The headers that describe a body, which a 204 or 304 goes without.
_CONTENT_HEADERS = ("Content-Length", "Content-Type", "Transfer-Encoding")


class _Default(enum.Enum):
    token = 0


#: ``response.timeout`` left at this uses the app's ``RESPONSE_TIMEOUT``.
DEFAULT_TIMEOUT: Final = _Default.token


def timeout_warning(method: str, path: str, timeout: float | None = None) -> str:
    """What both servers log when a response runs out of time: the setting, and how to change it."""
    limit = f"its timeout of {timeout:g} s" if timeout is not None else "its timeout"
    return (
        f"The response to {method} {path} was not sent within {limit} (RESPONSE_TIMEOUT, or response.timeout); "
        "closing the connection. Set response.timeout = None for a stream that should run forever, "
        "or raise RESPONSE_TIMEOUT"
    )


class Response(SansIOResponse):
    """An HTTP response.

    The body is either bytes, sent with a ``Content-Length``, or an async (or
    plain) iterable of chunks, streamed with chunked encoding.
    """

    default_mimetype = "text/html"
    default_content_type = "text/html; charset=utf-8"

    #: Seconds the server may take to send this response; ``None`` for no limit.
    timeout: float | _Default | None = DEFAULT_TIMEOUT

    def __init__(
        self,
        response: ResponseBody = None,
        status: int | str | None = None,
        headers: Headers | dict[str, str] | Iterable[tuple[str, str]] | None = None,
        mimetype: str | None = None,
        content_type: str | None = None,
    ) -> None:
        self.body: bytes | AsyncIterable[bytes | str] | Iterable[bytes | str]
        if not headers and mimetype is None and content_type is None:
            # The common case, built directly: werkzeug's constructor looks up
            # and replaces each header, which costs more than the rest of a request.
            if type(response) is str:
                response = response.encode()
            if type(response) is bytes:
                self.headers = trusted_headers(
                    [("Content-Type", self.default_content_type), ("Content-Length", str(len(response)))]
                )
                line = _STATUS_LINES.get(200 if status is None else status)
                if line is not None:
                    self._status, self._status_code = line  # what the status setter would store
                else:
                    self.status = status  # type: ignore[assignment]
                self.body = response
                return
            content_type = self.default_content_type
        super().__init__(status, headers, mimetype, content_type)
        self.set_data(response)

    def set_data(self, data: ResponseBody) -> None:
        """Replace the body; bytes and str also set ``Content-Length``."""
        if data is None:
            data = b""
        if isinstance(data, str):
            data = data.encode()
        if isinstance(data, bytes):
            self.body = data
            self.headers["Content-Length"] = str(len(data))
        else:
            self.body = data
            self.headers.pop("Content-Length", None)

    def _clean_status(self, value: str | int | HTTPStatus) -> tuple[str, int]:
        """The status line and code, refusing a status below 200.

        A 1xx is interim: the server sends one on its own (100 Continue, 101
        Switching Protocols) before the response, and nothing can follow a
        view's. Refused here, where the view sets it, so the traceback points
        at that line and the client gets a 500 rather than a broken connection.
        """
        # werkzeug formats the status line on every assignment; most are common codes.
        cached = _STATUS_LINES.get(value)
        if cached is not None:
            return cached
        line, code = super()._clean_status(value)
        if code < 200:
            raise ValueError(
                f"A response cannot have the status {code}: a response needs a final status (200 or above); "
                "1xx statuses are interim, and the server sends the ones it needs itself"
            )
        return line, code

    @property
    def is_streamed(self) -> bool:
        return not isinstance(self.body, bytes)

    async def iter_encoded(self) -> AsyncGenerator[bytes, None]:
        """The body as chunks of bytes, whatever it was built from."""
        body = self.body
        if isinstance(body, bytes):
            if body:
                yield body
            return
        if isinstance(body, AsyncIterable):
            try:
                async for chunk in body:
                    yield chunk.encode() if isinstance(chunk, str) else chunk
            finally:
                aclose = getattr(body, "aclose", None)
                if aclose is not None:
                    await aclose()
        else:
            for chunk in body:
                yield chunk.encode() if isinstance(chunk, str) else chunk

    async def get_data(self, as_text: bool = False) -> Any:
        """The whole body; a streamed body is consumed (and kept)."""
        if not isinstance(self.body, bytes):
            self.body = b"".join([chunk async for chunk in self.iter_encoded()])
        return self.body.decode(self.mimetype_params.get("charset", "utf-8")) if as_text else self.body

    async def make_conditional(
        self,
        request: BaseRequestWebsocket,
        accept_ranges: bool | str = False,
        complete_length: int | None = None,
    ) -> Response:
        """Answer ``request``'s conditional headers: 304, 412, a range (206), or 416 (raised).

        Quart's coroutine (werkzeug's method, made async). ``If-None-Match``
        and ``If-Modified-Since`` give 304, ``If-Match`` and
        ``If-Unmodified-Since`` 412; with ``accept_ranges`` (``True`` means
        ``"bytes"``), a ``Range`` gives 206 (``multipart/byteranges`` for
        several ranges), honouring ``If-Range``. See ``trioweb.conditional``.
        """
        from ..conditional import make_conditional

        return await make_conditional(self, request, accept_ranges, complete_length)

    async def add_etag(self, overwrite: bool = False, weak: bool = False) -> None:
        """Set an ``ETag`` from the body unless there is one (Quart's coroutine; see ``trioweb.conditional``)."""
        from ..conditional import add_etag

        await add_etag(self, overwrite, weak)

    @property
    def is_json(self) -> bool:
        mimetype = self.mimetype or ""
        return mimetype == "application/json" or mimetype.endswith("+json")

    async def get_json(self, force: bool = False) -> Any:
        """The body parsed as JSON (``None`` if not JSON, unless ``force``)."""
        if not (force or self.is_json):
            return None
        return json.loads(await self.get_data())

    @property
    async def json(self) -> Any:
        return await self.get_json()


async def drop_content(response: Response) -> None:
    """Make a 204 or 304 response what the wire allows: no body, and no header that describes one.

    RFC 9110 gives both statuses no content (15.3.5, 15.4.5) and forbids
    ``Content-Length`` on a 204 (8.6); ``Content-Type`` describes content, so
    it goes too. A streamed body is closed without being read.

    On a 304, 8.6 would allow a ``Content-Length`` equal to the selected
    representation's length, but trioweb cannot tell one from the length of
    the body the view returned (for ``"", 304``, a false ``0``), and a cache
    does not take ``Content-Length`` from a 304 anyway (RFC 9111 3.2). A
    ``Content-Type`` would be worse: a cache would apply it to its stored
    representation. So both go; ``ETag``, ``Cache-Control``, ``Expires``,
    ``Vary``, ``Last-Modified`` and every other header stay.
    """
    body = response.body
    response.body = b""
    headers = response.headers
    for name in _CONTENT_HEADERS:
        headers.remove(name)
    await close_body(body)


async def close_body(body: object) -> None:
    """Close a body that will not be sent (an open file, a generator); bytes need nothing.

    Closing twice is harmless: a ``FileBody`` and a generator close once.
    """
    if isinstance(body, bytes):
        return
    aclose = getattr(body, "aclose", None)
    if aclose is not None:
        await aclose()
    else:
        close = getattr(body, "close", None)
        if close is not None:
            close()
