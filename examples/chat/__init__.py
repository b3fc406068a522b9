"""A chat server with rooms and nicknames: ``python -m trioweb serve examples.chat:app``."""

from .app import BUFFER, WORKER, app, broadcast, rooms

__all__ = ["BUFFER", "WORKER", "app", "broadcast", "rooms"]
