from typing import Any

from trioweb import App, Blueprint, g, url_for

frontend = Blueprint("frontend", __name__, url_prefix="/<lang_code>")


@frontend.url_defaults
def add_language_code(endpoint: str, values: dict[str, Any]) -> None:
    values.setdefault("lang_code", g.lang_code)


@frontend.url_value_preprocessor
def pull_lang_code(endpoint: str | None, values: dict[str, Any]) -> None:
    g.lang_code = values.pop("lang_code")


@frontend.get("/")
async def index() -> dict[str, str]:
    return {"language": g.lang_code, "about": url_for(".about")}


@frontend.get("/about")
async def about() -> str:
    return f"about us, in {g.lang_code}"


app = App(__name__)
app.register_blueprint(frontend)
