"""The ``trioweb`` command in process, through click's CliRunner: discovery, .env, routes, shell, custom commands."""

from __future__ import annotations

import functools
import os
import socket
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import trio
from click.testing import CliRunner, Result

from tests.cli_env import isolated
from trioweb import App, serve
from trioweb.cli import NoAppException, ScriptInfo, TriowebGroup, cli
from trioweb.ctx import has_app_context


@pytest.fixture(autouse=True)
def isolated_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh folder as the current directory; the environment, sys.path and sys.modules put back after."""
    with isolated(tmp_path, monkeypatch):
        yield tmp_path


def write(path: str, source: str) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(textwrap.dedent(source))


def invoke(*args: str, group: TriowebGroup = cli, input: str | None = None) -> Result:
    return CliRunner().invoke(group, list(args), input=input)


def named(name: str) -> str:
    """A module that holds one app whose import name is ``name``, as ``app``."""
    return f"from trioweb import App\napp = App({name!r})\n"


def load(import_path: str | None = None) -> App:
    return ScriptInfo(app_import_path=import_path).load_app()


# -- discovery ----------------------------------------------------------------------------------


def test_an_app_is_named_by_module_and_attribute() -> None:
    write("shop.py", "from trioweb import App\nfirst = App('first')\nsecond = App('second')\n")
    assert load("shop:second").import_name == "second"


@pytest.mark.parametrize(
    "source",
    [
        "from trioweb import App\napp = App('found')\nother = App('other')\n",
        "from trioweb import App\napplication = App('found')\nother = App('other')\n",
        "from trioweb import App\nmain_app = App('found')\n",
        "from trioweb import App\ndef create_app():\n    return App('found')\n",
        "from trioweb import App\ndef make_app():\n    return App('found')\n",
    ],
    ids=["app", "application", "the one App", "create_app", "make_app"],
)
def test_a_module_alone_is_searched_as_flask_does(source: str) -> None:
    write("shop.py", source)
    assert load("shop").import_name == "found"


def test_a_factory_is_called_with_the_literal_arguments_given() -> None:
    write("shop.py", "from trioweb import App\ndef create_app(name, *, suffix=''):\n    return App(name + suffix)\n")
    assert load("shop:create_app('dev', suffix='-1')").import_name == "dev-1"


def test_a_file_path_inside_a_package_is_imported_as_the_package_module() -> None:
    write("src/shop/__init__.py", "")
    write("src/shop/web.py", named("shop web"))
    app = load("src/shop/web.py")
    assert app.import_name == "shop web"
    assert "shop.web" in sys.modules


@pytest.mark.parametrize("how", ["--app", "TRIOWEB_APP"])
def test_the_app_option_and_the_environment_variable_choose_the_app(how: str) -> None:
    write("shop.py", "from trioweb import App\napp = App('shop')\n\n@app.get('/items')\nasync def items():\n    ...\n")
    if how == "--app":
        result = invoke("--app", "shop", "routes")
    else:
        os.environ["TRIOWEB_APP"] = "shop"
        result = invoke("routes")
    assert result.exit_code == 0, result.output
    assert "/items" in result.output


def test_without_app_wsgi_py_is_tried_before_app_py() -> None:
    write("app.py", named("from app.py"))
    assert load().import_name == "from app.py"
    sys.modules.pop("app")
    write("wsgi.py", named("from wsgi.py"))
    assert load().import_name == "from wsgi.py"


def test_no_app_anywhere_says_how_to_name_one() -> None:
    result = invoke("routes")
    assert result.exit_code == 2
    assert "No trioweb app to load: use 'trioweb --app module:app'" in result.output
    assert "TRIOWEB_APP" in result.output and "'app.py'" in result.output


@pytest.mark.parametrize(
    ("source", "target", "message"),
    [
        ("x = 1\n", "nowhere", "Could not import 'nowhere'"),
        ("x = 1\n", "shop", "No trioweb app or factory found in module 'shop'"),
        ("x = 1\n", "shop:y", "Module 'shop' has no attribute 'y'"),
        ("x = 1\n", "shop:x", "'shop:x' is 1, not a trioweb App"),
        ("from trioweb import App\na = App('a')\nb = App('b')\n", "shop", "holds 2 trioweb apps; name the one"),
        ("def create_app(name):\n    pass\n", "shop", "could not be called with no arguments"),
        ("def create_app():\n    pass\n", "shop:create_app(os.sep)", "must be literals"),
        ("def create_app():\n    pass\n", "shop:create_app(", "Cannot read 'create_app('"),
    ],
)
def test_a_wrong_app_is_a_clear_usage_error(source: str, target: str, message: str) -> None:
    write("shop.py", source)
    result = invoke("--app", target, "routes")
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_an_import_error_inside_the_module_is_shown_with_its_traceback() -> None:
    write("shop.py", "import a_package_that_is_not_installed\n")
    result = invoke("--app", "shop", "routes")
    assert result.exit_code == 2
    assert "Importing 'shop' raised an ImportError" in result.output
    assert "Traceback (most recent call last)" in result.output
    assert "No module named 'a_package_that_is_not_installed'" in result.output


def test_a_syntax_error_in_the_module_is_raised_as_it_is() -> None:
    write("shop.py", "def broken(:\n")
    result = invoke("--app", "shop", "routes")
    assert result.exit_code == 1
    assert isinstance(result.exception, SyntaxError)


def test_a_type_error_inside_a_factory_is_the_factorys_own() -> None:
    write("shop.py", "def create_app():\n    return len(1)\n")
    with pytest.raises(TypeError, match="has no len"):
        load("shop")


# -- .env files --------------------------------------------------------------------------------


def test_env_files_load_with_flasks_precedence() -> None:
    write(".trioweb-env", "A=trioweb-env\nB=trioweb-env\nC=trioweb-env\nTRIOWEB_APP=shop\n")
    write(".env", "B=env\nC=env\n")
    write("custom.env", "C=custom\n")
    write("shop.py", named("shop"))
    os.environ["A"] = "already set"

    @cli.command("show-env", with_appcontext=False)
    def show_env() -> None:
        print(os.environ["A"], os.environ["B"], os.environ["C"])

    try:
        result = invoke("--env-file", "custom.env", "show-env")
        assert result.exit_code == 0, result.output
        assert result.output == "already set env custom\n"
        del os.environ["B"], os.environ["C"]
        assert invoke("show-env").output == "already set env env\n"
        assert "No routes" not in invoke("routes").output  # TRIOWEB_APP came from .trioweb-env
    finally:
        cli.commands.pop("show-env")


def test_trioweb_skip_dotenv_skips_the_default_files() -> None:
    write(".env", "TRIOWEB_APP=shop\n")
    write("shop.py", named("shop"))
    os.environ["TRIOWEB_SKIP_DOTENV"] = "1"
    assert "No trioweb app to load" in invoke("routes").output
    del os.environ["TRIOWEB_SKIP_DOTENV"]
    assert invoke("routes").exit_code == 0


def test_without_python_dotenv_a_tip_says_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    write(".env", "TRIOWEB_APP=shop\n")
    monkeypatch.setitem(sys.modules, "dotenv", None)  # import dotenv raises ImportError
    result = invoke("routes")
    assert "Tip: there are .env files here; install python-dotenv" in result.output
    assert "TRIOWEB_APP" not in os.environ


# -- routes ------------------------------------------------------------------------------------

ROUTES_APP = """
from trioweb import App

