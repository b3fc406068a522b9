"""Sessions: what a session object is, and how a store opens and saves one."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any


class SessionMixin(MutableMapping[str, Any]):
    """What every session has besides its keys: ``permanent``, ``modified``, ``accessed``."""

    #: Whether the cookie outlives the browser (``PERMANENT_SESSION_LIFETIME``).
    permanent: bool = False
    #: Set when the session was changed, so that it is saved.
    modified: bool = False
    #: Set when the session was read or changed, so that the response varies on ``Cookie``.
    accessed: bool = False
