"""Conditional and partial responses: RFC 9110's preconditions (13) and ranges (14) on any response.

``Response.make_conditional`` and ``Response.add_etag`` delegate here. The
headers are parsed by werkzeug (``parse_etags``, ``parse_date``,
``parse_range_header``, ``parse_if_range_header``, ``unquote_etag``); the
evaluation follows RFC 9110 13.2.2 in its order:

1. ``If-Match`` (strong comparison), else ``If-Unmodified-Since``: 412.
2. ``If-None-Match`` (weak comparison), else ``If-Modified-Since``: 304.
3. ``Range`` on a GET of a 200, unless ``If-Range`` names another version:
   206 with one range, ``multipart/byteranges`` with several, and 416 (with
   ``Content-Range: bytes */length``) when no range is satisfiable. A
   ``Range`` that does not parse, or in another unit, is ignored: the whole
   representation is sent (200), as RFC 9110 14.2 allows.

Only a 2xx response is made conditional (13.2.1), and only for GET and HEAD,
as in werkzeug and Quart. A range needs to know the length: a bytes body and
a :class:`~trioweb.files.FileBody` know theirs; a streamed body is sent whole.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from werkzeug.exceptions import RequestedRangeNotSatisfiable
from werkzeug.http import (
    generate_etag,
    parse_date,
    parse_etags,
    parse_if_range_header,
    parse_range_header,
    unquote_etag,
)

from .files import FileBody
from .wrappers.response import close_body, drop_content

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Sequence

    from werkzeug.datastructures import Headers

    from .wrappers.base import BaseRequestWebsocket
    from .wrappers.response import Response


#: The request headers that can change a response here.
_CONDITIONAL = frozenset({"if-match", "if-none-match", "if-modified-since", "if-unmodified-since", "range"})


async def make_conditional(
    response: Response,
    request: BaseRequestWebsocket,
    accept_ranges: bool | str = False,
    complete_length: int | None = None,
) -> Response:
    """Answer the request's conditional and range headers on ``response`` (changed in place, and returned).

    ``accept_ranges`` (``True`` for ``"bytes"``) sets ``Accept-Ranges`` and
    allows a range; ``complete_length`` is the length of the whole
    representation, for a body that does not know it. Raises werkzeug's
    ``RequestedRangeNotSatisfiable`` (416) for a range past the end, which
    the error handlers answer like any HTTP error.
    """
    if request.method not in ("GET", "HEAD") or not 200 <= response.status_code < 300:
        return response
    if accept_ranges:
        response.headers["Accept-Ranges"] = "bytes" if accept_ranges is True else accept_ranges
    headers = request.headers
    if _CONDITIONAL.isdisjoint([name.lower() for name, _ in headers.items()]):
        return response  # the common case: nothing to evaluate
    etag = response.headers.get("ETag")
    last_modified = response.last_modified
    status = precondition_status(headers, etag, last_modified)
    if status == 304:
        response.status_code = 304
        await drop_content(response)
    elif status == 412:
        response.status_code = 412
        await _replace_body(response, b"")
    elif (
        request.method == "GET"
        and accept_ranges
        and accept_ranges != "none"
        and response.status_code == 200
        and "Range" in headers
        and if_range_matches(headers.get("If-Range"), etag, last_modified)
    ):
        await _apply_range(response, headers.get("Range"), complete_length)
    return response


def precondition_status(headers: Headers, etag: str | None, last_modified: datetime | None) -> int | None:
    """412 or 304 if the request's preconditions say so (RFC 9110 13.2.2, steps 1 to 4), else None."""
    tag, weak = unquote_etag(etag) if etag else (None, False)
    if_match = headers.get("If-Match")
    if if_match:
        tags = parse_etags(if_match)
        if not (tags.star_tag or (tag is not None and not weak and tags.is_strong(tag))):
            return 412
    elif last_modified is not None and _seconds(last_modified) > _date(headers.get("If-Unmodified-Since"), NEVER):
        return 412
    if_none_match = headers.get("If-None-Match")
    if if_none_match:
        tags = parse_etags(if_none_match)
        if tags.star_tag or (tag is not None and tags.contains_weak(tag)):
            return 304
    elif last_modified is not None and _seconds(last_modified) <= _date(headers.get("If-Modified-Since"), DAWN):
        return 304
    return None


def if_range_matches(value: str | None, etag: str | None, last_modified: datetime | None) -> bool:
    """Whether a ``Range`` may be served: no ``If-Range``, or one naming this version (RFC 9110 13.1.5).

    An entity tag must match strongly (neither tag weak); a date must equal
    ``Last-Modified`` exactly. Anything else, a malformed value included,
    means the client's copy is another version: it gets the whole one.
    """
    if value is None:
        return True
    if_range = parse_if_range_header(value)
    if if_range.date is not None:
        return last_modified is not None and _seconds(last_modified) == if_range.date
    if if_range.etag is None or etag is None or value.lstrip().startswith("W/"):
        return False
    tag, weak = unquote_etag(etag)
    return not weak and tag == if_range.etag


