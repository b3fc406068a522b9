from trioweb import App, Response, redirect, request, session, url_for

app = App(__name__)
app.secret_key = "for tests only"


@app.post("/login")
async def login() -> Response:
    auth = request.authorization
    if auth is None or auth.password != "wonderland":
        return Response("who are you?", 401)
    session["user"] = auth.username
    return redirect(url_for("home"))


@app.get("/home")
async def home() -> str:
    theme = request.cookies.get("theme", "light")
    return f"{session.get('user', 'nobody')} ({theme})"


async def test_a_login_is_remembered_by_the_cookie_jar() -> None:
    client = app.test_client()
    page = await client.post(
        "/login", auth=("ann", "wonderland"), follow_redirects=True
    )
    assert await page.get_data(as_text=True) == "ann (light)"
    assert client.get_cookie("session") is not None


async def test_cookies_and_the_session_can_be_set_without_a_request() -> None:
    client = app.test_client()
    client.set_cookie("theme", "dark")
    async with client.session_transaction() as current:
        current["user"] = "bob"
    page = await client.get("/home")
    assert await page.get_data(as_text=True) == "bob (dark)"
    client.delete_cookie("theme")
    async with client.session_transaction() as current:
        current.clear()
    page = await client.get("/home")
    assert await page.get_data(as_text=True) == "nobody (light)"