app = App("shop", static_folder=None)


@app.route("/items", methods=["GET", "POST"])
async def items():
    ...


@app.get("/about")
async def about():
    ...


@app.websocket("/live")
async def live():
    ...
"""


def test_routes_is_a_table_sorted_by_endpoint() -> None:
    write("shop.py", ROUTES_APP)
    result = invoke("--app", "shop", "routes")
    assert result.exit_code == 0, result.output
    assert result.output == textwrap.dedent(
        """\
        Endpoint  Methods    Websocket  Rule
        --------  ---------  ---------  ------
        about     GET                   /about
        items     GET, POST             /items
        live      GET        yes        /live
        """
    )


@pytest.mark.parametrize(
    ("sort", "order"),
    [
        ("rule", ["about", "items", "live"]),
        ("match", ["items", "about", "live"]),
        ("methods", ["about", "live", "items"]),
    ],
)
def test_routes_sort(sort: str, order: list[str]) -> None:
    write("shop.py", ROUTES_APP)
    lines = invoke("--app", "shop", "routes", "--sort", sort).output.splitlines()[2:]
    assert [line.split()[0] for line in lines] == order


def test_routes_all_methods_shows_head_and_options() -> None:
    write("shop.py", ROUTES_APP)
    output = invoke("--app", "shop", "routes", "--all-methods").output
    assert "GET, HEAD, OPTIONS, POST" in output


def test_an_app_without_routes_says_so() -> None:
    write("shop.py", "from trioweb import App\napp = App('shop', static_folder=None)\n")
    assert invoke("--app", "shop", "routes").output == "No routes were registered.\n"


# -- custom commands ---------------------------------------------------------------------------

COMMANDS_APP = """
import click
import trio
from trioweb import App, Blueprint, current_app, g

