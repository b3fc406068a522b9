import os

from trioweb import App, websocket
from trioweb.broadcast import Broadcast

app = App(__name__)
broadcast = Broadcast(os.environ.get("BROADCAST_URL", "memory://"))
broadcast.init_app(app)


@app.websocket("/prices")
async def prices() -> None:
    async with broadcast.subscribe("prices") as subscriber:
        while (gap := await subscriber.forward(websocket)) is not None:
            # Some prices did not reach this client: the page fetches them all again.
            await websocket.send_json({"resync": gap.reason})
