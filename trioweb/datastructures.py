"""The uploaded file: werkzeug's ``FileStorage``, with an ``async`` save as in Quart."""

from __future__ import annotations

import os
from typing import IO

import trio
from werkzeug.datastructures import FileStorage as WerkzeugFileStorage

#: Bytes copied at a time by :meth:`FileStorage.save`, as werkzeug's.
SAVE_BUFFER_SIZE = 16 * 1024


class FileStorage(WerkzeugFileStorage):
    """A file from a multipart form: ``(await request.files)["photo"]``.

    Its ``filename``, ``name``, ``content_type``, ``headers`` and ``stream``
    are werkzeug's. A small file is in memory; one over 500 kB is in a
    temporary file, which is deleted once the object is gone.
    """

    async def save(  # type: ignore[override]  # async, unlike werkzeug's
        self, dst: str | os.PathLike[str] | IO[bytes], buffer_size: int = SAVE_BUFFER_SIZE
    ) -> None:
        """Copy the file to ``dst``, a path or a binary file object, ``buffer_size`` bytes at a time.

        The copy runs in a worker thread, so that a slow disk holds up no
        other request. A path is opened (and truncated), written and closed;
        a file object is written to and left open. The copy starts where the
        stream is: at the beginning, unless the file was read before.
        """
        await trio.to_thread.run_sync(super().save, dst, buffer_size)


__all__ = ["FileStorage"]
