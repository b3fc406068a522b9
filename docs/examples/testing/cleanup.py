from trioweb import App, websocket

app = App(__name__)
online: set[str] = set()


@app.websocket("/ws/<name>")
async def presence(name: str) -> None:
    online.add(name)
    try:
        while True:
            await websocket.receive()
    finally:
        online.discard(name)


async def test_leaving_runs_the_cleanup() -> None:
    async with app.test_client().websocket("/ws/ann"):
        assert online == {"ann"}
    # Leaving the block closed the websocket and waited for the view to end.
    assert online == set()
