"""Sending files: ``send_file``, ``send_from_directory``, and ``FileBody``, a file response's body.

Flask's and Quart's semantics (werkzeug's ``send_file`` is the model for the
headers), done the trio way:

* Every touch of the disk runs in a worker thread, never on the trio thread.
  A path costs one thread call: it opens the file, ``fstat``\\ s it, and, for
  a file of at most :data:`SMALL_FILE_SIZE`, reads it whole and closes it, so
  a small static file becomes an ordinary bytes response (written with its
  head in one write). Requests that open files at the same moment share
  that call (:class:`OpenBatch`). Nothing is cached: each request sees the
  file as it is.
* A larger file stays open in a :class:`FileBody` and is sent in chunks of
  :data:`CHUNK_SIZE`, never read whole. The native server hands a
  ``FileBody`` of a regular file to ``os.sendfile`` on a plain TCP socket
  (``trioweb/server/_sendfile.py``); every other server iterates it.
* The size and the validators (``ETag``, ``Last-Modified``) come from the
  same ``fstat`` of the open file, so they describe the bytes that are sent
  even if the file is replaced in the meantime.
"""

from __future__ import annotations

import errno
import functools
import hashlib
import io
import mimetypes
import os
import stat
import time
import unicodedata
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from datetime import datetime
from typing import IO, TYPE_CHECKING, Any, NamedTuple
from urllib.parse import quote
from zlib import adler32

import trio
from werkzeug.exceptions import NotFound
from werkzeug.http import dump_options_header, http_date, quote_etag
from werkzeug.security import safe_join
from werkzeug.utils import get_content_type

from .ctx import app_var, request_var
from .wrappers.base import trusted_headers

if TYPE_CHECKING:
    from .app import App
    from .wrappers.response import Response

KiB = 1024
#: A file up to this size is read whole by the thread call that opens it.
SMALL_FILE_SIZE = 64 * KiB
#: The size of each read of a larger file (the chunked path; ``os.sendfile`` takes what the socket takes).
CHUNK_SIZE = 128 * KiB

#: The errors of opening a path that mean "there is no file there" to a client.
_MISSING = frozenset({errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.ENAMETOOLONG, errno.ELOOP, errno.ENXIO})

MaxAge = int | Callable[[str | None], int | None] | None


class NotAFileError(IsADirectoryError):
    """The path names something that is not a regular file (a directory, a FIFO, a device)."""


class FileBody:
    """``length`` bytes of an open binary file from ``offset``: the body of a file response.

    It is an async iterable of chunks, so every server can send it without
    knowing about files; ``fd`` is the descriptor of a regular file (``-1``
    otherwise, e.g. for a ``BytesIO``), which the native server gives to
    ``os.sendfile``. Reads of a real file happen in a worker thread, with
    ``os.pread`` at an explicit position, so a range starts where it starts
    instead of being read from the beginning. The body owns the file: it is
    closed once sent, or when the response is dropped (a 304, a HEAD).
    ``length`` is ``None`` only for a file object whose size cannot be told
    (not seekable): it is sent to its end, with chunked encoding.
    """

    __slots__ = ("_closed", "chunk_size", "fd", "file", "length", "offset", "path")

    def __init__(
        self,
        file: IO[bytes],
        offset: int = 0,
        length: int | None = None,
        *,
        fd: int = -1,
        path: str | None = None,
        chunk_size: int = CHUNK_SIZE,
    ) -> None:
        self.file = file
        self.offset = offset
        self.length = length
        self.fd = fd
        self.path = path
        self.chunk_size = chunk_size
        self._closed = False

    def __repr__(self) -> str:
        name = self.path or type(self.file).__name__
        return f"<FileBody {name!r} offset={self.offset} length={self.length}>"

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self.chunks()

    async def chunks(self) -> AsyncGenerator[bytes, None]:
        """The bytes from ``offset``, a chunk at a time; an error if the file ends before ``length``."""
        position, remaining = self.offset, self.length
        while remaining is None or remaining > 0:
            size = self.chunk_size if remaining is None else min(self.chunk_size, remaining)
            data = await self.read_at(position, size)
            if not data:
                if remaining is None:
                    return
                raise OSError(f"{self!r} ended {remaining} bytes early: the file shrank while it was being sent")
            position += len(data)
            if remaining is not None:
                remaining -= len(data)
            yield data

    async def read_at(self, position: int, size: int) -> bytes:
        """Up to ``size`` bytes at ``position``: a thread for a real file, inline for one in memory."""
        file = self.file
        if self.fd >= 0:
            return await trio.to_thread.run_sync(os.pread, self.fd, size, position)
        if isinstance(file, io.BytesIO):
            return bytes(file.getbuffer()[position : position + size])
        return await trio.to_thread.run_sync(_seek_and_read, file, position, size)

    async def etag(self) -> str:
        """An ETag for these bytes without reading a real file: werkzeug's ``mtime-size-check``.

        A file in memory (or one that cannot be stat'ed) is hashed, a chunk at a time.
        """
        if self.fd >= 0:
            info = await trio.to_thread.run_sync(os.fstat, self.fd)
            check = adler32(self.path.encode()) if self.path is not None else info.st_ino
            return f"{info.st_mtime}-{self.length}-{check & 0xFFFFFFFF}-{self.offset}"
        digest = hashlib.sha1()
        async for chunk in self:
            digest.update(chunk)
        return digest.hexdigest()

    async def aclose(self) -> None:
        """Close the file (once)."""
        if not self._closed:
            self._closed = True
            self.file.close()


