from trioweb import App, Response, abort, redirect, request, url_for

app = App(__name__)
BOOKS = {1: "The Dispossessed", 2: "Solaris"}


@app.route("/books/<int:book_id>")
async def book(book_id: int) -> str:
    if book_id not in BOOKS:
        abort(404)
    return BOOKS[book_id]


@app.route("/search")
async def search() -> str:
    words = request.args.get("q", "").lower().split()
    found = [
        title
        for title in BOOKS.values()
        if all(word in title.lower() for word in words)
    ]
    return "\n".join(found)


@app.route("/first")
async def first() -> Response:
    return redirect(url_for("book", book_id=1))


@app.route("/hello/<name>", methods=["GET", "POST"])
async def hello(name: str) -> tuple[str, int]:
    if request.method == "POST":
        return f"Nice to meet you, {name}.", 201
    return f"Hello, {name}.", 200
