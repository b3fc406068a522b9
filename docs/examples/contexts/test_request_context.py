from trioweb import App, g, request, url_for

app = App(__name__)


@app.get("/search")
async def search() -> str:
    return f"results for {request.args['q']}"


def next_page_url() -> str:
    """A helper that views call: it reads the request and builds a URL."""
    page = request.args.get("page", 1, type=int)
    return url_for("search", q=request.args["q"], page=page + 1)


async def test_next_page_url() -> None:
    query = {"q": "trio", "page": "2"}
    async with app.test_request_context("/search", query_string=query):
        assert request.endpoint == "search"
        assert next_page_url() == "/search?q=trio&page=3"
        g.user = "ann"  # g, current_app and url_for work too


async def test_a_json_body() -> None:
    async with app.test_request_context("/search", method="POST", json={"q": "trio"}):
        assert await request.get_json() == {"q": "trio"}
