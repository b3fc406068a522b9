import pytest
import trio
import trio.testing

from trioweb import App, websocket

app = App(__name__)


@app.route("/slow")
async def slow() -> str:
    await trio.sleep(30)  # a slow upstream service, say
    return "done"


@app.websocket("/quiet")
async def quiet() -> None:
    await websocket.accept()
    await trio.sleep_forever()


async def test_slow_takes_thirty_seconds(
    autojump_clock: trio.testing.MockClock,
) -> None:
    start = trio.current_time()
    response = await app.test_client().get("/slow")
    assert await response.get_data(as_text=True) == "done"
    assert trio.current_time() - start == 30


async def test_quiet_sends_nothing(autojump_clock: trio.testing.MockClock) -> None:
    async with app.test_client().websocket("/quiet") as ws:
        with pytest.raises(trio.TooSlowError):
            await ws.receive(timeout=60)
