"""The command line: ``python -m trioweb serve MODULE:APP``."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

from .app import App


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
    serve.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)

    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    app = load_app(args.app)
    ssl_context = None
    if args.certfile:
        import ssl

        ssl_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ssl_context.load_cert_chain(args.certfile, args.keyfile)
    app.run(host=args.host, port=args.port, ssl_context=ssl_context, access_log=not args.no_access_log)
