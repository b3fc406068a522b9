from trioweb import App, websocket

app = App(__name__)


@app.websocket("/ws")
async def ws() -> None:
    if "token" not in websocket.args:
        await websocket.close(1008)  # not accepted yet: the client gets HTTP 403
        return
    await websocket.send("welcome")
    while True:
        if await websocket.receive() == "bye":
            await websocket.close(4000, "see you")
            return
