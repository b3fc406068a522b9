import os

import trio

from trioweb import App, websocket
from trioweb.broadcast import Broadcast, Gap

app = App(__name__)
# memory:// serves one process; redis://host:6379/0 reaches every process
# on every machine.
broadcast = Broadcast(os.environ.get("BROADCAST_URL", "memory://"), buffer=256)
broadcast.init_app(app)


async def publish_what_the_client_says(room: str) -> None:
    while True:
        await broadcast.publish(room, await websocket.receive())


@app.websocket("/rooms/<room>")
async def chat(room: str) -> None:
    # Subscribed before accepting: the client's first message finds it subscribed.
    async with broadcast.subscribe(room) as subscriber, trio.open_nursery() as nursery:
        await websocket.accept()
        nursery.start_soon(publish_what_the_client_says, room)
        async for item in subscriber:
            if isinstance(item, Gap) and item.reason == "overflow":
                # This client reads too slowly to keep up: it can come back later.
                await websocket.close(1013, "too slow, try again later")
                nursery.cancel_scope.cancel()
            elif isinstance(item, Gap):
                await websocket.send_json(
                    {"gap": True}
                )  # messages may be missing: the page re-syncs
            else:
                await websocket.send(item.text())
