"""Serving an app on a real socket for a test, with trioweb's own server."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import trio

from trioweb import App, serve


@asynccontextmanager
async def serving(app: App) -> AsyncIterator[str]:
    """Serve ``app`` on 127.0.0.1 on a free port; yields ``host:port``, stops after the block."""
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(functools.partial(serve, app, host="127.0.0.1", port=0))
        host, port = listeners[0].socket.getsockname()[:2]
        yield f"{host}:{port}"
        nursery.cancel_scope.cancel()
