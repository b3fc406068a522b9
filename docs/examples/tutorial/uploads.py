import trio
from werkzeug.utils import secure_filename

from trioweb import App, abort, request

app = App(__name__)
app.config.update(
    UPLOAD_FOLDER="covers",  # a setting of this app's own
    MAX_CONTENT_LENGTH=8 * 1024 * 1024,  # the whole request: 8 MiB
    MAX_FORM_MEMORY_SIZE=1000,  # each text field: 1000 bytes
    MAX_FORM_PARTS=5,  # fields and files together
)

PAGE = """<!doctype html>
<form method="post" action="/covers" enctype="multipart/form-data">
  <input name="title" placeholder="title">
  <input name="cover" type="file" accept="image/*">
  <button>Upload</button>
</form>
"""


@app.get("/covers")
async def cover_form() -> str:
    return PAGE


@app.post("/covers")
async def add_cover() -> tuple[dict[str, str], int]:
    form = await request.form
    cover = (await request.files).get("cover")
    if cover is None or not cover.filename:
        abort(400)
    name = secure_filename(cover.filename)
    if not name:
        abort(400)
    folder = trio.Path(app.config["UPLOAD_FOLDER"])
    await folder.mkdir(parents=True, exist_ok=True)
    await cover.save(folder / name)
    return {"title": form.get("title", ""), "file": name}, 201
