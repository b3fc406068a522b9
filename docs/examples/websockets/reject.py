from trioweb import App, abort, websocket

app = App(__name__)
USERNAME, PASSWORD = "ann", "s3cret"


@app.websocket("/ws")
async def ws() -> tuple[str, int] | None:
    auth = websocket.authorization
    if auth is None or auth.username != USERNAME or auth.password != PASSWORD:
        return "Invalid password", 403  # or abort(403)
    await websocket.accept()  # optional: receive() and send() accept when needed
    await websocket.send(f"hello {auth.username}")
    return None


@app.websocket("/chat")
async def chat() -> None:
    if "chat.v2" not in websocket.requested_subprotocols:
        abort(400)
    await websocket.accept(headers={"X-Chat-Server": "trioweb"}, subprotocol="chat.v2")
    while True:
        await websocket.send(await websocket.receive())
