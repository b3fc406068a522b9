from __future__ import annotations

import functools
from collections.abc import AsyncIterator

import pytest
import trio

from trioweb import App, serve


@pytest.fixture
def app() -> App:
    return App(__name__)


@pytest.fixture
async def live_server(app: App, nursery: trio.Nursery) -> AsyncIterator[str]:
    """The app on a real socket on 127.0.0.1; yields ``host:port``."""
    listeners = await nursery.start(functools.partial(serve, app, host="127.0.0.1", port=0))
    host, port = listeners[0].socket.getsockname()[:2]
    yield f"{host}:{port}"


async def raw_exchange(address: str, data: bytes, *, read_until_close: bool = True) -> bytes:
    """Send raw bytes to the server and read what comes back until it closes."""
    host, port = address.rsplit(":", 1)
    stream = await trio.open_tcp_stream(host, int(port))
    async with stream:
        await stream.send_all(data)
        received = b""
        with trio.fail_after(5):
            while chunk := await stream.receive_some(65536):
                received += chunk
                if not read_until_close and b"\r\n\r\n" in received:
                    break
        return received
