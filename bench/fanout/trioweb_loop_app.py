"""``trioweb_app.py`` with the loop written out: ``async for`` over the subscriber and ``websocket.send``.

    .venv/bin/python bench/fanout/run.py --trioweb-app bench.fanout.trioweb_loop_app:app

What a view costs that must look at each message before sending it (filter
it, add to it), where ``Subscriber.forward`` does not fit: each message
wakes every subscriber's task. ``POST /publish`` is ``trioweb_app``'s.
"""

from __future__ import annotations

import os

from trioweb import App, websocket
from trioweb.broadcast import Gap

from .trioweb_app import CHANNEL, broadcast, publish

app = App(__name__)
broadcast.init_app(app)
app.add_url_rule("/publish", view_func=publish, methods=["POST"])


@app.websocket("/ws")
async def subscribe() -> None:
    async with broadcast.subscribe(CHANNEL) as subscriber:
        await websocket.send(f"hello {os.getpid()}")
        async for item in subscriber:
            if isinstance(item, Gap):
                await websocket.send(f"gap {'?' if item.lost is None else item.lost} {item.reason}")
            else:
                await websocket.send(item.text())  # a text frame, as the anchor's
