"""The samples of docs/concurrency.md, run."""

from __future__ import annotations

import functools
import json

import httpx
import pytest
import trio
import trio.testing
from trio_websocket import ConnectionClosed, open_websocket_url

from tests.docs_samples import load
from trioweb import serve
from trioweb.server import serve_stream

TESTED = {"fan_out", "slow_report", "app_nursery", "stop_at_shutdown"}


async def test_fan_out_answers_with_what_came_in_time(autojump_clock: trio.testing.MockClock) -> None:
    app = load("concurrency", "fan_out").app
    start = trio.current_time()
    response = await app.test_client().get("/dashboard")
    assert trio.current_time() - start == pytest.approx(0.4)  # not 0.3 + 0.5 + 0.2
    assert await response.get_json() == {"weather": "weather is fine", "news": None, "prices": "prices is fine"}


async def test_slow_report_finishes_for_a_patient_client(autojump_clock: trio.testing.MockClock) -> None:
    sample = load("concurrency", "slow_report")
    response = await sample.app.test_client().get("/reports/q3")
    assert await response.get_data() == b"report q3"
    assert (sample.finished, sample.in_progress) == (["q3"], set())


async def test_slow_report_is_cancelled_when_its_client_leaves(autojump_clock: trio.testing.MockClock) -> None:
    sample = load("concurrency", "slow_report")
    client, server = trio.testing.memory_stream_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve_stream, sample.app, server)
        await client.send_all(b"GET /reports/q3 HTTP/1.1\r\nHost: x\r\n\r\n")
        await trio.testing.wait_all_tasks_blocked()
        assert sample.in_progress == {"q3"}
        start = trio.current_time()
        await client.aclose()
    # serve_stream returned: the view was cancelled at once, not after its ten seconds.
    assert trio.current_time() == start
    assert (sample.finished, sample.in_progress) == ([], set())


async def test_app_nursery_follows_prices_and_sends_receipts_after_the_response(
    autojump_clock: trio.testing.MockClock,
) -> None:
    sample = load("concurrency", "app_nursery")
    async with sample.app.test_app() as test_app:
        client = test_app.test_client()
        assert await (await client.get("/price")).get_json() == {"price": 101.0}  # follow_prices ran once
        await trio.sleep(2.5)
        assert await (await client.get("/price")).get_json() == {"price": 103.03}
        order = await client.post("/orders/7")
        assert (order.status_code, await order.get_data()) == (201, b"order 7 placed")
        assert sample.receipts == []  # on its way, after the response
        leaving = trio.current_time()
    assert sample.receipts == ["7"]
    # follow_prices never ends on its own: the shutdown waited the whole SHUTDOWN_TIMEOUT, then cancelled it.
    assert trio.current_time() - leaving == sample.app.config["SHUTDOWN_TIMEOUT"] == 10


async def test_app_nursery_stops_the_app_when_follow_prices_fails(autojump_clock: trio.testing.MockClock) -> None:
    sample = load("concurrency", "app_nursery")

    async def failing() -> None:
        await trio.sleep(5)
        raise RuntimeError("the price source went away")

    sample.follow_prices = failing
    with pytest.raises(RuntimeError, match="price source"):  # plainly, not in an exception group
        async with sample.app.test_app():
            await trio.sleep_forever()
    assert trio.current_time() == 5


async def test_app_nursery_stops_serve_when_follow_prices_fails() -> None:
    sample = load("concurrency", "app_nursery")

    async def failing() -> None:
        await trio.sleep(0.05)
        raise RuntimeError("the price source went away")

    sample.follow_prices = failing
    with trio.fail_after(5), pytest.raises(RuntimeError, match="price source"):
        await serve(sample.app, host="127.0.0.1", port=0)


