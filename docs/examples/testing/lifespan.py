import trio
import trio.testing

from trioweb import App

app = App(__name__)
greetings: dict[str, str] = {}
welcomed: list[str] = []


@app.before_serving
async def load_greetings() -> None:
    greetings["en"] = "hello"  # read from a database, say


@app.after_serving
async def forget_greetings() -> None:
    greetings.clear()


async def send_welcome(name: str) -> None:
    await trio.sleep(2)  # a slow mail server
    welcomed.append(name)


@app.post("/signup/<name>")
async def signup(name: str) -> str:
    app.add_background_task(send_welcome, name)
    return f"{greetings['en']} {name}"


async def test_signup_welcomes_in_the_background(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with app.test_app() as test_app:
        assert greetings == {"en": "hello"}  # before_serving has run
        response = await test_app.test_client().post("/signup/ann")
        assert await response.get_data(as_text=True) == "hello ann"
        assert welcomed == []  # the welcome is still on its way
    # Leaving the block shut the app down: the background task finished
    # within SHUTDOWN_TIMEOUT, then after_serving ran.
    assert welcomed == ["ann"]
    assert greetings == {}
