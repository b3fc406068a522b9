"""The sample of docs/guide.md, run: the lifespan order and the app nursery it describes."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from tests.docs_samples import load

TESTED = {"serving"}
STARTUP = ["pool opened", "metrics client connected"]


async def test_startup_background_job_and_shutdown_in_order(autojump_clock: trio.testing.MockClock) -> None:
    sample = load("guide", "serving")
    async with sample.app.test_app() as test_app:
        assert sample.log == STARTUP
        response = await test_app.test_client().post("/jobs", json={"name": "report", "seconds": 3})
        assert (response.status_code, await response.get_data()) == (202, b"accepted")
        assert sample.log == STARTUP  # the job runs on after the response
        leaving = trio.current_time()
    # The shutdown waited for the job, then resumed the generator, then ran after_serving.
    assert sample.log == [*STARTUP, "job report done", "metrics flushed", "pool closed"]
    assert trio.current_time() - leaving == 3


async def test_a_job_longer_than_the_grace_period_is_cancelled(autojump_clock: trio.testing.MockClock) -> None:
    sample = load("guide", "serving")
    assert sample.app.config["SHUTDOWN_TIMEOUT"] == 10
    async with sample.app.test_app() as test_app:
        await test_app.test_client().post("/jobs", json={"name": "slow", "seconds": 60})
        leaving = trio.current_time()
    assert sample.log == [*STARTUP, "metrics flushed", "pool closed"]
    assert trio.current_time() - leaving == 10


async def test_a_failing_job_is_logged_and_the_app_serves_on(caplog: pytest.LogCaptureFixture) -> None:
    sample = load("guide", "serving")
    async with sample.app.test_app() as test_app:
        client = test_app.test_client()
        await client.post("/jobs", json={"name": "broken"})  # no "seconds": a KeyError in the task
        response = await client.post("/jobs", json={"name": "quick", "seconds": 0})
        assert response.status_code == 202
    assert "Background task run_job failed" in caplog.text and "KeyError" in caplog.text
    assert sample.log == [*STARTUP, "job quick done", "metrics flushed", "pool closed"]


async def test_outside_serving_the_view_fails_and_says_why(caplog: pytest.LogCaptureFixture) -> None:
    sample = load("guide", "serving")
    response = await sample.app.test_client().post("/jobs", json={"name": "x", "seconds": 0})
    assert response.status_code == 500
    assert "app.nursery exists only while the app is serving" in caplog.text
    assert sample.log == []  # app.test_client() alone runs no startup
