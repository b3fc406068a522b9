import trio

from trioweb import App, request

app = App(__name__)
messages: list[str] = []
new_message = trio.Event()  # replaced by a fresh one after each message
POLL_SECONDS = 30.0


async def until_either(*events: trio.Event) -> None:
    """Return as soon as one of ``events`` is set."""
    async with trio.open_nursery() as nursery:

        async def wait_then_stop(event: trio.Event) -> None:
            await event.wait()
            nursery.cancel_scope.cancel()

        for event in events:
            nursery.start_soon(wait_then_stop, event)


@app.post("/messages")
async def post_message() -> tuple[str, int]:
    global new_message
    messages.append(await request.get_data(as_text=True))
    new_message.set()
    new_message = trio.Event()
    return "posted", 201


@app.get("/messages")
async def poll_messages() -> dict[str, object]:
    """The messages after ``?since=N``; if none, wait for one, up to POLL_SECONDS."""
    since = request.args.get("since", 0, type=int)
    if since >= len(messages):
        with trio.move_on_after(POLL_SECONDS):
            await until_either(new_message, app.shutdown_event)
    return {"messages": messages[since:], "next": len(messages)}
