import trio

from trioweb import App, CancelledError, websocket

app = App(__name__)
departures: list[int | None] = []


async def heartbeat() -> None:
    while True:
        await websocket.send("still here")
        await trio.sleep(10)


async def listen() -> None:
    while True:
        await websocket.receive()


@app.websocket("/ws")
async def ws() -> None:
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(heartbeat)
            nursery.start_soon(listen)
    except* CancelledError:
        # Each task was cancelled, so the nursery raises a group of Cancelled.
        departures.append(websocket.close_code)
        raise
