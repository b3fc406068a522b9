import trio

from trioweb import App

app = App(__name__)
#: Seconds each source takes to answer: stand-ins for calls to other services.
SOURCES = {"weather": 0.3, "news": 0.5, "prices": 0.2}


async def fetch(source: str) -> str:
    await trio.sleep(SOURCES[source])
    return f"{source} is fine"


@app.route("/dashboard")
async def dashboard() -> dict[str, str | None]:
    results: dict[str, str | None] = dict.fromkeys(SOURCES)

    async def fetch_into_results(source: str) -> None:
        results[source] = await fetch(source)

    with trio.move_on_after(0.4):  # answer with what has come in by then
        async with trio.open_nursery() as nursery:
            for source in SOURCES:
                nursery.start_soon(fetch_into_results, source)
    # Every fetch has finished or been cancelled: none runs on after this line.
    return results
