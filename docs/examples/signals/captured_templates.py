from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from jinja2 import Template

from trioweb import App, render_template_string
from trioweb.signals import template_rendered

app = App(__name__)


@app.route("/hello/<name>")
async def hello(name: str) -> str:
    return await render_template_string("Hello {{ name }}!", name=name)


@contextmanager
def captured_templates(app: App) -> Iterator[list[tuple[Template, dict[str, Any]]]]:
    """The templates ``app`` renders inside the block, with their contexts."""
    recorded: list[tuple[Template, dict[str, Any]]] = []

    def record(sender: App, template: Template, context: dict[str, Any]) -> None:
        recorded.append((template, context))

    # Disconnected at the end of the block, even on an error.
    with template_rendered.connected_to(record, app):
        yield recorded


async def test_the_page_renders_its_name() -> None:
    with captured_templates(app) as templates:
        response = await app.test_client().get("/hello/ann")
    assert response.status_code == 200
    [(template, context)] = templates
    assert template.name is None  # a template from a string has no name
    assert context["name"] == "ann"
