"""The bench site on quart-trio (run on Hypercorn's trio worker from the anchor venv)."""

from __future__ import annotations

from quart import render_template, send_file
from quart_trio import QuartTrio

from . import STATIC, TEMPLATES, download_path, page_context

app = QuartTrio(__name__, static_folder=str(STATIC), template_folder=str(TEMPLATES))


@app.route("/download")
async def download():  # type: ignore[no-untyped-def]
    return await send_file(download_path())


@app.route("/page")
async def page() -> str:
    return await render_template("page.html", **page_context())
