"""stream_with_context: a streamed body that keeps the request it was made in, on both servers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from trioweb import App, g, request, stream_with_context


def streaming_app() -> App:
    app = App(__name__)

    @app.route("/async")
    async def async_stream() -> Any:
        g.user = "ann"

        @stream_with_context
        async def generate() -> AsyncIterator[str]:
            yield f"{request.path} "
            yield f"{request.args['q']} {g.user}"

        return generate()

    @app.route("/plain")
    async def plain_stream() -> Any:
        def generate() -> Iterator[str]:
            yield request.path

        return stream_with_context(generate())

    return app


async def test_a_stream_with_context_reads_the_request_as_it_is_sent() -> None:
    client = streaming_app().test_client()
    assert await (await client.get("/async?q=x")).get_data() == b"/async x ann"
    assert await (await client.get("/plain")).get_data() == b"/plain"


async def test_a_stream_with_context_keeps_its_request_wherever_it_is_consumed() -> None:
    app = App(__name__)

    async def generate() -> AsyncIterator[str]:
        yield request.path
        yield g.user

    async with app.test_request_context("/made-here"):
        g.user = "ann"
        stream = stream_with_context(generate())
        plain = stream_with_context(iter(["x"]))  # any iterator
    assert [chunk async for chunk in stream] == ["/made-here", "ann"]  # outside any request now
    assert list(plain) == ["x"]
    with pytest.raises(RuntimeError, match="stream_with_context needs a request"):
        stream_with_context(generate())


@pytest.fixture
def app() -> App:
    """``live_server`` serves the streaming app."""
    return streaming_app()


async def test_a_stream_with_context_works_over_a_real_socket(live_server: str) -> None:
    async with httpx.AsyncClient(base_url=f"http://{live_server}") as client:
        response = await client.get("/async", params={"q": "x"})
        assert (response.status_code, response.text) == (200, "/async x ann")
        assert (await client.get("/plain")).text == "/plain"
