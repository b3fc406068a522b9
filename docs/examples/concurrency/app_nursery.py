import trio

from trioweb import App, websocket

app = App(__name__)
latest = {"price": 100.0}
receipts: list[str] = []


async def follow_prices() -> None:
    while True:
        latest["price"] = round(latest["price"] * 1.01, 2)  # ask a real source here
        await trio.sleep(1)


@app.before_serving
async def start_following_prices() -> None:
    app.nursery.start_soon(follow_prices)


@app.route("/price")
async def price() -> dict[str, float]:
    return latest


@app.websocket("/ws/price")
async def price_feed() -> None:
    while True:
        await websocket.send_json(latest)
        await trio.sleep(1)


async def send_receipt(order: str) -> None:
    await trio.sleep(3)  # a slow mail server
    receipts.append(order)


@app.post("/orders/<order>")
async def place_order(order: str) -> tuple[str, int]:
    app.add_background_task(send_receipt, order)
    return f"order {order} placed", 201
