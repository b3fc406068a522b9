"""The smallest trioweb app: ``python -m trioweb serve examples.hello:app``."""

from trioweb import App, request, websocket

app = App(__name__)


@app.route("/")
async def index() -> str:
    return "Hello from trioweb!\n"


@app.route("/greet/<name>")
async def greet(name: str) -> dict[str, str]:
    return {"hello": name, "from": request.remote_addr or "?"}


@app.websocket("/ws")
async def echo() -> None:
    while True:
        await websocket.send(await websocket.receive())
