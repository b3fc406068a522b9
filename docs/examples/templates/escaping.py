from markupsafe import Markup

from trioweb import App, render_template_string, request

app = App(__name__)


@app.get("/hello")
async def hello() -> str:
    # From a string, autoescaped as an .html file is:
    # ?name=<script> shows as text, never runs.
    return await render_template_string(
        "<p>Hello, {{ name }}!</p>{{ sign }}",
        name=request.args.get("name", "stranger"),
        sign=Markup("<hr>"),  # markup you trust, passed as it is
    )
