"""A file body onto a plain TCP socket with ``os.sendfile``: zero copy, the kernel moves the bytes.

Used by ``HTTPConnection.send_response`` for a :class:`~trioweb.files.FileBody`
of a regular file on a plain TCP socket (not TLS, not a memory stream: they
need the bytes in Python, and get the chunked path). Each ``sendfile`` call
runs in a worker thread, since reading a file whose pages are not in the page
cache blocks, and that must not stall the trio thread. The socket stays
non-blocking: a call sends what the socket buffer takes and returns, and on
``EAGAIN`` the task waits for it to drain with trio's ``wait_writable``, so a
slow client holds no thread while it waits, and no memory. Every successful
call is followed by a checkpoint, so a client that leaves (the watcher
cancels the exchange) or a timeout stops the send between two calls.

h11 keeps the framing: the body goes through ``send_with_data_passthrough``
with a placeholder of the right length, which h11's documentation describes
for exactly this, so its ``Content-Length`` bookkeeping holds and the pieces
it adds around the data (a chunk header) are written as they are.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

import h11
import trio

from ..files import FileBody

logger = logging.getLogger("trioweb.server")

#: The most one ``sendfile`` call is asked to send: one call per checkpoint.
MAX_SENDFILE = 4 << 20


class FileSpan:
    """h11's placeholder for a body it passes through: only its length matters."""

    __slots__ = ("length",)

    def __init__(self, length: int) -> None:
        self.length = length

    def __len__(self) -> int:
        return self.length


def can_sendfile(body: object, stream: trio.abc.Stream) -> bool:
    """Whether ``body`` is a regular file of known length going to a plain TCP socket."""
    return (
        type(body) is FileBody
        and body.fd >= 0
        and body.length is not None
        and type(stream) is trio.SocketStream
        and hasattr(os, "sendfile")
    )


async def send_file_body(
    conn: h11.Connection, stream: trio.SocketStream, body: FileBody, progress: Callable[[], None]
) -> int:
    """Send ``body`` through ``conn``'s framing, the file's bytes with ``os.sendfile``; the bytes sent.

    ``progress`` is called after each write that moved bytes (the response
    timeout restarts there). Raises ``trio.BrokenResourceError`` when the
    client has gone, and ``OSError`` if the file shrank under the response.
    """
    assert body.length is not None
    sock = stream.socket
    sent = 0
    pieces = conn.send_with_data_passthrough(h11.Data(data=FileSpan(body.length)))  # type: ignore[arg-type]
    assert pieces is not None
    for piece in pieces:
        if isinstance(piece, FileSpan):
            sent = await _sendfile(sock, body, progress)
        else:
            await stream.send_all(piece)
    logger.debug("%d bytes of %r sent with os.sendfile", sent, body)
    return sent


async def _sendfile(sock: trio.socket.SocketType, body: FileBody, progress: Callable[[], None]) -> int:
    assert body.length is not None
    socket_fd, file_fd = sock.fileno(), body.fd
    offset, remaining = body.offset, body.length
    while remaining > 0:
        try:
            # In a worker thread: the socket is non-blocking, but reading the file is
            # not, and a page that is not in the page cache would stall the trio
            # thread. Not abandoned on a cancel: the call returns as soon as the
            # socket buffer is full, and the descriptors must outlive it.
            count = await trio.to_thread.run_sync(os.sendfile, socket_fd, file_fd, offset, min(remaining, MAX_SENDFILE))
        except BlockingIOError:
            await trio.lowlevel.wait_writable(sock)
            continue
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError) as error:
            raise trio.BrokenResourceError("the client went away") from error
        if count == 0:
            raise OSError(f"{body!r} ended {remaining} bytes early: the file shrank while it was being sent")
        offset += count
        remaining -= count
        progress()
        await trio.lowlevel.checkpoint()
    return body.length
