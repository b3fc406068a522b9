"""The samples of docs/hosts.md, run: on the test client, and on a real socket on both servers."""

from __future__ import annotations

import httpx
import trio
import trio_websocket

from tests.conftest import running
from tests.docs_samples import load, sample_tests

TESTED = {"host_matching", "subdomains", "test_subdomains"}

globals().update(sample_tests(load("hosts", "test_subdomains")))


async def test_host_matching_serves_each_site_on_its_host() -> None:
    client = load("hosts", "host_matching").app.test_client()
    shop = await client.get("/", headers={"Host": "shop.example.com"})
    assert await shop.get_data() == b'Shop. Read <a href="http://blog.example.com/">the blog</a>.'
    blog = await client.get("/", headers={"Host": "blog.example.com"})
    assert await blog.get_data() == b'Blog. Visit <a href="http://shop.example.com/">the shop</a>.'
    ann = await client.get("/", headers={"Host": "ann.people.example.com"})
    assert await ann.get_data() == b"The page of ann"
    assert (await client.get("/", headers={"Host": "example.com"})).status_code == 404
    assert (await client.get("/static/x.css", headers={"Host": "shop.example.com"})).status_code == 404


async def test_the_email_link_is_built_from_server_name() -> None:
    sample = load("hosts", "subdomains")
    assert await sample.welcome_email_link() == "http://docs.example.com/"
    sample.app.config.update(PREFERRED_URL_SCHEME="https", APPLICATION_ROOT="/site")
    assert await sample.welcome_email_link() == "https://docs.example.com/site/"


async def test_host_matching_on_a_real_socket(server_kind: str) -> None:
    app = load("hosts", "host_matching").app
    async with running(app, server_kind) as server, httpx.AsyncClient(base_url=f"http://{server.address}") as client:
        shop = await client.get("/", headers={"Host": "shop.example.com"})
        ann = await client.get("/", headers={"Host": "ann.people.example.com"})
        by_address = await client.get("/")
    assert "http://blog.example.com/" in shop.text
    assert ann.text == "The page of ann"
    assert by_address.status_code == 404


async def test_subdomains_on_a_real_socket(server_kind: str) -> None:
    app = load("hosts", "subdomains").app
    async with running(app, server_kind) as server, httpx.AsyncClient(base_url=f"http://{server.address}") as client:
        api = await client.get("/", headers={"Host": "api.example.com"})
        home = await client.get("/", headers={"Host": "example.com"})
        ip, port = server.address.rsplit(":", 1)
        stream = await trio.open_tcp_stream(ip, int(port))
        async with trio.open_nursery() as nursery:
            feed = await trio_websocket.wrap_client_stream(nursery, stream, "api.example.com", "/feed")
            with trio.fail_after(10):
                message = await feed.get_message()
            await feed.aclose()
    assert api.json() == {"home": "http://example.com/", "feed": "ws://api.example.com/feed"}
    assert home.text == "Home. The API is at http://api.example.com/"
    assert message == "hello from the API"
