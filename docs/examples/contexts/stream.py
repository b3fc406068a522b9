from collections.abc import AsyncIterator

from trioweb import App, request, stream_with_context

app = App(__name__)


@app.get("/rows")
async def rows() -> AsyncIterator[str]:
    @stream_with_context
    async def generate() -> AsyncIterator[str]:
        for number in range(int(request.args.get("n", "3"))):
            yield f"row {number} of {request.args.get('n', '3')}\n"

    return generate()
