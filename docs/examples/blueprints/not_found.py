from collections.abc import Awaitable, Callable
from typing import Any

from werkzeug.exceptions import NotFound

from trioweb import App, Blueprint, abort, has_websocket_context, request, websocket

shop = Blueprint("shop", __name__, url_prefix="/shop")
ITEMS = {1: "teapot"}


@shop.errorhandler(NotFound)
async def shop_not_found(error: NotFound) -> tuple[dict[str, Any], int]:
    return {"error": "not in the shop", "shop": "/shop/"}, 404


@shop.get("/items/<int:item_id>")
async def item(item_id: int) -> dict[str, Any]:
    if item_id not in ITEMS:
        abort(404)  # raised in one of shop's views: shop_not_found answers
    return {"name": ITEMS[item_id]}


app = App(__name__)
app.register_blueprint(shop)

#: Whose page a URL that no rule matches gets, by the start of its path.
NOT_FOUND_PAGES: dict[str, Callable[[NotFound], Awaitable[Any]]] = {
    "/shop/": shop_not_found
}


@app.errorhandler(NotFound)
async def not_found(error: NotFound) -> Any:
    # A URL no rule matches has no endpoint, so no blueprint: only the
    # app's handlers see it. The path says which blueprint it was meant for.
    path = websocket.path if has_websocket_context() else request.path
    for prefix, handler in NOT_FOUND_PAGES.items():
        if path.startswith(prefix):
            return await handler(error)
    return "Nothing here.", 404
