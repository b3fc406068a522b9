from trioweb import App, request

app = App(__name__)
app.config.update(
    MAX_CONTENT_LENGTH=1024 * 1024,  # 1 MiB: a larger body gets 413
    BODY_TIMEOUT=20.0,
    KEEP_ALIVE_TIMEOUT=15.0,
)


class Production:
    JSON_SORT_KEYS = True
    WEBSOCKET_PING_INTERVAL = 30.0
    not_a_setting = "names that are not upper case are left out"


app.config.from_object(Production)


@app.post("/upload")
async def upload() -> dict[str, int]:
    return {
        "size": len(await request.get_data()),
        "limit": app.config["MAX_CONTENT_LENGTH"],
    }
