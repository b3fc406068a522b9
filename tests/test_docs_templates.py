"""The samples of docs/templates.md, run through the test client."""

from __future__ import annotations

import trio
import trio.testing

from tests.docs_samples import load

TESTED = {"books", "shop", "escaping", "async_templates", "streaming"}


async def test_books_renders_a_page_from_the_templates_folder() -> None:
    client = load("templates", "books").app.test_client()
    index = await client.get("/")
    assert index.mimetype == "text/html"
    text = await index.get_data(as_text=True)
    assert "<title>Books · The Bookshop</title>" in text  # the context processor's name, in base.html
    assert '<li><a href="/books/2">The Dispossessed</a>\n    (TD)</li>' in text  # url_for and the filter
    book = await client.get("/books/1")
    assert "<h1>Kindred</h1>" in await book.get_data(as_text=True)


async def test_the_shop_blueprint_has_its_folder_its_context_and_an_app_wide_global() -> None:
    module = load("templates", "shop")
    client = module.app.test_client()
    text = await (await client.get("/shop")).get_data(as_text=True)
    assert text == "<p>2 books in your basket; prices in EUR.</p>"
    # The global is app-wide, the basket only the shop's.
    app_view = await module.app.jinja_env.from_string("{{ currency() }} {{ basket_size }}").render_async()
    assert app_view == "EUR "


async def test_escaping_escapes_the_value_and_keeps_markup() -> None:
    client = load("templates", "escaping").app.test_client()
    response = await client.get("/hello", query_string={"name": "<script>"})
    assert await response.get_data(as_text=True) == "<p>Hello, &lt;script&gt;!</p><hr>"


async def test_an_async_template_awaits_and_loops(autojump_clock: trio.testing.MockClock) -> None:
    client = load("templates", "async_templates").app.test_client()
    response = await client.get("/new")
    assert await response.get_data(as_text=True) == (
        "<h1>The Bookshop</h1><p>Kindred: 7 left</p><p>Parable of the Sower: 20 left</p>"
    )


async def test_streaming_sends_the_page_row_by_row(autojump_clock: trio.testing.MockClock) -> None:
    client = load("templates", "streaming").app.test_client()
    start = trio.current_time()
    response = await client.get("/orders")
    assert response.headers["Transfer-Encoding"] == "chunked"
    rows = "<li>order 1</li>\n<li>order 2</li>\n<li>order 3</li>\n"
    # Jinja2 drops the template's last newline
    assert await response.get_data(as_text=True) == f"<!doctype html>\n<h1>Orders</h1>\n<ul>\n{rows}</ul>"
    assert trio.current_time() - start == 3  # the three rows' seconds, and no more
