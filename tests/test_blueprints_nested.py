"""Nested blueprints, registration options, registering twice, and the order of hooks and handlers (Flask's)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import trio
from trio_websocket import open_websocket_url
from werkzeug.exceptions import Forbidden, HTTPException, NotFound
from werkzeug.routing import BuildError

from trioweb import (
    App,
    Blueprint,
    Response,
    abort,
    g,
    has_websocket_context,
    render_template,
    render_template_string,
    request,
    url_for,
    websocket,
)
from trioweb.blueprints import BlueprintSetupState
from trioweb.testing import WebsocketResponseError

# -- registration: names, prefixes, subdomains, url_defaults ---------------------------


def rule_of(app: App, endpoint: str) -> Any:
    (rule,) = [rule for rule in app.url_map.iter_rules() if rule.endpoint == endpoint]
    return rule


@pytest.mark.parametrize(
    ("parent_init", "child_init", "parent_registration", "child_registration"),
    [
        ("/parent", "/child", None, None),
        ("/parent", None, None, "/child"),
        (None, None, "/parent", "/child"),
        ("/other", "/something", "/parent", "/child"),
        ("/parent/", "/child/", None, None),
    ],
)
async def test_a_nested_blueprint_is_under_both_prefixes_with_a_dotted_endpoint(
    app: App,
    parent_init: str | None,
    child_init: str | None,
    parent_registration: str | None,
    child_registration: str | None,
) -> None:
    parent = Blueprint("parent", __name__, url_prefix=parent_init)
    child = Blueprint("child", __name__, url_prefix=child_init)

    @child.get("/")
    async def index() -> str:
        return request.endpoint or ""

    parent.register_blueprint(child, url_prefix=child_registration)
    app.register_blueprint(parent, url_prefix=parent_registration)
    response = await app.test_client().get("/parent/child/")
    assert (response.status_code, await response.get_data(as_text=True)) == (200, "parent.child.index")
    assert list(app.blueprints) == ["parent", "parent.child"]
    assert app.blueprints["parent.child"] is child


async def test_three_levels_and_an_empty_rule_join_their_prefixes(app: App) -> None:
    top = Blueprint("top", __name__, url_prefix="/a/")
    middle = Blueprint("middle", __name__, url_prefix="b")
    bottom = Blueprint("bottom", __name__, url_prefix="/c")

    @bottom.route("")
    async def bare() -> str:
        return "bare"

    @bottom.route("/d")
    async def deep() -> str:
        return url_for(".bare")

    middle.register_blueprint(bottom)
    top.register_blueprint(middle)
    app.register_blueprint(top)
    assert rule_of(app, "top.middle.bottom.bare").rule == "/a/b/c"
    assert rule_of(app, "top.middle.bottom.deep").rule == "/a/b/c/d"
    assert await (await app.test_client().get("/a/b/c/d")).get_data(as_text=True) == "/a/b/c"


async def test_subdomains_are_joined_child_dot_parent_and_a_rules_own_wins(app: App) -> None:
    parent = Blueprint("parent", __name__)
    child = Blueprint("child", __name__, subdomain="v1")
    plain = Blueprint("plain", __name__)

    async def view() -> str:
        return ""

    child.add_url_rule("/c", "c", view)
    child.add_url_rule("/own", "own", view, subdomain="mine")
    plain.add_url_rule("/p", "p", view)
    parent.add_url_rule("/top", "top", view)
    parent.register_blueprint(child)
    parent.register_blueprint(plain)
    app.register_blueprint(parent, subdomain="api")
    app.register_blueprint(child, name="alone", subdomain="v2")
    assert rule_of(app, "parent.top").subdomain == "api"
    assert rule_of(app, "parent.child.c").subdomain == "v1.api"
    assert rule_of(app, "parent.child.own").subdomain == "mine"
    assert rule_of(app, "parent.plain.p").subdomain == "api"
    assert rule_of(app, "alone.c").subdomain == "v2"  # the registration's over the constructor's


def test_an_empty_subdomain_joins_as_no_subdomain_not_as_a_stray_dot(app: App) -> None:
    """``subdomain=""`` is the bare domain: a child's ``"v1"`` below it is ``"v1"``, not ``"v1."`` (Flask's join)."""
    apex = Blueprint("apex", __name__, subdomain="")
    api = Blueprint("api", __name__, subdomain="api")
    for parent, child in ((apex, Blueprint("child", __name__, subdomain="v1")), (api, Blueprint("child", __name__))):
        child.add_url_rule("/c", "c", _view)
        parent.register_blueprint(child, subdomain="" if parent is api else None)
        app.register_blueprint(parent, url_prefix=f"/{parent.name}")
    assert rule_of(app, "apex.child.c").subdomain == "v1"
    assert rule_of(app, "api.child.c").subdomain == "api"


async def test_url_defaults_are_the_blueprints_then_the_registrations_then_the_rules(app: App) -> None:
    parent = Blueprint("parent", __name__, url_defaults={"a": 1, "b": 1})
    child = Blueprint("child", __name__, url_defaults={"b": 2, "c": 2})

    @child.get("/", defaults={"c": 3, "d": 3})
    async def index(**values: int) -> dict[str, int]:
        return values

    @parent.get("/parent")
    async def parent_index(**values: int) -> dict[str, int]:
        return values

    parent.register_blueprint(child, url_defaults={"e": 4})
    app.register_blueprint(parent, url_defaults={"a": 0})
    client = app.test_client()
    assert await (await client.get("/")).get_json() == {"b": 2, "c": 3, "d": 3, "e": 4}
    assert await (await client.get("/parent")).get_json() == {"a": 0, "b": 1}


async def test_a_parents_url_defaults_do_not_reach_the_nested_views_as_in_flask(app: App) -> None:
    """Ported Flask code: the child's views do not take the parent's values, and its path variables are its own."""
    shop = Blueprint("shop", __name__, url_prefix="/<lang>", url_defaults={"currency": "EUR"})
    cart = Blueprint("cart", __name__, url_prefix="/cart")

    @shop.get("/")
    async def index(lang: str, currency: str) -> str:
        return f"{lang} {currency}"

    @cart.get("/")
    async def items(lang: str) -> str:
        return f"{lang} {url_for('.items', lang='fr')}"

    shop.register_blueprint(cart)
    app.register_blueprint(shop)
    client = app.test_client()
    assert await (await client.get("/de/")).get_data(as_text=True) == "de EUR"
    assert await (await client.get("/de/cart/")).get_data(as_text=True) == "de /fr/cart/"


async def test_a_nested_blueprint_serves_its_static_folder_under_its_prefix(app: App, tmp_path: Path) -> None:
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "site.css").write_text("body {}")
    parent = Blueprint("parent", __name__, url_prefix="/parent")
    child = Blueprint("child", __name__, url_prefix="/child", static_folder="assets", root_path=str(tmp_path))

    @child.get("/")
    async def index() -> str:
        return url_for(".static", filename="site.css")

    parent.register_blueprint(child)
    app.register_blueprint(parent)
    client = app.test_client()
    link = await (await client.get("/parent/child/")).get_data(as_text=True)
    assert link == "/parent/child/assets/site.css"
    assert await (await client.get(link)).get_data(as_text=True) == "body {}"
    assert (await client.get("/parent/child/assets/nothing.css")).status_code == 404


# -- registering twice, and the mistakes ------------------------------------------------


async def test_one_blueprint_registered_twice_has_endpoints_and_hooks_for_each_name(app: App) -> None:
    shop = Blueprint("shop", __name__)
    seen: list[str | None] = []

    @shop.before_request
    async def note() -> None:
        seen.append(request.blueprint)

    @shop.errorhandler(403)
    async def forbidden(error: Forbidden) -> tuple[str, int]:
        return f"{request.blueprint} says no", 403

    @shop.get("/")
    async def index() -> dict[str, Any]:
        return {"endpoint": request.endpoint, "self": url_for(".index"), "blueprints": request.blueprints}

    @shop.get("/no")
    async def no() -> str:
        abort(403)

    app.register_blueprint(shop, url_prefix="/a")
    app.register_blueprint(shop, url_prefix="/b", name="again")
    client = app.test_client()
    assert await (await client.get("/a/")).get_json() == {
        "endpoint": "shop.index",
        "self": "/a/",
        "blueprints": ["shop"],
    }
    assert await (await client.get("/b/")).get_json() == {
        "endpoint": "again.index",
        "self": "/b/",
        "blueprints": ["again"],
    }
    assert await (await client.get("/b/no")).get_data(as_text=True) == "again says no"
    assert seen == ["shop", "again", "again"]
    assert app.before_request_funcs["shop"] == app.before_request_funcs["again"]
    assert len(app.before_request_funcs["shop"]) == 1


async def test_a_nested_blueprint_under_a_parent_registered_twice_is_there_twice(app: App) -> None:
    parent = Blueprint("parent", __name__)
    child = Blueprint("child", __name__, url_prefix="/child")

    @child.get("/")
    async def index() -> str:
        return request.blueprint or ""

    parent.register_blueprint(child)
    app.register_blueprint(parent, url_prefix="/x")
    app.register_blueprint(parent, url_prefix="/y", name="other")
    client = app.test_client()
    assert await (await client.get("/x/child/")).get_data(as_text=True) == "parent.child"
    assert await (await client.get("/y/child/")).get_data(as_text=True) == "other.child"


def test_two_blueprints_under_one_name_is_an_error_that_says_to_pass_name(app: App) -> None:
    first = Blueprint("shop", __name__)
    second = Blueprint("shop", __name__)
    first.add_url_rule("/", "index", _view)
    second.add_url_rule("/other", "index", _view)
    app.register_blueprint(first)
    with pytest.raises(ValueError, match=r"'shop' is already registered for another blueprint.*name="):
        app.register_blueprint(second)
    app.register_blueprint(second, name="other_shop")
    assert {"shop.index", "other_shop.index"} <= set(app.view_functions)


def test_the_same_blueprint_twice_under_the_same_name_is_an_error_too(app: App) -> None:
    shop = Blueprint("shop", __name__)
    app.register_blueprint(shop)
    with pytest.raises(ValueError, match=r"'shop' is already registered for this blueprint.*name="):
        app.register_blueprint(shop)


def test_a_clash_deep_in_a_nested_tree_leaves_the_app_as_it_was(app: App) -> None:
    parent = Blueprint("parent", __name__)
    child = Blueprint("child", __name__)
    parent.add_url_rule("/p", "p", _view)
    parent.register_blueprint(child)
    parent.register_blueprint(Blueprint("child", __name__))  # the same dotted name, parent.child
    rules = len(list(app.url_map.iter_rules()))
    with pytest.raises(ValueError, match=r"'parent.child' is already registered"):
        app.register_blueprint(parent)
    assert app.blueprints == {}
    assert len(list(app.url_map.iter_rules())) == rules


def test_a_blueprint_registered_on_itself_is_an_error() -> None:
    one = Blueprint("one", __name__)
    two = Blueprint("two", __name__)
    with pytest.raises(ValueError, match="on itself"):
        one.register_blueprint(one)
    one.register_blueprint(two)
    with pytest.raises(ValueError, match="on itself"):
        two.register_blueprint(one)  # a cycle: one -> two -> one


def test_wrong_names_and_keywords_say_what_is_wrong(app: App) -> None:
    shop = Blueprint("shop", __name__)
    with pytest.raises(TypeError, match=r"unexpected keywords \['url_perfix'\]"):
        app.register_blueprint(shop, url_perfix="/shop")  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="may not contain dots"):
        app.register_blueprint(shop, name="a.b")
    with pytest.raises(ValueError, match="may not contain dots"):
        Blueprint("a.b", __name__)
    with pytest.raises(ValueError, match="may not be empty"):
        Blueprint("", __name__)
    with pytest.raises(ValueError, match="endpoints may not contain dots"):
        shop.add_url_rule("/", "a.b", _view)
    assert app.blueprints == {}


def test_adding_to_a_blueprint_after_registering_it_is_an_error(app: App) -> None:
    parent = Blueprint("parent", __name__)
    app.register_blueprint(parent)
    with pytest.raises(AssertionError, match="after it was registered"):
        parent.add_url_rule("/late", "late", _view)
    with pytest.raises(AssertionError, match="after it was registered"):
        parent.register_blueprint(Blueprint("child", __name__))
    with pytest.raises(AssertionError, match=r"before_request\(\) on the blueprint 'parent' after it was registered"):
        parent.before_request(_view)
    with pytest.raises(AssertionError, match="after it was registered"):
        parent.errorhandler(404)(_view)
    with pytest.raises(AssertionError, match="after it was registered"):
        parent.app_template_filter()(str.upper)
    assert parent.before_request_funcs == {}


async def _view() -> str:
    return ""


# -- request.blueprint(s) and the order of hooks ------------------------------------------


async def test_request_and_websocket_know_their_chain_of_blueprints(app: App) -> None:
    parent = Blueprint("parent", __name__, url_prefix="/parent")
    child = Blueprint("child", __name__, url_prefix="/child")

    @child.get("/")
    async def index() -> dict[str, Any]:
        return {"blueprint": request.blueprint, "blueprints": request.blueprints}

    @child.websocket("/ws")
    async def ws() -> None:
        await websocket.accept()
        await websocket.send_json({"blueprint": websocket.blueprint, "blueprints": websocket.blueprints})

    @app.get("/")
    async def home() -> dict[str, Any]:
        return {"blueprint": request.blueprint, "blueprints": request.blueprints}

    parent.register_blueprint(child)
    app.register_blueprint(parent)
    client = app.test_client()
    expected = {"blueprint": "parent.child", "blueprints": ["parent.child", "parent"]}
    assert await (await client.get("/parent/child/")).get_json() == expected
    async with client.websocket("/parent/child/ws") as ws_client:
        assert await ws_client.receive_json() == expected
    assert await (await client.get("/")).get_json() == {"blueprint": None, "blueprints": []}
    assert await (await client.get("/parent/child/nothing")).get_data() != b""  # a 404 has no blueprint


def hooked_tree(app: App, kind: str, seen: list[str], done: trio.Event | None = None) -> tuple[Blueprint, Blueprint]:
    """The app, ``parent`` and ``parent.child``, each with two hooks of every ``kind`` (request or websocket).

    ``done`` is set by the last teardown function, the app's first. The
    caller adds a view to the child and registers the parent on the app.
    """
    parent = Blueprint("parent", __name__, url_prefix="/<lang>")
    child = Blueprint("child", __name__)
    for owner, label in ((app, "app"), (parent, "parent"), (child, "child")):
        for number in (1, 2):
            tag = f"{label}{number}"

            async def before(tag: str = tag) -> None:
                seen.append(f"before {tag}")

            async def after(response: Response, tag: str = tag) -> Response:
                seen.append(f"after {tag}")
                return response

            async def teardown(error: BaseException | None, tag: str = tag) -> None:
                seen.append(f"teardown {tag}")
                if tag == "app1" and done is not None:
                    done.set()

            def preprocess(endpoint: str | None, values: dict[str, Any], tag: str = tag) -> None:
                seen.append(f"values {tag}")

            getattr(owner, f"before_{kind}")(before)
            getattr(owner, f"after_{kind}")(after)
            getattr(owner, f"teardown_{kind}")(teardown)
            owner.url_value_preprocessor(preprocess)
    parent.register_blueprint(child)
    return parent, child


def in_order(labels: list[str], kinds: tuple[str, ...]) -> list[str]:
    return [f"{kind} {label}{number}" for kind in kinds for label in labels for number in (1, 2)]


def expected_order() -> list[str]:
    """Flask's: values and before from the app in; after and teardown (each list reversed) from the child out."""
    inward = ["app", "parent", "child"]
    forward = in_order(inward, ("values", "before"))
    backward = [
        f"{kind} {label}{number}" for kind in ("after", "teardown") for label in reversed(inward) for number in (2, 1)
    ]
    return [*forward, "view", *backward]


