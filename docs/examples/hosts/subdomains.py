from trioweb import App, url_for, websocket

app = App(__name__, subdomain_matching=True)
# The subdomain of a request is what its Host has in front of SERVER_NAME.
app.config["SERVER_NAME"] = "example.com"


@app.route("/")
async def home() -> str:
    return f"Home. The API is at {url_for('api_index')}"


@app.route("/", subdomain="api")
async def api_index() -> dict[str, str]:
    # From the api subdomain, the home page is on another host: an external URL.
    return {"home": url_for("home"), "feed": url_for("feed")}


@app.websocket("/feed", subdomain="api")
async def feed() -> None:
    await websocket.accept()
    await websocket.send("hello from the API")


@app.route("/", subdomain="<team>")
async def team(team: str) -> str:
    return f"The team {team}"


async def welcome_email_link() -> str:
    # Outside a request (a background job, an email): SERVER_NAME, APPLICATION_ROOT
    # and PREFERRED_URL_SCHEME make the URL.
    async with app.app_context():
        return url_for("team", team="docs")
