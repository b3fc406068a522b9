"""A chat server with rooms and nicknames: ``python -m trioweb serve examples.chat:app``."""

from .app import app, hub

__all__ = ["app", "hub"]
