from trioweb import App

app = App(__name__)


@app.route("/")
async def index() -> str:
    return "Hello, world!"
