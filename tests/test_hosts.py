"""Hosts and subdomains: host matching, subdomain matching, SERVER_NAME, url_for's hosts, the test client's host."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import trio
import trio_websocket

from tests.conftest import raw_exchange, running
from trioweb import App, request, url_for, websocket


def host_app(**options: object) -> App:
    """Two shops on their own hosts, users on a host each, and a websocket on one of them."""
    app = App(__name__, host_matching=True, static_folder=None, **options)  # type: ignore[arg-type]

    @app.route("/", host="shop.test")
    async def shop() -> str:
        return "shop"

    @app.route("/", host="blog.test")
    async def blog() -> str:
        return "blog"

    @app.route("/", endpoint="user", host="<user>.users.test")
    async def user(user: str) -> str:
        return f"user {user}"

    @app.route("/folder/", host="shop.test")
    async def folder() -> str:
        return "folder"

    @app.route("/cart", host="shop.test", methods=["GET", "POST"])
    async def cart() -> str:
        return "cart"

    @app.route("/cart", endpoint="blog_cart", host="blog.test")
    async def blog_cart() -> str:
        return "no cart here"

    @app.websocket("/ws", host="shop.test")
    async def shop_ws() -> None:
        await websocket.accept()
        await websocket.send(f"shop {websocket.host}")

    @app.route("/links", host="shop.test")
    async def links() -> dict[str, str]:
        return {
            "same": url_for("folder"),
            "other": url_for("blog"),
            "user": url_for("user", user="ann"),
            "external": url_for("folder", _external=True),
            "ws": url_for("shop_ws"),
        }

    return app


def subdomain_app(server_name: str | None = "example.test") -> App:
    """The site on SERVER_NAME, an API on its subdomain api, and a page per user subdomain."""
    app = App(__name__, subdomain_matching=True, static_folder=None)
    app.config["SERVER_NAME"] = server_name

    @app.route("/")
    async def index() -> str:
        return "index"

    @app.route("/", endpoint="api_index", subdomain="api")
    async def api_index() -> str:
        return "api"

    @app.route("/page/", subdomain="<name>")
    async def page(name: str) -> str:
        return f"page of {name}"

    @app.websocket("/ws", subdomain="api")
    async def api_ws() -> None:
        await websocket.accept()
        await websocket.send(f"api {websocket.host}")

    @app.route("/links")
    @app.route("/links", endpoint="api_links", subdomain="api")
    async def links() -> dict[str, str]:
        return {
            "index": url_for("index"),
            "api": url_for("api_index"),
            "page": url_for("page", name="ann"),
            "external": url_for("index", _external=True),
            "ws": url_for("api_ws"),
        }

    return app


async def text(response: object) -> tuple[int, str]:
    from trioweb import Response

    assert isinstance(response, Response)
    return response.status_code, (await response.get_data()).decode()


# -- App(host_matching=, static_host=) -----------------------------------------------------------


async def test_host_matching_routes_each_host_to_its_own_views() -> None:
    client = host_app().test_client()
    assert await text(await client.get("/", headers={"Host": "shop.test"})) == (200, "shop")
    assert await text(await client.get("/", headers={"Host": "blog.test"})) == (200, "blog")
    assert await text(await client.get("/", headers={"Host": "Blog.TEST"})) == (200, "blog")
    assert await text(await client.get("/", headers={"Host": "ann.users.test"})) == (200, "user ann")
    assert (await client.get("/", headers={"Host": "elsewhere.test"})).status_code == 404
    assert (await client.get("/")).status_code == 404  # localhost has no views


async def test_host_matching_sets_the_maps_host_matching() -> None:
    assert host_app().url_map.host_matching is True
    assert App(__name__).url_map.host_matching is False


async def test_the_same_path_on_two_hosts_is_cached_per_host() -> None:
    client = host_app().test_client()
    for _ in range(3):
        assert await text(await client.get("/cart", headers={"Host": "shop.test"})) == (200, "cart")
        assert await text(await client.get("/cart", headers={"Host": "blog.test"})) == (200, "no cart here")
        assert (await client.get("/cart", headers={"Host": "other.test"})).status_code == 404


async def test_405_and_options_list_the_methods_of_the_requests_host() -> None:
    client = host_app().test_client()
    refused = await client.post("/cart", headers={"Host": "blog.test"})
    assert (refused.status_code, refused.headers["Allow"]) == (405, "GET, HEAD, OPTIONS")
    options = await client.options("/cart", headers={"Host": "shop.test"})
    assert options.headers["Allow"] == "GET, HEAD, OPTIONS, POST"
    assert (await client.post("/cart", headers={"Host": "shop.test"})).status_code == 200


async def test_a_websocket_rule_on_a_host() -> None:
    client = host_app().test_client()
    async with client.websocket("/ws", headers={"Host": "shop.test"}) as ws:
        assert await ws.receive() == "shop shop.test"
    plain = await client.get("/ws", headers={"Host": "shop.test"})
    assert plain.status_code == 400 and b"ws://shop.test/ws" in await plain.get_data()
    assert (await client.get("/ws", headers={"Host": "blog.test"})).status_code == 404


def static_app(tmp_path: Path, **options: object) -> App:
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "site.css").write_text("body {}")
    return App(__name__, root_path=str(tmp_path), **options)  # type: ignore[arg-type]


async def test_the_static_route_is_on_static_host(tmp_path: Path) -> None:
    app = static_app(tmp_path, host_matching=True, static_host="static.test")
    client = app.test_client()
    assert await text(await client.get("/static/site.css", headers={"Host": "static.test"})) == (200, "body {}")
    assert (await client.get("/static/site.css", headers={"Host": "shop.test"})).status_code == 404
    async with app.test_request_context("/", headers={"Host": "shop.test"}):
        assert url_for("static", filename="site.css") == "http://static.test/static/site.css"


def test_host_matching_with_a_static_folder_needs_static_host(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"static_host='\.\.\.'.*or static_folder=None"):
        static_app(tmp_path, host_matching=True)
    App(__name__, host_matching=True, static_folder=None)  # no static route, nothing to put on a host


def test_static_host_needs_host_matching(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="needs host_matching=True"):
        static_app(tmp_path, static_host="static.test")


# -- subdomain_matching and SERVER_NAME ------------------------------------------------------------


async def test_subdomain_matching_takes_the_subdomain_in_front_of_server_name() -> None:
    client = subdomain_app().test_client()
    assert await text(await client.get("/")) == (200, "index")  # the client's Host is SERVER_NAME
    assert await text(await client.get("/", subdomain="api")) == (200, "api")
    assert await text(await client.get("/", headers={"Host": "API.Example.Test"})) == (200, "api")
    assert await text(await client.get("/page/", subdomain="ann")) == (200, "page of ann")
    assert await text(await client.get("/page/", subdomain="a.b")) == (200, "page of a.b")
    assert (await client.get("/", subdomain="www")).status_code == 404  # no rule for www at /


async def test_a_host_not_under_server_name_is_the_default_subdomain() -> None:
    # Flask 3.1 with werkzeug 3.2: SERVER_NAME does not restrict the hosts served.
    client = subdomain_app().test_client()
    assert await text(await client.get("/", headers={"Host": "127.0.0.1:8000"})) == (200, "index")
    assert await text(await client.get("/", headers={"Host": "api.other.test"})) == (200, "index")
    assert await text(await client.get("/", headers={"Host": "fooexample.test"})) == (200, "index")


async def test_server_name_with_a_port_and_the_schemes_default_port() -> None:
    client = subdomain_app("example.test:8000").test_client()
    assert await text(await client.get("/", headers={"Host": "api.example.test:8000"})) == (200, "api")
    assert await text(await client.get("/", headers={"Host": "api.example.test:9000"})) == (200, "index")
    client = subdomain_app("example.test:443").test_client()
    assert await text(await client.get("/", base_url="https://api.example.test")) == (200, "api")
    assert await text(await client.get("/", base_url="https://api.example.test:443")) == (200, "api")


async def test_without_subdomain_matching_subdomain_rules_never_match_and_every_host_is_served() -> None:
    app = subdomain_app()
    app.subdomain_matching = False
    client = app.test_client()
    assert await text(await client.get("/", subdomain="api")) == (200, "index")
    assert (await client.get("/page/", subdomain="ann")).status_code == 404
    assert await text(await client.get("/", headers={"Host": "other.test"})) == (200, "index")


async def test_a_default_subdomain_set_after_the_app_is_made_is_where_later_rules_match() -> None:
    # Flask's way to put the site on www: its rules take the map's default_subdomain when they are added.
    for subdomain_matching in (False, True):
        app = App(__name__, static_folder=None, subdomain_matching=subdomain_matching)
        app.config["SERVER_NAME"] = "example.test"
        app.url_map.default_subdomain = "www"

        @app.route("/")
        async def index() -> str:
            return url_for("index", _external=True)

        client = app.test_client()
        www = await text(await client.get("/", subdomain="www"))
        assert www == (200, "http://www.example.test/") if subdomain_matching else www[0] == 200
        # Not under SERVER_NAME, or without subdomain matching any host: the default subdomain.
        assert (await client.get("/", headers={"Host": "127.0.0.1:8000"})).status_code == 200
        assert (await client.get("/")).status_code == (404 if subdomain_matching else 200)


async def test_subdomain_matching_without_server_name_is_the_default_subdomain_everywhere() -> None:
    client = subdomain_app(None).test_client()
    assert await text(await client.get("/", headers={"Host": "api.example.test"})) == (200, "index")
    assert (await client.get("/page/", subdomain="ann")).status_code == 404


async def test_subdomain_matching_can_be_turned_on_after_the_app_is_made() -> None:
    app = App(__name__, static_folder=None)
    app.config["SERVER_NAME"] = "example.test"

    @app.route("/", subdomain="api")
    async def api_index() -> str:
        return "api"

    client = app.test_client()
    assert (await client.get("/", subdomain="api")).status_code == 404
    app.subdomain_matching = True
    assert app.subdomain_matching and app.router.subdomain_matching
    assert await text(await client.get("/", subdomain="api")) == (200, "api")


async def test_the_same_path_on_two_subdomains_is_cached_per_subdomain() -> None:
    client = subdomain_app().test_client()
    for _ in range(3):
        assert await text(await client.get("/")) == (200, "index")
        assert await text(await client.get("/", subdomain="api")) == (200, "api")


async def test_a_websocket_rule_on_a_subdomain() -> None:
    client = subdomain_app().test_client()
    async with client.websocket("/ws", subdomain="api") as ws:
        assert await ws.receive() == "api api.example.test"
    assert (await client.get("/ws", subdomain="api")).status_code == 400
    assert (await client.get("/ws")).status_code == 404


GARBAGE_HOSTS = [
    "a..b",
    "-",
    "x y",
    "[::1",
    "bad_host",
    "example.test:99999",
    ".",
    "x" * 70 + ".test",
    "",
    "a/b",
    "a@b",
]


@pytest.mark.parametrize("garbage", GARBAGE_HOSTS)
async def test_a_garbage_host_is_a_400_or_404_never_a_500(garbage: str) -> None:
    for app in (host_app(), subdomain_app()):
        client = app.test_client()
        for method in ("GET", "POST", "OPTIONS"):
            response = await client.open("/", method=method, headers={"Host": garbage})
            assert response.status_code in (400, 404, 405) if app.url_map.host_matching else (200, 400, 404, 405)
        response = await client.get("/links", headers={"Host": garbage})
        assert response.status_code in (200, 400, 404)


BAD_SUBDOMAINS = ["a..example.test", "x" * 70 + ".example.test"]


@pytest.mark.parametrize("garbage", BAD_SUBDOMAINS)
async def test_a_host_under_server_name_that_is_no_host_name_is_a_400_not_a_500(garbage: str) -> None:
    # "a." is what "a..example.test" has in front of SERVER_NAME: not a subdomain, but "<name>" takes it, and the
    # strict-slashes redirect to that host could not be encoded.
    client = subdomain_app().test_client()
    for path in ("/page", "/page/", "/", "/links"):
        assert (await client.get(path, headers={"Host": garbage})).status_code == 400


async def test_a_rules_host_and_subdomain_are_compared_without_case_too() -> None:
    app = App(__name__, host_matching=True, static_folder=None)

    @app.route("/", host="Shop.Test")
    async def shop() -> str:
        return url_for("user", User="Ann")

    @app.route("/", host="<User>.People.Test", endpoint="user")
    async def user(User: str) -> str:  # the variable's name is kept as it is written
        return User

    client = app.test_client()
    assert await text(await client.get("/", headers={"Host": "SHOP.test"})) == (200, "http://Ann.people.test/")
    assert await text(await client.get("/", headers={"Host": "ann.people.test"})) == (200, "ann")

    app = App(__name__, subdomain_matching=True, static_folder=None)
    app.config["SERVER_NAME"] = "example.test"

    @app.route("/", subdomain="API")
    async def api() -> str:
        return url_for("api", _external=True)

    assert await text(await app.test_client().get("/", subdomain="api")) == (200, "http://api.example.test/")


async def test_the_adapters_kept_per_host_are_bounded_and_match_right_after_they_are_dropped() -> None:
    from trioweb.routing import MAX_ADAPTERS
    from trioweb.testing import make_test_request

    for app, host_of in (
        (host_app(), lambda n: f"u{n}.users.test"),
        (subdomain_app(), lambda n: f"u{n}.example.test"),
    ):
        router = app.router
        for n in range(MAX_ADAPTERS * 3):  # a client sending a new Host each time
            for method in ("GET", "POST"):  # POST /: a 405, from the adapters of the HTTP rules
                garbage = make_test_request(app, "/", method=method, headers={"Host": host_of(n)})
                router.match(garbage, websocket=False)
                assert len(router._adapters) <= MAX_ADAPTERS and len(router._http_adapters) <= MAX_ADAPTERS
        assert len(router._static) + len(router._static_by_domain) <= 4  # keyed by rule, not by Host
    client = host_app().test_client()
    for n in range(MAX_ADAPTERS + 2):
        assert (await client.get("/", headers={"Host": f"x{n}.test"})).status_code == 404
    assert await text(await client.get("/", headers={"Host": "shop.test"})) == (200, "shop")
    assert await text(await client.get("/", headers={"Host": "bo.users.test"})) == (200, "user bo")


async def test_an_app_without_host_matching_serves_every_host_as_before() -> None:
    app = App(__name__, static_folder=None)

    @app.route("/")
    async def index() -> str:
        return request.host

    client = app.test_client()
    assert await text(await client.get("/", headers={"Host": "anything.test"})) == (200, "anything.test")
    assert await text(await client.get("/")) == (200, "localhost")
    assert not app.router._by_domain  # the path-only matcher, at its old cost


# -- url_for -----------------------------------------------------------------------------------


async def test_url_for_with_host_matching_is_relative_on_the_same_host_and_external_on_another() -> None:
    client = host_app().test_client()
    links = await (await client.get("/links", headers={"Host": "shop.test"})).get_json()
    assert links == {
        "same": "/folder/",
        "other": "http://blog.test/",
        "user": "http://ann.users.test/",
        "external": "http://shop.test/folder/",
        "ws": "ws://shop.test/ws",
    }


async def test_url_for_with_subdomains_from_the_site_and_from_the_api() -> None:
    client = subdomain_app().test_client()
    assert await (await client.get("/links")).get_json() == {
        "index": "/",
        "api": "http://api.example.test/",
        "page": "http://ann.example.test/page/",
        "external": "http://example.test/",
        "ws": "ws://api.example.test/ws",
    }
    from_api = await (await client.get("/links", base_url="https://api.example.test")).get_json()
    assert from_api == {
        "index": "https://example.test/",
        "api": "/",
        "page": "https://ann.example.test/page/",
        "external": "https://example.test/",
        "ws": "wss://api.example.test/ws",
    }


async def test_url_for_from_a_host_not_under_server_name_builds_with_server_name() -> None:
    client = subdomain_app().test_client()
    links = await (await client.get("/links", headers={"Host": "127.0.0.1:8000"})).get_json()
    assert (links["api"], links["external"]) == ("http://api.example.test/", "http://example.test/")


async def test_url_for_external_in_a_request_names_the_requests_host() -> None:
    app = App(__name__, static_folder=None)
    app.config["SERVER_NAME"] = "example.test"

    @app.route("/a")
    async def a() -> dict[str, str]:
        return {
            "external": url_for("a", _external=True),
            "scheme": url_for("a", _scheme="https"),
            "anchor": url_for("a", _anchor="top part", _external=True),
            "relative": url_for("a", _external=False),
        }

    links = await (await app.test_client().get("/a", headers={"Host": "mirror.test:8080"})).get_json()
    assert links == {
        "external": "http://mirror.test:8080/a",
        "scheme": "https://mirror.test:8080/a",
        "anchor": "http://mirror.test:8080/a#top%20part",
        "relative": "/a",
    }


async def test_url_for_scheme_alone_is_external_and_with_external_false_an_error() -> None:
    app = App(__name__, static_folder=None)

    @app.route("/read", methods=["GET"])
    @app.route("/write", methods=["POST"])
    async def item() -> str:
        return "item"

    async with app.test_request_context("/", subdomain="api"):
        assert url_for("item", _scheme="https") == "https://api.localhost/read"  # as in Flask
        assert url_for("item", _method="POST", _scheme="https") == "https://api.localhost/write"
        with pytest.raises(ValueError, match="_scheme"):
            url_for("item", _scheme="https", _external=False)


async def test_url_for_outside_a_request_uses_server_name_application_root_and_preferred_scheme() -> None:
    app = subdomain_app()
    app.config.update(APPLICATION_ROOT="/site", PREFERRED_URL_SCHEME="https")
    async with app.app_context():
        assert url_for("index") == "https://example.test/site/"
        assert url_for("api_index") == "https://api.example.test/site/"
        assert url_for("page", name="ann", _scheme="http") == "http://ann.example.test/site/page/"
        assert url_for("api_ws") == "wss://api.example.test/site/ws"
        assert url_for("index", _external=False) == "/site/"


async def test_url_for_outside_a_request_without_server_name_says_to_set_it() -> None:
    app = subdomain_app(None)
    async with app.app_context():
        with pytest.raises(RuntimeError, match=r"url_for\('index'\).*SERVER_NAME.*set it.*APPLICATION_ROOT"):
            url_for("index")


async def test_websocket_urls_are_ws_or_wss_and_http_urls_stay_http_in_a_websocket() -> None:
    app = App(__name__, static_folder=None)

    @app.route("/page")
    async def page() -> str:
        return url_for("feed")

    @app.websocket("/feed")
    async def feed() -> None:
        await websocket.accept()
        await websocket.send(f"{url_for('page')} {url_for('page', _external=True)} {url_for('feed')}")

    client = app.test_client()
    assert await text(await client.get("/page")) == (200, "ws://localhost/feed")
    assert await text(await client.get("/page", scheme="https")) == (200, "wss://localhost/feed")
    async with client.websocket("/feed", scheme="wss", headers={"Host": "feeds.test"}) as ws:
        assert await ws.receive() == "/page https://feeds.test/page wss://feeds.test/feed"


# -- the test client's host -----------------------------------------------------------------------


def echo_app() -> App:
    app = App(__name__, static_folder=None)

    @app.route("/", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    async def echo() -> str:
        return f"{request.method} {request.scheme} {request.host} {request.root_path!r}"

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.accept()
        await websocket.send(f"{websocket.scheme} {websocket.host}")

    return app


async def test_subdomain_on_every_method_of_the_client() -> None:
    app = echo_app()
    app.config["SERVER_NAME"] = "example.test"
    client = app.test_client()
    for method in ("get", "post", "put", "patch", "delete"):
        response = await getattr(client, method)("/", subdomain="api")
        assert await text(response) == (200, f"{method.upper()} http api.example.test ''")
    for method in ("head", "options"):
        assert (await getattr(client, method)("/", subdomain="api")).status_code == 200
    async with client.websocket("/ws", subdomain="api") as ws:
        assert await ws.receive() == "ws api.example.test"


async def test_the_clients_host_is_server_name_or_localhost() -> None:
    app = echo_app()
    client = app.test_client()
    assert await text(await client.get("/")) == (200, "GET http localhost ''")
    assert await text(await client.get("/", subdomain="api")) == (200, "GET http api.localhost ''")
    app.config["SERVER_NAME"] = "example.test:8000"
    assert await text(await client.get("/")) == (200, "GET http example.test:8000 ''")


async def test_base_url_gives_the_scheme_and_host() -> None:
    client = echo_app().test_client()
    assert await text(await client.get("/", base_url="https://example.test")) == (200, "GET https example.test ''")
    assert await text(await client.post("/", base_url="http://example.test:8000/")) == (
        200,
        "POST http example.test:8000 ''",
    )
    async with client.websocket("/ws", base_url="https://example.test") as ws:
        assert await ws.receive() == "wss example.test"
    async with client.websocket("/ws", base_url="ws://example.test") as ws:
        assert await ws.receive() == "ws example.test"
    assert await text(await client.get("/", base_url="wss://example.test")) == (200, "GET https example.test ''")


async def test_base_url_with_a_path_mounts_the_app_there() -> None:
    app = echo_app()

    @app.route("/folder/")
    async def folder() -> str:
        return f"{request.root_path} {request.path} {url_for('folder')}"

    @app.websocket("/rooted")
    async def rooted() -> None:
        await websocket.accept()
        await websocket.send(f"{websocket.root_path} {websocket.path} {url_for('rooted')}")

    client = app.test_client()
    assert await text(await client.get("/", base_url="https://example.test/root/")) == (
        200,
        "GET https example.test '/root'",
    )
    redirect = await client.get("/folder", base_url="http://example.test/root")
    assert (redirect.status_code, redirect.headers["Location"]) == (308, "http://example.test/root/folder/")
    followed = await client.get("/folder", base_url="http://example.test/root", follow_redirects=True)
    assert await text(followed) == (200, "/root /folder/ /root/folder/")
    async with client.websocket("/rooted", base_url="http://example.test/root") as ws:
        assert await ws.receive() == "/root /rooted ws://example.test/root/rooted"


async def test_a_host_header_reaches_the_app_on_http_and_websocket() -> None:
    client = echo_app().test_client()
    assert await text(await client.get("/", headers={"Host": "given.test"})) == (200, "GET http given.test ''")
    async with client.websocket("/ws", headers={"host": "given.test"}) as ws:
        assert await ws.receive() == "ws given.test"


async def test_a_websocket_host_the_handshake_cannot_send_is_a_plain_error() -> None:
    # wsproto IDNA-encodes the Host of the handshake: an empty label cannot be sent (client.get can send it).
    client = host_app().test_client()
    with pytest.raises(ValueError, match=r"cannot send the Host 'a\.\.b'"):
        async with client.websocket("/ws", headers={"Host": "a..b"}):
            pass
    assert (await client.get("/ws", headers={"Host": "a..b"})).status_code == 400


async def test_the_host_given_twice_or_a_bad_base_url_is_a_clear_error() -> None:
    client = echo_app().test_client()
    with pytest.raises(TypeError, match="give the host one way"):
        await client.get("/", subdomain="api", headers={"Host": "x.test"})
    with pytest.raises(TypeError, match="not both"):
        await client.get("/", subdomain="api", base_url="http://x.test")
    with pytest.raises(ValueError, match="needs a scheme and a host"):
        await client.get("/", base_url="example.test")


async def test_test_request_context_takes_subdomain_and_base_url_with_a_root_path() -> None:
    app = subdomain_app()
    async with app.test_request_context("/page/", base_url="https://ann.example.test/root"):
        assert (request.host, request.root_path, request.scheme) == ("ann.example.test", "/root", "https")
        assert request.url == "https://ann.example.test/root/page/"
        assert request.view_args == {"name": "ann"}
        assert url_for("index") == "https://example.test/root/"
    async with app.test_request_context("/", subdomain="api"):
        assert (request.host, request.endpoint) == ("api.example.test", "api_index")
    with pytest.raises(TypeError, match="root path"):
        app.test_request_context("/", base_url="http://example.test/root", root_path="/other")


async def test_cookies_are_kept_per_host() -> None:
    app = App(__name__, static_folder=None)
    app.config["SERVER_NAME"] = "example.test"

    @app.route("/set")
    async def set_cookie() -> tuple[str, dict[str, str]]:
        return "set", {"Set-Cookie": f"where={request.host}"}

    @app.route("/get")
    async def get_cookie() -> str:
        return request.cookies.get("where", "none")

    client = app.test_client()
    await client.get("/set", subdomain="api")
    assert await text(await client.get("/get", subdomain="api")) == (200, "api.example.test")
    assert await text(await client.get("/get")) == (200, "none")
    assert client.get_cookie("where", domain="api.example.test") is not None


async def test_session_transaction_on_a_subdomain() -> None:
    app = App(__name__, static_folder=None)
    app.config.update(SERVER_NAME="example.test", SECRET_KEY="secret")

    @app.route("/who")
    async def who() -> str:
        from trioweb import session

        return str(session.get("user"))

    client = app.test_client()
    async with client.session_transaction(subdomain="api") as session:
        session["user"] = "ann"
    assert await text(await client.get("/who", subdomain="api")) == (200, "ann")
    assert await text(await client.get("/who")) == (200, "None")  # another host, another cookie


async def test_session_transaction_with_a_base_url_path_is_under_it_as_requests_are() -> None:
    app = App(__name__, static_folder=None)
    app.config.update(SECRET_KEY="secret", APPLICATION_ROOT="/root")  # the session cookie's Path=/root

    @app.route("/count")
    async def count() -> str:
        from trioweb import session

        session["n"] = session.get("n", 0) + 1
        return str(session["n"])

    client = app.test_client()
    base_url = "http://example.test/root"
    assert await text(await client.get("/count", base_url=base_url)) == (200, "1")
    async with client.session_transaction(base_url=base_url) as session:
        assert session.get("n") == 1  # the cookie of /root is sent to /root/
        session["n"] = 10
    assert await text(await client.get("/count", base_url=base_url)) == (200, "11")


# -- redirects keep the host -----------------------------------------------------------------------


async def test_a_strict_slashes_redirect_keeps_the_host_with_host_matching() -> None:
    client = host_app().test_client()
    response = await client.get("/folder", headers={"Host": "shop.test"}, query_string={"a": "1"})
    assert (response.status_code, response.headers["Location"]) == (308, "http://shop.test/folder/?a=1")
    followed = await client.get("/folder", headers={"Host": "shop.test"}, follow_redirects=True)
    assert await text(followed) == (200, "folder")


async def test_a_strict_slashes_redirect_keeps_the_subdomain() -> None:
    client = subdomain_app().test_client()
    response = await client.get("/page", subdomain="ann")
    assert (response.status_code, response.headers["Location"]) == (308, "http://ann.example.test/page/")
    assert await text(await client.get("/page", subdomain="ann", follow_redirects=True)) == (200, "page of ann")
    response = await client.get("/page", base_url="https://ann.example.test")
    assert response.headers["Location"] == "https://ann.example.test/page/"


async def test_a_redirect_stays_on_a_host_not_under_server_name() -> None:
    app = subdomain_app()

    @app.route("/folder/")
    async def folder() -> str:
        return "folder"

    response = await app.test_client().get("/folder", headers={"Host": "127.0.0.1:8000"})
    assert response.headers["Location"] == "http://127.0.0.1:8000/folder/"


# -- on real sockets, both servers -----------------------------------------------------------------


async def websocket_message(address: str, host: str, resource: str) -> str | bytes:
    """One message from a websocket on ``address``, whose handshake says ``Host: host``."""
    ip, port = address.rsplit(":", 1)
    stream = await trio.open_tcp_stream(ip, int(port))
    async with trio.open_nursery() as nursery:
        connection = await trio_websocket.wrap_client_stream(nursery, stream, host, resource)
        try:
            with trio.fail_after(10):
                return await connection.get_message()
        finally:
            await connection.aclose()


async def test_host_matching_on_a_real_socket(server_kind: str) -> None:
    async with (
        running(host_app(), server_kind) as server,
        httpx.AsyncClient(base_url=f"http://{server.address}") as client,
    ):
        shop = await client.get("/", headers={"Host": "shop.test"})
        blog = await client.get("/", headers={"Host": "blog.test"})
        nowhere = await client.get("/", headers={"Host": "nowhere.test"})
        redirect = await client.get("/folder", headers={"Host": "shop.test"})
        garbage = await client.get("/", headers={"Host": "a..b"})
        links = await client.get("/links", headers={"Host": "shop.test"})
        message = await websocket_message(server.address, "shop.test", "/ws")
    assert (shop.text, blog.text, nowhere.status_code) == ("shop", "blog", 404)
    assert (redirect.status_code, redirect.headers["Location"]) == (308, "http://shop.test/folder/")
    assert garbage.status_code == 400
    assert links.json()["other"] == "http://blog.test/"
    assert message == "shop shop.test"


async def test_subdomains_on_a_real_socket(server_kind: str) -> None:
    async with (
        running(subdomain_app(), server_kind) as server,
        httpx.AsyncClient(base_url=f"http://{server.address}") as client,
    ):
        api = await client.get("/", headers={"Host": "api.example.test"})
        site = await client.get("/", headers={"Host": "example.test"})
        by_address = await client.get("/")  # Host: 127.0.0.1:port, not under SERVER_NAME
        page = await client.get("/page", headers={"Host": "ann.example.test"})
        links = await client.get("/links", headers={"Host": "api.example.test"})
        no_host_name = await client.get("/page", headers={"Host": "a..example.test"})
        message = await websocket_message(server.address, "api.example.test", "/ws")
    assert (api.text, site.text, by_address.text) == ("api", "index", "index")
    assert no_host_name.status_code == 400
    assert page.headers["Location"] == "http://ann.example.test/page/"
    assert links.json()["index"] == "http://example.test/"
    assert message == "api api.example.test"


RAW_HOSTS = [  # what httpx would normalise or refuse: (Host line, the host app's status, the subdomain app's)
    (b"", 404, 200),  # HTTP/1.0 without a Host: the server's address
    (b"Host: SHOP.Test\r\n", 200, 200),
    (b"Host: shop.test.\r\n", 404, 200),  # a trailing dot is another name
    (b"Host: shop.test:80\r\n", 200, 200),
    (b"Host: shop.test:8000\r\n", 404, 200),
    (b"Host: [::1]:8000\r\n", 404, 200),
    (b"Host: user@shop.test\r\n", 404, 200),
    (b"Host: shop.test/x\r\n", 404, 200),
    (b"Host: b\xc3\xbccher.test\r\n", 404, 200),
    (b"Host: a..example.test\r\n", 400, 400),
]


async def test_raw_hosts_on_both_servers_are_a_match_a_400_or_a_404(server_kind: str) -> None:
    for app, column in ((host_app(), 1), (subdomain_app(), 2)):
        async with running(app, server_kind) as server:
            for case in RAW_HOSTS:
                version = b"1.1" if case[0] else b"1.0"
                head = b"GET / HTTP/" + version + b"\r\n" + case[0] + b"Connection: close\r\n\r\n"
                status = int((await raw_exchange(server.address, head)).split(b" ", 2)[1])
                assert status == case[column], case


async def test_a_blueprint_registered_with_subdomain_answers_there_and_url_for_builds_its_host() -> None:
    from trioweb import Blueprint

    app = App(__name__, subdomain_matching=True, static_folder=None)
    app.config["SERVER_NAME"] = "example.test"
    api = Blueprint("api", __name__)
    v1 = Blueprint("v1", __name__, url_prefix="/v1")

    @app.route("/")
    async def home() -> str:
        return url_for("api.v1.status")

    @v1.route("/status")
    async def status() -> str:
        return f"status on {request.host}"

    api.register_blueprint(v1, subdomain="eu")
    app.register_blueprint(api, subdomain="api")
    client = app.test_client()
    assert await text(await client.get("/v1/status", subdomain="eu.api")) == (200, "status on eu.api.example.test")
    assert (await client.get("/v1/status")).status_code == 404
    assert await text(await client.get("/")) == (200, "http://eu.api.example.test/v1/status")
