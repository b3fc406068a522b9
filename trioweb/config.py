"""``app.config``: a dict with documented defaults for every limit and timeout.

Quart's key names are used where Quart has the setting; the server limits that
Quart leaves to Hypercorn are named here. ``docs/configuration.md`` lists them
all with what happens at each limit.
"""

from __future__ import annotations

import importlib
from datetime import timedelta
from typing import Any

KiB = 1024
MiB = 1024 * KiB

DEFAULTS: dict[str, Any] = {
    "DEBUG": False,
    "TESTING": False,
    "SERVER_NAME": None,
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
    # that still verify one, the cookie's attributes (a path of None is "/"),
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
    """A dict of settings, filled with :data:`DEFAULTS`."""

    def __init__(self, defaults: dict[str, Any] | None = None) -> None:
        super().__init__(DEFAULTS if defaults is None else defaults)

    def from_mapping(self, mapping: dict[str, Any] | None = None, **kwargs: Any) -> None:
        """Take the upper-case keys of ``mapping`` and ``kwargs``."""
        for key, value in {**(mapping or {}), **kwargs}.items():
            if key.isupper():
                self[key] = value

    def from_object(self, obj: object | str) -> None:
        """Take the upper-case attributes of an object or of a dotted import path."""
        if isinstance(obj, str):
            module_name, _, attribute = obj.rpartition(".")
            module = importlib.import_module(module_name or attribute)
            obj = getattr(module, attribute) if module_name else module
        self.from_mapping({key: getattr(obj, key) for key in dir(obj) if key.isupper()})