app = App("shop")
seen = []


@app.cli.command()
@click.argument("name")
def greet(name):
    g.name = name
    print(f"hello {g.name} from {current_app.import_name}")


@app.cli.command("count")
async def count_items():
    await trio.sleep(0)
    print(f"counted in {current_app.import_name}")


@app.cli.command()
@click.pass_context
async def whoami(ctx):
    await trio.sleep(0)
    print(f"{ctx.info_name} in {current_app.import_name}")


@app.cli.command()
def nested_run():
    async def name():
        return current_app.import_name

    print("trio.run inside:", trio.run(name))


@app.cli.command(with_appcontext=False)
def bare():
    from trioweb.ctx import has_app_context

    print("context:", has_app_context())


@app.cli.command()
def fail():
    raise click.ClickException("the database is down")


@app.teardown_request
async def never(error):
    seen.append("teardown_request")


@app.teardown_appcontext
async def torn_down(error):
    seen.append(f"teardown_appcontext {error!r}")


grouped = Blueprint("grouped", __name__)
renamed = Blueprint("renamed", __name__, cli_group="other")
merged = Blueprint("merged", __name__, cli_group=None)
nested = Blueprint("nested", __name__)
outer = Blueprint("outer", __name__)
chosen = Blueprint("chosen", __name__)


@grouped.cli.command()
def seed():
    print("seeded in", current_app.import_name)


@renamed.cli.command()
async def sync():
    print("synced in", current_app.import_name)


@merged.cli.command()
def flush():
    print("flushed in", current_app.import_name)


@nested.cli.command()
def tidy():
    print("tidied in", current_app.import_name)


@chosen.cli.command()
def pick():
    print("picked in", current_app.import_name)


for blueprint in (grouped, renamed, merged):
    app.register_blueprint(blueprint)
