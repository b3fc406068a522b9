from subdomains import app


async def test_each_subdomain_has_its_views() -> None:
    client = app.test_client()
    home = await client.get("/")  # to SERVER_NAME: the default subdomain
    assert await home.get_data() == b"Home. The API is at http://api.example.com/"
    api = await client.get("/", subdomain="api")  # Host: api.example.com
    assert await api.get_json() == {
        "home": "http://example.com/",
        "feed": "ws://api.example.com/feed",
    }
    team = await client.get("/", subdomain="docs")
    assert await team.get_data() == b"The team docs"


async def test_base_url_gives_the_scheme_and_the_host() -> None:
    client = app.test_client()
    api = await client.get("/", base_url="https://api.example.com")
    assert await api.get_json() == {
        "home": "https://example.com/",
        "feed": "wss://api.example.com/feed",
    }


async def test_the_websocket_is_on_the_api_subdomain() -> None:
    client = app.test_client()
    async with client.websocket("/feed", subdomain="api") as feed:
        assert await feed.receive() == "hello from the API"
