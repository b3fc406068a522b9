"""A small shop with commands of its own: ``trioweb --app shop add apples``."""

import click

from trioweb import App, Blueprint, current_app, g

app = App(__name__)
ITEMS: list[str] = []


@app.get("/items")
async def items() -> dict[str, list[str]]:
    return {"items": ITEMS}


@app.websocket("/live")
async def live() -> None: ...


@app.cli.command()
@click.argument("names", nargs=-1)
def add(names: tuple[str, ...]) -> None:
    """Add items: a plain command, on the main thread, in the app context."""
    g.added = len(names)
    ITEMS.extend(names)
    click.echo(f"{current_app.import_name}: added {g.added}, {len(ITEMS)} in all")


@app.cli.command()
async def check() -> None:
    """Ask the app for its items: an async command, under trio.run, in context."""
    response = await current_app.test_client().get("/items")
    click.echo(f"GET /items: {response.status_code} {await response.get_json()}")


admin = Blueprint("admin", __name__)  # its commands: "trioweb admin ..."


@admin.get("/stock")
async def stock() -> dict[str, int]:
    return {"count": len(ITEMS)}


@admin.cli.command()
def reset() -> None:
    """Empty the shop."""
    ITEMS.clear()
    click.echo("the shop is empty")


app.register_blueprint(admin, url_prefix="/admin")
