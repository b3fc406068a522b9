"""``app.config``: a dict with documented defaults for every limit and timeout.

Quart's key names are used where Quart has the setting; the server limits that
Quart leaves to Hypercorn are named here. ``docs/configuration.md`` lists them
all with what happens at each limit. The loaders (files, an environment
variable naming a file, ``TRIOWEB_*`` variables) are Flask's, as Quart's are.
"""

from __future__ import annotations

import errno
import importlib
import json
import os
import types
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import IO, Any

KiB = 1024
MiB = 1024 * KiB

DEFAULTS: dict[str, Any] = {
    "DEBUG": False,
    "TESTING": False,
    # Hosts (trioweb.routing, docs/hosts.md): the app's host (and port): the
    # subdomain of a request is what its Host has in front of it (with
    # subdomain_matching), and url_for outside a request builds external URLs
    # with it, under APPLICATION_ROOT (the path the app is mounted at) and
    # with PREFERRED_URL_SCHEME (APPLICATION_ROOT is also the session cookie's
    # default path). It does not restrict the hosts served.
    "SERVER_NAME": None,
    "APPLICATION_ROOT": "/",
    "PREFERRED_URL_SCHEME": "http",
    "JSON_SORT_KEYS": False,
    # Errors no handler takes: ``True`` raises them in the test out of the
    # test client (a server logs them and answers a plain 500); ``None``
    # follows ``TESTING``, as in Flask.
    "PROPAGATE_EXCEPTIONS": None,
    # Request bodies: over the limit answers 413 and closes the connection.
    "MAX_CONTENT_LENGTH": 16 * MiB,
    # Multipart forms: the largest field that is not a file, and the most
    # fields and files in one form (413 over either).
    "MAX_FORM_MEMORY_SIZE": 500_000,
    "MAX_FORM_PARTS": 1_000,
    # Seconds to receive a whole request body (408 when exceeded).
    "BODY_TIMEOUT": 60.0,
    # Seconds to send a whole response, body included; ``None`` disables it
    # (set ``response.timeout = None`` for one streaming response instead).
    "RESPONSE_TIMEOUT": 60.0,
    # Native server: request line plus headers over this answers 431 and closes.
    "MAX_REQUEST_HEAD_SIZE": 16 * KiB,
    # Native server: seconds from the first byte of a request head to its end;
    # a slower client (slowloris) gets 408 and the connection is closed.
    "REQUEST_HEAD_TIMEOUT": 10.0,
    # Native server: seconds an idle keep-alive connection is kept open.
    "KEEP_ALIVE_TIMEOUT": 5.0,
    # Seconds in-flight work gets to finish at shutdown before it is cancelled.
    "SHUTDOWN_TIMEOUT": 10.0,
    # Websockets: a message over this closes with 1009.
    "WEBSOCKET_MAX_MESSAGE_SIZE": 16 * MiB,
    # Websockets: received messages buffered before the reader waits for the
    # handler (backpressure on the client).
    "WEBSOCKET_QUEUE_SIZE": 4,
    # Websockets: seconds between keep-alive pings (``None``: no pings), and
    # seconds to wait for the pong before closing with 1011.
    "WEBSOCKET_PING_INTERVAL": None,
    "WEBSOCKET_PING_TIMEOUT": 20.0,
    # Templates (trioweb.templating): whether a changed template file is read
    # again (one stat per render); ``None`` follows DEBUG, as in Flask.
    "TEMPLATES_AUTO_RELOAD": None,
    # Files (send_file, send_from_directory, static files): the max-age, in
    # seconds (or a timedelta), of a file response's Cache-Control. Flask's
    # default None sends no max-age but ``no-cache``: browsers revalidate
    # with If-None-Match / If-Modified-Since and get a 304 when nothing changed.
    "SEND_FILE_MAX_AGE_DEFAULT": None,
    # Sessions (trioweb.sessions, Flask's defaults): the key that signs the
    # session cookie (no key: the session is read-only and empty), older keys
    # that still verify one, the cookie's attributes (a path of None is APPLICATION_ROOT),
    # how long a permanent session lasts (a timedelta, or seconds), and whether
    # a permanent session's cookie is sent again, with a later expiry, on every
    # request.
    "SECRET_KEY": None,
    "SECRET_KEY_FALLBACKS": None,
    "SESSION_COOKIE_NAME": "session",
    "SESSION_COOKIE_DOMAIN": None,
    "SESSION_COOKIE_PATH": None,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SECURE": False,
    "SESSION_COOKIE_SAMESITE": None,
    "SESSION_COOKIE_PARTITIONED": False,
    "PERMANENT_SESSION_LIFETIME": timedelta(days=31),
    "SESSION_REFRESH_EACH_REQUEST": True,
}


