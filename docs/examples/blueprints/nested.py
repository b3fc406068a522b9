from typing import Any

from trioweb import App, Blueprint, request, url_for

api = Blueprint("api", __name__, url_prefix="/api")
v1 = Blueprint("v1", __name__, url_prefix="/v1")


@v1.get("/users/<name>")
async def user(name: str) -> dict[str, Any]:
    return {
        "endpoint": request.endpoint,  # "api.v1.user"
        "blueprint": request.blueprint,  # "api.v1", the innermost
        "blueprints": request.blueprints,  # ["api.v1", "api"], innermost first
        "self": url_for(".user", name=name),  # "." is api.v1
        "status": url_for("api.status"),
    }


@api.get("/status")
async def status() -> str:
    return "ok"


api.register_blueprint(v1)  # nested: under /api/v1, named api.v1
app = App(__name__)
app.register_blueprint(api)
