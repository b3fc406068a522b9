from concurrent.futures import ThreadPoolExecutor

import trio

from trioweb import App, copy_current_request_context, current_app, g, request

app = App(__name__)
POOL = ThreadPoolExecutor(max_workers=2)  # a pool of its own, as a library may have
REPORTS: list[str] = []


@app.get("/thumbnail")
async def thumbnail() -> str:
    g.user = request.headers.get("X-User", "anonymous")

    @copy_current_request_context
    def render() -> str:  # runs in the pool's thread, which has no context of its own
        return f"thumbnail of {request.args['image']} for {g.user}"

    future = POOL.submit(render)
    return await trio.to_thread.run_sync(future.result)


@app.post("/reports")
async def start_report() -> tuple[dict[str, str], int]:
    g.user = request.headers.get("X-User", "anonymous")

    @copy_current_request_context
    async def build() -> None:  # runs on after the response has gone
        await trio.sleep(1)
        REPORTS.append(f"report for {g.user}, asked at {request.path}")

    current_app.nursery.start_soon(build)
    return {"status": "started"}, 202
