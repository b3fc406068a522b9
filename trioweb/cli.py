"""The command line: ``trioweb --app MODULE:APP run|serve|routes|shell`` and the app's own commands.

Built on click, with Flask's and Quart's names: :class:`ScriptInfo` finds
and loads the app, :class:`AppGroup` is ``app.cli`` (its commands run with
the app context pushed), :class:`TriowebGroup` is the ``trioweb`` command.
The reloader of ``run --reload`` is :mod:`trioweb.reloader`. This module
imports no other part of trioweb at import time, so ``Scaffold`` can give
every app and blueprint an ``AppGroup`` without an import cycle.
"""

from __future__ import annotations

import ast
import contextvars
import functools
import importlib
import importlib.util
import inspect
import os
import re
import sys
import threading
import traceback
from collections.abc import Callable
from operator import itemgetter
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar

import click
from click.core import ParameterSource

if TYPE_CHECKING:
    from .app import App
    from .blueprints import Blueprint

F = TypeVar("F", bound=Callable[..., Any])

__all__ = [
    "AppGroup",
    "NoAppException",
    "ScriptInfo",
    "TriowebGroup",
    "cli",
    "find_best_app",
    "get_debug_flag",
    "load_dotenv",
    "locate_app",
    "main",
    "prepare_import",
    "with_appcontext",
]

#: The files tried, in this order, when neither ``--app`` nor ``TRIOWEB_APP`` names the app (Flask's list).
DEFAULT_FILES = ("wsgi.py", "app.py")
#: The names of an app, then of a factory, looked for in a module named without ``:name``.
APP_NAMES = ("app", "application")
FACTORY_NAMES = ("create_app", "make_app")


class NoAppException(click.UsageError):
    """The app cannot be found or loaded; the message says what to do."""


# -- finding the app -------------------------------------------------------------------------


def _app_class() -> type[App]:
    from .app import App

    return App


def _called_with_wrong_args(factory: Callable[..., Any], error: BaseException) -> bool:
    """Whether a ``TypeError`` came from calling ``factory`` itself, not from inside it."""
    tb = error.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code is getattr(factory, "__code__", None):
            return False  # the factory ran: the error is the factory's own
        tb = tb.tb_next
    return True


