import trio

from trioweb import App

app = App(__name__)
latest = {"price": 100.0}
trades: list[str] = []


async def follow_prices() -> None:
    while not app.shutdown_event.is_set():
        latest["price"] = round(latest["price"] * 1.01, 2)  # ask a real source here
        with trio.move_on_after(1):  # a second, or less if the shutdown begins
            await app.shutdown_event.wait()


async def next_trade() -> str:
    await trio.sleep(5)  # stands in for a read from another service
    return f"trade {len(trades) + 1}"


async def read_trades() -> None:
    while True:
        trades.append(await next_trade())


async def follow_trades() -> None:
    async with trio.open_nursery() as nursery:
        nursery.start_soon(read_trades)
        await app.shutdown_event.wait()
        nursery.cancel_scope.cancel()  # read_trades is cancelled where it waits


@app.before_serving
async def start_following() -> None:
    app.nursery.start_soon(follow_prices)
    app.nursery.start_soon(follow_trades)


@app.route("/market")
async def market() -> dict[str, object]:
    return {"price": latest["price"], "trades": len(trades)}
