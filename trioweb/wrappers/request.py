"""The HTTP request: the head from :class:`BaseRequestWebsocket`, plus the body."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from typing import Any

import trio
from werkzeug.datastructures import CombinedMultiDict, Headers, MultiDict
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge, RequestTimeout
from werkzeug.sansio.request import Request as SansIORequest

from ..config import DEFAULTS
from ..ctx import app_var
from ..datastructures import FileStorage
from ..formparser import FormDataParser
from .base import BaseRequestWebsocket

#: Returns the next chunk of the body, ``b""`` once it has all arrived.
ReceiveChunk = Callable[[], Awaitable[bytes]]


async def _no_body() -> bytes:
    return b""


class Body:
    """The request body: read it once as chunks (``async for``) or whole (``await``).

    The size limit and the timeout are enforced here, so that every server
    (native, ASGI) holds to the same ``MAX_CONTENT_LENGTH`` and ``BODY_TIMEOUT``.
    """

    def __init__(
        self,
        receive: ReceiveChunk,
        *,
        content_length: int | None = None,
        max_content_length: int | None = None,
        timeout: float | None = None,
    ) -> None:
        self._receive = receive
        self.content_length = content_length
        self._max_content_length = max_content_length
        self._timeout = timeout
        self._deadline: float | None = None
        self._received = 0
        self._complete = False
        self._data: bytes | None = None

    @property
    def too_large(self) -> bool:
        """Whether the declared ``Content-Length`` is already over the limit."""
        limit = self._max_content_length
        return limit is not None and self.content_length is not None and self.content_length > limit

    def too_large_error(self) -> RequestEntityTooLarge:
        """The 413 for a body over ``MAX_CONTENT_LENGTH``, which says so (and how large each is)."""
        limit = self._max_content_length
        size = f" ({self.content_length} bytes)" if self.too_large else ""
        return RequestEntityTooLarge(f"The request body{size} is larger than MAX_CONTENT_LENGTH ({limit} bytes).")

    @property
    def complete(self) -> bool:
        """Whether the whole body has been received."""
        return self._complete

    async def receive_chunk(self) -> bytes:
        """The next chunk, ``b""`` at the end; raises 413 or 408 at the limits."""
        if self._complete:
            return b""
        if self._deadline is None:
            self._deadline = trio.current_time() + (self._timeout if self._timeout is not None else float("inf"))
        with trio.move_on_at(self._deadline):
            chunk = await self._receive()
            if not chunk:
                self._complete = True
                return b""
            self._received += len(chunk)
            if self._max_content_length is not None and self._received > self._max_content_length:
                raise self.too_large_error()
            return chunk
        raise RequestTimeout("The request body was not received in time.")

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self._data is not None:
            if self._data:
                yield self._data
            return
        while chunk := await self.receive_chunk():
            yield chunk

    async def read(self) -> bytes:
        """The whole body, kept for later calls."""
        if self._data is None:
            self._data = b"".join([chunk async for chunk in self])
        return self._data

    def __await__(self) -> Generator[Any, None, bytes]:
        return self.read().__await__()


def _empty_body() -> Body:
    body = Body(_no_body)
    body._complete, body._data = True, b""
    return body


#: The body of every request that has none. Reading a complete body changes
#: nothing, so one object serves them all.
EMPTY_BODY = _empty_body()


class Request(BaseRequestWebsocket):
    """An HTTP request; ``trioweb.request`` points at the current one."""

    #: The parser of form bodies; a subclass may choose its file class or spool size.
    form_data_parser_class: type[FormDataParser] = FormDataParser

    def __init__(
        self,
        method: str,
        scheme: str,
        path: str,
        query_string: bytes,
        headers: Headers,
        *,
        body: Body | None = None,
        root_path: str = "",
        http_version: str = "1.1",
        server: tuple[str, int | None] | None = None,
        remote_addr: str | None = None,
    ) -> None:
        # werkzeug's constructor directly: one frame less per request.
        SansIORequest.__init__(self, method, scheme, server, root_path, path, query_string, headers, remote_addr)
        self.http_version = http_version
        self.body = body if body is not None else EMPTY_BODY
        self._form: tuple[MultiDict[str, str], MultiDict[str, FileStorage]] | None = None
        self._json: Any = None
        self._json_loaded = False

    async def get_data(self, cache: bool = True, as_text: bool = False) -> Any:
        """The whole body as bytes (or text with ``as_text=True``)."""
        data = await self.body.read() if cache else b"".join([c async for c in self.body])
        return data.decode(self.mimetype_params.get("charset", "utf-8"), "replace") if as_text else data

    @property
    async def data(self) -> bytes:
        return await self.body.read()

    @property
    def is_json(self) -> bool:
        mimetype = self.mimetype
        return mimetype == "application/json" or (mimetype.startswith("application/") and mimetype.endswith("+json"))

    async def get_json(self, force: bool = False, silent: bool = False, cache: bool = True) -> Any:
        """The body parsed as JSON.

        ``None`` when the content type is not JSON (unless ``force``); a
        malformed body raises 400 (or gives ``None`` with ``silent``).
        """
        if cache and self._json_loaded:
            return self._json
        if not (force or self.is_json):
            if silent:
                return None
            raise BadRequest("The request's Content-Type is not application/json.")
        try:
            value = json.loads(await self.get_data(cache=cache))
        except ValueError as error:
            if silent:
                return None
            raise BadRequest(f"The request body is not valid JSON: {error}") from None
        if cache:
            self._json, self._json_loaded = value, True
        return value

    @property
    async def json(self) -> Any:
        return await self.get_json()

    @property
    def max_form_memory_size(self) -> int | None:
        """The app's ``MAX_FORM_MEMORY_SIZE``: the largest form field, in bytes, that is not a file."""
        return _form_limit("MAX_FORM_MEMORY_SIZE")

    @property
    def max_form_parts(self) -> int | None:
        """The app's ``MAX_FORM_PARTS``: the most fields and files a multipart form may have."""
        return _form_limit("MAX_FORM_PARTS")

    def make_form_data_parser(self) -> FormDataParser:
        return self.form_data_parser_class(
            max_form_memory_size=self.max_form_memory_size, max_form_parts=self.max_form_parts
        )

    async def _load_form(self) -> tuple[MultiDict[str, str], MultiDict[str, FileStorage]]:
        """Parse the body once, as it arrives (a multipart body is not kept whole)."""
        if self._form is None:
            parser = self.make_form_data_parser()
            try:
                self._form = await parser.parse(self.body, self.mimetype, self.mimetype_params)
            except ValueError as error:
                raise BadRequest(f"The form data could not be parsed: {error}") from None
        return self._form

    @property
    async def form(self) -> MultiDict[str, str]:
        """Fields of an urlencoded or multipart body (``await request.form``).

        A multipart body is parsed as it arrives and not kept: after it,
        ``get_data()`` gives ``b""`` (as in Flask) unless it was read first.
        A malformed body answers 400; the form limits answer 413.
        """
        return (await self._load_form())[0]

    @property
    async def files(self) -> MultiDict[str, FileStorage]:
        """Uploaded files of a multipart body (``await request.files``): save one with ``await file.save(path)``."""
        return (await self._load_form())[1]

    @property
    async def values(self) -> CombinedMultiDict[str, str]:
        """``args`` and ``form`` together."""
        return CombinedMultiDict([self.args, await self.form])


def _form_limit(name: str) -> int | None:
    """A setting of the app serving the current request (its default outside one)."""
    app = app_var.get(None)
    limit: int | None = app.config[name] if app is not None else DEFAULTS[name]
    return limit