async def test_request_hooks_run_app_then_outer_to_inner_and_back_out(app: App) -> None:
    seen: list[str] = []
    parent, child = hooked_tree(app, "request", seen)

    @child.get("/a")
    async def a(lang: str) -> str:
        seen.append("view")
        return lang

    app.register_blueprint(parent)
    assert await (await app.test_client().get("/en/a")).get_data(as_text=True) == "en"
    assert seen == expected_order()


async def test_websocket_hooks_run_in_the_same_order(app: App) -> None:
    seen: list[str] = []
    done = trio.Event()
    parent, child = hooked_tree(app, "websocket", seen, done)

    @child.websocket("/ws")
    async def ws(lang: str) -> tuple[str, int]:
        seen.append("view")
        return "not now", 409  # a rejection: the after_websocket functions run on it

    app.register_blueprint(parent)
    with pytest.raises(WebsocketResponseError) as rejected:
        async with app.test_client().websocket("/en/ws"):
            pass
    assert rejected.value.response.status_code == 409
    with trio.fail_after(5):
        await done.wait()  # the teardown may still run when the client has the rejection
    assert seen == expected_order()


async def test_a_before_hook_that_answers_stops_the_inner_ones(app: App) -> None:
    seen: list[str] = []
    parent = Blueprint("parent", __name__)
    child = Blueprint("child", __name__)

    @parent.before_request
    async def gate() -> tuple[str, int]:
        seen.append("parent")
        return "stop", 401

    @child.before_request
    async def inner() -> None:
        seen.append("child")

    @child.get("/")
    async def index() -> str:
        return "view"

    parent.register_blueprint(child)
    app.register_blueprint(parent)
    assert (await app.test_client().get("/")).status_code == 401
    assert seen == ["parent"]


