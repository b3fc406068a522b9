from trioweb import App, render_template

app = App(__name__)  # templates are read from ./templates
BOOKS = {1: "Kindred", 2: "The Dispossessed"}


@app.template_filter()
def initials(title: str) -> str:
    return "".join(word[0] for word in title.split())


@app.context_processor
async def shop() -> dict[str, str]:
    return {"shop_name": "The Bookshop"}


@app.get("/")
async def index() -> str:
    return await render_template("books.html", books=BOOKS)


@app.get("/books/<int:book_id>")
async def book(book_id: int) -> str:
    return await render_template("book.html", title=BOOKS[book_id])
