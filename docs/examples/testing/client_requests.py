from typing import Any

from trioweb import App, request

app = App(__name__)


@app.post("/echo")
async def echo() -> dict[str, Any]:
    return {
        "args": request.args.to_dict(),
        "json": await request.get_json(silent=True),
        "form": (await request.form).to_dict(),
        "agent": request.headers.get("User-Agent"),
    }


async def test_json_query_string_and_headers() -> None:
    client = app.test_client()
    response = await client.post(
        "/echo",
        json={"a": 1},
        query_string={"page": 2},
        headers={"User-Agent": "tests"},
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert await response.get_json() == {
        "args": {"page": "2"},
        "json": {"a": 1},
        "form": {},
        "agent": "tests",
    }


async def test_form() -> None:
    response = await app.test_client().post("/echo", form={"name": "ann"})
    assert (await response.get_json())["form"] == {"name": "ann"}


async def test_wrong_method() -> None:
    response = await app.test_client().get("/echo")
    assert response.status_code == 405
    assert set(response.headers["Allow"].split(", ")) == {"OPTIONS", "POST"}