async def test_error_handlers_are_looked_up_innermost_first_then_the_app(app: App) -> None:
    parent = Blueprint("parent", __name__, url_prefix="/parent")
    child = Blueprint("child", __name__, url_prefix="/child")
    grandchild = Blueprint("grandchild", __name__, url_prefix="/grandchild")

    @app.errorhandler(403)
    async def app_forbidden(error: Forbidden) -> tuple[str, int]:
        return "app no", 403

    @parent.errorhandler(403)
    async def parent_forbidden(error: Forbidden) -> tuple[str, int]:
        return "parent no", 403

    @grandchild.errorhandler(403)
    async def grandchild_forbidden(error: Forbidden) -> tuple[str, int]:
        return "grandchild no", 403

    async def no() -> str:
        abort(403)

    for blueprint in (parent, child, grandchild):
        blueprint.add_url_rule("/no", "no", no)
    app.add_url_rule("/no", "no", no)
    child.register_blueprint(grandchild)
    parent.register_blueprint(child)
    app.register_blueprint(parent)
    client = app.test_client()
    for path, answer in (
        ("/no", "app no"),
        ("/parent/no", "parent no"),
        ("/parent/child/no", "parent no"),
        ("/parent/child/grandchild/no", "grandchild no"),
    ):
        assert await (await client.get(path)).get_data(as_text=True) == answer, path


