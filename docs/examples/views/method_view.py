from typing import Any

from trioweb import App, MethodView, abort, request, url_for

BOOKS: dict[int, dict[str, Any]] = {1: {"id": 1, "title": "Kindred"}}


class BookList(MethodView):
    """``/books``: GET lists them, POST adds one."""

    init_every_request = False  # one instance: it keeps no state of a request

    def __init__(self, store: dict[int, dict[str, Any]]) -> None:
        self.store = store

    async def get(self) -> list[dict[str, Any]]:
        return list(self.store.values())

    async def post(self) -> tuple[dict[str, Any], int, dict[str, str]]:
        book_id = max(self.store, default=0) + 1
        book = {"id": book_id, "title": (await request.get_json())["title"]}
        self.store[book_id] = book
        return book, 201, {"Location": url_for("book", book_id=book_id)}


class Book(MethodView):
    """``/books/<id>``: GET, PATCH and DELETE one book."""

    init_every_request = False

    def __init__(self, store: dict[int, dict[str, Any]]) -> None:
        self.store = store

    def find(self, book_id: int) -> dict[str, Any]:
        if book_id not in self.store:
            abort(404)
        return self.store[book_id]

    async def get(self, book_id: int) -> dict[str, Any]:
        return self.find(book_id)

    async def patch(self, book_id: int) -> dict[str, Any]:
        book = self.find(book_id)
        book.update(await request.get_json())
        return book

    async def delete(self, book_id: int) -> tuple[str, int]:
        del self.store[self.find(book_id)["id"]]
        return "", 204


app = App(__name__)
app.add_url_rule("/books", view_func=BookList.as_view("books", BOOKS))
app.add_url_rule("/books/<int:book_id>", view_func=Book.as_view("book", BOOKS))
