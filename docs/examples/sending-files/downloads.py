from trioweb import App, Response, send_from_directory

app = App(__name__)


@app.get("/reports/<path:name>")
async def report(name: str) -> Response:
    # name comes from the URL: send_from_directory keeps it inside reports/
    # (beside this file) and answers 404 for anything else.
    return await send_from_directory("reports", name, as_attachment=True)