async def test_a_handler_for_the_code_anywhere_in_the_chain_beats_one_for_a_base_class(app: App) -> None:
    """Flask's order: by code (innermost blueprint first, then the app), then by class in the same order."""
    shop = Blueprint("shop", __name__)

    @shop.errorhandler(HTTPException)
    async def any_http(error: HTTPException) -> tuple[str, int]:
        return "shop's HTTPException", error.code or 500

    @app.errorhandler(404)
    async def not_found(error: NotFound) -> tuple[str, int]:
        return "app's 404", 404

    @shop.get("/gone")
    async def gone() -> str:
        abort(404)

    @shop.get("/teapot")
    async def teapot() -> str:
        abort(418)

    app.register_blueprint(shop)
    client = app.test_client()
    assert await (await client.get("/gone")).get_data(as_text=True) == "app's 404"
    assert await (await client.get("/teapot")).get_data(as_text=True) == "shop's HTTPException"


async def test_a_websocket_handshake_error_goes_to_the_innermost_handler(app: App) -> None:
    parent = Blueprint("parent", __name__)
    child = Blueprint("child", __name__)

    @parent.errorhandler(403)
    async def parent_forbidden(error: Forbidden) -> tuple[str, int]:
        return "parent no", 403

    @child.errorhandler(403)
    async def child_forbidden(error: Forbidden) -> tuple[str, int]:
        return f"child no ({websocket.blueprint})", 403

    @child.websocket("/ws")
    async def ws() -> None:
        abort(403)

    parent.register_blueprint(child)
    app.register_blueprint(parent)
    with pytest.raises(WebsocketResponseError) as rejected:
        async with app.test_client().websocket("/ws"):
            pass
    assert await rejected.value.response.get_data(as_text=True) == "child no (parent.child)"


