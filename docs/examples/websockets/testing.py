import pytest

from trioweb import App, websocket
from trioweb.testing import WebsocketDisconnectError, WebsocketResponseError

app = App(__name__)


@app.websocket("/ws")
async def ws() -> tuple[str, int] | None:
    if websocket.headers.get("X-Token") != "secret":
        return "Go away", 401
    await websocket.send_json({"question": "name?"})
    answer = await websocket.receive_json()
    await websocket.close(4000, f"bye {answer['name']}")
    return None


async def test_greeting() -> None:
    async with app.test_client().websocket("/ws", headers={"X-Token": "secret"}) as ws:
        assert await ws.receive_json(timeout=5) == {"question": "name?"}
        await ws.send_json({"name": "ann"})
        with pytest.raises(WebsocketDisconnectError) as closed:
            await ws.receive(timeout=5)
    assert (closed.value.code, closed.value.reason) == (4000, "bye ann")


async def test_no_token_is_rejected() -> None:
    with pytest.raises(WebsocketResponseError) as rejected:
        async with app.test_client().websocket("/ws"):
            pass
    assert rejected.value.response.status_code == 401
    assert await rejected.value.response.get_data() == b"Go away"
