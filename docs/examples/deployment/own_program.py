import functools
from typing import Any

import trio

from trioweb import App, serve

app = App(__name__)
progress = {"done": 0, "total": 3}
#: What serve() hands to nursery.start() once it listens: its listeners.
Listening = trio.TaskStatus[list[trio.abc.Listener[Any]]]


@app.route("/progress")
async def show_progress() -> dict[str, int]:
    return progress


async def work() -> None:
    """The program's own job; the web server only reports on it."""
    while progress["done"] < progress["total"]:
        await trio.sleep(1)  # a unit of real work
        progress["done"] += 1


async def main(
    port: int = 8000, *, task_status: Listening = trio.TASK_STATUS_IGNORED
) -> None:
    finished = trio.Event()  # set it to shut the server down gracefully
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(
            functools.partial(
                serve,
                app,
                host="127.0.0.1",
                port=port,
                shutdown_trigger=finished.wait,
            )
        )
        task_status.started(listeners)
        await work()
        finished.set()
    # serve() has returned: the graceful shutdown is complete.


if __name__ == "__main__":
    trio.run(main)
