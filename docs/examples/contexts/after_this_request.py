from trioweb import App, Response, after_this_request, request

app = App(__name__)


@app.before_request
async def remember_language() -> None:
    language = request.args.get("lang")
    if language is not None:

        @after_this_request
        async def set_cookie(response: Response) -> Response:
            response.set_cookie("lang", language)
            return response


@app.get("/")
async def index() -> str:
    return "hello"
