"""Reads and writes straight on a plain TCP socket, for when it is ready.

trio's ``SocketStream.receive_some`` and ``send_all`` each take a trip
through the scheduler, even when the socket has the bytes already or takes
them at once, which under load is nearly always. The server tries these
first and waits through trio only when the socket is not ready; the caller
keeps one checkpoint per exchange, so cancellation and fairness hold.
"""

from __future__ import annotations

import os

import trio

MAX_RECEIVE = 65536


def plain_socket(stream: trio.abc.Stream) -> trio.socket.SocketType | None:
    """The socket of a plain TCP stream on a POSIX system (not TLS, not a memory stream), else None."""
    if os.name == "posix" and type(stream) is trio.SocketStream:
        return stream.socket
    return None


def socket_fd(stream: trio.abc.Stream) -> int:
    """The file descriptor of :func:`plain_socket`, -1 if there is none (or it is closed)."""
    sock = plain_socket(stream)
    return sock.fileno() if sock is not None else -1


def read_now(fd: int, max_bytes: int = MAX_RECEIVE) -> bytes | None:
    """What the socket has received already (``b""`` at its end), or None if nothing yet."""
    if fd < 0:
        return None
    try:
        return os.read(fd, max_bytes)
    except BlockingIOError:
        return None
    except OSError:  # reset by the client: the end of the stream too
        return b""


def write_now(fd: int, data: bytes | bytearray | memoryview) -> int:
    """How much of ``data`` the socket takes at once (0 if full, or not a socket)."""
    if fd < 0:
        return 0
    try:
        return os.write(fd, data)
    except BlockingIOError:
        return 0
    except OSError as error:
        raise trio.BrokenResourceError("the client went away") from error
