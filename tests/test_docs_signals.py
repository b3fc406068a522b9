"""The samples of docs/signals.md, run: receivers connected with connect_via (on the test client and on a real
socket on both servers), connected_to in a test, and an app's own signal."""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType

import httpx
import pytest

from tests.docs_samples import load, sample_tests
from trioweb import App, signals

TESTED = {"metrics", "captured_templates", "own_signal"}

globals().update(sample_tests(load("signals", "captured_templates")))


@pytest.fixture
def metrics() -> Iterator[ModuleType]:
    """A fresh copy of the metrics sample; its receivers are disconnected afterwards (``connect_via`` holds them)."""
    sample = load("signals", "metrics")
    yield sample
    for signal, receiver in (
        (signals.request_started, sample.start_clock),
        (signals.request_finished, sample.count),
        (signals.got_request_exception, sample.remember),
    ):
        signal.disconnect(receiver)
    assert not (signals.request_started.receivers or signals.request_finished.receivers)


@pytest.fixture
def app(metrics: ModuleType) -> App:
    """What ``live_server`` serves: the metrics sample's app."""
    sample_app: App = metrics.app
    return sample_app


async def test_the_metrics_count_statuses_and_remember_the_error(metrics: ModuleType) -> None:
    client = metrics.app.test_client()
    assert (await client.get("/")).status_code == 200
    assert (await client.get("/")).status_code == 200
    assert (await client.get("/crash")).status_code == 500
    assert metrics.STATUSES == {200: 2, 500: 1}
    assert metrics.ERRORS == ["RuntimeError('out of coffee')"]


async def test_the_metrics_count_on_a_real_socket(metrics: ModuleType, live_server: str) -> None:
    async with httpx.AsyncClient(base_url=f"http://{live_server}") as client:
        assert (await client.get("/")).text == "hello"
        assert (await client.get("/crash")).status_code == 500
    # request_finished is sent before the response goes out, so both are counted by now.
    assert metrics.STATUSES == {200: 1, 500: 1}


async def test_captured_templates_disconnects_at_the_end_of_the_block() -> None:
    sample = load("signals", "captured_templates")
    with sample.captured_templates(sample.app) as templates:
        await sample.app.test_client().get("/hello/bo")
    await sample.app.test_client().get("/hello/cy")
    assert [context["name"] for _, context in templates] == ["bo"]
    assert not signals.template_rendered.receivers


async def test_an_order_is_shipped_by_the_apps_own_signal() -> None:
    sample = load("signals", "own_signal")
    response = await sample.app.test_client().post("/orders", json={"item": "tea"})
    assert (response.status_code, sample.SHIPPED) == (201, ["tea"])
    sample.order_placed.disconnect(sample.ship)
    await sample.app.test_client().post("/orders", json={"item": "cake"})
    assert sample.SHIPPED == ["tea"]
