import pytest

from trioweb import App

app = App(__name__)
app.config["TESTING"] = True


@app.get("/divide/<int:n>")
async def divide(n: int) -> str:
    return str(100 // n)


async def test_the_views_error_comes_out_of_the_client() -> None:
    with pytest.raises(ZeroDivisionError):
        await app.test_client().get("/divide/0")
