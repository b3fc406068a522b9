"""Server-sent events: a clock. ``python -m trioweb serve examples.sse:app``.

Open http://127.0.0.1:8000/: the page listens to ``/clock`` with the
browser's ``EventSource``. ``/clock`` is a streaming response that never ends
on its own: an async generator yields one event a second until the client
leaves, and then trioweb cancels it, which runs its ``finally`` block.

It also ends when the server shuts down: it waits for ``app.shutdown_event``
between events, so the stream ends at once rather than holding the shutdown
up for ``SHUTDOWN_TIMEOUT``. The browser reconnects by itself.
"""

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import trio

from trioweb import App, Response

app = App(__name__)

#: Clients listening to the clock right now.
listening = 0

PAGE = """<!doctype html>
<meta charset="utf-8">
<title>clock</title>
<p>The time is <b id="time">...</b> (<span id="listening">?</span> listening)</p>
<script>
  const clock = new EventSource("/clock");
  clock.onmessage = (event) => {
    const tick = JSON.parse(event.data);
    document.getElementById("time").textContent = tick.time;
    document.getElementById("listening").textContent = tick.listening;
  };
</script>
"""


@app.route("/")
async def page() -> str:
    return PAGE


async def events() -> AsyncIterator[str]:
    global listening
    listening += 1
    # Taken once: after the shutdown, app.shutdown_event is already the next period's event.
    shutdown = app.shutdown_event
    try:
        number = 0
        while not shutdown.is_set():
            number += 1
            tick = {"time": datetime.now(UTC).strftime("%H:%M:%S"), "listening": listening}
            yield f"id: {number}\ndata: {json.dumps(tick)}\n\n"
            with trio.move_on_after(1):  # a second, or less if the server shuts down
                await shutdown.wait()
    finally:
        listening -= 1


@app.route("/clock")
async def clock() -> Response:
    response = Response(events(), content_type="text/event-stream")
    response.headers["Cache-Control"] = "no-cache"
    response.timeout = None  # an endless stream: RESPONSE_TIMEOUT would cut it
    return response
