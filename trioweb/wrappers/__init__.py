from .request import Body, Request
from .response import Response
from .websocket import Websocket

__all__ = ["Body", "Request", "Response", "Websocket"]
