"""The samples of docs/scaling-out.md, run."""

from __future__ import annotations

import functools
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from contextlib import AsyncExitStack
from pathlib import Path

import httpx
import pytest
import trio
from trio_websocket import open_websocket_url

from tests.conftest import running
from tests.docs_samples import EXAMPLES, load, sample_tests
from tests.redis_server import RedisServer
from tests.test_cli import Output, gone
from trioweb.broadcast import Broadcast, Message, Subscriber
from trioweb.testing import WebsocketDisconnectError, WebsocketResponseError

TESTED = {"hits", "broadcast_chat", "broadcast_feed", "broadcast_test", "broadcast_script", "broadcast_resume"}
SAMPLES = EXAMPLES / "scaling-out"


# -- worker processes ----------------------------------------------------------------------------


def start_workers_line(folder: Path, line: str) -> subprocess.Popen[str]:
    """A line of workers.sh in a real process, on a free port (``--port 0``, or ``PORT=0`` for the script)."""
    shutil.copy(SAMPLES / "hits.py", folder)
    words = shlex.split(line)
    if words[0] == "trioweb":
        command = [str(Path(sys.executable).parent / "trioweb"), *words[1:], "--port", "0"]
    else:
        command = [sys.executable, *words[1:]]
    if "--certfile" in words:
        files = ["-keyout", str(folder / "key.pem"), "-out", str(folder / "cert.pem")]
        subprocess.run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "1",
                "-subj",
                "/CN=localhost",
                *files,
            ],
            check=True,
            capture_output=True,
        )
    environment = dict(os.environ, PORT="0")
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=folder, env=environment
    )


@pytest.mark.parametrize("line", (SAMPLES / "workers.sh").read_text().splitlines())
def test_each_workers_line_serves_hits_from_its_workers(tmp_path: Path, line: str) -> None:
    if "--certfile" in line and shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a certificate")
    process = start_workers_line(tmp_path, line)
    workers: list[int] = []
    try:
        output = Output(process)
        serving = output.wait_for(r"Serving on (https?)://[\d.]+:(\d+) with (\d+) workers \(Ctrl-C to stop\)")
        scheme, port, count = serving[1], serving[2], int(serving[3])
        workers = [int(pid) for pid in re.findall(r"Worker (\d+) started", "".join(output.seen))]
        asked = re.search(r"--workers (\d+)", line)
        assert count == len(workers) == (int(asked[1]) if asked else 2)  # hits.py asks for 2
        with httpx.Client(base_url=f"{scheme}://127.0.0.1:{port}", verify=False) as client:
            first, second = client.get("/").json(), client.get("/").json()  # one connection: one worker
        assert first["worker"] in workers
        assert second == {"worker": first["worker"], "hits": first["hits"] + 1}
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0
        assert process.stdout is not None
        started = sorted(int(pid) for pid in re.findall(r"worker (\d+) is starting", process.stdout.read()))
        assert started == sorted(workers)  # before_serving ran in every worker
    finally:
        if process.poll() is None:
            process.kill()
        for pid in workers:
            if not gone(pid):
                os.kill(pid, signal.SIGKILL)


# -- broadcast ---------------------------------------------------------------------------------

globals().update(sample_tests(load("scaling-out", "broadcast_test")))


async def test_the_chat_relays_a_gap_and_closes_1013_on_overflow() -> None:
    sample = load("scaling-out", "broadcast_chat")
    broadcast = sample.broadcast
    broadcast.buffer = 2
    async with sample.app.test_app() as test_app, test_app.test_client().websocket("/rooms/a") as ws:
        broadcast._hub.gap("reconnect")
        assert await ws.receive_json(timeout=5) == {"gap": True}
        for n in range(5):  # faster than the view sends: its buffer of two overflows
            broadcast._hub.deliver(Message("a", str(n).encode()))
        with pytest.raises(WebsocketDisconnectError) as closed:
            while True:
                await ws.receive(timeout=5)
    assert closed.value.code == 1013