def _call_factory(factory: Callable[..., Any], described: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
    try:
        return factory(*args, **kwargs)
    except TypeError as error:
        if not _called_with_wrong_args(factory, error):
            raise
        raise NoAppException(
            f"The factory {described} could not be called with "
            f"{'these arguments' if args or kwargs else 'no arguments'} ({error}). "
            f"Pass its arguments as literals, for example --app 'module:{factory.__name__}(\"dev\")'."
        ) from error


def find_best_app(module: ModuleType) -> App:
    """The app in ``module``: ``app`` or ``application``, else its one App, else ``create_app()``/``make_app()``."""
    app_class = _app_class()
    for name in APP_NAMES:
        candidate = getattr(module, name, None)
        if isinstance(candidate, app_class):
            return candidate
    found = [value for value in vars(module).values() if isinstance(value, app_class)]
    if len(found) == 1:
        return found[0]
    if len(found) > 1:
        raise NoAppException(
            f"Module {module.__name__!r} holds {len(found)} trioweb apps; "
            f"name the one to use: --app '{module.__name__}:name'."
        )
    for name in FACTORY_NAMES:
        factory = getattr(module, name, None)
        if inspect.isfunction(factory):
            app = _call_factory(factory, f"'{module.__name__}:{name}'", [], {})
            if isinstance(app, app_class):
                return app
            raise NoAppException(f"The factory '{module.__name__}:{name}' returned {app!r}, not a trioweb App.")
    raise NoAppException(
        f"No trioweb app or factory found in module {module.__name__!r}: it needs an App named 'app' or "
        f"'application', or a factory 'create_app' or 'make_app'. Or name it: --app '{module.__name__}:name'."
    )


def _parse_app_name(module: ModuleType, text: str) -> tuple[str, list[Any], dict[str, Any] | None]:
    """``name`` or ``name(literal, key=literal)``: the attribute, and the call's arguments (``None``: no call)."""
    try:
        expression = ast.parse(text.strip(), mode="eval").body
    except SyntaxError:
        raise NoAppException(f"Cannot read {text!r} as a name or a call like 'create_app()'.") from None
    if isinstance(expression, ast.Name):
        return expression.id, [], None
    if isinstance(expression, ast.Call) and isinstance(expression.func, ast.Name):
        try:
            args = [ast.literal_eval(arg) for arg in expression.args]
            kwargs = {kw.arg: ast.literal_eval(kw.value) for kw in expression.keywords if kw.arg is not None}
        except ValueError:
            raise NoAppException(
                f"The arguments in {text!r} must be literals (strings, numbers, lists...): they are read, not run."
            ) from None
        return expression.func.id, args, kwargs
    raise NoAppException(f"Cannot read {text!r} as a name or a call like 'create_app()' in {module.__name__!r}.")


def find_app_by_string(module: ModuleType, text: str) -> App:
    """The app ``text`` names in ``module``: an attribute, or a factory called as written (``create_app('dev')``)."""
    name, args, kwargs = _parse_app_name(module, text)
    try:
        found = getattr(module, name)
    except AttributeError:
        raise NoAppException(f"Module {module.__name__!r} has no attribute {name!r}.") from None
    described = f"'{module.__name__}:{text}'"
    if inspect.isfunction(found):
        found = _call_factory(found, described, args, kwargs or {})
    elif kwargs is not None:
        raise NoAppException(f"{described}: {name!r} is not a function, so it cannot be called.")
    if isinstance(found, _app_class()):
        return found
    raise NoAppException(f"{described} is {found!r}, not a trioweb App.")


def prepare_import(path: str) -> str:
    """The module name of ``path`` (a file, a package folder or a dotted name), its root put first on ``sys.path``.

    ``src/shop/app.py`` inside the package ``shop`` (it has an ``__init__.py``)
    is ``shop.app``, importable from ``src``.
    """
    path = os.path.realpath(path)
    stem, extension = os.path.splitext(path)
    if extension == ".py":
        path = stem
    if os.path.basename(path) == "__init__":
        path = os.path.dirname(path)
    parts: list[str] = []
    while True:  # up through the packages (folders with an __init__.py)
        path, name = os.path.split(path)
        parts.append(name)
        if not os.path.exists(os.path.join(path, "__init__.py")):
            break
    if not sys.path or sys.path[0] != path:
        sys.path.insert(0, path)
    return ".".join(reversed(parts))


def locate_app(module_name: str, app_name: str | None, raise_if_not_found: bool = True) -> App | None:
    """Import ``module_name`` and find the app in it.

    An ``ImportError`` raised inside the module (a missing dependency) is
    shown with its traceback; only a module that does not exist counts as
    "not found". Any other error in the user's module propagates as it is.
    """
    try:
        importlib.import_module(module_name)
    except ImportError as error:
        if (
            error.__traceback__ is not None
            and error.__traceback__.tb_next is not None
            and not _is_missing(error, module_name)
        ):
            raise NoAppException(
                f"Importing {module_name!r} raised an ImportError:\n\n{traceback.format_exc()}"
            ) from None
        if raise_if_not_found:
            raise NoAppException(
                f"Could not import {module_name!r} (from {os.getcwd()}): check the name, or give the file's path."
            ) from None
        return None
    module = sys.modules[module_name]
    return find_best_app(module) if app_name is None else find_app_by_string(module, app_name)


def _is_missing(error: ImportError, module_name: str) -> bool:
    """Whether the import failed because ``module_name`` (or a package on its way) does not exist."""
    missing = getattr(error, "name", None)
    return (
        isinstance(error, ModuleNotFoundError)
        and missing is not None
        and (module_name == missing or module_name.startswith(missing + "."))
    )


def get_debug_flag() -> bool | None:
    """``TRIOWEB_DEBUG`` as a flag (``0``, ``false`` and ``no`` are off); ``None`` when it is not set."""
    value = os.environ.get("TRIOWEB_DEBUG")
    if not value:
        return None
    return value.lower() not in {"0", "false", "no"}


def get_load_dotenv(default: bool = True) -> bool:
    """Whether the default ``.trioweb-env`` and ``.env`` files are loaded: not when ``TRIOWEB_SKIP_DOTENV`` is set."""
    value = os.environ.get("TRIOWEB_SKIP_DOTENV")
    if not value:
        return default
    return value.lower() in {"0", "false", "no"}


class ScriptInfo:
    """What the command line knows about the app: how to load it, loaded at most once.

    ``app_import_path`` is ``--app`` (or ``TRIOWEB_APP``); ``create_app``, a
    function that makes the app, takes precedence (for a script of your own
    built on :class:`TriowebGroup`).
    """

    def __init__(
        self,
        app_import_path: str | None = None,
        create_app: Callable[[], App] | None = None,
        set_debug_flag: bool = True,
        load_dotenv_defaults: bool = True,
    ) -> None:
        self.app_import_path = app_import_path
        self.create_app = create_app
        self.set_debug_flag = set_debug_flag
        self.load_dotenv_defaults = get_load_dotenv(load_dotenv_defaults)
        #: Anything a command wants to keep on the way (Flask's name).
        self.data: dict[Any, Any] = {}
        self._loaded_app: App | None = None

    def load_app(self) -> App:
        """The app, imported (or made) the first time."""
        if self._loaded_app is not None:
            return self._loaded_app
        app: App | None
        if self.create_app is not None:
            app = self.create_app()
        elif self.app_import_path:
            # "module:name"; a ":" followed by a slash is a Windows drive ("C:\\app.py").
            path, *name = re.split(r":(?![\\/])", self.app_import_path, maxsplit=1)
            app = locate_app(prepare_import(path), name[0] if name else None)
        else:
            app = None
            for file in DEFAULT_FILES:
                if os.path.isfile(file):
                    app = locate_app(prepare_import(file), None, raise_if_not_found=False)
                    if app is not None:
                        break
        if app is None:
            raise NoAppException(
                "No trioweb app to load: use 'trioweb --app module:app' (or a path, 'src/app.py'), "
                "set TRIOWEB_APP, or run in a folder with a 'wsgi.py' or 'app.py' that defines it."
            )
        debug = get_debug_flag()
        if self.set_debug_flag and debug is not None:
            app.config["DEBUG"] = debug
        self._loaded_app = app
        return app


pass_script_info = click.make_pass_decorator(ScriptInfo, ensure=True)


# -- running a command in the app context ---------------------------------------------------------


def run_in_app_context(app: App, function: Callable[[], Any]) -> Any:
    """Call ``function`` with the app context pushed: under ``trio.run`` if it is async, else on this thread.

    An ``async def`` command runs in ``trio.run`` inside ``async with
    app.app_context()``, so its teardown runs in the same trio run as the
    command. A plain command runs here, on the main thread, so Ctrl-C,
    ``input()`` and a ``trio.run`` of its own work as in any script (Quart
    runs it inside its event loop, where starting a loop fails). The async
    push and pop of the context run in ``trio.run`` on a helper thread,
    and the function runs in a copy of the pushed context's variables.
    """
    import trio

    if inspect.iscoroutinefunction(function):

        async def in_context() -> Any:
            async with app.app_context():
                return await function()

        return trio.run(in_context)
    return _SyncContext(app).call(function)


class _SyncContext:
    """The app context held open in ``trio.run`` on a helper thread while synchronous code runs in its variables."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.entered = threading.Event()
        self.context: contextvars.Context | None = None
        self.release: Any = None  # a trio.Event, set from this thread through the token
        self.token: Any = None
        self.failure: BaseException | None = None  # from the push or the pop
        self.error: BaseException | None = None  # from the function, for the teardown

    def call(self, function: Callable[[], Any]) -> Any:
        import trio

        thread = threading.Thread(target=self._hold, name="trioweb app context", daemon=True)
        thread.start()
        self.entered.wait()
        if self.context is None:
            thread.join()
            assert self.failure is not None
            raise self.failure
        try:
            return self.context.run(function)
        except BaseException as error:
            self.error = error
            raise
        finally:
            trio.from_thread.run_sync(self.release.set, trio_token=self.token)
            thread.join()
            if self.failure is not None and self.error is None:
                raise self.failure

    def _hold(self) -> None:
        import trio

        async def hold() -> None:
            context = self.app.app_context()
            await context.push()
            try:
                self.release = trio.Event()
                self.token = trio.lowlevel.current_trio_token()
                self.context = contextvars.copy_context()
                self.entered.set()
                await self.release.wait()
            finally:
                await context.pop(self.error)

        try:
            trio.run(hold)
        except BaseException as error:
            self.failure = error
        finally:
            self.entered.set()


def with_appcontext(function: F) -> F:
    """Run the command's callback with the app context pushed (see :func:`run_in_app_context`).

    ``app.cli`` and ``blueprint.cli`` commands get this without asking;
    use it for a command of your own ``click`` group.
    """

    @click.pass_context
    def decorator(ctx: click.Context, /, *args: Any, **kwargs: Any) -> Any:
        import trio

        from .ctx import has_app_context

        def app() -> App:
            return ctx.ensure_object(ScriptInfo).load_app()

        call = functools.partial(ctx.invoke, function, *args, **kwargs)
        # unwrap: click.pass_context (pass_obj...) wraps an async def in a plain function that returns its coroutine
        if inspect.iscoroutinefunction(inspect.unwrap(function)):

            async def invoke() -> Any:
                return await call()

            return trio.run(invoke) if has_app_context() else run_in_app_context(app(), invoke)
        return call() if has_app_context() else run_in_app_context(app(), call)

    return functools.update_wrapper(decorator, function)  # type: ignore[return-value]


class AppGroup(click.Group):
    """A click group whose commands run with the app context pushed: ``app.cli`` and ``blueprint.cli``.

    ``@app.cli.command()`` takes a plain or an ``async def`` function;
    ``with_appcontext=False`` leaves the context out. ``group()`` makes an
    ``AppGroup`` too.
    """

    def command(self, *args: Any, **kwargs: Any) -> Callable[[Callable[..., Any]], click.Command]:  # type: ignore[override]
        wrap = kwargs.pop("with_appcontext", True)

        def decorator(function: Callable[..., Any]) -> click.Command:
            if wrap:
                function = with_appcontext(function)
            command: click.Command = click.Group.command(self, *args, **kwargs)(function)
            return command

        return decorator

    def group(self, *args: Any, **kwargs: Any) -> Callable[[Callable[..., Any]], click.Group]:  # type: ignore[override]
        kwargs.setdefault("cls", AppGroup)
        group: Callable[[Callable[..., Any]], click.Group] = super().group(*args, **kwargs)
        return group


def register_blueprint_commands(blueprint: Blueprint, app: App, name: str, group: str | None) -> None:
    """Add a blueprint's commands to the app's, as Flask does.

    ``cli_group`` left out: a group named after the blueprint (``trioweb
    shop seed``); a name: a group of that name; ``None``: the commands go
    straight into ``app.cli``.
    """
    commands = blueprint.cli.commands
    if not commands:
        return
    if group is None:
        app.cli.commands.update(commands)
        return
    blueprint.cli.name = name if group is DEFAULT_CLI_GROUP else group
    app.cli.add_command(blueprint.cli)


class _DefaultGroup:
    def __repr__(self) -> str:
        return "<the blueprint's name>"


#: ``Blueprint(cli_group=...)`` left out: the group is named after the blueprint.
DEFAULT_CLI_GROUP: Any = _DefaultGroup()


# -- the options of the trioweb command ---------------------------------------------------------


def _set_app(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None:
        ctx.ensure_object(ScriptInfo).app_import_path = value
    return value


_app_option = click.Option(
    ["-A", "--app"],
    metavar="IMPORT",
    help=(
        "The app to load: 'module:name', or a factory 'module:create_app()' (literal arguments allowed). "
        "The module may be a dotted name or a file path. Without ':name', 'app', 'application', its one "
        "App, or a 'create_app' / 'make_app' factory is used. [env: TRIOWEB_APP]"
    ),
    is_eager=True,  # so that --help lists the app's commands
    expose_value=False,
    callback=_set_app,
)


def _set_debug(ctx: click.Context, param: click.Parameter, value: bool) -> bool | None:
    source = ctx.get_parameter_source(param.name or "debug")
    if source in (ParameterSource.DEFAULT, ParameterSource.DEFAULT_MAP, None):
        return None  # not given: TRIOWEB_DEBUG (or the app's config) decides
    # In the environment, so a factory can read it and a reloader's child inherits it.
    os.environ["TRIOWEB_DEBUG"] = "1" if value else "0"
    return value


_debug_option = click.Option(
    ["--debug/--no-debug"],
    help="Set the app's DEBUG (and reload on change with 'run'). [env: TRIOWEB_DEBUG]",
    expose_value=False,
    callback=_set_debug,
)


def _load_env_file(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and importlib.util.find_spec("dotenv") is None:
        raise click.BadParameter(
            "loading an env file needs python-dotenv: pip install 'trioweb[dotenv]'.", ctx=ctx, param=param
        )
    info = ctx.ensure_object(ScriptInfo)
    if value is not None or info.load_dotenv_defaults:
        load_dotenv(value, load_defaults=info.load_dotenv_defaults)
    return value


_env_file_option = click.Option(
    ["-e", "--env-file"],
    type=click.Path(exists=True, dir_okay=False),
    help=(
        "Load environment variables from this file, over those of '.env' and '.trioweb-env'; "
        "variables already set win over all of them. Needs python-dotenv."
    ),
    is_eager=True,  # before --app, which it may set
    expose_value=False,
    callback=_load_env_file,
)


def _show_version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    import importlib.metadata
    import platform

    versions = [f"Python {platform.python_version()}"]
    versions += [f"{name} {importlib.metadata.version(name)}" for name in ("trioweb", "trio", "werkzeug")]
    click.echo("\n".join(versions), color=ctx.color)
    ctx.exit()


_version_option = click.Option(
    ["--version"],
    help="Show the versions of trioweb, trio and werkzeug.",
    expose_value=False,
    callback=_show_version,
    is_flag=True,
    is_eager=True,
)


def load_dotenv(path: str | os.PathLike[str] | None = None, load_defaults: bool = True) -> bool:
    """Set environment variables from ``.trioweb-env``, then ``.env``, then ``path``; a later file wins.

    The default files are looked for from the current directory upwards.
    A variable already set in the environment wins over every file. Without
    python-dotenv this loads nothing, and says so if a file is there.
    Returns whether a variable was read.
    """
    try:
        import dotenv
    except ImportError:
        if path is not None or os.path.isfile(".env") or os.path.isfile(".trioweb-env"):
            click.secho(
                " * Tip: there are .env files here; install python-dotenv to use them (pip install 'trioweb[dotenv]').",
                fg="yellow",
                err=True,
            )
        return False
    values: dict[str, str | None] = {}
    if load_defaults:
        for name in (".trioweb-env", ".env"):
            found = dotenv.find_dotenv(name, usecwd=True)
            if found:
                values.update(dotenv.dotenv_values(found, encoding="utf-8"))
    if path is not None and os.path.isfile(path):
        values.update(dotenv.dotenv_values(path, encoding="utf-8"))
    for key, value in values.items():
        if value is not None and key not in os.environ:
            os.environ[key] = value
    return bool(values)


class TriowebGroup(AppGroup):
    """The ``trioweb`` command: ``--app``, ``--env-file``, ``--debug``, the built-in commands, and the app's.

    The app's commands (``app.cli``) and the plugins' (the entry points of
    the group ``trioweb.commands``) are looked up when asked for, so
    ``trioweb --help`` lists them, and ``run`` works even if they cannot load.
    """

    def __init__(
        self,
        add_default_commands: bool = True,
        create_app: Callable[[], App] | None = None,
        add_version_option: bool = True,
        load_dotenv: bool = True,
        set_debug_flag: bool = True,
        **extra: Any,
    ) -> None:
        params: list[click.Parameter] = list(extra.pop("params", None) or ())
        # Option callbacks, not a group callback: a subclass keeps its own callback.
        params.extend((_env_file_option, _app_option, _debug_option))
        if add_version_option:
            params.append(_version_option)
        extra.setdefault("context_settings", {}).setdefault("auto_envvar_prefix", "TRIOWEB")
        super().__init__(params=params, **extra)
        self.create_app = create_app
        self.load_dotenv = load_dotenv
        self.set_debug_flag = set_debug_flag
        if add_default_commands:
            for command in (run_command, serve_command, routes_command, shell_command):
                self.add_command(command)
        self._plugins_loaded = False

    def _load_plugin_commands(self) -> None:
        if self._plugins_loaded:
            return
        self._plugins_loaded = True
        import importlib.metadata  # here: it is slow to import, and most commands never get here

        for entry_point in importlib.metadata.entry_points(group="trioweb.commands"):
            self.add_command(entry_point.load(), entry_point.name)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        self._load_plugin_commands()
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            return command
        try:
            app = ctx.ensure_object(ScriptInfo).load_app()
        except NoAppException as error:
            click.secho(f"Error: {error.format_message()}\n", err=True, fg="red")
            return None
        return app.cli.get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._load_plugin_commands()
        names = set(super().list_commands(ctx))
        try:
            names.update(ctx.ensure_object(ScriptInfo).load_app().cli.list_commands(ctx))
        except NoAppException as error:
            click.secho(f"Error: {error.format_message()}\n", err=True, fg="red")
        except Exception:
            click.secho(f"{traceback.format_exc()}\n", err=True, fg="red")
        return sorted(names)

    def make_context(
        self, info_name: str | None, args: list[str], parent: click.Context | None = None, **extra: Any
    ) -> click.Context:
        if "obj" not in extra and "obj" not in self.context_settings:
            extra["obj"] = ScriptInfo(
                create_app=self.create_app, set_debug_flag=self.set_debug_flag, load_dotenv_defaults=self.load_dotenv
            )
        return super().make_context(info_name, args, parent=parent, **extra)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if (not args and self.no_args_is_help) or (len(args) == 1 and args[0] in self.get_help_option_names(ctx)):
            # --help skips the eager options: read the env file and TRIOWEB_APP for the app's commands.
            _env_file_option.handle_parse_result(ctx, {}, [])
            _app_option.handle_parse_result(ctx, {}, [])
        return super().parse_args(ctx, args)


# -- the built-in commands ---------------------------------------------------------------------

_certfile_option = click.option(
    "--certfile",
    type=click.Path(exists=True, dir_okay=False),
    help="TLS certificate (PEM): serve https and wss.",
)
_keyfile_option = click.option(
    "--keyfile", type=click.Path(exists=True, dir_okay=False), help="TLS private key (PEM), with --certfile."
)


_workers_option = click.option(
    "--workers",
    "-w",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="Worker processes that serve on the same socket, each importing the app (1: this process serves).",
)


def _check_tls(certfile: str | None, keyfile: str | None) -> None:
    if keyfile is not None and certfile is None:
        raise click.UsageError("--keyfile needs --certfile")


def _serve_with_workers(
    info: ScriptInfo,
    workers: int,
    *,
    host: str,
    port: int,
    certfile: str | None,
    keyfile: str | None,
    access_log: bool = True,
    log_level: str = "info",
) -> None:
    """``--workers N``: the parent process, which never imports the app; each worker does."""
    if info.app_import_path is None and info.create_app is not None:
        raise click.UsageError("--workers needs the app as MODULE:APP (or --app): each worker process imports it")
    from . import workers as worker_processes
    from .server import configure_logging

    configure_logging(log_level, format=worker_processes.LOG_FORMAT)
    raise SystemExit(
        worker_processes.supervise(
            info.app_import_path,
            workers,
            host=host,
            port=port,
            certfile=certfile,
            keyfile=keyfile,
            access_log=access_log,
            log_level=log_level,
        )
    )


@click.command("run", short_help="Run a development server.")
@click.option("--host", "-h", default="127.0.0.1", show_default=True, help="The interface to listen on.")
@click.option("--port", "-p", default=8000, show_default=True, type=int, help="The port to listen on (0: any free).")
@click.option(
    "--reload/--no-reload",
    default=None,
    help="Restart the app when a source file changes (on by default with --debug).",
)
@_certfile_option
@_keyfile_option
@_workers_option
@pass_script_info
def run_command(
    info: ScriptInfo,
    host: str,
    port: int,
    reload: bool | None,
    certfile: str | None,
    keyfile: str | None,
    workers: int,
) -> None:
    """Run the app with the native server, for development.

    With --reload a supervisor keeps the listening socket and runs the app
    in a child process, which it restarts when a .py file under the current
    directory changes; clients that connect meanwhile wait, they are not
    refused. Ctrl-C stops both.
    """
    from . import reloader

    _check_tls(certfile, keyfile)
    child = reloader.child_settings()
    if child is not None:  # the reloader's child: serve on the supervisor's socket
        reloader.serve_child(info, child, certfile=certfile, keyfile=keyfile)
        return
    if reload is None:
        reload = bool(get_debug_flag()) and workers == 1
    if reload and workers > 1:
        raise click.UsageError("--reload runs one app process, so it does not go with --workers")
    if workers > 1:
        _serve_with_workers(info, workers, host=host, port=port, certfile=certfile, keyfile=keyfile)
    if reload:
        raise SystemExit(reloader.supervise(host=host, port=port, watch=reloader.watched_paths(info)))
    app = info.load_app()
    from .server import run

    run(app, host=host, port=port, certfile=certfile, keyfile=keyfile)


run_command.params.insert(0, _debug_option)


@click.command("serve", short_help="Serve the app with the native server.")
@click.argument("app", metavar="[MODULE:APP]", required=False)
@click.option("--host", default="127.0.0.1", show_default=True, help="The interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="The port to listen on (0: any free).")
@_certfile_option
@_keyfile_option
@_workers_option
@click.option("--no-access-log", is_flag=True, help="Do not log each request to stderr.")
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["debug", "info", "warning", "error", "critical"], case_sensitive=False),
)
@pass_script_info
def serve_command(
    info: ScriptInfo,
    app: str | None,
    host: str,
    port: int,
    certfile: str | None,
    keyfile: str | None,
    workers: int,
    no_access_log: bool,
    log_level: str,
) -> None:
    """Serve the app (MODULE:APP, or --app) with the native server until Ctrl-C or SIGTERM, no reloader.

    With --workers N, this process binds the socket and runs N worker
    processes that serve on it, each with its own before_serving; one that
    crashes is started again, one that cannot start stops them all.
    """
    _check_tls(certfile, keyfile)
    if app is not None:
        info.app_import_path = app
    if workers > 1:
        _serve_with_workers(
            info,
            workers,
            host=host,
            port=port,
            certfile=certfile,
            keyfile=keyfile,
            access_log=not no_access_log,
            log_level=log_level.lower(),
        )
    loaded = info.load_app()
    from .server import configure_logging, run

    # After the import: an app module that configures logging keeps its own setup.
    configure_logging(log_level.lower())
    run(loaded, host=host, port=port, certfile=certfile, keyfile=keyfile, access_log=not no_access_log)


@click.command("routes", short_help="Show the app's routes.")
@click.option(
    "--sort",
    "-s",
    type=click.Choice(("endpoint", "methods", "domain", "rule", "match")),
    default="endpoint",
    show_default=True,
    help="What to sort by; 'match' keeps the order the rules were added in.",
)
@click.option("--all-methods", is_flag=True, help="Show HEAD and OPTIONS too.")
@pass_script_info
def routes_command(info: ScriptInfo, sort: str, all_methods: bool) -> None:
    """Show every route: endpoint, methods, whether it is a websocket, and the rule."""
    app = info.load_app()
    rules = list(app.url_map.iter_rules())
    if not rules:
        click.echo("No routes were registered.")
        return
    hidden = set() if all_methods else {"HEAD", "OPTIONS"}
    host_matching = app.url_map.host_matching
    has_domain = any(rule.host if host_matching else rule.subdomain for rule in rules)
    headers = ["Endpoint", "Methods", "Websocket"]
    if has_domain:
        headers.append("Host" if host_matching else "Subdomain")
    headers.append("Rule")
    rows = []
    for rule in rules:
        row = [str(rule.endpoint), ", ".join(sorted((rule.methods or set()) - hidden)), "yes" if rule.websocket else ""]
        if has_domain:
            row.append((rule.host if host_matching else rule.subdomain) or "")
        row.append(rule.rule)
        rows.append(row)
    column = {"endpoint": 0, "methods": 1, "domain": 3 if has_domain else None, "rule": len(headers) - 1}.get(sort)
    if column is not None:
        rows.sort(key=itemgetter(column))
    widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(len(headers))]
    for row in [headers, ["-" * width for width in widths], *rows]:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


@click.command("shell", short_help="Run a Python shell in the app context.")
@pass_script_info
def shell_command(info: ScriptInfo) -> None:
    """Run an interactive Python shell with the app context pushed: 'app', 'g' and 'trio' are there.

    The shell is synchronous; run async code with trio.run, which sees the
    app context too: trio.run(some_async_function).
    """
    import code

    import trio

    from .ctx import g

    app = info.load_app()
    banner = f"Python {sys.version} on {sys.platform}\nApp: {app.import_name}\nRun async code with trio.run(function)."
    namespace: dict[str, Any] = {}
    startup = os.environ.get("PYTHONSTARTUP")
    if startup and os.path.isfile(startup):
        with open(startup) as file:
            exec(compile(file.read(), startup, "exec"), namespace)
    namespace.update(app=app, g=g, trio=trio)
    hook = getattr(sys, "__interactivehook__", None)
    if hook is not None:
        try:
            import readline
            from rlcompleter import Completer
        except ImportError:
            pass
        else:
            readline.set_completer(Completer(namespace).complete)
        hook()
    run_in_app_context(app, functools.partial(code.interact, banner=banner, local=namespace))


cli = TriowebGroup(
    name="trioweb",
    help="""\
The trioweb command line: run, serve, inspect and manage an app.

The app is given with '--app' (or TRIOWEB_APP), or found in a 'wsgi.py'
or 'app.py' in the current directory.
""",
)


def main(argv: list[str] | None = None) -> None:
    """The ``trioweb`` console script and ``python -m trioweb``."""
    cli.main(args=argv, prog_name="trioweb")
