"""Form bodies: urlencoded read whole, multipart parsed as its chunks arrive.

A multipart body is never held whole. Its fields are kept in memory, each up
to ``MAX_FORM_MEMORY_SIZE``; its files are written out as they come, to
memory while small and to a temporary file beyond ``spool_size`` (500 kB, as
werkzeug's default). Writes to a temporary file, and its creation, run in a
worker thread, so that a slow disk holds up no other request.
"""

from __future__ import annotations

import io
import tempfile
import weakref
from collections.abc import Mapping
from typing import IO, TYPE_CHECKING

import trio
from werkzeug.datastructures import Headers, MultiDict
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.formparser import FormDataParser as WerkzeugFormDataParser
from werkzeug.http import parse_options_header
from werkzeug.sansio.multipart import Data, Epilogue, Field, File, MultipartDecoder, NeedData, State

from .datastructures import FileStorage

if TYPE_CHECKING:
    from .wrappers.request import Body

Form = tuple[MultiDict[str, str], MultiDict[str, FileStorage]]

#: Decoder states in which its buffer holds no value, only headers (or a preamble, an epilogue).
_BETWEEN_VALUES = frozenset({State.PREAMBLE, State.PART, State.EPILOGUE})

#: The charsets a part may declare for its text; anything else is read as UTF-8.
PART_CHARSETS = frozenset({"utf-8", "ascii", "us-ascii", "iso-8859-1"})


class FormDataParser:
    """Parses ``application/x-www-form-urlencoded`` and ``multipart/form-data`` bodies.

    ``Request.form_data_parser_class`` names the class to use: a subclass
    may set ``file_storage_class`` or ``spool_size``.
    """

    #: The class of each uploaded file in ``request.files``.
    file_storage_class: type[FileStorage] = FileStorage
    #: A file part larger than this many bytes is kept in a temporary file, not in memory.
    spool_size: int = 500 * 1024

    def __init__(self, *, max_form_memory_size: int | None = None, max_form_parts: int | None = None) -> None:
        self.max_form_memory_size = max_form_memory_size
        self.max_form_parts = max_form_parts

    async def parse(self, body: Body, mimetype: str, options: Mapping[str, str]) -> Form:
        """The fields and the files of ``body``; empty for another content type.

        Raises ``ValueError`` for a malformed body, and 413
        (``RequestEntityTooLarge``, saying which limit) at a limit.
        """
        if mimetype == "multipart/form-data":
            boundary = options.get("boundary", "")
            if not boundary:
                raise ValueError("Missing boundary")
            return await _MultipartReader(self, boundary.encode("ascii")).read(body)
        if mimetype == "application/x-www-form-urlencoded":
            data = await body.read()
            _, form, _ = WerkzeugFormDataParser(cls=MultiDict, silent=False).parse(
                io.BytesIO(data), mimetype, len(data), dict(options)
            )
            return form, MultiDict()
        return MultiDict(), MultiDict()

    def too_many_parts(self) -> RequestEntityTooLarge:
        return RequestEntityTooLarge(f"The form has more than {self.max_form_parts} parts (MAX_FORM_PARTS).")

    def field_too_large(self) -> RequestEntityTooLarge:
        return RequestEntityTooLarge(
            f"A form field is larger than {self.max_form_memory_size} bytes (MAX_FORM_MEMORY_SIZE); "
            "send large values as files."
        )

    def headers_too_large(self) -> RequestEntityTooLarge:
        return RequestEntityTooLarge(
            f"More than {self.max_form_memory_size} bytes of the form are part headers or preamble "
            "(MAX_FORM_MEMORY_SIZE)."
        )


