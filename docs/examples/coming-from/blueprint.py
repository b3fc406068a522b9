from typing import Any

from werkzeug.exceptions import NotFound

from trioweb import App, Blueprint, abort, request, url_for

api = Blueprint("api", __name__, url_prefix="/api")
NOTES = {1: "buy milk"}


@api.before_request
async def authenticate() -> tuple[dict[str, str], int] | None:
    if "X-User" not in request.headers:
        return {"error": "who are you?"}, 401  # answers instead of the view
    return None


@api.errorhandler(NotFound)
async def not_found(error: NotFound) -> tuple[dict[str, str], int]:
    return {"error": "no such note"}, 404


@api.get("/notes/<int:note_id>")
async def note(note_id: int) -> dict[str, Any]:
    if note_id not in NOTES:
        abort(404)
    return {
        "text": NOTES[note_id],
        "for": request.headers["X-User"],
        "self": url_for(".note", note_id=note_id),
    }


app = App(__name__)
app.register_blueprint(api)
