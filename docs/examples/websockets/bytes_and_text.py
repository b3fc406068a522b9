from trioweb import App, websocket

app = App(__name__)


@app.websocket("/ws")
async def ws() -> None:
    while True:
        message = await websocket.receive()
        if isinstance(message, bytes):
            await websocket.send(f"{len(message)} bytes")
        else:
            await websocket.send(message.upper())
