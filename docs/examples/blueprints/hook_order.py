from typing import Any

from trioweb import App, Blueprint, Response, render_template_string

app = App(__name__)
shop = Blueprint("shop", __name__, url_prefix="/shop")
cart = Blueprint("cart", __name__, url_prefix="/cart")
ORDER: list[str] = []


def add_hooks(owner: App | Blueprint, label: str) -> None:
    """Give ``owner`` one of each hook, each noting in ORDER when it runs."""

    @owner.url_value_preprocessor
    def values(endpoint: str | None, view_args: dict[str, Any]) -> None:
        ORDER.append(f"url_value_preprocessor {label}")

    @owner.before_request
    async def before() -> None:
        ORDER.append(f"before_request {label}")

    @owner.after_request
    async def after(response: Response) -> Response:
        ORDER.append(f"after_request {label}")
        return response

    @owner.teardown_request
    async def teardown(error: BaseException | None) -> None:
        ORDER.append(f"teardown_request {label}")

    @owner.errorhandler(LookupError)
    async def lookup_error(error: LookupError) -> tuple[str, int]:
        return f"{label}'s handler", 404

    @owner.context_processor
    async def names() -> dict[str, str]:
        ORDER.append(f"context_processor {label}")
        return {"owner": label}


for owner, label in ((app, "app"), (shop, "shop"), (cart, "cart")):
    add_hooks(owner, label)


@cart.get("/")
async def view() -> str:
    ORDER.append("view")
    # Every context processor runs; the innermost's name wins: "cart".
    return await render_template_string("{{ owner }}")


@cart.get("/missing")
async def missing() -> str:
    # A LookupError: the cart's handler answers, not the shop's or the app's.
    raise KeyError("nothing")


shop.register_blueprint(cart)
app.register_blueprint(shop)
