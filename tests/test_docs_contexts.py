"""The samples of docs/contexts.md, run: through the test client, and the stream on a real socket on both servers."""

from __future__ import annotations

import httpx
import pytest
import trio

from tests.docs_samples import load, sample_tests
from trioweb import App, has_app_context

TESTED = {
    "app_context",
    "test_request_context",
    "testing_errors",
    "background",
    "after_this_request",
    "language_code",
    "stream",
    "teardown_appcontext",
}

for _name in ("test_request_context", "testing_errors"):
    globals().update(sample_tests(load("contexts", _name)))


async def test_a_script_runs_shared_code_in_an_app_context(capsys: pytest.CaptureFixture[str]) -> None:
    await load("contexts", "app_context").main()
    assert capsys.readouterr().out == "hello, ann (call 1)\nhello, bob (call 2)\n"
    assert not has_app_context()


async def test_the_thread_pool_and_the_late_task_see_the_request(autojump_clock: trio.abc.Clock) -> None:
    sample = load("contexts", "background")
    async with sample.app.test_app() as test_app:
        client = test_app.test_client()
        response = await client.get("/thumbnail", query_string={"image": "cat.png"}, headers={"X-User": "ann"})
        assert await response.get_data() == b"thumbnail of cat.png for ann"
        started = await client.post("/reports", headers={"X-User": "bob"})
        assert (started.status_code, sample.REPORTS) == (202, [])
        await trio.sleep(2)
    assert sample.REPORTS == ["report for bob, asked at /reports"]
    sample.POOL.shutdown()


async def test_the_cookie_is_set_for_the_request_that_asked_only() -> None:
    client = load("contexts", "after_this_request").app.test_client()
    assert (await client.get("/", query_string={"lang": "fr"})).headers["Set-Cookie"] == "lang=fr; Path=/"
    assert "Set-Cookie" not in (await client.get("/")).headers


async def test_the_language_code_goes_to_g_and_back_into_urls() -> None:
    client = load("contexts", "language_code").app.test_client()
    response = await client.get("/fr/")
    assert await response.get_json() == {"language": "fr", "about": "/fr/about"}
    assert await (await client.get("/de/about")).get_data() == b"about us, in de"


@pytest.fixture
def app() -> App:
    """``live_server`` serves the stream sample."""
    sample: App = load("contexts", "stream").app
    return sample


async def test_the_stream_reads_the_request_on_both_servers(live_server: str) -> None:
    async with httpx.AsyncClient(base_url=f"http://{live_server}") as client:
        response = await client.get("/rows", params={"n": "2"})
    assert response.text == "row 0 of 2\nrow 1 of 2\n"


async def test_the_connection_is_closed_after_each_request_and_a_script_block_that_used_it() -> None:
    sample = load("contexts", "teardown_appcontext")
    client = sample.app.test_client()
    assert await (await client.get("/users")).get_data(as_text=True) == "rows for users"
    await client.get("/users")
    async with sample.app.app_context():
        db = sample.get_db()
        assert sample.get_db() is db and not db.closed
    opened = sample.Connection.opened
    assert len(opened) == 3 and all(db.closed for db in opened)
    async with sample.app.app_context():
        pass  # used nothing: nothing opened, nothing to close
    assert len(opened) == 3
