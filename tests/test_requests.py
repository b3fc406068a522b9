import base64

import trio
import trio.lowlevel
from werkzeug.datastructures import FileStorage

from trioweb import App, request


async def test_request_attributes(app: App) -> None:
    @app.route("/echo/<path:rest>")
    async def echo(rest: str) -> dict[str, object]:
        return {
            "method": request.method,
            "path": request.path,
            "full_path": request.full_path,
            "url": request.url,
            "args": request.args.getlist("a"),
            "header": request.headers.get("x-custom"),
            "multi": request.headers.getlist("X-Multi"),
            "cookies": dict(request.cookies),
            "remote_addr": request.remote_addr,
        }

    response = await app.test_client().get(
        "/echo/x/y",
        query_string={"a": ["1", "2"]},
        headers={"X-Custom": "yes", "Cookie": "session=abc; theme=dark"},
    )
    assert await response.get_json() == {
        "method": "GET",
        "path": "/echo/x/y",
        "full_path": "/echo/x/y?a=1&a=2",
        "url": "http://localhost/echo/x/y?a=1&a=2",
        "args": ["1", "2"],
        "header": "yes",
        "multi": [],
        "cookies": {"session": "abc", "theme": "dark"},
        "remote_addr": "127.0.0.1",
    }


async def test_authorization(app: App) -> None:
    @app.route("/")
    async def index() -> dict[str, object]:
        auth = request.authorization
        return {"user": auth.username if auth else None, "password": auth.password if auth else None}

    token = base64.b64encode(b"alice:s3cret").decode()
    response = await app.test_client().get("/", headers={"Authorization": f"Basic {token}"})
    assert await response.get_json() == {"user": "alice", "password": "s3cret"}
    assert await (await app.test_client().get("/")).get_json() == {"user": None, "password": None}


async def test_body_json_and_data(app: App) -> None:
    @app.route("/json", methods=["POST"])
    async def as_json() -> object:
        return {"got": await request.get_json()}

    @app.route("/data", methods=["POST"])
    async def as_data() -> bytes:
        first = await request.get_data()
        assert await request.get_data() == first  # cached
        return first[::-1]

    client = app.test_client()
    assert await (await client.post("/json", json={"a": [1, 2]})).get_json() == {"got": {"a": [1, 2]}}
    assert await (await client.post("/data", data=b"abc")).get_data() == b"cba"
    bad = await client.post("/json", data="{not json", headers={"Content-Type": "application/json"})
    assert bad.status_code == 400
    not_json = await client.post("/json", data="{}", headers={"Content-Type": "text/plain"})
    assert not_json.status_code == 400


async def test_forms_and_files(app: App) -> None:
    @app.route("/form", methods=["POST"])
    async def form() -> dict[str, object]:
        fields = await request.form
        files = await request.files
        upload = files.get("upload")
        return {
            "fields": fields.to_dict(flat=False),
            "file": [upload.filename, upload.read().decode()] if upload else None,
        }

    client = app.test_client()
    urlencoded = await client.post("/form", form={"a": "1", "b": ["2", "3"]})
    assert await urlencoded.get_json() == {"fields": {"a": ["1"], "b": ["2", "3"]}, "file": None}
    from io import BytesIO

    multipart = await client.post(
        "/form",
        form={"name": "x"},
        files={"upload": FileStorage(BytesIO(b"file body"), filename="notes.txt")},
    )
    assert await multipart.get_json() == {"fields": {"name": ["x"]}, "file": ["notes.txt", "file body"]}


async def test_streaming_body(app: App) -> None:
    @app.route("/count", methods=["POST"])
    async def count() -> dict[str, int]:
        chunks = 0
        size = 0
        async for chunk in request.body:
            chunks += 1
            size += len(chunk)
        return {"size": size, "chunks": chunks}

    payload = b"x" * 300_000
    data = await (await app.test_client().post("/count", data=payload)).get_json()
    assert data["size"] == len(payload)
    assert data["chunks"] >= 1


async def test_request_follows_into_child_tasks(app: App) -> None:
    @app.route("/children")
    async def children() -> list[str]:
        seen: list[str] = []

        async def child() -> None:
            await trio.lowlevel.checkpoint()
            seen.append(request.path)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(child)
            nursery.start_soon(child)
        return seen

    assert await (await app.test_client().get("/children")).get_json() == ["/children", "/children"]


async def test_body_over_limit_is_413(app: App) -> None:
    app.config["MAX_CONTENT_LENGTH"] = 10

    @app.route("/upload", methods=["POST"])
    async def upload() -> str:
        await request.get_data()
        return "ok"

    client = app.test_client()
    assert (await client.post("/upload", data=b"x" * 11)).status_code == 413
    assert (await client.post("/upload", data=b"x" * 10)).status_code == 200
