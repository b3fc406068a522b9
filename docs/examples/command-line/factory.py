"""An app made by a factory: ``trioweb --app factory`` calls ``create_app()``."""

from trioweb import App


def create_app(stage: str = "production") -> App:
    app = App(__name__)
    app.config["STAGE"] = stage

    @app.get("/")
    async def index() -> str:
        return f"running in {app.config['STAGE']}\n"

    return app
