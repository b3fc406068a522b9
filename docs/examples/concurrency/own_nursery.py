from typing import Any

import trio

from trioweb import App, serve

app = App(__name__)
latest = {"price": 100.0}
#: What serve() hands to nursery.start() once it listens: its listeners.
Listening = trio.TaskStatus[list[trio.abc.Listener[Any]]]


async def follow_prices() -> None:
    while True:
        latest["price"] = round(latest["price"] * 1.01, 2)  # ask a real source here
        await trio.sleep(1)


@app.route("/price")
async def price() -> dict[str, float]:
    return latest


async def main(
    port: int = 8000, *, task_status: Listening = trio.TASK_STATUS_IGNORED
) -> None:
    async with trio.open_nursery() as nursery:
        nursery.start_soon(follow_prices)
        await serve(app, host="127.0.0.1", port=port, task_status=task_status)


if __name__ == "__main__":
    trio.run(main)