async def test_a_url_under_a_prefix_that_matches_no_rule_goes_to_the_apps_handler(app: App) -> None:
    shop = Blueprint("shop", __name__, url_prefix="/shop")

    @shop.errorhandler(404)
    async def shop_missing(error: NotFound) -> tuple[str, int]:
        return "shop's 404", 404

    @shop.get("/")
    async def index() -> str:
        return "shop"

    @app.errorhandler(404)
    async def missing(error: NotFound) -> tuple[str, int]:
        path = websocket.path if has_websocket_context() else request.path
        return ("app's 404 for the shop" if path.startswith("/shop/") else "app's 404"), 404

    app.register_blueprint(shop)
    client = app.test_client()
    assert await (await client.get("/shop/nothing")).get_data(as_text=True) == "app's 404 for the shop"
    assert await (await client.get("/nothing")).get_data(as_text=True) == "app's 404"


async def test_context_processors_run_app_then_outer_to_inner_and_the_inner_win(app: App) -> None:
    parent = Blueprint("parent", __name__)
    child = Blueprint("child", __name__)
    order: list[str] = []

    for owner, label in ((app, "app"), (parent, "parent"), (child, "child")):

        def names(label: str = label) -> dict[str, str]:
            order.append(label)
            return {"key": label, label: "yes"}

        owner.context_processor(names)

    @child.get("/")
    async def index() -> str:
        return await render_template_string("{{ key }} {{ app }} {{ parent }} {{ child }}")

    @parent.get("/parent")
    async def parent_index() -> str:
        return await render_template_string("{{ key }} {{ child|default('-') }}")

    parent.register_blueprint(child)
    app.register_blueprint(parent)
    client = app.test_client()
    assert await (await client.get("/")).get_data(as_text=True) == "child yes yes yes"
    assert order == ["app", "parent", "child"]
    assert await (await client.get("/parent")).get_data(as_text=True) == "parent -"


