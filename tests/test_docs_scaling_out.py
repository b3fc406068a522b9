"""The samples of docs/scaling-out.md, run."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.docs_samples import load, sample_tests
from tests.redis_server import RedisServer, running_redis_server
from trioweb.broadcast import Message
from trioweb.testing import WebsocketDisconnectError

TESTED = {"broadcast_chat", "broadcast_test", "broadcast_script"}

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


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    yield from running_redis_server()


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


async def test_the_script_prints_what_it_received(capsys: pytest.CaptureFixture[str]) -> None:
    await load("scaling-out", "broadcast_script").main()
    assert capsys.readouterr().out == "news hello\n"
