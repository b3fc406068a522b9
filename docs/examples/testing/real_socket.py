import functools

import httpx
import pytest
import trio

from trioweb import App, serve

app = App(__name__)


@app.route("/")
async def index() -> str:
    return "over TCP"


@pytest.fixture
async def base_url(nursery: trio.Nursery) -> str:
    """The app on a free port of 127.0.0.1, served until the test ends."""
    listeners = await nursery.start(
        functools.partial(serve, app, host="127.0.0.1", port=0)
    )
    host, port = listeners[0].socket.getsockname()[:2]
    return f"http://{host}:{port}"


async def test_over_a_real_socket(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        response = await client.get("/")
    assert response.text == "over TCP"
