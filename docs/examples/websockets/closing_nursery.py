import trio

from trioweb import App, CancelledError, websocket

app = App(__name__)
log: list[str] = []


async def feed(updates: trio.MemoryReceiveChannel[str]) -> None:
    try:
        async for update in updates:  # waits here until the view's session ends
            await websocket.send(update)
    except CancelledError:
        log.append(f"feed stopped: close {websocket.close_code}")
        raise


async def commands() -> None:
    while True:
        if await websocket.receive() == "quit":
            await websocket.close(4000, "bye")  # returns once the client has answered
            log.append("closed by the commands task")
            return


@app.websocket("/ws")
async def ws() -> None:
    send_updates, updates = trio.open_memory_channel[str](10)
    async with send_updates, trio.open_nursery() as nursery:
        nursery.start_soon(feed, updates)
        nursery.start_soon(commands)
        await send_updates.send("welcome")
