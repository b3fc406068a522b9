import dataclasses
import json

import pytest

from trioweb import App, Response, jsonify, make_response, redirect


async def test_return_values(app: App) -> None:
    @app.route("/str")
    async def text() -> str:
        return "text"

    @app.route("/bytes")
    async def raw() -> bytes:
        return b"\x00\x01"

    @app.route("/dict")
    async def mapping() -> dict[str, int]:
        return {"a": 1}

    @app.route("/list")
    async def sequence() -> list[int]:
        return [1, 2]

    @app.route("/status")
    async def status() -> tuple[str, int]:
        return "created", 201

    @app.route("/headers")
    async def headers() -> tuple[str, dict[str, str]]:
        return "with headers", {"X-A": "1"}

    @app.route("/all")
    async def everything() -> tuple[str, int, dict[str, str]]:
        return "all", 202, {"X-B": "2"}

    @app.route("/response")
    async def response() -> Response:
        return Response("teapot", 418, mimetype="text/plain")

    client = app.test_client()
    r = await client.get("/str")
    assert (r.status_code, await r.get_data(as_text=True)) == (200, "text")
    assert r.headers["Content-Type"] == "text/html; charset=utf-8"
    assert await (await client.get("/bytes")).get_data() == b"\x00\x01"
    r = await client.get("/dict")
    assert r.headers["Content-Type"] == "application/json"
    assert await r.get_json() == {"a": 1}
    assert await (await client.get("/list")).get_json() == [1, 2]
    assert (await client.get("/status")).status_code == 201
    assert (await client.get("/headers")).headers["X-A"] == "1"
    r = await client.get("/all")
    assert (r.status_code, r.headers["X-B"]) == (202, "2")
    r = await client.get("/response")
    assert (r.status_code, r.headers["Content-Type"]) == (418, "text/plain; charset=utf-8")


async def test_streamed_response_is_chunked(app: App) -> None:
    @app.route("/stream")
    async def stream():  # type: ignore[no-untyped-def]
        async def chunks():  # type: ignore[no-untyped-def]
            for index in range(3):
                yield f"part {index}\n"

        return chunks()

    @app.route("/generator-view")
    async def generator_view():  # type: ignore[no-untyped-def]
        yield b"a"
        yield b"b"

    client = app.test_client()
    response = await client.get("/stream")
    assert response.headers["Transfer-Encoding"] == "chunked"
    assert "Content-Length" not in response.headers
    assert await response.get_data(as_text=True) == "part 0\npart 1\npart 2\n"
    assert await (await client.get("/generator-view")).get_data() == b"ab"


async def test_helpers(app: App) -> None:
    @dataclasses.dataclass
    class Point:
        x: int
        y: int

    @app.route("/jsonify")
    async def as_json() -> Response:
        return jsonify(point=Point(1, 2))

    @app.route("/make")
    async def made() -> Response:
        response = await make_response("made", 201)
        response.set_cookie("flavour", "oat", httponly=True)
        return response

    @app.route("/redirect")
    async def moved() -> Response:
        return redirect("/elsewhere")

    client = app.test_client()
    assert await (await client.get("/jsonify")).get_json() == {"point": {"x": 1, "y": 2}}
    made_response = await client.get("/make")
    assert made_response.status_code == 201
    assert made_response.headers["Set-Cookie"].startswith("flavour=oat;")
    assert "HttpOnly" in made_response.headers["Set-Cookie"]
    moved_response = await client.get("/redirect")
    assert (moved_response.status_code, moved_response.headers["Location"]) == (302, "/elsewhere")


async def test_bad_return_value_is_500_with_a_clear_log(app: App, caplog: pytest.LogCaptureFixture) -> None:
    @app.route("/none")
    async def nothing() -> None:
        return None

    response = await app.test_client().get("/none")
    assert response.status_code == 500
    assert "returned None" in caplog.text


async def test_json_sorting_setting(app: App) -> None:
    app.config["JSON_SORT_KEYS"] = True

    @app.route("/")
    async def index() -> dict[str, int]:
        return {"b": 1, "a": 2}

    body = await (await app.test_client().get("/")).get_data(as_text=True)
    assert body == json.dumps({"a": 2, "b": 1}, separators=(",", ":"))
