from typing import Any

from trioweb import App, Blueprint, request, url_for

pages = Blueprint("pages", __name__, url_defaults={"kind": "page"})


@pages.get("/<slug>")
async def page(slug: str, kind: str) -> dict[str, Any]:
    return {
        "kind": kind,
        # "docs" or "blog": the name it was registered under.
        "blueprint": request.blueprint,
        "next": url_for(".page", slug="next"),  # stays in the same registration
    }


app = App(__name__)
app.register_blueprint(pages, name="docs", url_prefix="/docs")
app.register_blueprint(
    pages, name="blog", url_prefix="/blog", url_defaults={"kind": "post"}
)
