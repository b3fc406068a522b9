"""The samples of docs/configuration.md, run; and the page's table matches ``trioweb.config.DEFAULTS``."""

from __future__ import annotations

import os
import re
from datetime import timedelta
from typing import Any

import pytest

from tests.docs_samples import DOCS, load
from trioweb.config import DEFAULTS

TESTED = {"settings", "loading"}
ROW = re.compile(r"^\| `(?P<key>[A-Z_]+)` \| (?P<default>[^|]+?) \|", re.M)
UNITS = {"s": 1.0, "kB": 1000, "KiB": 1024, "MiB": 1024 * 1024, "messages": 1, "parts": 1}


def parse_default(text: str) -> Any:
    """A default as the page writes it: ``None``, ``"http"``, ``16 MiB``, ``500 kB``, ``60 s``, ``31 days``."""
    if text.startswith("`") and text.endswith("`"):
        literal = text.strip("`")
        return {"None": None, "False": False, "True": True}.get(literal, literal.strip('"'))
    number, unit = text.split(" ", 1)
    if unit == "days":
        return timedelta(days=int(number))
    return type(UNITS[unit])(number) * UNITS[unit]


def test_the_table_lists_every_setting_with_its_default() -> None:
    rows = {match["key"]: match["default"] for match in ROW.finditer((DOCS / "configuration.md").read_text())}
    assert rows.keys() == DEFAULTS.keys()
    for key, default in rows.items():
        assert parse_default(default) == DEFAULTS[key], key


async def test_settings() -> None:
    app = load("configuration", "settings").app
    assert app.config["MAX_CONTENT_LENGTH"] == 1024 * 1024
    assert (app.config["BODY_TIMEOUT"], app.config["KEEP_ALIVE_TIMEOUT"]) == (20.0, 15.0)
    assert (app.config["JSON_SORT_KEYS"], app.config["WEBSOCKET_PING_INTERVAL"]) == (True, 30.0)
    assert "not_a_setting" not in app.config
    client = app.test_client()
    response = await client.post("/upload", data=b"x" * 1024 * 1024)
    assert await response.get_data() == b'{"limit":1048576,"size":1048576}'  # keys sorted
    assert (await client.post("/upload", data=b"x" * (1024 * 1024 + 1))).status_code == 413


async def test_loading(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [name for name in os.environ if name.startswith("TRIOWEB_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("TRIOWEB_BODY_TIMEOUT", "30")
    monkeypatch.setenv("TRIOWEB_DB__HOST", "db.internal")
    app = load("configuration", "loading").app
    assert (app.config["BODY_TIMEOUT"], app.config["SECRET_KEY"]) == (30, "change me")  # the environment wins
    response = await app.test_client().get("/db")
    assert await response.get_json() == {"HOST": "db.internal", "PORT": 5432}
