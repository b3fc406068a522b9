from trioweb import App, session

app = App(__name__)
app.config.update(
    SECRET_KEY="the new key",
    # Cookies signed with these still verify; new cookies use SECRET_KEY.
    SECRET_KEY_FALLBACKS=["the old key"],
)


@app.get("/")
async def index() -> str:
    return str(session.get("user", "nobody"))


async def test_a_cookie_signed_with_the_old_key_still_works() -> None:
    old = App(__name__)
    old.secret_key = "the old key"

    @old.post("/login")
    async def login() -> str:
        session["user"] = "ann"
        return "ok"

    client = old.test_client()
    await client.post("/login")
    client.app = app  # the same browser, after the deploy with the new key
    assert await (await client.get("/")).get_data(as_text=True) == "ann"
