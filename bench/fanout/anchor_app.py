"""The anchor of the fan-out benchmark: Starlette + ``broadcaster`` on uvicorn (asyncio).

    FANOUT_BROADCAST_URL=redis://127.0.0.1:6379 uvicorn bench.fanout.anchor_app:app --workers 2

``/ws`` subscribes to the channel ``fanout``, sends ``hello <pid>`` once the
subscription is in place (so the load client knows where it landed and when
it is subscribed), then forwards every message as text. ``POST /publish``
publishes its body and answers ``ok <pid>``. The same two endpoints as ``trioweb_app.py``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator

import anyio
from broadcaster import Broadcast
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

CHANNEL = "fanout"
broadcast = Broadcast(os.environ.get("FANOUT_BROADCAST_URL", "memory://"))


async def subscribe(websocket: WebSocket) -> None:
    await websocket.accept()
    async with anyio.create_task_group() as group:

        async def until_closed() -> None:  # the client never sends: a receive returns when it closes
            with contextlib.suppress(WebSocketDisconnect):
                while True:
                    await websocket.receive_text()
            group.cancel_scope.cancel()

        group.start_soon(until_closed)
        async with broadcast.subscribe(channel=CHANNEL) as subscriber:
            await websocket.send_text(f"hello {os.getpid()}")
            async for event in subscriber:
                await websocket.send_text(event.message)


async def publish(request: Request) -> PlainTextResponse:
    await broadcast.publish(channel=CHANNEL, message=(await request.body()).decode())
    return PlainTextResponse(f"ok {os.getpid()}")  # the driver waits until it has seen every worker


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    async with broadcast:
        yield


app = Starlette(
    routes=[WebSocketRoute("/ws", subscribe), Route("/publish", publish, methods=["POST"])],
    lifespan=lifespan,
)
