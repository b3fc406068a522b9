from blinker import Namespace

from trioweb import App, request
from trioweb.signals import send

app = App(__name__)
my_signals = Namespace()  # an app's own signals, in a namespace of its own
order_placed = my_signals.signal("order-placed")
SHIPPED: list[str] = []


@order_placed.connect_via(app)
async def ship(sender: App, item: str) -> None:
    SHIPPED.append(item)


@app.post("/orders")
async def place_order() -> tuple[str, int]:
    item = (await request.get_json())["item"]
    if order_placed.receivers:  # no coroutine is made when nobody listens
        await send(order_placed, app, item=item)
    return "placed", 201
