"""The bench site on trioweb (native server and Hypercorn rows)."""

from __future__ import annotations

from trioweb import App, Response, render_template, send_file

from . import STATIC, TEMPLATES, download_path, page_context

app = App(__name__, static_folder=str(STATIC), template_folder=str(TEMPLATES))


@app.route("/download")
async def download() -> Response:
    return await send_file(download_path())


@app.route("/page")
async def page() -> str:
    return await render_template("page.html", **page_context())
