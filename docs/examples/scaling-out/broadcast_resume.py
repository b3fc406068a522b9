import os

from trioweb import App, abort, websocket
from trioweb.broadcast import Broadcast, Gap

app = App(__name__)
# Redis Streams keep about the last 1000 messages of each channel.
broadcast = Broadcast(
    os.environ.get("BROADCAST_URL", "redis-stream://localhost:6379/0?maxlen=1000")
)
broadcast.init_app(app)


@app.websocket("/feed/<channel>")
async def feed(channel: str) -> None:
    # A page that reconnects sends the id of the last message it showed.
    last_id = websocket.args.get("last_id")
    try:
        if last_id:
            subscription = broadcast.subscribe(channel, after=last_id)
        else:
            subscription = broadcast.subscribe(channel, history=20)
    except ValueError:
        abort(400)  # not a message id: the handshake is refused
    async with subscription as subscriber:
        await websocket.accept()
        async for item in subscriber:
            if isinstance(item, Gap):
                # Some are missing (trimmed from the history): reload the state.
                await websocket.send_json({"gap": item.reason})
            else:
                await websocket.send_json({"id": item.id, "text": item.text()})
