import trio
from hypercorn.config import Config
from hypercorn.middleware import ProxyFixMiddleware
from hypercorn.trio import serve

from trioweb import App, request

app = App(__name__)


@app.route("/whoami")
async def whoami() -> str:
    return f"{request.remote_addr}\n"


async def main(
    bind: str = "127.0.0.1:8000",
    *,
    task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
) -> None:
    config = Config()
    config.bind = [bind]
    # One trusted proxy in front sets X-Forwarded-For and -Proto.
    proxied = ProxyFixMiddleware(app, mode="legacy", trusted_hops=1)
    await serve(proxied, config, task_status=task_status)


if __name__ == "__main__":
    trio.run(main)
