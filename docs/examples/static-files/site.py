from trioweb import App, url_for

# static_folder="static" (the default) is the folder beside this file; its
# files are served under /static/, the folder's name.
app = App(__name__)


@app.get("/")
async def index() -> str:
    stylesheet = url_for("static", filename="css/site.css")
    return f'<link rel="stylesheet" href="{stylesheet}"><h1>Hello</h1>'
