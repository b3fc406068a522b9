import trio

from trioweb import App, websocket

app = App(__name__)


async def sending() -> None:
    ticks = 0
    while True:
        ticks += 1
        await websocket.send(f"tick {ticks}")
        await trio.sleep(1)


async def receiving() -> None:
    while True:
        data = await websocket.receive()
        await websocket.send(data)


@app.websocket("/ws")
async def ws() -> None:
    async with trio.open_nursery() as nursery:
        nursery.start_soon(sending)
        nursery.start_soon(receiving)
    # Never reached while the client is connected: the nursery waits for both
    # tasks, and the client leaving cancels them.