class _Spool:
    """One file part's bytes: in memory up to ``limit``, then in a temporary file."""

    def __init__(self, limit: int) -> None:
        self.file: IO[bytes] = io.BytesIO()
        self.size = 0
        self.limit = limit
        self.on_disk = False

    async def write(self, data: bytes) -> None:
        self.size += len(data)
        if self.on_disk:
            await trio.to_thread.run_sync(self.file.write, data)
        elif self.size > self.limit:
            await trio.to_thread.run_sync(self._move_to_disk, data)
        else:
            self.file.write(data)

    def _move_to_disk(self, data: bytes) -> None:
        """In a worker thread. ``self.file`` is set here, so that a cancelled wait cannot lose it."""
        assert isinstance(self.file, io.BytesIO)
        kept = self.file.getvalue()
        self.file = tempfile.TemporaryFile("w+b")  # noqa: SIM115 - closed with the upload
        self.on_disk = True
        self.file.write(kept)
        self.file.write(data)

    async def rewind(self) -> IO[bytes]:
        if self.on_disk:
            await trio.to_thread.run_sync(self.file.seek, 0)
        else:
            self.file.seek(0)
        return self.file

    def close(self) -> None:
        self.file.close()


class _MultipartReader:
    """The state of one multipart body being read: the part in progress and what is done."""

    def __init__(self, parser: FormDataParser, boundary: bytes) -> None:
        self.parser = parser
        self.decoder = MultipartDecoder(boundary)
        self.fields: list[tuple[str, str]] = []
        self.files: list[tuple[str, FileStorage]] = []
        self.spools: list[_Spool] = []
        self.parts = 0
        self.part: Field | File | None = None
        self.value: list[bytes] = []
        self.value_size = 0
        self.spool: _Spool | None = None

    async def read(self, body: Body) -> Form:
        try:
            async for chunk in body:
                await self.feed(chunk)
            await self.feed(None)
        except BaseException:
            for spool in self.spools:
                spool.close()
            raise
        return MultiDict(self.fields), MultiDict(self.files)

    async def feed(self, data: bytes | None) -> None:
        """Give the decoder ``data`` (``None`` at the end of the body) and handle what it makes of it."""
        decoder = self.decoder
        decoder.receive_data(data)
        while True:
            event = decoder.next_event()
            if isinstance(event, NeedData | Epilogue):
                break
            if isinstance(event, Field | File):
                self.start(event)
            elif isinstance(event, Data):
                await self.take(event)
        # Between the parts the buffer holds headers (or a preamble, an
        # epilogue) still incomplete; within a value, only a boundary's length.
        limit = self.parser.max_form_memory_size
        if limit is not None and decoder.state in _BETWEEN_VALUES and len(decoder.buffer) > limit:
            raise self.parser.headers_too_large()

    def start(self, part: Field | File) -> None:
        self.parts += 1
        limit = self.parser.max_form_parts
        if limit is not None and self.parts > limit:
            raise self.parser.too_many_parts()
        self.part = part
        if isinstance(part, File):
            self.spool = _Spool(self.parser.spool_size)
            self.spools.append(self.spool)
        else:
            self.value = []
            self.value_size = 0

    async def take(self, data: Data) -> None:
        part = self.part
        if isinstance(part, File):
            assert self.spool is not None
            await self.spool.write(data.data)
            if not data.more_data:
                stream = await self.spool.rewind()
                storage = self.parser.file_storage_class(stream, part.filename, part.name, headers=part.headers)
                if self.spool.on_disk:
                    # Closed, and so deleted, when the FileStorage is: a view may keep it past the request.
                    weakref.finalize(storage, stream.close)
                self.files.append((part.name, storage))
        elif part is not None:
            self.value_size += len(data.data)
            limit = self.parser.max_form_memory_size
            if limit is not None and self.value_size > limit:
                raise self.parser.field_too_large()
            self.value.append(data.data)
            if not data.more_data:
                self.fields.append((part.name, b"".join(self.value).decode(_charset(part.headers), "replace")))


def _charset(headers: Headers) -> str:
    charset = parse_options_header(headers.get("Content-Type"))[1].get("charset", "").lower()
    return charset if charset in PART_CHARSETS else "utf-8"


__all__ = ["FormDataParser"]
