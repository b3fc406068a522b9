import json

from trioweb import App, Response, request

app = App(__name__)
CATALOGUE = {"books": ["Kindred", "Parable of the Sower"]}


@app.get("/catalogue")
async def catalogue() -> Response:
    response = Response(json.dumps(CATALOGUE), mimetype="application/json")
    await response.add_etag()  # a hash of the body
    # 304 for a client that has this version already, ranges for the rest.
    return await response.make_conditional(request, accept_ranges=True)
