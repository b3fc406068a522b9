"""The samples of docs/testing.md: each is an app with its tests, collected here as tests of the suite."""

from __future__ import annotations

import pytest

from tests.docs_samples import load, sample_tests

TESTED = {"client_requests", "cookies", "timing", "cleanup", "lifespan", "real_socket"}

for _name in sorted(TESTED):
    globals().update(sample_tests(load("testing", _name)))
base_url = load("testing", "real_socket").base_url  # the fixture its test asks for


async def test_without_test_app_a_background_task_cannot_start(caplog: pytest.LogCaptureFixture) -> None:
    """What the page says of ``app.test_client()`` alone: no startup, no app nursery, a 500."""
    sample = load("testing", "lifespan")
    response = await sample.app.test_client().post("/signup/ann")
    assert response.status_code == 500
    assert "app.nursery exists only while the app is serving" in caplog.text
    assert (sample.greetings, sample.welcomed) == ({}, [])
