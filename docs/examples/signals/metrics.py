import time
from collections import Counter

from trioweb import App, Response, g
from trioweb.signals import got_request_exception, request_finished, request_started

app = App(__name__)
STATUSES: Counter[int] = Counter()
ERRORS: list[str] = []


@request_started.connect_via(app)
def start_clock(sender: App) -> None:
    # A plain receiver is called in trio's thread: keep it quick.
    g.started = time.perf_counter()


@request_finished.connect_via(app)
async def count(sender: App, response: Response) -> None:
    STATUSES[response.status_code] += 1
    elapsed = (time.perf_counter() - g.started) * 1000
    sender.logger.debug("%s in %.1f ms", response.status, elapsed)


@got_request_exception.connect_via(app)
async def remember(sender: App, exception: Exception) -> None:
    ERRORS.append(repr(exception))  # before the 500 handler; with TESTING too


@app.route("/")
async def index() -> str:
    return "hello"


@app.route("/crash")
async def crash() -> str:
    raise RuntimeError("out of coffee")
