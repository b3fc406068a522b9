import trio

from trioweb import App

app = App(__name__)
in_progress: set[str] = set()
finished: list[str] = []


@app.route("/reports/<name>")
async def report(name: str) -> str:
    in_progress.add(name)
    try:
        await trio.sleep(10)  # slow work
        finished.append(name)
        return f"report {name}"
    finally:
        # Runs however the view ends, also when the client left and trioweb
        # cancelled it: trio.Cancelled came out of the sleep above.
        in_progress.discard(name)