async def test_url_defaults_functions_run_app_then_outer_to_inner_for_a_nested_endpoint(app: App) -> None:
    parent = Blueprint("parent", __name__, url_prefix="/<lang>")
    child = Blueprint("child", __name__, url_prefix="/<section>")
    order: list[str] = []

    @app.url_defaults
    def app_defaults(endpoint: str, values: dict[str, Any]) -> None:
        order.append("app")

    @parent.url_defaults
    def parent_defaults(endpoint: str, values: dict[str, Any]) -> None:
        order.append("parent")
        values.setdefault("lang", "en")

    @child.url_defaults
    def child_defaults(endpoint: str, values: dict[str, Any]) -> None:
        order.append("child")
        values.setdefault("section", "news")

    @child.get("/page")
    async def page(lang: str, section: str) -> str:
        return url_for(".page")

    parent.register_blueprint(child)
    app.register_blueprint(parent)
    app.config["SERVER_NAME"] = "example.test"
    async with app.app_context():
        assert url_for("parent.child.page") == "http://example.test/en/news/page"
    assert order == ["app", "parent", "child"]
    order.clear()
    async with app.app_context():
        with pytest.raises(BuildError, match=r"parent\.x"):
            url_for("parent.x")
    assert order == ["app", "parent"]


async def test_a_relative_url_for_in_a_nested_view_is_the_innermost_blueprints(app: App) -> None:
    parent = Blueprint("parent", __name__, url_prefix="/parent")
    child = Blueprint("child", __name__, url_prefix="/child")

    async def index() -> str:
        return url_for(".index")

    parent.add_url_rule("/", "index", index)
    child.add_url_rule("/", "index", index)

    @child.websocket("/ws")
    async def ws() -> None:
        await websocket.accept()
        await websocket.send(url_for(".index"))

    parent.register_blueprint(child)
    app.register_blueprint(parent)
    client = app.test_client()
    assert await (await client.get("/parent/child/")).get_data(as_text=True) == "/parent/child/"
    assert await (await client.get("/parent/")).get_data(as_text=True) == "/parent/"
    async with client.websocket("/parent/child/ws") as ws_client:
        assert await ws_client.receive() == "/parent/child/"


# -- the app-wide decorators -----------------------------------------------------------------


