"""Templates: render_template and its kin, folders, autoescape, filters, context processors, the default context."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import jinja2
import pytest
import trio

from trioweb import (
    App,
    Blueprint,
    flash,
    g,
    get_flashed_messages,
    render_template,
    render_template_string,
    request,
    session,
    stream_template,
    stream_template_string,
    websocket,
)
from trioweb.ctx import Globals, app_var, g_var, session_var
from trioweb.sessions import SessionMixin


def write(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """An app's folder, with ``templates/`` in it."""
    write(
        tmp_path / "templates",
        {
            "hello.html": "<p>Hello, {{ name }}!</p>",
            "hello.txt": "Hello, {{ name }}!",
            "base.html": "<title>{% block title %}{% endblock %}</title>{% block body %}{% endblock %}",
            "page.html": '{% extends "base.html" %}{% block title %}{{ title }}{% endblock %}'
            "{% block body %}<h1>{{ title }}</h1>{% endblock %}",
        },
    )
    return tmp_path


@pytest.fixture
def app(root: Path) -> App:
    return App(__name__, root_path=str(root))


async def get_text(app: App, path: str) -> str:
    response = await app.test_client().get(path)
    assert response.status_code == 200, await response.get_data(as_text=True)
    return str(await response.get_data(as_text=True))


@pytest.fixture
def app_context(app: App) -> Iterator[None]:
    """What ``async with app.app_context()`` sets: the app and ``g``, and no request."""
    app_token, g_token = app_var.set(app), g_var.set(Globals())
    yield
    g_var.reset(g_token)
    app_var.reset(app_token)


# -- folders ---------------------------------------------------------------------------


async def test_render_template_reads_the_apps_templates_folder(app: App) -> None:
    @app.get("/")
    async def index() -> str:
        return await render_template("page.html", title="Books")

    assert await get_text(app, "/") == "<title>Books</title><h1>Books</h1>"


async def test_a_list_of_names_renders_the_first_that_exists(app: App) -> None:
    @app.get("/")
    async def index() -> str:
        return await render_template(["missing.html", "hello.html", "page.html"], name="you")

    assert await get_text(app, "/") == "<p>Hello, you!</p>"


