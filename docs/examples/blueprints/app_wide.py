from collections.abc import AsyncIterator

from werkzeug.exceptions import Unauthorized

from trioweb import App, Blueprint, Response, abort, g, request

auth = Blueprint("auth", __name__)
USERS = {"s3cret": "ann"}
EVENTS: list[str] = []


@auth.before_app_request  # every request of the app, not only auth's
async def load_user() -> None:
    g.user = USERS.get(request.headers.get("X-Token", ""))


@auth.after_app_request
async def say_who(response: Response) -> Response:
    response.headers["X-User"] = g.user or "-"
    return response


@auth.app_errorhandler(Unauthorized)  # the app's handler: it sees 401s from any view
async def please_log_in(error: Unauthorized) -> tuple[dict[str, str], int]:
    return {"error": "log in first", "login": "/login"}, 401


@auth.app_context_processor
async def user_in_templates() -> dict[str, str | None]:
    return {"user": g.get("user")}


@auth.while_app_serving
async def connection_pool() -> AsyncIterator[None]:
    EVENTS.append("pool opened")
    yield
    EVENTS.append("pool closed")


@auth.get("/login")
async def login() -> str:
    return "send X-Token"


app = App(__name__)
app.register_blueprint(auth)
# Registered twice: the app-wide functions are still added once.
app.register_blueprint(auth, name="auth_again", url_prefix="/again")


@app.get("/account")
async def account() -> dict[str, str]:
    if g.user is None:
        abort(401)
    return {"user": g.user}
