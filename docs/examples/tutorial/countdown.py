import trio

from trioweb import App, websocket

app = App(__name__)


@app.websocket("/countdown")
async def countdown() -> None:
    start = await websocket.receive()
    if not isinstance(start, str) or not start.isdigit():
        await websocket.close(1003, "send a whole number")
        return
    for number in range(int(start), 0, -1):
        await websocket.send(str(number))
        await trio.sleep(1)
    await websocket.send("liftoff")