def _seek_and_read(file: IO[bytes], position: int, size: int) -> bytes:
    file.seek(position)
    return file.read(size)


class Opened(NamedTuple):
    """What the one thread call of :func:`open_file` found: the whole content or the open file."""

    data: bytes | None
    file: IO[bytes] | None
    fd: int
    size: int
    mtime: float


def open_file(path: str) -> Opened:
    """Open ``path`` and ``fstat`` it; a small file is read whole and closed (run in a thread).

    ``O_NONBLOCK`` makes opening a FIFO return at once rather than hang the
    thread; it changes nothing for a regular file, and anything else is
    refused with :class:`NotAFileError`.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotAFileError(errno.EISDIR, "not a regular file", path)
        size = info.st_size
        if size <= SMALL_FILE_SIZE:
            data = os.pread(fd, size, 0)
            os.close(fd)
            return Opened(data, None, -1, len(data), info.st_mtime)  # a file that shrank: what was read
        return Opened(None, io.FileIO(fd, "rb", closefd=True), fd, size, info.st_mtime)
    except BaseException:
        os.close(fd)
        raise


#: The most paths one worker-thread call opens: a slow disk delays at most this many requests.
MAX_BATCH = 16


class OpenBatch:
    """Paths to open in one worker-thread call, for requests that arrive together.

    Under load many requests for small files are waiting at once, and a
    thread round trip for each would cost more than the rest of the request
    (the worker waits for the GIL, then for trio to notice it is done). The
    first request of a batch lets the requests of the same scheduling round
    join, then opens them all in one call; the others wait for it. The
    thread call is not cancelled (it is short, and its files must be
    accounted for): a request cancelled while it waits has its file closed
    by whoever ran the batch.
    """

    __slots__ = ("abandoned", "done", "paths", "results", "started")

    def __init__(self) -> None:
        self.paths: list[str] = []
        self.results: list[Opened | Exception] = []
        self.abandoned: set[int] = set()
        self.done = trio.Event()
        self.started = False

    def run(self) -> None:
        """Open every path (in the worker thread); an error is that path's result."""
        for path in self.paths:
            try:
                self.results.append(open_file(path))
            except Exception as error:
                self.results.append(error)

    def close_abandoned(self) -> None:
        for index in self.abandoned:
            result = self.results[index]
            if isinstance(result, Opened) and result.file is not None:
                result.file.close()


_open_batch: trio.lowlevel.RunVar[OpenBatch | None] = trio.lowlevel.RunVar("trioweb.files.open_batch", None)


async def open_in_thread(path: str) -> Opened:
    """:func:`open_file` in a worker thread, batched with the requests that open a file at the same time."""
    batch = _open_batch.get()
    if batch is None or batch.started or len(batch.paths) >= MAX_BATCH:
        batch = OpenBatch()
        batch.paths.append(path)
        _open_batch.set(batch)
        try:
            await trio.lowlevel.cancel_shielded_checkpoint()  # the others of this round join
            batch.started = True
            await trio.to_thread.run_sync(batch.run)  # waits for the thread even if cancelled
        finally:
            batch.started = True
            if _open_batch.get() is batch:
                _open_batch.set(None)
            if len(batch.results) == len(batch.paths):
                batch.close_abandoned()
            batch.done.set()
        result = batch.results[0]
    else:
        index = len(batch.paths)
        batch.paths.append(path)
        try:
            await batch.done.wait()
        except BaseException:
            batch.abandoned.add(index)
            raise
        if len(batch.results) <= index:  # the thread itself failed: open this one alone
            return await trio.to_thread.run_sync(open_file, path)
        result = batch.results[index]
    if isinstance(result, Exception):
        raise result
    return result


