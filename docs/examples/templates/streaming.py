from collections.abc import AsyncIterator

import trio

from trioweb import App, stream_template_string

app = App(__name__)
PAGE = """<!doctype html>
<h1>Orders</h1>
<ul>
{% for order in orders() %}<li>{{ order }}</li>
{% endfor %}</ul>
"""


async def orders() -> AsyncIterator[str]:
    for number in range(1, 4):
        await trio.sleep(1)  # a slow report: each row as it comes
        yield f"order {number}"


@app.get("/orders")
async def list_orders() -> AsyncIterator[str]:
    return await stream_template_string(PAGE, orders=orders)
