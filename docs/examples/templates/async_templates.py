from collections.abc import AsyncIterator

import trio

from trioweb import App, render_template_string

app = App(__name__)


async def stock(title: str) -> int:
    await trio.sleep(0.1)  # a query, say
    return len(title)


async def new_titles() -> AsyncIterator[str]:
    for title in ("Kindred", "Parable of the Sower"):
        await trio.sleep(0.1)
        yield title


@app.template_global()
async def shop_name() -> str:
    return "The Bookshop"  # an async global is awaited too


@app.get("/new")
async def new() -> str:
    return await render_template_string(
        "<h1>{{ shop_name() }}</h1>"
        "{% for title in new_titles() %}"
        "<p>{{ title }}: {{ stock(title) }} left</p>"
        "{% endfor %}",
        new_titles=new_titles,
        stock=stock,
    )
