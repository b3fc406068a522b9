"""trioweb's side of the fan-out benchmark: the same two endpoints as ``anchor_app.py``.

    FANOUT_BROADCAST_URL=redis://127.0.0.1:6379/0 python -m trioweb serve bench.fanout.trioweb_app:app --workers 2

``/ws`` subscribes to the channel ``fanout``, sends ``hello <pid>`` once
subscribed, then forwards every message as a text frame with
``Subscriber.forward`` (docs/scaling-out.md, "Forwarding to a websocket"); a gap (messages this
subscriber lost: its buffer overflowed, or the broker connection dropped) is
sent as the text ``gap <lost> <reason>`` (``lost`` is ``?`` when unknown), which
the load client counts. ``POST /publish`` publishes the request body and answers ``ok <pid>``.
"""

from __future__ import annotations

import os

from trioweb import App, request, websocket
from trioweb.broadcast import Broadcast

CHANNEL = "fanout"
app = App(__name__)
broadcast = Broadcast(os.environ.get("FANOUT_BROADCAST_URL", "memory://"), buffer=256)
broadcast.init_app(app)


@app.websocket("/ws")
async def subscribe() -> None:
    async with broadcast.subscribe(CHANNEL) as subscriber:
        await websocket.send(f"hello {os.getpid()}")
        while (gap := await subscriber.forward(websocket)) is not None:  # text frames, as the anchor's
            await websocket.send(f"gap {'?' if gap.lost is None else gap.lost} {gap.reason}")


@app.route("/publish", methods=["POST"])
async def publish() -> str:
    await broadcast.publish(CHANNEL, await request.get_data(as_text=True))  # text, as the anchor's
    return f"ok {os.getpid()}"  # the driver waits until it has seen every worker
