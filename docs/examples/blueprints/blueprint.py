from typing import Any

from werkzeug.exceptions import NotFound

from trioweb import App, Blueprint, abort, g, request, url_for

shop = Blueprint("shop", __name__, url_prefix="/shop")
ITEMS = {1: "teapot", 2: "kettle"}


@shop.before_request
async def count_visit() -> None:
    g.visitor = request.headers.get("X-Visitor", "guest")


@shop.get("/items/<int:item_id>")
async def item(item_id: int) -> dict[str, Any]:
    if item_id not in ITEMS:
        abort(404)
    return {
        "name": ITEMS[item_id],
        "for": g.visitor,
        # ".item" is this blueprint's own endpoint: "shop.item".
        "self": url_for(".item", item_id=item_id),
        "home": url_for("index"),
    }


@shop.errorhandler(NotFound)
async def no_such_item(error: NotFound) -> tuple[dict[str, str], int]:
    return {"error": "no such item"}, 404


app = App(__name__)


@app.get("/")
async def index() -> str:
    return "home"


app.register_blueprint(shop)
