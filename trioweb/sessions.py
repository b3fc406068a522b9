"""Sessions: what a session object is, and how a store opens and saves one.

The default store is the client: the session is a JSON object in a cookie
signed with itsdangerous (Flask's and Quart's choice), so the server keeps
nothing and a tampered, expired or garbage cookie is simply an empty
session. Another store plugs in through :class:`SessionInterface`, set as
``App.session_interface`` (docs/sessions.md has a server-side one).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, MutableMapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, NoReturn

from itsdangerous import BadData, URLSafeTimedSerializer
from werkzeug.datastructures import Headers

if TYPE_CHECKING:
    from .app import App
    from .wrappers.base import BaseRequestWebsocket
    from .wrappers.response import Response


class SessionMixin(MutableMapping[str, Any]):
    """What every session has besides its keys: ``permanent``, ``modified``, ``accessed``."""

    #: Whether the cookie outlives the browser (``PERMANENT_SESSION_LIFETIME``).
    permanent: bool = False
    #: Set when the session was changed, so that it is saved.
    modified: bool = False
    #: Set when the session was read or changed, so that the response varies on ``Cookie``.
    accessed: bool = False


NO_SECRET_KEY = (
    "The session is unavailable because no secret key was set. Set app.secret_key or "
    "app.config['SECRET_KEY'] to a long random string (python -c 'import secrets; print(secrets.token_hex())')."
)
AFTER_ACCEPT = (
    "The session cannot change after websocket.accept(): its cookie went out with the 101 response, "
    "and nothing after it can reach the client. Change the session before accepting (or in an HTTP view)."
)

AFTER_HEADERS = (
    "The session cannot change while a streamed response is sent: its cookie went out with the headers, "
    "and nothing after them can reach the client. Change the session in the view; to show flashed messages "
    "in a streamed template, call get_flashed_messages() in the view and pass them in, or use render_template."
)


class SecureCookieSession(SessionMixin):
    """A dict that records whether it was read (``accessed``) and changed (``modified``).

    Unlike Flask's, ``in``, ``len()`` and iteration count as reads too: a
    response that depends on whether a key is there depends on the cookie,
    so it must vary on ``Cookie``. A change inside a value
    (``session["cart"].append(x)``) is not seen; set ``session.modified = True``.
    """

    # Defaults on the class: a session that is never touched costs one attribute.
    accessed = False
    _modified = False
    #: Why writes are refused now (the websocket's 101 has gone out), or None.
    _sealed: str | None = None

    def __init__(self, initial: Mapping[str, Any] | None = None) -> None:
        self._data: dict[str, Any] = dict(initial) if initial else {}

    def _writable(self) -> None:
        if self._sealed is not None:
            raise RuntimeError(self._sealed)

    def seal(self, reason: str) -> None:
        """Refuse every later change with ``RuntimeError(reason)``: nothing could save it."""
        self._sealed = reason

    @property
    def modified(self) -> bool:
        return self._modified

    @modified.setter
    def modified(self, value: bool) -> None:
        if value:
            self._writable()
        self._modified = value

    @property
    def permanent(self) -> bool:
        return bool(self.get("_permanent", False))

    @permanent.setter
    def permanent(self, value: bool) -> None:
        self["_permanent"] = bool(value)

    def __getitem__(self, key: str) -> Any:
        self.accessed = True
        return self._data[key]

    def get(self, key: str, default: Any = None) -> Any:
        self.accessed = True
        return self._data.get(key, default)

    def __contains__(self, key: object) -> bool:
        self.accessed = True
        return key in self._data

    def __iter__(self) -> Iterator[str]:
        self.accessed = True
        return iter(self._data)

    def __len__(self) -> int:
        self.accessed = True
        return len(self._data)

    def __setitem__(self, key: str, value: Any) -> None:
        self._writable()
        self.accessed = self._modified = True
        self._data[key] = value

    def __delitem__(self, key: str) -> None:
        self._writable()
        self.accessed = self._modified = True
        del self._data[key]

    def clear(self) -> None:
        self._writable()
        self.accessed = self._modified = True
        self._data.clear()

    def to_dict(self) -> dict[str, Any]:
        """The keys and values, for a store to save (no read is recorded)."""
        return dict(self._data)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._data!r}>"


class NullSession(SecureCookieSession):
    """The session of an app without a secret key: empty, readable, and any write says what to do."""

    # Its (empty) data on the class, so that the session of an app without a key
    # is a bare object: every write raises before it could change it.
    _data: dict[str, Any] = {}

    def __init__(self, initial: Mapping[str, Any] | None = None) -> None:
        if initial:
            raise RuntimeError(NO_SECRET_KEY)

    def _writable(self) -> NoReturn:
        raise RuntimeError(NO_SECRET_KEY)


class SessionInterface:
    """The seam for a session store: subclass it and set ``app.session_interface``.

    ``open_session`` gets the request (or the websocket handshake) and returns
    the session, or ``None`` when there can be none (then the app uses
    :meth:`make_null_session`). ``save_session`` puts it on the response.
    Both are coroutines, so a store may do I/O. The ``get_cookie_*`` helpers
    read the ``SESSION_COOKIE_*`` settings, as Flask's do.
    """

    null_session_class: type[NullSession] = NullSession
    pickle_based = False

    def make_null_session(self, app: App) -> NullSession:
        return self.null_session_class()

    def is_null_session(self, obj: object) -> bool:
        return isinstance(obj, self.null_session_class)

    def get_cookie_name(self, app: App) -> str:
        return str(app.config["SESSION_COOKIE_NAME"])

    def get_cookie_domain(self, app: App) -> str | None:
        return app.config["SESSION_COOKIE_DOMAIN"] or None

    def get_cookie_path(self, app: App) -> str:
        return str(app.config["SESSION_COOKIE_PATH"] or app.config.get("APPLICATION_ROOT") or "/")

    def get_cookie_httponly(self, app: App) -> bool:
        return bool(app.config["SESSION_COOKIE_HTTPONLY"])

    def get_cookie_secure(self, app: App) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"])

    def get_cookie_samesite(self, app: App) -> str | None:
        value = app.config["SESSION_COOKIE_SAMESITE"]
        return str(value) if value else None

    def get_cookie_partitioned(self, app: App) -> bool:
        return bool(app.config["SESSION_COOKIE_PARTITIONED"])

    def get_expiration_time(self, app: App, session: SessionMixin) -> datetime | None:
        """When the cookie expires: ``PERMANENT_SESSION_LIFETIME`` from now, or None (the browser session)."""
        if session.permanent:
            return datetime.now(UTC) + app.permanent_session_lifetime
        return None

    def should_set_cookie(self, app: App, session: SessionMixin) -> bool:
        """Changed, or permanent with ``SESSION_REFRESH_EACH_REQUEST`` (which moves the expiry on)."""
        if session.modified:
            return True
        return bool(session.permanent and app.config["SESSION_REFRESH_EACH_REQUEST"])

    def set_cookie(
        self, app: App, response: Response, value: str, expires: datetime | int | None, max_age: int | None = None
    ) -> None:
        """``Set-Cookie`` for the session cookie with the ``SESSION_COOKIE_*`` settings."""
        response.set_cookie(
            self.get_cookie_name(app),
            value,
            max_age=max_age,
            expires=expires,
            domain=self.get_cookie_domain(app),
            path=self.get_cookie_path(app),
            secure=self.get_cookie_secure(app),
            httponly=self.get_cookie_httponly(app),
            samesite=self.get_cookie_samesite(app),
            partitioned=self.get_cookie_partitioned(app),
        )

    def delete_cookie(self, app: App, response: Response) -> None:
        """The session cookie, expired at once (werkzeug's ``delete_cookie``, with the same attributes)."""
        self.set_cookie(app, response, "", expires=0, max_age=0)

    async def open_session(self, app: App, request: BaseRequestWebsocket) -> SessionMixin | None:
        raise NotImplementedError

    async def save_session(self, app: App, session: SessionMixin, response: Response) -> None:
        raise NotImplementedError


class SecureCookieSessionInterface(SessionInterface):
    """The session as a signed cookie: readable by the client, unforgeable without ``SECRET_KEY``.

    Keys in ``SECRET_KEY_FALLBACKS`` still verify a cookie; a cookie is
    always signed with ``SECRET_KEY``, so rotating a key is: put the old one
    in the fallbacks, set the new one, drop the old one once every cookie
    signed with it has expired.
    """

    salt = "cookie-session"
    digest_method = staticmethod(hashlib.sha1)
    key_derivation = "hmac"
    session_class: type[SecureCookieSession] = SecureCookieSession

    def get_signing_serializer(self, app: App) -> URLSafeTimedSerializer | None:
        secret_key = app.secret_key
        if not secret_key:
            return None
        # itsdangerous verifies with every key and signs with the last one
        keys: list[Any] = [*(app.config["SECRET_KEY_FALLBACKS"] or ()), secret_key]
        return URLSafeTimedSerializer(
            keys,
            salt=self.salt,
            signer_kwargs={"key_derivation": self.key_derivation, "digest_method": self.digest_method},
        )

    async def open_session(self, app: App, request: BaseRequestWebsocket) -> SecureCookieSession | None:
        if not app.config["SECRET_KEY"]:
            return None
        name = self.get_cookie_name(app)
        if not _may_have_cookie(request.headers, name):  # no parsing and no signer for a visitor without one
            return self.session_class()
        value = request.cookies.get(name)
        if not value:
            return self.session_class()
        serializer = self.get_signing_serializer(app)
        assert serializer is not None
        max_age = int(app.permanent_session_lifetime.total_seconds())
        try:
            data = serializer.loads(value, max_age=max_age)
        except BadData:  # tampered, expired, signed with a key we no longer have, or not base64 at all
            return self.session_class()
        return self.session_class(data) if isinstance(data, dict) else self.session_class()

    async def save_session(self, app: App, session: SessionMixin, response: Response) -> None:
        # Flask's order: whether it was read is taken before anything below reads it.
        if session.accessed:
            response.vary.add("Cookie")
        if not session:
            if session.modified:  # emptied: the cookie goes
                self.delete_cookie(app, response)
                response.vary.add("Cookie")
            return
        if not self.should_set_cookie(app, session):
            return
        serializer = self.get_signing_serializer(app)
        assert serializer is not None
        data = session.to_dict() if isinstance(session, SecureCookieSession) else dict(session)
        self.set_cookie(app, response, serializer.dumps(data), self.get_expiration_time(app, session))
        response.vary.add("Cookie")


def _may_have_cookie(headers: Headers, name: str) -> bool:
    """Whether a ``Cookie`` header holds ``name`` at all: only then is it worth parsing (werkzeug's parse,
    and its lookup of a missing name, which costs an exception). A name the parse reads is in the raw text."""
    for key, value in headers:  # noqa: SIM110 - a loop, not any(): no generator on every request
        if name in value and len(key) == 6 and key.lower() == "cookie":
            return True
    return False


def lifetime(value: timedelta | int | float) -> timedelta:
    """``PERMANENT_SESSION_LIFETIME`` as a timedelta; seconds are accepted, as in Flask."""
    return value if isinstance(value, timedelta) else timedelta(seconds=value)


async def save_session(app: App, session: SessionMixin, response: Response) -> None:
    interface = app.session_interface
    if not interface.is_null_session(session):
        await interface.save_session(app, session, response)


async def save_before_accept(app: App, session: SessionMixin, headers: Headers) -> None:
    """Add the session's ``Set-Cookie`` to a websocket's 101, then refuse later changes.

    Nothing after the 101 can reach the client, so a later change would be
    lost: :meth:`SecureCookieSession.seal` turns it into an error instead.
    """
    if app.session_interface.is_null_session(session):
        return
    response = app.response_class()
    await app.session_interface.save_session(app, session, response)
    for value in response.headers.getlist("Set-Cookie"):
        headers.add("Set-Cookie", value)
    if isinstance(session, SecureCookieSession):
        session.seal(AFTER_ACCEPT)