async def test_app_nursery_logs_a_failed_receipt_and_serves_on(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    sample = load("concurrency", "app_nursery")

    async def send_receipt(order: str) -> None:
        raise ConnectionError(f"no mail server for order {order}")

    sample.send_receipt = send_receipt
    async with sample.app.test_app() as test_app:
        client = test_app.test_client()
        assert (await client.post("/orders/8")).status_code == 201
        await trio.sleep(1)
        assert (await client.get("/price")).status_code == 200
    assert "no mail server for order 8" in caplog.text


async def test_app_nursery_native_shutdown_closes_the_feed_with_1001_and_lets_receipts_finish() -> None:
    sample = load("concurrency", "app_nursery")
    sample.app.config["SHUTDOWN_TIMEOUT"] = 0.5  # follow_prices makes every shutdown take this long

    async def send_receipt(order: str) -> None:  # a quicker mail server, done within the grace period
        await trio.sleep(0.2)
        sample.receipts.append(order)

    sample.send_receipt = send_receipt
    stop = trio.Event()
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            listeners = await nursery.start(
                functools.partial(serve, sample.app, host="127.0.0.1", port=0, shutdown_trigger=stop.wait)
            )
            host, port = listeners[0].socket.getsockname()[:2]
            async with open_websocket_url(f"ws://{host}:{port}/ws/price") as feed:
                assert json.loads(await feed.get_message()) == {"price": 101.0}
                async with httpx.AsyncClient() as http:
                    order = await http.post(f"http://{host}:{port}/orders/9")
                assert order.status_code == 201
                stop.set()
                shutdown_began = trio.current_time()
                with pytest.raises(ConnectionClosed) as closed:
                    while True:
                        await feed.get_message()
                assert closed.value.reason is not None and closed.value.reason.code == 1001
    # serve() returned once SHUTDOWN_TIMEOUT had passed and follow_prices was cancelled.
    assert trio.current_time() - shutdown_began >= 0.5
    assert sample.receipts == ["9"]


async def test_fan_out_answers_500_when_a_fetch_fails(caplog: pytest.LogCaptureFixture) -> None:
    sample = load("concurrency", "fan_out")

    async def fetch(source: str) -> str:
        raise ConnectionError(f"{source} is down")

    sample.fetch = fetch
    assert (await sample.app.test_client().get("/dashboard")).status_code == 500
    assert "weather is down" in caplog.text


async def test_stop_at_shutdown_ends_both_loops_without_the_grace_period(
    autojump_clock: trio.testing.MockClock,
) -> None:
    sample = load("concurrency", "stop_at_shutdown")
    async with sample.app.test_app() as test_app:
        await trio.sleep(12.5)
        response = await test_app.test_client().get("/market")
        assert await response.get_json() == {"price": 113.8, "trades": 2}  # 13 polls, trades at 5 and 10
        leaving = trio.current_time()
    # Unlike app_nursery's follow_prices, nothing waited for SHUTDOWN_TIMEOUT (10 s) to be cancelled.
    assert trio.current_time() == leaving
    assert sample.trades == ["trade 1", "trade 2"]


async def test_stop_at_shutdown_passes_on_an_error_of_the_trade_reader(
    autojump_clock: trio.testing.MockClock,
) -> None:
    sample = load("concurrency", "stop_at_shutdown")

    async def next_trade() -> str:
        await trio.sleep(1)
        raise ConnectionError("the trade feed went away")

    sample.next_trade = next_trade
    with pytest.raises(ConnectionError, match="trade feed"):
        async with sample.app.test_app():
            await trio.sleep_forever()


async def test_stop_at_shutdown_on_the_native_server_stops_at_once() -> None:
    sample = load("concurrency", "stop_at_shutdown")
    stop = trio.Event()
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            listeners = await nursery.start(
                functools.partial(serve, sample.app, host="127.0.0.1", port=0, shutdown_trigger=stop.wait)
            )
            host, port = listeners[0].socket.getsockname()[:2]
            async with httpx.AsyncClient() as http:
                assert (await http.get(f"http://{host}:{port}/market")).json()["trades"] == 0
            stop.set()
            shutdown_began = trio.current_time()
    assert trio.current_time() - shutdown_began < 3  # SHUTDOWN_TIMEOUT is 10 s
