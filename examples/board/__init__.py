"""A message board with a login: ``python -m trioweb serve examples.board:app``."""

from .app import app, board

__all__ = ["app", "board"]
