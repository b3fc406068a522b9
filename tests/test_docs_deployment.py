"""The samples of docs/deployment.md, run; and the page's advice on client addresses behind a proxy."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys

import httpx
import trio
import trio.testing
from hypercorn.middleware import ProxyFixMiddleware
from trio_websocket import open_websocket_url

from tests.conftest import running, start_hypercorn, start_native
from tests.docs_samples import EXAMPLES, ROOT, load
from trioweb import App, request

TESTED = {"own_program", "hypercorn_program", "long_poll"}


async def test_own_program_serves_while_it_works_then_shuts_down() -> None:
    sample = load("deployment", "own_program")
    work_done = trio.Event()
    returned = trio.Event()

    async def work() -> None:  # the sample's work, finished when the test says so
        sample.progress["done"] = 1
        await work_done.wait()

    async def run_main(task_status: trio.TaskStatus[list[trio.SocketListener]]) -> None:
        await sample.main(0, task_status=task_status)
        returned.set()

    sample.work = work
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            listeners = await nursery.start(run_main)
            host, port = listeners[0].socket.getsockname()[:2]
            async with httpx.AsyncClient(base_url=f"http://{host}:{port}") as client:
                response = await client.get("/progress")
            assert response.json() == {"done": 1, "total": 3}
            assert not returned.is_set()
            work_done.set()  # main() sets its event, and serve() shuts down
        assert returned.is_set()
        # The server has stopped: nothing listens on the port any more.
        async with httpx.AsyncClient() as client:
            try:
                await client.get(f"http://{host}:{port}/progress")
            except httpx.ConnectError:
                pass
            else:
                raise AssertionError("the server still answers after main() returned")


async def test_own_program_work_counts_to_its_total(autojump_clock: trio.testing.MockClock) -> None:
    sample = load("deployment", "own_program")
    await sample.work()
    assert sample.progress == {"done": 3, "total": 3}
    assert trio.current_time() == 3


def whoami_app() -> App:
    app = App(__name__)

    @app.route("/whoami")
    async def whoami() -> dict[str, str | None]:
        return {"address": request.remote_addr, "url": request.url}

    return app


FORWARDED = {"X-Forwarded-For": "198.51.100.1, 192.0.2.7", "X-Forwarded-Proto": "https"}


async def test_proxy_fix_middleware_on_hypercorn_trusts_one_hop(nursery: trio.Nursery) -> None:
    """What the page says to do on Hypercorn: the last X-Forwarded-For entry, added by the proxy, is the client."""
    proxied = ProxyFixMiddleware(whoami_app(), mode="legacy", trusted_hops=1)
    address = await start_hypercorn(proxied, nursery)
    async with httpx.AsyncClient() as client:
        response = await client.get(f"http://{address}/whoami", headers=FORWARDED)
    assert response.json() == {"address": "192.0.2.7", "url": f"https://{address}/whoami"}


async def test_without_the_middleware_forwarded_headers_are_not_trusted(nursery: trio.Nursery) -> None:
    app = whoami_app()
    for address in (await start_native(app, nursery), await start_hypercorn(whoami_app(), nursery)):
        async with httpx.AsyncClient() as client:
            response = await client.get(f"http://{address}/whoami", headers=FORWARDED)
        assert response.json() == {"address": "127.0.0.1", "url": f"http://{address}/whoami"}


async def test_hypercorn_program_serves_the_forwarded_client_address() -> None:
    sample = load("deployment", "hypercorn_program")
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            binds = await nursery.start(sample.main, "127.0.0.1:0")
            async with httpx.AsyncClient(base_url=binds[0]) as client:
                response = await client.get("/whoami", headers={"X-Forwarded-For": "203.0.113.7"})
            assert response.text == "203.0.113.7\n"
            nursery.cancel_scope.cancel()


# -- the terminal samples: what the command line logs, line by line ---------------------------


def shown(sample: str) -> tuple[list[str], list[str]]:
    """The command of a terminal sample (after ``$``) and the lines it printed."""
    command, *lines = (EXAMPLES / "deployment" / sample).read_text().splitlines()
    assert command.startswith("$ ")
    return command[2:].split(), lines


def comparable(line: str) -> str:
    """A log line without what changes from run to run: the time, the port, a duration."""
    line = re.sub(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ", "", line)
    line = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:8000", line)
    return re.sub(r"\d+\.\d\d s", "N s", line)


def test_the_terminal_sample_is_what_the_command_line_logs() -> None:
    command, lines = shown("terminal.txt")
    assert command[:4] == ["python", "-m", "trioweb", "serve"]
    process = subprocess.Popen(
        [sys.executable, *command[1:], "--port", "0"], stderr=subprocess.PIPE, text=True, cwd=ROOT
    )
    try:
        assert process.stderr is not None
        first = process.stderr.readline()
        port = int(re.findall(r":(\d+) ", first)[0])
        base = f"http://127.0.0.1:{port}"
        for path in ("/", "/greet/ann", "/nothing"):
            httpx.get(base + path)
        with socket.create_connection(("127.0.0.1", port)) as http2:  # an HTTP/2 client with prior knowledge
            http2.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
            assert http2.recv(100).startswith(b"HTTP/1.1 505 ")

        async def open_websocket() -> None:
            async with open_websocket_url(f"ws://127.0.0.1:{port}/ws") as ws:
                await ws.send_message("hi")
                assert await ws.get_message() == "hi"

        trio.run(open_websocket)
        logged = [first.rstrip("\n")]
        while " 101 - " not in logged[-1]:  # the websocket's line comes once the server has closed it
            line = process.stderr.readline()
            assert line, logged  # the server stopped before it logged the websocket
            logged.append(line.rstrip("\n"))
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
        logged += process.stderr.read().splitlines()
    finally:
        if process.poll() is None:
            process.kill()
    assert [comparable(line) for line in logged] == [comparable(line) for line in lines]


def test_the_port_in_use_sample_is_what_the_command_line_prints() -> None:
    command, lines = shown("port_in_use.txt")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run(
            [sys.executable, *command[1:], "--port", str(port)], capture_output=True, text=True, cwd=ROOT, timeout=10
        )
    assert done.returncode == 1
    assert [comparable(line) for line in done.stderr.splitlines()] == lines


async def test_long_poll_answers_when_a_message_comes_or_the_poll_times_out(
    autojump_clock: trio.testing.MockClock,
) -> None:
    sample = load("deployment", "long_poll")
    client = sample.app.test_client()
    answers: list[tuple[float, object]] = []

    async def poll(since: int) -> None:
        response = await client.get("/messages", query_string={"since": since})
        answers.append((trio.current_time(), await response.get_json()))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(poll, 0)
        await trio.sleep(3)
        assert (await client.post("/messages", data="hello")).status_code == 201
    assert answers == [(3, {"messages": ["hello"], "next": 1})]
    await poll(0)  # something new already: at once
    await poll(1)  # nothing new: the whole POLL_SECONDS
    assert answers[1:] == [(3, {"messages": ["hello"], "next": 1}), (33, {"messages": [], "next": 1})]


async def test_long_poll_answers_at_once_when_the_shutdown_begins(autojump_clock: trio.testing.MockClock) -> None:
    sample = load("deployment", "long_poll")
    answers: list[object] = []
    async with trio.open_nursery() as nursery, sample.app.test_app() as test_app:

        async def poll() -> None:
            answers.append(await (await test_app.test_client().get("/messages")).get_json())

        nursery.start_soon(poll)
        await trio.sleep(5)
        leaving = trio.current_time()
    assert answers == [{"messages": [], "next": 0}]
    assert trio.current_time() == leaving


async def test_long_poll_lets_the_native_server_shut_down_at_once() -> None:
    sample = load("deployment", "long_poll")
    answers: list[httpx.Response] = []
    polling = trio.Event()

    @sample.app.before_request
    async def note_the_poll() -> None:
        polling.set()

    async with running(sample.app, "native") as server:
        async with trio.open_nursery() as nursery:

            async def poll() -> None:
                async with httpx.AsyncClient() as client:
                    answers.append(await client.get(f"http://{server.address}/messages"))

            nursery.start_soon(poll)
            with trio.fail_after(5):
                await polling.wait()
            start = trio.current_time()
            await server.stop()
        assert trio.current_time() - start < 3  # SHUTDOWN_TIMEOUT is 10 s
    assert answers[0].json() == {"messages": [], "next": 0}
    assert answers[0].headers["connection"] == "close"
