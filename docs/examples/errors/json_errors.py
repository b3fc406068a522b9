from typing import Any

from werkzeug.exceptions import HTTPException

from trioweb import (
    App,
    Response,
    abort,
    has_websocket_context,
    jsonify,
    request,
    websocket,
)

app = App(__name__)


@app.errorhandler(HTTPException)
async def json_error(error: HTTPException) -> Response:
    status = error.code or 500  # werkzeug types it Optional
    # A websocket handshake has no `request`: `websocket` is its context.
    path = websocket.path if has_websocket_context() else request.path
    response = jsonify(status=status, error=error.name, path=path)
    response.status_code = status
    # Keep the headers werkzeug gives the error (Allow on a 405),
    # all but its text/html Content-Type.
    for name, value in error.get_headers():
        if name != "Content-Type":
            response.headers[name] = value
    return response


@app.post("/books")
async def add_book() -> tuple[dict[str, Any], int]:
    book = await request.get_json()  # a body that is not JSON: 400
    return {"title": book["title"]}, 201  # no "title": a KeyError, so 500


@app.websocket("/feed")
async def feed() -> None:
    if websocket.args.get("token") != "s3cret":
        abort(403)  # not accepted yet: json_error answers the handshake
    await websocket.send("welcome")
