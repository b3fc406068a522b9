from trioweb import App, websocket

app = App(__name__)


@app.websocket("/ws")
async def ws() -> None:
    while True:
        data = await websocket.receive()
        await websocket.send(data)
