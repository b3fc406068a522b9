"""JSON encoding shared by responses and the test client.

Beyond the standard types it encodes what Quart's provider does: dataclasses,
dates (RFC 822, as Quart), decimals and UUIDs.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import date, datetime
from decimal import Decimal
from email.utils import format_datetime
from typing import Any


def _default(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, datetime):
        return format_datetime(value, usegmt=value.tzinfo is not None)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    if hasattr(value, "__html__"):
        return str(value.__html__())
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def dumps(value: Any, *, sort_keys: bool = False) -> str:
    return json.dumps(value, default=_default, sort_keys=sort_keys, separators=(",", ":"))


loads = json.loads

#: The default of a ``json=`` argument (the test client's, ``test_request_context``'s): no JSON body,
#: as opposed to ``json=None``, a body of ``null``.
NO_JSON: Any = type("NoJSON", (), {"__repr__": lambda self: "NO_JSON"})()