async def test_the_chat_spans_two_apps_on_redis(redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BROADCAST_URL", redis_server.url)
    one, other = load("scaling-out", "broadcast_chat").app, load("scaling-out", "broadcast_chat").app
    async with (
        one.test_app() as first,
        other.test_app() as second,
        first.test_client().websocket("/rooms/a") as alice,
        second.test_client().websocket("/rooms/a") as bob,
    ):
        await alice.send("across processes")
        assert await bob.receive(timeout=5) == "across processes"


@pytest.mark.parametrize("kind", ["native", "hypercorn", "test client"])
async def test_the_prices_feed_forwards_each_price_and_asks_for_a_resync_on_a_gap(
    kind: str, redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BROADCAST_URL", redis_server.url)
    sample = load("scaling-out", "broadcast_feed")
    publisher = Broadcast(redis_server.url)
    hub, subscribed = sample.broadcast._hub, trio.Event()
    join = hub.join

    async def join_then_say_so(subscriber: Subscriber) -> None:
        await join(subscriber)
        subscribed.set()

    monkeypatch.setattr(hub, "join", join_then_say_so)
    async with publisher, AsyncExitStack() as stack:
        if kind == "test client":
            test_app = await stack.enter_async_context(sample.app.test_app())
            ws = await stack.enter_async_context(test_app.test_client().websocket("/prices"))
            receive = functools.partial(ws.receive, timeout=5)
        else:
            server = await stack.enter_async_context(running(sample.app, kind))
            connection = await stack.enter_async_context(open_websocket_url(f"ws://{server.address}/prices"))
            receive = connection.get_message
        with trio.fail_after(10):
            await subscribed.wait()
            await publisher.publish_json("prices", {"ACME": 101})  # from another process, as it were
            assert json.loads(await receive()) == {"ACME": 101}
            sample.broadcast._hub.gap("reconnect")
            assert json.loads(await receive()) == {"resync": "reconnect"}
            await publisher.publish_json("prices", {"ACME": 102})  # forwarding again
            assert json.loads(await receive()) == {"ACME": 102}


async def test_the_script_prints_what_it_received(capsys: pytest.CaptureFixture[str]) -> None:
    await load("scaling-out", "broadcast_script").main()
    assert capsys.readouterr().out == "news hello\n"


async def test_the_feed_sends_history_then_resumes_after_the_last_id_the_page_saw(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BROADCAST_URL", redis_server.url.replace("redis://", "redis-stream://"))
    sample = load("scaling-out", "broadcast_resume")
    broadcast = sample.broadcast
    async with sample.app.test_app() as test_app:
        client = test_app.test_client()
        for n in range(25):
            await broadcast.publish("news", f"old {n}")
        async with client.websocket("/feed/news") as ws:
            shown = [await ws.receive_json(timeout=5) for _ in range(20)]  # history=20
            assert [item["text"] for item in shown] == [f"old {n}" for n in range(5, 25)]
            await broadcast.publish("news", "live")
            shown.append(await ws.receive_json(timeout=5))
            assert shown[-1]["text"] == "live"
        for n in range(3):  # while the page is away
            await broadcast.publish("news", f"missed {n}")
        async with client.websocket("/feed/news", query_string={"last_id": shown[-1]["id"]}) as ws:
            assert [(await ws.receive_json(timeout=5))["text"] for _ in range(3)] == [f"missed {n}" for n in range(3)]
        with pytest.raises(WebsocketResponseError) as rejected:
            async with client.websocket("/feed/news", query_string={"last_id": "yesterday"}):
                pass
        assert rejected.value.response.status_code == 400
        async with client.websocket("/feed/news", query_string={"last_id": "1-0"}) as ws:
            assert await ws.receive_json(timeout=5) == {"gap": "trimmed"}  # older than the stream's first
