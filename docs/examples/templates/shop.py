from trioweb import App, Blueprint, render_template

shop = Blueprint("shop", __name__, template_folder="shop_templates")


@shop.context_processor
async def basket() -> dict[str, int]:
    return {"basket_size": 2}  # in the shop's templates only


@shop.app_template_global()
def currency() -> str:
    return "EUR"  # in every template of the app


@shop.get("/shop")
async def shop_index() -> str:
    return await render_template("shop/index.html")


app = App(__name__)
app.register_blueprint(shop)