def app_wide(seen: list[str]) -> Blueprint:
    """A blueprint with one of each app-wide hook, each noting its name in ``seen``."""
    tools = Blueprint("tools", __name__)

    @tools.before_app_request
    async def before_app_request() -> None:
        seen.append("before_app_request")

    @tools.after_app_request
    async def after_app_request(response: Response) -> Response:
        seen.append("after_app_request")
        return response

    @tools.teardown_app_request
    async def teardown_app_request(error: BaseException | None) -> None:
        seen.append("teardown_app_request")

    @tools.before_app_websocket
    async def before_app_websocket() -> None:
        seen.append("before_app_websocket")

    @tools.after_app_websocket
    async def after_app_websocket(response: Response) -> Response:
        seen.append("after_app_websocket")
        return response

    @tools.teardown_app_websocket
    async def teardown_app_websocket(error: BaseException | None) -> None:
        seen.append("teardown_app_websocket")

    @tools.app_errorhandler(403)
    async def app_errorhandler(error: Forbidden) -> tuple[str, int]:
        seen.append("app_errorhandler")
        return "tools says no", 403

    @tools.app_context_processor
    async def app_context_processor() -> dict[str, str]:
        seen.append("app_context_processor")
        return {"tool": "hammer"}

    @tools.app_url_value_preprocessor
    def app_url_value_preprocessor(endpoint: str | None, values: dict[str, Any]) -> None:
        seen.append("app_url_value_preprocessor")

    @tools.app_url_defaults
    def app_url_defaults(endpoint: str, values: dict[str, Any]) -> None:
        seen.append("app_url_defaults")

    @tools.app_template_filter("shout")
    def shout(value: str) -> str:
        return value.upper()

    @tools.before_app_serving
    async def before_app_serving() -> None:
        seen.append("before_app_serving")

    @tools.after_app_serving
    async def after_app_serving() -> None:
        seen.append("after_app_serving")

    @tools.while_app_serving
    async def while_app_serving() -> AsyncIterator[None]:
        seen.append("while_app_serving starts")
        yield
        seen.append("while_app_serving ends")

    return tools


@pytest.fixture
def tooled(app: App) -> tuple[App, list[str]]:
    """An app whose views are its own, with ``tools`` registered twice (once nested): each hook must run once."""
    seen: list[str] = []
    tools = app_wide(seen)
    holder = Blueprint("holder", __name__, url_prefix="/holder")
    holder.register_blueprint(tools)
    app.register_blueprint(tools)
    app.register_blueprint(tools, name="tools_again", url_prefix="/again")
    app.register_blueprint(holder)

    @app.get("/")
    async def index() -> str:
        return await render_template_string("{{ tool|shout }} " + url_for("index"))

    @app.get("/no")
    async def no() -> str:
        abort(403)

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.accept()
        await websocket.send("hi")

    return app, seen


async def test_the_app_wide_decorators_apply_to_the_apps_own_views_once(tooled: tuple[App, list[str]]) -> None:
    app, seen = tooled
    client = app.test_client()
    assert await (await client.get("/")).get_data(as_text=True) == "HAMMER /"
    assert seen == [
        "app_url_value_preprocessor",
        "before_app_request",
        "app_url_defaults",  # the view's url_for, made before the template is rendered
        "app_context_processor",
        "after_app_request",
        "teardown_app_request",
    ]
    seen.clear()
    assert await (await client.get("/no")).get_data(as_text=True) == "tools says no"
    assert seen.count("app_errorhandler") == 1
    seen.clear()
    async with client.websocket("/ws") as ws_client:
        assert await ws_client.receive() == "hi"
    assert seen == ["app_url_value_preprocessor", "before_app_websocket", "teardown_app_websocket"]


async def test_after_app_websocket_runs_on_a_rejected_handshake(tooled: tuple[App, list[str]]) -> None:
    app, seen = tooled
    with pytest.raises(WebsocketResponseError):
        async with app.test_client().websocket("/nothing"):
            pass
    assert "after_app_websocket" in seen
    assert seen.count("after_app_websocket") == 1


async def test_the_app_wide_serving_functions_run_once_at_startup_and_shutdown(
    tooled: tuple[App, list[str]], autojump_clock: trio.testing.MockClock
) -> None:
    app, seen = tooled
    async with app.test_app():
        assert seen == ["before_app_serving", "while_app_serving starts"]
    assert seen[2:] == ["while_app_serving ends", "after_app_serving"]


def test_while_app_serving_wants_an_async_generator() -> None:
    tools = Blueprint("tools", __name__)
    with pytest.raises(TypeError, match="async generator"):

        @tools.while_app_serving
        async def not_a_generator() -> None:
            pass


def test_app_errorhandler_refuses_a_code_werkzeug_does_not_know() -> None:
    with pytest.raises(ValueError, match="not an HTTP error code"):
        Blueprint("tools", __name__).app_errorhandler(999)


