"""The samples of docs/concurrency.md, run."""

from __future__ import annotations

import httpx
import pytest
import trio
import trio.testing

from tests.docs_samples import load
from trioweb.server import serve_stream

TESTED = {"fan_out", "slow_report", "own_nursery"}


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


async def test_own_nursery_serves_beside_its_background_task() -> None:
    sample = load("concurrency", "own_nursery")
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(sample.main, 0)
        host, port = listeners[0].socket.getsockname()[:2]
        async with httpx.AsyncClient() as http:
            response = await http.get(f"http://{host}:{port}/price")
        assert response.json() == {"price": 101.0}  # follow_prices ran once already
        nursery.cancel_scope.cancel()


async def test_own_nursery_stops_serving_when_the_background_task_fails(autojump_clock: trio.testing.MockClock) -> None:
    sample = load("concurrency", "own_nursery")

    async def failing() -> None:
        await trio.sleep(5)
        raise RuntimeError("the price source went away")

    sample.follow_prices = failing
    with pytest.RaisesGroup(pytest.RaisesExc(RuntimeError, match="price source")):
        await sample.main(0)


async def test_fan_out_answers_500_when_a_fetch_fails(caplog: pytest.LogCaptureFixture) -> None:
    sample = load("concurrency", "fan_out")

    async def fetch(source: str) -> str:
        raise ConnectionError(f"{source} is down")

    sample.fetch = fetch
    assert (await sample.app.test_client().get("/dashboard")).status_code == 500
    assert "weather is down" in caplog.text
