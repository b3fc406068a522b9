"""The command line: ``python -m trioweb serve MODULE:APP``."""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from .app import App
from .server import configure_logging


def load_app(target: str) -> App:
    """Import ``module:attribute`` (``module`` alone means ``module:app``)."""
    module_name, _, attribute = target.partition(":")
    sys.path.insert(0, os.getcwd())
    module = importlib.import_module(module_name)
    app = getattr(module, attribute or "app", None)
    if not isinstance(app, App):
        raise SystemExit(f"{target!r} is not a trioweb App (looked for {attribute or 'app'!r} in {module_name!r})")
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m trioweb", description="trioweb command line")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve an app with the native server")
    serve.add_argument("app", help="MODULE:APP, for example examples.hello:app")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--certfile", help="TLS certificate (PEM); serves https and wss")
    serve.add_argument("--keyfile", help="TLS private key (PEM)")
    serve.add_argument("--no-access-log", action="store_true", help="do not log each request to stderr")
    serve.add_argument(
        "--log-level", default="info", type=str.lower, choices=["debug", "info", "warning", "error", "critical"]
    )
    args = parser.parse_args(argv)
    if args.keyfile and not args.certfile:
        parser.error("--keyfile needs --certfile")

    app = load_app(args.app)
    # After the import: an app module that configures logging keeps its own setup.
    configure_logging(args.log_level)
    app.run(
        host=args.host,
        port=args.port,
        certfile=args.certfile,
        keyfile=args.keyfile,
        access_log=not args.no_access_log,
    )
