from trioweb import App, CancelledError, websocket

app = App(__name__)
online: set[str] = set()
departures: list[tuple[str, int | None, str | None]] = []


@app.websocket("/ws/<name>")
async def ws(name: str) -> None:
    online.add(name)
    try:
        while True:
            await websocket.receive()
    except CancelledError:
        # The client has gone; its close code is already set. Clean up, then re-raise.
        online.discard(name)
        departures.append((name, websocket.close_code, websocket.close_reason))
        raise
