from trioweb import App, websocket

app = App(__name__)


@app.route("/live")
async def live_page() -> str:
    return '<script>const socket = new WebSocket("/live");</script>'


@app.websocket("/live")
async def live() -> None:
    await websocket.send("live!")


@app.websocket("/socket-only")
async def socket_only() -> None:
    await websocket.send("hi")


@app.route("/page-only")
async def page_only() -> str:
    return "a page"
