from trioweb import App, websocket

app = App(__name__)
app.config.update(
    WEBSOCKET_MAX_MESSAGE_SIZE=64 * 1024,  # bytes; a larger message closes with 1009
    WEBSOCKET_QUEUE_SIZE=8,  # messages read ahead of the view
    WEBSOCKET_PING_INTERVAL=30.0,  # seconds between pings; None sends none
    WEBSOCKET_PING_TIMEOUT=10.0,  # seconds to wait for the pong, then close 1011
)


@app.websocket("/ws")
async def ws() -> None:
    while True:
        await websocket.send(await websocket.receive())
