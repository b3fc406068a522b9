from typing import Any

from werkzeug.exceptions import NotFound

from trioweb import App, Blueprint, abort, has_websocket_context, request, websocket

api = Blueprint("api", __name__, url_prefix="/api")
BOOKS = {1: "Kindred"}


@api.errorhandler(NotFound)
async def no_such_book(error: NotFound) -> tuple[dict[str, Any], int]:
    return {"error": "no such book"}, 404


@api.get("/books/<int:book_id>")
async def book(book_id: int) -> dict[str, Any]:
    if book_id not in BOOKS:
        abort(404)  # raised in one of the blueprint's views: no_such_book
    return {"id": book_id, "title": BOOKS[book_id]}


app = App(__name__)
app.register_blueprint(api)


@app.errorhandler(NotFound)
async def not_found(error: NotFound) -> tuple[dict[str, str] | str, int]:
    # Every URL that no rule matches, under /api/ too: no view was found,
    # so no blueprint was either. The path still tells them apart.
    path = websocket.path if has_websocket_context() else request.path
    if path.startswith("/api/"):
        return {"error": "no such URL"}, 404
    return "Nothing here.", 404