def satisfiable_ranges(ranges: Sequence[tuple[int, int | None]], length: int) -> list[tuple[int, int]]:
    """The ``(start, stop)`` spans of werkzeug's parsed ranges that fall inside ``length`` bytes, clipped.

    A suffix longer than the representation selects all of it (RFC 9110 14.1.2).
    """
    spans = []
    for begin, end in ranges:
        if begin < 0:
            start, stop = max(0, length + begin), length
        else:
            start, stop = begin, length if end is None else min(end, length)
        if start < stop:
            spans.append((start, stop))
    return spans


async def _apply_range(response: Response, value: str | None, complete_length: int | None) -> None:
    body = response.body
    if isinstance(body, bytes):
        length: int | None = len(body)
    elif isinstance(body, FileBody):
        length = body.length
    else:
        return  # a stream: its bytes are not there to pick from, so all of it is sent
    if length is None:
        length = complete_length
    parsed = parse_range_header(value)
    if not length or parsed is None or parsed.units != "bytes":
        return  # empty (as werkzeug), malformed, or a unit we do not serve: 200 with everything
    spans = satisfiable_ranges(parsed.ranges, length)
    if not spans:
        await _replace_body(response, b"")
        raise RequestedRangeNotSatisfiable(length=length)
    response.status_code = 206
    if len(spans) == 1:
        start, stop = spans[0]
        response.headers["Content-Range"] = f"bytes {start}-{stop - 1}/{length}"
        response.headers["Content-Length"] = str(stop - start)
        if isinstance(body, bytes):
            response.body = body[start:stop]
        else:
            body.offset += start
            body.length = stop - start
        return
    boundary = secrets.token_hex(16)
    content_type = response.headers.get("Content-Type", "application/octet-stream")
    prefix = f"--{boundary}\r\nContent-Type: {content_type}\r\nContent-Range: bytes "
    heads = [f"{prefix}{start}-{stop - 1}/{length}\r\n\r\n".encode("latin-1") for start, stop in spans]
    tail = f"--{boundary}--\r\n".encode()
    size = sum(len(head) + stop - start + 2 for head, (start, stop) in zip(heads, spans, strict=True)) + len(tail)
    response.headers["Content-Type"] = f"multipart/byteranges; boundary={boundary}"
    response.headers["Content-Length"] = str(size)
    response.headers.remove("Content-Range")
    if isinstance(body, bytes):
        pieces: list[bytes] = []
        for head, (start, stop) in zip(heads, spans, strict=True):
            pieces += (head, body[start:stop], b"\r\n")
        response.body = b"".join([*pieces, tail])
    else:
        response.body = MultipartFile(body, spans, heads, tail)


class MultipartFile:
    """The parts of a ``multipart/byteranges`` response, each range read from the file at its offset.

    A class rather than a generator so that ``aclose`` closes the file even
    if iterating never started (a client gone before the head was written).
    """

    __slots__ = ("file", "heads", "spans", "tail")

    def __init__(self, file: FileBody, spans: list[tuple[int, int]], heads: list[bytes], tail: bytes) -> None:
        self.file, self.spans, self.heads, self.tail = file, spans, heads, tail

    def __aiter__(self) -> AsyncGenerator[bytes, None]:
        return self._parts()

    async def _parts(self) -> AsyncGenerator[bytes, None]:
        body = self.file
        base = body.offset
        for head, (start, stop) in zip(self.heads, self.spans, strict=True):
            yield head
            body.offset, body.length = base + start, stop - start
            async for chunk in body.chunks():
                yield chunk
            yield b"\r\n"
        yield self.tail

    async def aclose(self) -> None:
        await self.file.aclose()


async def _replace_body(response: Response, data: bytes) -> None:
    """Give ``response`` the body ``data``, closing a file or stream it had."""
    old = response.body
    response.set_data(data)
    await close_body(old)


async def add_etag(response: Response, overwrite: bool = False, weak: bool = False) -> None:
    """Set an ``ETag`` made from the body, unless there is one (or ``overwrite``).

    A bytes body is hashed (werkzeug's ``generate_etag``); a real file's tag
    comes from its ``fstat``, without reading it; a stream is read whole
    first (as Quart does), so keep ``add_etag`` for bodies that end.
    """
    if not overwrite and "ETag" in response.headers:
        return
    body = response.body
    if isinstance(body, FileBody):
        response.set_etag(await body.etag(), weak)
    else:
        response.set_etag(generate_etag(await response.get_data()), weak)


#: What a missing or malformed date stands for, so that the header changes nothing:
#: "unmodified since the end of time" (If-Unmodified-Since) and "modified
#: since the beginning" (If-Modified-Since).
NEVER = datetime.max.replace(tzinfo=UTC)
DAWN = datetime.min.replace(tzinfo=UTC)


def _date(value: str | None, missing: datetime) -> datetime:
    date = parse_date(value)
    return date if date is not None else missing


def _seconds(moment: datetime) -> datetime:
    """HTTP dates have no fraction of a second: compare without one."""
    return moment.replace(microsecond=0)
