"""The samples of docs/sessions.md: each is an app with its tests, collected here; the store also on real sockets."""

from __future__ import annotations

import httpx
import pytest

from tests.docs_samples import load, sample_tests
from trioweb import App

TESTED = {"login", "rotation", "server_side"}

for _name in sorted(TESTED):
    globals().update({f"{name}_{_name}": test for name, test in sample_tests(load("sessions", _name)).items()})


@pytest.fixture
def app() -> App:
    """The server-side store sample, which ``live_server`` serves."""
    sample: App = load("sessions", "server_side").app
    return sample


async def test_the_server_side_store_over_a_real_socket(app: App, live_server: str) -> None:
    async with httpx.AsyncClient(base_url=f"http://{live_server}") as client:
        await client.post("/cart/tea")
        assert (await client.post("/cart/milk")).json() == {"cart": ["tea", "milk"]}
        assert "tea" not in client.cookies["session"]
        client.cookies.clear()
        assert (await client.post("/cart/cake")).json() == {"cart": ["cake"]}
