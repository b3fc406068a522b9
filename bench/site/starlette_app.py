"""The bench site on Starlette (run on Hypercorn's trio worker from the anchor venv)."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from . import STATIC, TEMPLATES, download_path, page_context

templates = Jinja2Templates(directory=str(TEMPLATES))


async def download(request: Request) -> Response:
    return FileResponse(download_path())


async def page(request: Request) -> Response:
    return templates.TemplateResponse(request, "page.html", page_context())


app = Starlette(
    routes=[
        Route("/download", download),
        Route("/page", page),
        Mount("/static", StaticFiles(directory=str(STATIC))),
    ]
)