@pytest.mark.parametrize("decorator", ["app_url_value_preprocessor", "app_url_defaults"])
def test_an_async_app_wide_url_processor_is_refused_where_it_is_written(app: App, decorator: str) -> None:
    """Not at registration, which would leave the app with half the blueprint."""
    tools = Blueprint("tools", __name__)

    async def processor(endpoint: str | None, values: dict[str, Any]) -> None:
        pass

    with pytest.raises(TypeError, match="plain def"):
        getattr(tools, decorator)(processor)
    app.register_blueprint(tools)
    assert app.url_value_preprocessors == app.url_default_functions == {}


def test_record_hands_each_registration_its_resolved_state(app: App) -> None:
    parent = Blueprint("parent", __name__, url_prefix="/p", subdomain="api")
    child = Blueprint("child", __name__, url_prefix="/c", url_defaults={"x": 1})
    states: list[tuple[str, str | None, str | None, dict[str, Any], bool]] = []
    once: list[str] = []

    @child.record
    def note(state: BlueprintSetupState) -> None:
        states.append(
            (state.full_name, state.url_prefix, state.subdomain, state.url_defaults, state.first_registration)
        )

    child.record_once(lambda state: once.append(state.full_name))
    parent.register_blueprint(child, subdomain="v1")
    app.register_blueprint(parent)
    app.register_blueprint(parent, name="again", url_prefix="/q", url_defaults={"y": 2})
    assert states == [
        ("parent.child", "/p/c", "v1.api", {"x": 1}, True),
        ("again.child", "/q/c", "v1.api", {"x": 1}, False),
    ]
    assert once == ["parent.child"]


# -- templates ---------------------------------------------------------------------------


async def test_a_nested_blueprints_template_folder_is_searched(app: App, tmp_path: Path) -> None:
    (tmp_path / "child_templates").mkdir()
    (tmp_path / "child_templates" / "child.html").write_text("child of {{ request.blueprint }}")
    parent = Blueprint("parent", __name__)
    child = Blueprint("child", __name__, template_folder="child_templates", root_path=str(tmp_path))

    @child.get("/")
    async def index() -> str:
        return await render_template("child.html")

    parent.register_blueprint(child)
    app.register_blueprint(parent)
    app.register_blueprint(child, name="again", url_prefix="/again")
    assert await (await app.test_client().get("/")).get_data(as_text=True) == "child of parent.child"
    with pytest.raises(Exception, match="child_templates") as missing:
        async with app.app_context():
            await render_template("nothing.html")
    assert str(missing.value).count("child_templates") == 1  # registered twice, searched once


async def test_a_nested_blueprints_template_folder_is_searched_after_its_parents(app: App, tmp_path: Path) -> None:
    for folder in ("parent_templates", "child_templates"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "page.html").write_text(folder)
    parent = Blueprint("parent", __name__, template_folder="parent_templates", root_path=str(tmp_path))
    child = Blueprint("child", __name__, template_folder="child_templates", root_path=str(tmp_path))

    @child.get("/")
    async def index() -> str:
        return await render_template("page.html")

    parent.register_blueprint(child)
    app.register_blueprint(parent)
    assert await (await app.test_client().get("/")).get_data(as_text=True) == "parent_templates"


# -- on a real socket, both servers ------------------------------------------------------


async def test_nested_websocket_hooks_run_in_order_on_a_real_socket(app: App, live_server: str) -> None:
    seen: list[str] = []
    done = trio.Event()
    parent, child = hooked_tree(app, "websocket", seen, done)

    @child.websocket("/ws")
    async def ws(lang: str) -> None:
        seen.append("view")
        g.lang = lang
        await websocket.accept()
        await websocket.send(",".join(websocket.blueprints))

    app.register_blueprint(parent)
    async with open_websocket_url(f"ws://{live_server}/en/ws") as ws_client:
        assert await ws_client.get_message() == "parent.child,parent"
    with trio.fail_after(5):
        await done.wait()  # the server tears down after the close
    forward = in_order(["app", "parent", "child"], ("values", "before"))
    teardown = [f"teardown {label}{n}" for label in ("child", "parent", "app") for n in (2, 1)]
    assert seen == [*forward, "view", *teardown]