def probe_file(file: IO[bytes]) -> tuple[int, int | None, int]:
    """A file object's current position, the bytes from there to its end (None if unknown), and its
    descriptor if it is a regular file (else -1). Run in a thread: ``fstat`` and ``seek`` may touch the disk."""
    fd = -1
    try:
        candidate = file.fileno()
        if stat.S_ISREG(os.fstat(candidate).st_mode):
            fd = candidate
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is an OSError and a ValueError
        pass
    try:
        if not file.seekable():
            return 0, None, -1
        start = file.tell()
        end = file.seek(0, os.SEEK_END)
        file.seek(start)
    except (AttributeError, OSError, ValueError):
        return 0, None, -1
    return start, max(0, end - start), fd


def _app(function: str) -> App:
    app = app_var.get(None)
    if app is None:
        raise RuntimeError(f"{function}() needs the app: call it in a view (or inside app.test_request_context())")
    return app


async def send_file(
    path_or_file: str | os.PathLike[str] | IO[bytes] | bytes,
    mimetype: str | None = None,
    as_attachment: bool = False,
    download_name: str | None = None,
    conditional: bool = True,
    etag: bool | str = True,
    last_modified: datetime | int | float | None = None,
    max_age: MaxAge = None,
) -> Response:
    """A response that sends a file: a path (relative to the app's ``root_path``), a binary file
    object (sent from its position, and closed once sent) or bytes.

    Flask's and Quart's arguments: the ``Content-Type`` is guessed from
    ``download_name`` (the path's file name by default); ``as_attachment``
    asks the browser to save it (``Content-Disposition``, with RFC 6266's
    ``filename*`` for a name that is not ASCII); ``etag`` (``True``: made
    from the file's modification time, size and path; or a string),
    ``last_modified`` and ``max_age`` (seconds, or a function of the path;
    ``None`` asks ``app.get_send_file_max_age``, which reads
    ``SEND_FILE_MAX_AGE_DEFAULT``) set the caching headers; ``conditional``
    answers ``If-None-Match``, ``If-Modified-Since``, ``Range`` and the
    rest (see :meth:`Response.make_conditional`). A path that does not exist
    raises ``FileNotFoundError``: a client's path goes through
    :func:`send_from_directory`, which answers 404 instead.
    """
    app = _app("send_file")
    options = _options(mimetype, as_attachment, download_name, conditional, etag, last_modified, max_age)
    if isinstance(path_or_file, bytes):
        return await _respond(app, path_or_file, len(path_or_file), None, None, options)
    if isinstance(path_or_file, str | os.PathLike):
        path = os.path.join(app.root_path, os.fspath(path_or_file))
        opened = await open_in_thread(path)
        return await _respond_opened(app, opened, path, options)
    if isinstance(path_or_file, io.TextIOBase):
        raise TypeError("send_file() needs a file opened in binary mode ('rb'), or a BytesIO, not a text file")
    file = path_or_file
    size: int | None
    if isinstance(file, io.BytesIO):
        start, size, fd = file.tell(), max(0, file.getbuffer().nbytes - file.tell()), -1
    else:
        start, size, fd = await trio.to_thread.run_sync(probe_file, file)
    return await _respond(app, FileBody(file, start, size, fd=fd), size, None, None, options)


async def send_from_directory(directory: str | os.PathLike[str], path: str, **kwargs: Any) -> Response:
    """Send the file ``path`` names inside ``directory`` (relative to the app's ``root_path``).

    ``path`` usually comes from the URL, so it is joined with werkzeug's
    ``safe_join``: a path that would leave the directory, and a path where no
    regular file is (missing, a directory, a FIFO), answer 404, with no path
    in the body. The keyword arguments are :func:`send_file`'s.
    """
    app = _app("send_from_directory")
    options = _options(**kwargs)  # a misspelt argument is a TypeError, as in send_file
    root = os.path.join(app.root_path, os.fspath(directory))
    joined = safe_join(root, path)
    if joined is None or "\0" in joined:
        raise NotFound()
    try:
        opened = await open_in_thread(joined)
    except OSError as error:
        if error.errno in _MISSING:
            raise NotFound() from None
        raise
    return await _respond_opened(app, opened, joined, options)


def _options(
    mimetype: str | None = None,
    as_attachment: bool = False,
    download_name: str | None = None,
    conditional: bool = True,
    etag: bool | str = True,
    last_modified: datetime | int | float | None = None,
    max_age: MaxAge = None,
) -> dict[str, Any]:
    """send_file's keyword arguments, by name."""
    return {
        "mimetype": mimetype,
        "as_attachment": as_attachment,
        "download_name": download_name,
        "conditional": conditional,
        "etag": etag,
        "last_modified": last_modified,
        "max_age": max_age,
    }


