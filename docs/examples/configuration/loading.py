import tomllib
from typing import Any

from trioweb import App

app = App(__name__)
# The file beside this module, then an optional one for this machine,
# then the environment: each one overrides what came before.
app.config.from_file("settings.toml", load=tomllib.load, text=False)
app.config.from_file("local.toml", load=tomllib.load, text=False, silent=True)
app.config.from_prefixed_env()  # TRIOWEB_BODY_TIMEOUT=30, TRIOWEB_DB__HOST=...


@app.get("/db")
async def db() -> dict[str, Any]:
    settings: dict[str, Any] = app.config["DB"]
    return settings
