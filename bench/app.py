"""The app ../shared/bench runs: GET / -> hello, and /ws echoes each message with its type."""

from trioweb import App, websocket

app = App(__name__)


@app.route("/")
async def index() -> str:
    return "hello"


@app.websocket("/ws")
async def ws() -> None:
    while True:
        await websocket.send(await websocket.receive())