class Config(dict[str, Any]):
    """A dict of settings, filled with :data:`DEFAULTS`.

    ``root_path`` is the folder that :meth:`from_file` and :meth:`from_pyfile`
    read relative names from: the app's ``root_path`` for ``app.config``, the
    current directory for a ``Config()`` made on its own.
    """

    def __init__(self, root_path: str | os.PathLike[str] | None = None, defaults: dict[str, Any] | None = None) -> None:
        super().__init__(DEFAULTS if defaults is None else defaults)
        self.root_path = os.fspath(root_path) if root_path is not None else os.getcwd()

    def from_mapping(self, mapping: Mapping[str, Any] | None = None, **kwargs: Any) -> bool:
        """Take the upper-case keys of ``mapping`` and ``kwargs``; True, as in Flask."""
        for key, value in {**(mapping or {}), **kwargs}.items():
            if key.isupper():
                self[key] = value
        return True

    def from_object(self, obj: object | str) -> None:
        """Take the upper-case attributes of an object or of a dotted import path."""
        if isinstance(obj, str):
            module_name, _, attribute = obj.rpartition(".")
            module = importlib.import_module(module_name or attribute)
            obj = getattr(module, attribute) if module_name else module
        self.from_mapping({key: getattr(obj, key) for key in dir(obj) if key.isupper()})

    def from_prefixed_env(self, prefix: str = "TRIOWEB", *, loads: Callable[[str], Any] = json.loads) -> bool:
        """Take every ``<prefix>_<KEY>`` environment variable as ``KEY``, as Flask does.

        Values go through ``loads`` (JSON: ``60`` is an int, ``true`` a bool,
        ``null`` None), so a setting keeps its type; a value that does not
        decode is kept as the string it is. ``__`` in a name reaches into a
        nested dict (``TRIOWEB_DB__HOST`` sets ``config["DB"]["HOST"]``),
        making the dicts that are missing. Variables are read in sorted order,
        so the result does not depend on the environment's order.
        """
        start = f"{prefix}_"
        for name in sorted(os.environ):
            if not name.startswith(start):
                continue
            raw = os.environ[name]
            try:
                value = loads(raw)
            except Exception:
                value = raw
            *parents, last = name[len(start) :].split("__")
            current: dict[str, Any] = self
            for part in parents:
                child = current.setdefault(part, {})
                if not isinstance(child, dict):
                    raise TypeError(
                        f"{name} sets a key inside {part!r}, but that setting is {type(child).__name__} {child!r},"
                        " not a dict: rename the variable or set the whole setting with one variable"
                    )
                current = child
            current[last] = value
        return True

    def from_file(
        self,
        filename: str | os.PathLike[str],
        load: Callable[[IO[Any]], Mapping[str, Any]],
        silent: bool = False,
        text: bool = True,
    ) -> bool:
        """Take the upper-case keys of what ``load`` reads from a file, relative to ``root_path``.

        ``app.config.from_file("config.toml", load=tomllib.load, text=False)``
        (tomllib reads bytes) or ``from_file("config.json", load=json.load)``.
        A missing file raises ``FileNotFoundError`` naming the path, or returns
        False with ``silent=True``, for a file that may be left out.
        """
        path = os.path.join(self.root_path, filename)
        try:
            with open(path, "r" if text else "rb") as file:
                loaded = load(file)
        except OSError as error:
            if silent and error.errno in (errno.ENOENT, errno.EISDIR, errno.ENOTDIR):
                return False
            raise _explained(error) from None
        if not isinstance(loaded, Mapping):
            raise TypeError(f"{load!r} read {type(loaded).__name__} from {path}, not a mapping of settings")
        return self.from_mapping(loaded)

    def from_pyfile(self, filename: str | os.PathLike[str], silent: bool = False) -> bool:
        """Run a Python file, relative to ``root_path``, and take its upper-case names.

        A missing file raises ``FileNotFoundError`` naming the path, or returns
        False with ``silent=True``. The file runs as a module of its own, named
        ``config``, with ``__file__`` set.
        """
        path = os.path.join(self.root_path, filename)
        module = types.ModuleType("config")
        module.__file__ = path
        try:
            with open(path, "rb") as file:
                source = file.read()
        except OSError as error:
            if silent and error.errno in (errno.ENOENT, errno.EISDIR, errno.ENOTDIR):
                return False
            raise _explained(error) from None
        exec(compile(source, path, "exec"), module.__dict__)
        self.from_object(module)
        return True

    def from_envvar(self, variable_name: str, silent: bool = False) -> bool:
        """:meth:`from_pyfile` with the file an environment variable names (``APP_SETTINGS=/etc/app.py``).

        An unset (or empty) variable raises ``RuntimeError`` that says to set
        it, or returns False with ``silent=True``.
        """
        path = os.environ.get(variable_name)
        if not path:
            if silent:
                return False
            raise RuntimeError(
                f"The environment variable {variable_name!r} is not set, so no configuration was loaded from it:"
                " set it to the path of a Python settings file, or pass silent=True to go on without one"
            )
        return self.from_pyfile(path, silent=silent)

    def get_namespace(self, namespace: str, lowercase: bool = True, trim_namespace: bool = True) -> dict[str, Any]:
        """The settings whose keys start with ``namespace``, as keyword arguments for something else.

        ``get_namespace("IMAGE_STORE_")`` gives ``{"type": ..., "path": ...}``
        for ``IMAGE_STORE_TYPE`` and ``IMAGE_STORE_PATH``: the prefix is cut
        (``trim_namespace``) and the keys lower-cased (``lowercase``).
        """
        found: dict[str, Any] = {}
        for key, value in self.items():
            if not key.startswith(namespace):
                continue
            name = key[len(namespace) :] if trim_namespace else key
            found[name.lower() if lowercase else name] = value
        return found


def _explained(error: OSError) -> OSError:
    """The same error, of the same type, that also says where relative names start and how to make the file optional."""
    reason = error.strerror or str(error)
    hint = "relative names start at the Config's root_path, the app's folder; pass silent=True if the file is optional"
    return type(error)(error.errno, f"Unable to load configuration file ({reason}; {hint})", error.filename)
