"""HTTP errors and the cancellation a disconnect delivers.

The HTTP errors are werkzeug's, as in Quart, so ``abort(404)`` raises
``werkzeug.exceptions.NotFound`` and error handlers can name either the code
or the class.
"""

from __future__ import annotations

import trio
from werkzeug.exceptions import HTTPException, abort

#: What a handler sees when its client goes away. It *is* ``trio.Cancelled``,
#: so ``except CancelledError: ...; raise`` from Quart code works unchanged.
CancelledError = trio.Cancelled

__all__ = ["CancelledError", "HTTPException", "abort"]