outer.register_blueprint(nested)
app.register_blueprint(outer)
app.register_blueprint(chosen, cli_group="picked")
"""


@pytest.fixture
def commands_app() -> None:
    write("shop.py", COMMANDS_APP)
    os.environ["TRIOWEB_APP"] = "shop"


@pytest.mark.usefixtures("commands_app")
def test_a_plain_command_runs_with_the_app_context_pushed_and_popped_after() -> None:
    result = invoke("greet", "ann")
    assert (result.exit_code, result.output) == (0, "hello ann from shop\n")
    assert not has_app_context()


@pytest.mark.usefixtures("commands_app")
def test_an_async_command_runs_under_trio_in_the_app_context() -> None:
    result = invoke("count")
    assert (result.exit_code, result.output) == (0, "counted in shop\n")


@pytest.mark.usefixtures("commands_app")
def test_an_async_command_under_click_pass_context_is_awaited_too() -> None:
    # click.pass_context wraps the coroutine function in a plain one (its __wrapped__ is the async def).
    result = invoke("whoami")
    assert (result.exit_code, result.output) == (0, "whoami in shop\n")


@pytest.mark.usefixtures("commands_app")
def test_a_plain_command_may_start_trio_itself_and_keeps_the_context() -> None:
    result = invoke("nested-run")
    assert (result.exit_code, result.output) == (0, "trio.run inside: shop\n")


@pytest.mark.usefixtures("commands_app")
@pytest.mark.parametrize(
    ("command", "error"),
    [(["greet", "ann"], "None"), (["count"], "None"), (["fail"], "ClickException('the database is down')")],
)
def test_the_app_context_is_popped_with_its_teardown_after_a_command(command: list[str], error: str) -> None:
    invoke(*command)
    assert sys.modules["shop"].seen == [f"teardown_appcontext {error}"]  # and no request teardown


@pytest.mark.usefixtures("commands_app")
def test_with_appcontext_false_leaves_the_context_out() -> None:
    assert invoke("bare").output == "context: False\n"


@pytest.mark.usefixtures("commands_app")
def test_a_command_error_is_clicks_message_and_exit_status() -> None:
    result = invoke("fail")
    assert (result.exit_code, result.output) == (1, "Error: the database is down\n")
    assert not has_app_context()


@pytest.mark.usefixtures("commands_app")
def test_blueprint_commands_follow_cli_group() -> None:
    assert invoke("grouped", "seed").output == "seeded in shop\n"
    assert invoke("other", "sync").output == "synced in shop\n"
    assert invoke("flush").output == "flushed in shop\n"
    assert invoke("renamed", "sync").exit_code == 2


@pytest.mark.usefixtures("commands_app")
def test_a_nested_blueprints_group_has_its_dotted_name_and_a_registration_may_choose_the_group() -> None:
    assert invoke("outer.nested", "tidy").output == "tidied in shop\n"
    assert invoke("picked", "pick").output == "picked in shop\n"
    assert invoke("chosen", "pick").exit_code == 2


@pytest.mark.usefixtures("commands_app")
def test_help_lists_the_apps_commands_beside_the_built_in_ones() -> None:
    output = invoke("--help").output
    for name in ("run", "serve", "routes", "shell", "greet", "count", "grouped", "other", "flush"):
        assert f"  {name} " in output or f"  {name}\n" in output, name


@pytest.mark.usefixtures("commands_app")
def test_debug_sets_the_apps_debug_and_the_environment() -> None:
    write("debugged.py", named("debugged") + "@app.cli.command()\ndef show():\n    print(app.config['DEBUG'])\n")
    assert invoke("--app", "debugged", "show").output == "False\n"
    sys.modules.pop("debugged")
    assert invoke("--app", "debugged", "--debug", "show").output == "True\n"
    assert os.environ["TRIOWEB_DEBUG"] == "1"


def test_plugin_commands_come_from_entry_points() -> None:
    write("plugin_dist-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: plugin-dist\nVersion: 1.0\n")
    write("plugin_dist-1.0.dist-info/entry_points.txt", "[trioweb.commands]\nhello = plugin_commands:hello\n")
    write("plugin_commands.py", "import click\n\n@click.command()\ndef hello():\n    print('hello from a plugin')\n")
    sys.path.insert(0, os.getcwd())
    result = invoke("hello", group=TriowebGroup())
    assert (result.exit_code, result.output) == (0, "hello from a plugin\n")


# -- shell -------------------------------------------------------------------------------------


def test_the_shell_has_app_g_and_trio_with_the_context_pushed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(sys, "__interactivehook__", raising=False)  # no readline history written
    write("shop.py", named("shop"))
    lines = [
        "from trioweb import current_app",
        "g.user = 'ann'",
        "print('in shell:', app.import_name, current_app.import_name, g.user)",
        "async def name(): return current_app.import_name",
        "",
        "print('in trio.run:', trio.run(name))",
    ]
    result = invoke("--app", "shop", "shell", input="\n".join(lines) + "\n")
    assert result.exit_code == 0, result.output
    assert "in shell: shop shop ann" in result.output
    assert "in trio.run: shop" in result.output
    assert not has_app_context()


# -- serve on sockets bound before (the reloader's seam) ---------------------------------------


async def test_serve_takes_sockets_bound_before_and_closes_them(app: App) -> None:
    @app.get("/")
    async def index() -> str:
        return "on the given socket"

    sock = socket.create_server(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    async with trio.open_nursery() as nursery:
        await nursery.start(functools.partial(serve, app, port=1, sockets=[sock]))
        async with httpx.AsyncClient() as client:
            response = await client.get(f"http://127.0.0.1:{port}/")
        assert response.text == "on the given socket"
        nursery.cancel_scope.cancel()
    assert sock.fileno() == -1


def test_no_app_exception_is_a_click_usage_error() -> None:
    assert NoAppException("x").exit_code == 2


def test_routes_shows_a_subdomain_column_when_a_rule_has_one() -> None:
    write("shop.py", ROUTES_APP + '\n\n@app.get("/", subdomain="api")\nasync def api_index():\n    ...\n')
    lines = invoke("--app", "shop", "routes", "--sort", "domain").output.splitlines()
    assert lines[0].split() == ["Endpoint", "Methods", "Websocket", "Subdomain", "Rule"]
    assert lines[-1].split() == ["api_index", "GET", "api", "/"]


def test_options_come_from_trioweb_variables_too() -> None:
    write("shop.py", ROUTES_APP)
    write("custom.env", "TRIOWEB_APP=shop\n")
    os.environ["TRIOWEB_ENV_FILE"] = "custom.env"
    os.environ["TRIOWEB_ROUTES_SORT"] = "match"
    lines = invoke("routes").output.splitlines()[2:]
    assert [line.split()[0] for line in lines] == ["items", "about", "live"]
