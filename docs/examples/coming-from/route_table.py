from trioweb import App, Response, request


async def homepage() -> str:
    return "home"


async def user(username: str) -> dict[str, str]:
    return {"user": username}


async def upload() -> Response:
    size = len(await request.get_data())
    return Response(f"{size} bytes", status=201, mimetype="text/plain")


app = App(__name__)
app.add_url_rule("/", view_func=homepage)
app.add_url_rule("/users/<username>", view_func=user)
app.add_url_rule("/upload", view_func=upload, methods=["POST"])
