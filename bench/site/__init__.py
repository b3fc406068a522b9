"""One small site, written for trioweb and for each anchor: a static file, a download, a template page.

``bench/site_bench.py`` runs them; every app here serves the same three URLs:

* ``GET /static/1k.txt``: a 1 KiB static file from ``static/``;
* ``GET /download``: the file named by ``$BENCH_DOWNLOAD`` (the driver makes a 100 MiB one);
* ``GET /page``: ``templates/page.html`` rendered with :func:`page_context`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
TEMPLATES = HERE / "templates"


def download_path() -> str:
    return os.environ.get("BENCH_DOWNLOAD", str(STATIC / "1k.txt"))


def page_context() -> dict[str, Any]:
    """What the page shows: 30 rows, some with text that must be escaped."""
    items = [{"id": n, "name": f"item <{n}> & co", "price": n * 1.25} for n in range(30)]
    return {"title": "Price list", "items": items, "note": "<b>escaped</b>"}
