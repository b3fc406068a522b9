from collections.abc import AsyncIterator
from typing import Any

import trio

from trioweb import App, request

app = App(__name__)
log: list[str] = []  # stands in for a database pool, a metrics client, a mailer


@app.before_serving
async def connect() -> None:
    log.append("pool opened")


@app.while_serving
async def metrics() -> AsyncIterator[None]:  # an async generator that yields once
    log.append("metrics client connected")
    yield  # the app serves here
    log.append("metrics flushed")


@app.after_serving
async def disconnect() -> None:
    log.append("pool closed")


async def run_job(job: dict[str, Any]) -> None:
    await trio.sleep(job["seconds"])
    log.append(f"job {job['name']} done")


@app.route("/jobs", methods=["POST"])
async def start_job() -> tuple[str, int]:
    app.add_background_task(run_job, await request.get_json())
    return "accepted", 202
