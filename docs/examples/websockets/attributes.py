from trioweb import App, websocket

app = App(__name__)


@app.websocket("/rooms/<room>")
async def join(room: str) -> None:
    auth = websocket.authorization
    await websocket.send_json(
        {
            "room": room,
            "path": websocket.path,
            "nick": websocket.args.get("nick", "anonymous"),
            "agent": websocket.headers.get("User-Agent"),
            "theme": websocket.cookies.get("theme"),
            "user": auth.username if auth else None,
            "offered": websocket.requested_subprotocols,
            "from": websocket.remote_addr,
        }
    )
