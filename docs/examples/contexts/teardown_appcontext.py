from trioweb import App, g

app = App(__name__)


class Connection:
    """A stand-in for a database connection: opened on first use, closed at the end."""

    opened: list["Connection"] = []

    def __init__(self) -> None:
        self.closed = False
        Connection.opened.append(self)

    async def fetch(self, query: str) -> str:
        return f"rows for {query}"

    async def close(self) -> None:
        self.closed = True


def get_db() -> Connection:
    """This context's connection (a request's, a websocket's, a script's)."""
    if "db" not in g:
        g.db = Connection()
    return g.db  # type: ignore[no-any-return]


@app.teardown_appcontext
async def close_db(error: BaseException | None) -> None:
    db = g.pop("db", None)  # only a context that used it has one
    if db is not None:
        await db.close()


@app.route("/users")
async def users() -> str:
    return await get_db().fetch("users")