async def test_a_missing_template_is_a_500_whose_log_names_the_folders(
    app: App, root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    @app.get("/")
    async def index() -> str:
        return await render_template("nowhere.html")

    response = await app.test_client().get("/")
    assert response.status_code == 500
    assert f"'nowhere.html' is in none of the template folders: {root / 'templates'}" in caplog.text
    body = await response.get_data(as_text=True)
    assert "nowhere" not in body and str(root) not in body  # the log has it; the client does not


async def test_a_template_syntax_error_is_a_500_with_neither_source_nor_path_in_the_body(
    app: App, root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write(root / "templates", {"broken.html": "<p>{% for secret_name in %}</p>"})

    @app.get("/")
    async def index() -> str:
        return await render_template("broken.html")

    response = await app.test_client().get("/")
    body = await response.get_data(as_text=True)
    assert response.status_code == 500
    assert "secret_name" not in body and "broken.html" not in body and str(root) not in body
    assert "TemplateSyntaxError" in caplog.text and "broken.html" in caplog.text


async def test_the_template_folder_is_relative_to_the_root_path_and_can_be_another(root: Path) -> None:
    write(root / "views", {"hello.html": "views: {{ name }}"})
    app = App(__name__, root_path=str(root), template_folder="views")

    @app.get("/")
    async def index() -> str:
        return await render_template("hello.html", name="x")

    assert await get_text(app, "/") == "views: x"


async def test_an_app_without_a_template_folder_says_so(root: Path) -> None:
    app = App(__name__, root_path=str(root), template_folder=None)
    app_var.set(app)
    with pytest.raises(jinja2.TemplateNotFound, match="the app and its blueprints have no template_folder"):
        await render_template("hello.html")


async def test_blueprint_folders_come_after_the_apps_in_the_order_they_were_registered(root: Path) -> None:
    write(root / "admin" / "templates", {"hello.html": "admin's", "admin.html": "admin only", "both.html": "admin"})
    write(root / "shop" / "templates", {"shop.html": "shop only", "both.html": "shop"})
    app = App(__name__, root_path=str(root))
    admin = Blueprint("admin", __name__, root_path=str(root / "admin"), template_folder="templates")
    shop = Blueprint("shop", __name__, root_path=str(root / "shop"), template_folder="templates")

    @shop.get("/<name>")
    async def page(name: str) -> str:
        return await render_template(name, name="you")

    app.register_blueprint(admin)
    app.register_blueprint(shop)
    assert await get_text(app, "/hello.html") == "<p>Hello, you!</p>"  # the app's own wins
    assert await get_text(app, "/admin.html") == "admin only"  # another blueprint's: one namespace
    assert await get_text(app, "/shop.html") == "shop only"
    assert await get_text(app, "/both.html") == "admin"  # registered first
    assert app.jinja_env.list_templates() == [
        "admin.html",
        "base.html",
        "both.html",
        "hello.html",
        "hello.txt",
        "page.html",
        "shop.html",
    ]


async def test_a_template_is_read_and_compiled_once(app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    reads: list[str] = []
    get_source = jinja2.FileSystemLoader.get_source

    def counting(self: jinja2.FileSystemLoader, environment: jinja2.Environment, name: str) -> Any:
        reads.append(name)
        return get_source(self, environment, name)

    monkeypatch.setattr(jinja2.FileSystemLoader, "get_source", counting)

    @app.get("/")
    async def index() -> str:
        return await render_template("page.html", title="x")

    for _ in range(3):
        await get_text(app, "/")
    assert reads == ["page.html", "base.html"]
    assert app.jinja_env is app.jinja_env


# -- autoescape --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "escaped"),
    [
        ("t.html", True),
        ("t.htm", True),
        ("t.xml", True),
        ("t.xhtml", True),
        ("t.svg", True),
        ("t.txt", False),
        ("t.js", False),
    ],
)
async def test_markup_templates_are_autoescaped(root: Path, name: str, escaped: bool) -> None:
    write(root / "templates", {name: "{{ value }}"})
    app = App(__name__, root_path=str(root))

    @app.get("/")
    async def index() -> str:
        return await render_template(name, value="<b>&</b>")

    assert await get_text(app, "/") == ("&lt;b&gt;&amp;&lt;/b&gt;" if escaped else "<b>&</b>")


async def test_a_template_string_is_autoescaped_and_safe_marks_markup(app: App) -> None:
    @app.get("/")
    async def index() -> str:
        return await render_template_string("{{ value }} {{ value|safe }}", value="<i>")

    assert await get_text(app, "/") == "&lt;i&gt; <i>"


# -- the environment ---------------------------------------------------------------------


async def test_jinja_options_are_read_when_the_environment_is_made(app: App) -> None:
    app.jinja_options = {"trim_blocks": True, "autoescape": False}

    @app.get("/")
    async def index() -> str:
        return await render_template_string("{% if true %}\n<{{ tag }}>{% endif %}", tag="b")

    assert await get_text(app, "/") == "<b>"
    assert app.jinja_env.is_async


def test_changing_one_apps_jinja_options_in_place_leaves_the_other_apps_alone(root: Path) -> None:
    class Trimmed(App):
        jinja_options = {"trim_blocks": True}  # a subclass's options are its apps' defaults

    first = App(__name__, root_path=str(root))
    first.jinja_options["autoescape"] = False  # in place, as a dict invites
    assert App(__name__, root_path=str(root)).jinja_options == {}
    assert Trimmed(__name__, root_path=str(root)).jinja_options == {"trim_blocks": True}


async def test_create_jinja_environment_can_be_overridden(root: Path) -> None:
    class MyApp(App):
        def create_jinja_environment(self) -> Any:
            env = super().create_jinja_environment()
            env.globals["site"] = "Bookshop"
            return env

    app = MyApp(__name__, root_path=str(root))

    @app.get("/")
    async def index() -> str:
        return await render_template_string("{{ site }}")

    assert await get_text(app, "/") == "Bookshop"


@pytest.mark.parametrize(
    ("reload", "debug", "expected"),
    [(None, False, False), (None, True, True), (True, False, True), (False, True, False)],
)
def test_templates_auto_reload_follows_debug_unless_set(
    app: App, reload: bool | None, debug: bool, expected: bool
) -> None:
    app.config.update(TEMPLATES_AUTO_RELOAD=reload, DEBUG=debug)
    assert app.jinja_env.auto_reload is expected


def test_registering_a_filter_does_not_make_the_environment_early(app: App) -> None:
    @app.template_filter
    def shout(value: str) -> str:
        return value.upper()

    app.config["TEMPLATES_AUTO_RELOAD"] = True  # after the decorator, as config often comes
    assert app.jinja_env.auto_reload is True
    assert app.jinja_env.filters["shout"] is shout


async def test_a_changed_template_is_read_again_only_with_auto_reload(root: Path) -> None:
    for reload in (False, True):
        write(root / "templates", {"changing.txt": "old"})
        app = App(__name__, root_path=str(root))
        app.config["TEMPLATES_AUTO_RELOAD"] = reload

        @app.get("/")
        async def index() -> str:
            return await render_template("changing.txt")

        assert await get_text(app, "/") == "old"
        path = root / "templates" / "changing.txt"
        path.write_text("new")
        os.utime(path, (1, 1))  # another mtime for certain
        assert await get_text(app, "/") == ("new" if reload else "old")


# -- filters, globals, tests ---------------------------------------------------------------


async def test_filters_globals_and_tests_with_and_without_a_name(app: App) -> None:
    @app.template_filter
    def shout(value: str) -> str:
        return value.upper()

    @app.template_filter("whisper")
    async def lower(value: str) -> str:  # async: awaited by the template
        await trio.lowlevel.checkpoint()
        return value.lower()

    @app.template_global()
    def site() -> str:
        return "Bookshop"

    @app.template_test
    def long(value: str) -> bool:
        return len(value) > 3

    app.add_template_filter(lambda value: value[::-1], "reverse_it")
    app.add_template_global(len, "size")
    app.add_template_test(str.isdigit, "number")

    @app.get("/")
    async def index() -> str:
        return await render_template_string(
            "{{ 'Hi'|shout }} {{ 'Hi'|whisper }} {{ site() }} {{ 'book' is long }} {{ 'ab' is long }} "
            "{{ 'abc'|reverse_it }} {{ size('abc') }} {{ '12' is number }}"
        )

    assert await get_text(app, "/") == "HI hi Bookshop True False cba 3 True"
    assert app.jinja_env.filters["whisper"] is lower  # the decorators return the function


async def test_a_filter_added_after_the_environment_exists_is_there_too(app: App) -> None:
    env = app.jinja_env
    app.add_template_filter(str.title, "title_case")
    assert env.filters["title_case"] is str.title


async def test_a_blueprints_app_template_filters_globals_and_tests_are_app_wide(app: App) -> None:
    shop = Blueprint("shop", __name__)

    @shop.app_template_filter
    def shout(value: str) -> str:
        return value.upper()

    @shop.app_template_global("site")
    def site_name() -> str:
        return "Bookshop"

    @shop.app_template_test()
    def empty(value: str) -> bool:
        return not value

    shop.add_app_template_filter(str.lower, "lower_it")
    shop.add_app_template_global(len, "size")
    shop.add_app_template_test(str.isdigit, "number")
    assert "shout" not in app.jinja_env.filters  # until registered

    @app.get("/")  # a view of the app's own: the names are everywhere
    async def index() -> str:
        return await render_template_string(
            "{{ 'hi'|shout }} {{ site() }} {{ '' is empty }} {{ 'AB'|lower_it }} {{ size('ab') }} {{ '1' is number }}"
        )

    app.register_blueprint(shop)
    assert await get_text(app, "/") == "HI Bookshop True ab 2 True"


# -- context processors ----------------------------------------------------------------------


async def test_context_processors_add_names_and_the_call_wins(app: App) -> None:
    @app.context_processor
    def plain() -> dict[str, Any]:
        return {"site": "Bookshop", "user": "anonymous", "thread_sees": request.path}

    @app.context_processor
    async def awaited() -> dict[str, Any]:
        await trio.lowlevel.checkpoint()
        return {"count": 3}

    @app.get("/")
    async def index() -> str:
        return await render_template_string("{{ site }} {{ user }} {{ count }} {{ thread_sees }}", user="ada")

    assert await get_text(app, "/") == "Bookshop ada 3 /"


async def test_a_blueprints_context_processor_runs_for_its_own_requests_only(app: App) -> None:
    shop = Blueprint("shop", __name__, url_prefix="/shop")
    ran: list[str] = []

    @shop.context_processor
    async def cart() -> dict[str, Any]:
        ran.append("cart")
        return {"cart": 2}

    @shop.app_context_processor
    async def site() -> dict[str, Any]:
        return {"site": "Bookshop"}

    @app.context_processor
    async def overridden() -> dict[str, Any]:
        return {"cart": "the app's"}

    template = "{{ site }} {{ cart }}"

    @shop.get("/")
    async def in_shop() -> str:
        return await render_template_string(template)

    @app.get("/")
    async def elsewhere() -> str:
        return await render_template_string(template)

    app.register_blueprint(shop)
    assert await get_text(app, "/shop/") == "Bookshop 2"  # the blueprint's after the app's
    assert ran == ["cart"]
    assert await get_text(app, "/") == "Bookshop the app&#39;s"
    assert ran == ["cart"]


async def test_a_blueprints_context_processor_runs_for_its_websockets_too(app: App) -> None:
    live = Blueprint("live", __name__)

    @live.context_processor
    async def channel() -> dict[str, Any]:
        return {"channel": websocket.path}

    @live.websocket("/live")
    async def feed() -> None:
        await websocket.accept()
        await websocket.send(await render_template_string("on {{ channel }}"))

    app.register_blueprint(live)
    async with app.test_client().websocket("/live") as client:
        assert await client.receive(timeout=5) == "on /live"


async def test_a_context_processor_that_returns_no_dict_is_an_error_that_says_so(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    @app.context_processor
    async def forgot() -> Any:
        return None

    @app.get("/")
    async def index() -> str:
        return await render_template_string("x")

    assert (await app.test_client().get("/")).status_code == 500
    assert "returned NoneType; it must return a dict of the names it adds" in caplog.text


# -- the default context ------------------------------------------------------------------


async def test_the_default_context_has_config_request_g_and_url_for(app: App) -> None:
    app.config["SITE"] = "Bookshop"

    @app.before_request
    async def load_user() -> None:
        g.user = "ada"

    @app.get("/books/<int:book_id>")
    async def book(book_id: int) -> str:
        return await render_template_string(
            "{{ config.SITE }} {{ request.path }} {{ request.args.q }} {{ g.user }} "
            "{{ url_for('book', book_id=2) }} {{ websocket is defined }} {{ not websocket }}"
        )

    assert await get_text(app, "/books/1?q=x") == "Bookshop /books/1 x ada /books/2 True True"


async def test_the_default_context_has_the_session_and_the_flashed_messages(app: App) -> None:
    app.secret_key = "for tests"

    @app.post("/")
    async def save() -> str:
        session["user"] = "ada"
        await flash("Saved.")
        await flash("Careful.", "warning")
        return ""

    @app.get("/")
    async def show() -> str:
        return await render_template_string(
            "{{ session.user }}: {{ get_flashed_messages() | join(' ') }} "
            "{{ get_flashed_messages(category_filter=['warning']) | join(' ') }}"
        )

    client = app.test_client()
    await client.post("/")
    assert await (await client.get("/")).get_data(as_text=True) == "ada: Saved. Careful. Careful."
    assert await (await client.get("/")).get_data(as_text=True) == "ada:  "  # shown once


async def test_a_websocket_handler_renders_with_websocket_in_the_context(app: App) -> None:
    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.accept()
        await websocket.send(await render_template("hello.html", name=websocket.args["name"]))
        await websocket.send(await render_template_string("{{ websocket.path }} {{ not request }}"))

    async with app.test_client().websocket("/ws", query_string={"name": "<ada>"}) as client:
        assert await client.receive(timeout=5) == "<p>Hello, &lt;ada&gt;!</p>"
        assert await client.receive(timeout=5) == "/ws True"


async def test_without_a_session_a_template_renders_and_sees_none(app: App) -> None:
    @app.get("/")
    async def index() -> str:
        return await render_template_string("{% if session %}a session{% else %}no session{% endif %}")

    assert await get_text(app, "/") == "no session"


class DictSession(dict[str, Any], SessionMixin):  # type: ignore[misc]
    """The smallest session, for a test: a dict."""


async def test_a_session_is_seen_through_the_proxy(app: App) -> None:
    @app.before_request
    async def open_session() -> None:
        session_var.set(DictSession(user="ada"))

    @app.get("/")
    async def index() -> str:
        # (session.user and session["user"] need the proxy's item access, which the sessions work adds)
        return await render_template_string("{{ session.get('user') }} {{ 'user' in session }}")

    assert await get_text(app, "/") == "ada True"


async def test_a_template_imported_without_context_sees_the_request_too(app: App, root: Path) -> None:
    write(root / "templates", {"macros.html": "{% macro here() %}at {{ request.path }}{% endmacro %}"})

    @app.get("/page")
    async def page() -> str:
        return await render_template_string('{% import "macros.html" as m %}{{ m.here() }}')

    assert await get_text(app, "/page") == "at /page"


async def test_in_an_app_context_without_a_request_config_and_g_work(app: App, app_context: None) -> None:
    app.config.update(SITE="Bookshop", SERVER_NAME="books.example")
    g.user = "ada"

    @app.get("/")
    async def index() -> str:
        return "home"

    text = await render_template_string("{{ config.SITE }} {{ g.user }} {{ url_for('index') }} {{ not request }}")
    assert text == "Bookshop ada http://books.example/ True"
    with pytest.raises(RuntimeError, match="request is used outside of an HTTP request handler"):
        await render_template_string("{{ request.path }}")


@pytest.mark.parametrize("function", [render_template, render_template_string, stream_template, stream_template_string])
async def test_outside_an_app_every_render_function_says_what_to_do(function: Any) -> None:
    with pytest.raises(RuntimeError, match=r"needs an app: call it in a view.*app\.app_context\(\)"):
        await function("hello.html")


# -- async templates ---------------------------------------------------------------------------


async def test_a_template_awaits_functions_and_loops_over_async_iterables(app: App) -> None:
    async def fetch_title() -> str:
        await trio.lowlevel.checkpoint()
        return "Kindred"

    async def authors() -> AsyncIterator[str]:
        for name in ("Butler", "Le Guin"):
            await trio.lowlevel.checkpoint()
            yield name

    @app.get("/")
    async def index() -> str:
        return await render_template_string(
            "{{ fetch_title() }}:{% for a in authors() %} {{ a }}{% endfor %}",
            fetch_title=fetch_title,
            authors=authors,
        )

    assert await get_text(app, "/") == "Kindred: Butler Le Guin"


# -- streaming -----------------------------------------------------------------------------------


async def test_a_streamed_template_is_sent_chunked_and_reads_the_request_while_it_streams(app: App) -> None:
    async def rows() -> AsyncIterator[int]:
        for number in range(3):
            await trio.lowlevel.checkpoint()  # after the view returned
            yield number

    @app.get("/")
    async def index() -> Any:
        return await stream_template("page.html", title="Rows")

    @app.get("/rows")
    async def streamed_rows() -> Any:
        return await stream_template_string("{% for n in rows() %}{{ n }} {{ request.args.q }};{% endfor %}", rows=rows)

    client = app.test_client()
    response = await client.get("/")
    assert response.headers["Transfer-Encoding"] == "chunked"
    assert await response.get_data(as_text=True) == "<title>Rows</title><h1>Rows</h1>"
    response = await client.get("/rows?q=x")
    assert response.headers["Transfer-Encoding"] == "chunked"
    assert await response.get_data(as_text=True) == "0 x;1 x;2 x;"


async def test_an_error_in_a_streamed_template_cuts_the_response_short(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    @app.get("/")
    async def index() -> Any:
        return await stream_template_string("start {{ 1 // zero }}", zero=0)

    from trioweb.testing import IncompleteResponseError

    with pytest.raises(IncompleteResponseError):
        await app.test_client().get("/")
    assert "ZeroDivisionError" in caplog.text


# -- on a real socket, on each server --------------------------------------------------------


async def test_a_template_page_on_a_real_socket(app: App, live_server: str) -> None:
    @app.get("/")
    async def index() -> str:
        return await render_template("page.html", title="<Books>")

    async def later() -> AsyncIterator[None]:
        await trio.lowlevel.checkpoint()  # the view has returned: the server is sending the body
        yield None

    @app.get("/stream")
    async def stream() -> Any:
        return await stream_template_string(
            "{% for _ in later() %}<p>Hello, {{ request.args.name }}!</p>{% endfor %}", later=later
        )

    async with httpx.AsyncClient(base_url=f"http://{live_server}") as client:
        page = await client.get("/")
        streamed = await client.get("/stream", params={"name": "ada"})
    assert (page.status_code, page.headers["Content-Type"]) == (200, "text/html; charset=utf-8")
    assert page.text == "<title>&lt;Books&gt;</title><h1>&lt;Books&gt;</h1>"
    assert (streamed.text, streamed.headers["Transfer-Encoding"]) == ("<p>Hello, ada!</p>", "chunked")


async def test_a_streamed_template_stops_when_the_client_leaves(app: App, live_server: str) -> None:
    events: list[str] = []
    ended = trio.Event()

    async def rows() -> AsyncIterator[str]:
        try:
            yield "first row"
            events.append("waiting for the second row")
            await trio.sleep_forever()  # a slow query: the client leaves meanwhile
            yield "never"
        except trio.Cancelled:
            events.append("cancelled")
            raise
        finally:
            events.append("finally")
            ended.set()

    @app.get("/rows")
    async def stream_rows() -> Any:
        return await stream_template_string(
            "<ul>{% for row in rows() %}<li>{{ row }}</li>\n{% endfor %}</ul>", rows=rows
        )

    with trio.fail_after(10):
        async with (
            httpx.AsyncClient(base_url=f"http://{live_server}") as client,
            client.stream("GET", "/rows") as response,
        ):
            received = ""
            async for text in response.aiter_text():
                received += text
                if "first row</li>" in received:
                    break
        await ended.wait()
    assert received.startswith("<ul><li>first row</li>")
    assert events == ["waiting for the second row", "cancelled", "finally"]


async def test_an_error_in_a_streamed_template_on_a_real_socket_cuts_the_response_short_and_is_logged(
    app: App, live_server: str, caplog: pytest.LogCaptureFixture
) -> None:
    torn_down: list[BaseException | None] = []

    @app.teardown_request
    async def record(error: BaseException | None) -> None:
        torn_down.append(error)

    @app.get("/")
    async def index() -> Any:
        return await stream_template_string("<p>start</p>{{ 1 // zero }}<p>end</p>", zero=0)

    received = ""
    async with httpx.AsyncClient(base_url=f"http://{live_server}") as client:
        async with client.stream("GET", "/") as response:
            assert response.status_code == 200  # the status went out with the first piece
            with pytest.raises(httpx.RemoteProtocolError, match="incomplete chunked read"):
                async for text in response.aiter_text():
                    received += text
        # the connection was closed, not the page ended short: the next request gets a new one
        assert (await client.get("/nowhere")).status_code == 404
    assert received == "<p>start</p>"
    assert "ZeroDivisionError: integer division or modulo by zero" in caplog.text
    assert isinstance(torn_down[0], ZeroDivisionError)  # the teardown functions get it, before the close


async def test_a_streamed_template_cannot_change_the_session_and_says_so_where_flask_loses_it(app: App) -> None:
    app.config.update(SECRET_KEY="k", TESTING=True)

    @app.get("/flash")
    async def flash_one() -> str:
        await flash("Saved.")
        return "ok"

    @app.get("/streamed")
    async def streamed() -> Any:  # the cookie goes out with the headers, before the template runs
        return await stream_template_string("[{% for m in get_flashed_messages() %}{{ m }}{% endfor %}]")

    @app.get("/taken-in-the-view")
    async def taken_in_the_view() -> Any:
        messages = get_flashed_messages()  # in the view: taken out of the session before it is saved
        return await stream_template_string("[{% for m in messages %}{{ m }}{% endfor %}]", messages=messages)

    @app.get("/reads")
    async def reads() -> Any:
        return await stream_template_string("{{ session.get('_flashes', 'none') }}")

    client = app.test_client()
    await client.get("/flash")
    # A flashed message shown by a streamed page could not be taken out of the cookie:
    # it would show again on every page. An error that says what to do instead.
    with pytest.raises(RuntimeError, match=r"streamed response.*get_flashed_messages"):
        await client.get("/streamed")
    assert await (await client.get("/reads")).get_data(as_text=True) != "none"  # still there, not lost
    assert (await (await client.get("/taken-in-the-view")).get_data(as_text=True)) == "[Saved.]"
    assert (await (await client.get("/taken-in-the-view")).get_data(as_text=True)) == "[]"  # shown once
    assert (await (await client.get("/streamed")).get_data(as_text=True)) == "[]"  # nothing to take: fine
