from typing import Any

from trioweb import App, abort, request

app = App(__name__)
books: dict[int, dict[str, Any]] = {}


@app.get("/books")
async def list_books() -> list[dict[str, Any]]:
    return list(books.values())


@app.post("/books")
async def add_book() -> tuple[dict[str, Any], int]:
    data = await request.get_json()
    if not isinstance(data, dict) or not isinstance(data.get("title"), str):
        abort(400)
    book = {"id": len(books) + 1, "title": data["title"]}
    books[book["id"]] = book
    return book, 201


@app.get("/books/<int:book_id>")
async def get_book(book_id: int) -> dict[str, Any]:
    if book_id not in books:
        abort(404)
    return books[book_id]