async def _respond_opened(app: App, opened: Opened, path: str, options: dict[str, Any]) -> Response:
    if opened.data is not None:
        return await _respond(app, opened.data, opened.size, path, opened.mtime, options)
    assert opened.file is not None
    body = FileBody(opened.file, 0, opened.size, fd=opened.fd, path=path)
    return await _respond(app, body, opened.size, path, opened.mtime, options)


async def _respond(
    app: App,
    body: bytes | FileBody,
    size: int | None,
    path: str | None,
    mtime: float | None,
    options: dict[str, Any],
) -> Response:
    """The response for ``body``, with werkzeug's ``send_file`` headers; the file is closed on an error."""
    try:
        response = _file_response(
            app,
            body,
            size,
            path,
            mtime,
            mimetype=options["mimetype"],
            as_attachment=options["as_attachment"],
            download_name=options["download_name"],
            etag=options["etag"],
            last_modified=options["last_modified"],
            max_age=options["max_age"],
        )
        if options["conditional"]:
            request = request_var.get(None)
            if request is None:
                raise RuntimeError(
                    "send_file(conditional=True) answers the request's conditional headers, and there is no "
                    "request here: call it in a view, or pass conditional=False"
                )
            await response.make_conditional(request, accept_ranges=True, complete_length=size)
    except BaseException:
        if isinstance(body, FileBody):
            await body.aclose()
        raise
    return response


def _file_response(
    app: App,
    body: bytes | FileBody,
    size: int | None,
    path: str | None,
    mtime: float | None,
    *,
    mimetype: str | None,
    as_attachment: bool,
    download_name: str | None,
    etag: bool | str,
    last_modified: datetime | int | float | None,
    max_age: MaxAge,
) -> Response:
    # The headers are built as a list, as werkzeug's send_file would set them
    # one by one: on a small static file that is most of the work of a request.
    items: list[tuple[str, str]] = []
    if download_name is None and path is not None:
        download_name = os.path.basename(path)
    if mimetype is None:
        if download_name is None:
            raise TypeError(
                "send_file() cannot guess the MIME type without a file name: "
                "set download_name=..., pass a path instead of a file, or set mimetype=..."
            )
        mimetype, encoding = _guess_type(download_name)
        # Not for attachments: browsers would save a .tar.gz decompressed.
        if encoding is not None and not as_attachment:
            items.append(("Content-Encoding", encoding))
    items.append(("Content-Type", get_content_type(mimetype, "utf-8")))
    if size is not None:
        items.append(("Content-Length", str(size)))  # else sent chunked, to the file's end
    if download_name is not None:
        kind = "attachment" if as_attachment else "inline"
        items.append(("Content-Disposition", dump_options_header(kind, _disposition(download_name))))
    elif as_attachment:
        raise TypeError("send_file(as_attachment=True) needs a name: set download_name=..., or pass a path")
    if last_modified is None:
        last_modified = mtime
    if last_modified is not None:
        items.append(("Last-Modified", http_date(last_modified)))
    if max_age is None:
        max_age = app.get_send_file_max_age(path)
    elif callable(max_age):
        max_age = max_age(path)
    if max_age is None:
        items.append(("Cache-Control", "no-cache"))
    else:
        items.append(("Cache-Control", f"public, max-age={max_age}" if max_age > 0 else f"no-cache, max-age={max_age}"))
        items.append(("Expires", http_date(int(time.time() + max_age))))
    if isinstance(etag, str):
        items.append(("ETag", quote_etag(etag)))
    elif etag and path is not None:
        items.append(("ETag", f'"{mtime}-{size}-{adler32(path.encode()) & 0xFFFFFFFF}"'))
    response = app.response_class(b"")
    response.headers = trusted_headers(items)
    response.body = body
    return response


@functools.lru_cache(maxsize=512)
def _guess_type(name: str) -> tuple[str, str | None]:
    """The type and encoding for a file name (mimetypes' answer never changes while the process runs)."""
    mimetype, encoding = mimetypes.guess_type(name)
    return mimetype or "application/octet-stream", encoding


def _disposition(name: str) -> dict[str, str]:
    """``Content-Disposition`` parameters for ``name``: werkzeug's, with ``filename*`` for a name that is not ASCII.

    A control character (a newline in a file's name, or in a ``download_name``
    taken from a user) cannot go in a header: the name goes in ``filename*``,
    percent-encoded, and the plain ``filename`` goes without it. (werkzeug
    raises, a 500; here the file is sent.)
    """
    if name.isascii() and name.isprintable():
        return {"filename": name}
    simple = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    simple = "".join(character for character in simple if character.isprintable())
    return {"filename": simple, "filename*": f"UTF-8''{quote(name, safe='!#$&+-.^_`|~')}"}


__all__ = ["CHUNK_SIZE", "SMALL_FILE_SIZE", "FileBody", "NotAFileError", "send_file", "send_from_directory"]
