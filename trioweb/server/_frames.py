"""Websocket frames as this server writes them: final, unmasked, with no extension.

Kept apart from the session's I/O so that what encodes a message once for
many sockets (a broadcast's forwarding, ``Message.frame``) can share it.
"""

from __future__ import annotations


def close_frame(code: int, reason: str) -> bytes:
    """A close frame as a server sends it (final, unmasked)."""
    # A control frame carries at most 125 bytes; the reason stays valid UTF-8.
    payload = code.to_bytes(2, "big") + reason.encode()[:123].decode(errors="ignore").encode()
    return bytes((0x88, len(payload))) + payload


def data_frame(data: str | bytes) -> bytes:
    """A message as one final, unmasked data frame: what wsproto writes for it on this server.

    The server negotiates no extension and trio-websocket never fragments,
    so wsproto's general encoder (a bytearray copy, the extensions' loop, a
    fragment state) is ~10 % of a fan-out's time for the same few bytes.
    """
    if isinstance(data, str):
        return encoded_frame(data.encode(), text=True)
    return encoded_frame(data, text=False)


def encoded_frame(payload: bytes, *, text: bool) -> bytes:
    """A text (``payload`` is UTF-8 already) or binary data frame around ``payload``."""
    first = 0x81 if text else 0x82  # FIN + the opcode
    length = len(payload)
    if length < 126:
        return bytes((first, length)) + payload
    if length < 65536:
        return bytes((first, 126)) + length.to_bytes(2, "big") + payload
    return bytes((first, 127)) + length.to_bytes(8, "big") + payload
