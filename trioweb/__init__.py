"""trioweb: a trio-native web framework with Quart's programming model."""

from .app import App
from .blueprints import Blueprint
from .config import Config
from .ctx import current_app, g, has_request_context, has_websocket_context, request, websocket
from .exceptions import CancelledError, HTTPException, abort
from .files import send_file, send_from_directory
from .helpers import jsonify, make_response, redirect, url_for
from .server import run, serve
from .wrappers import Request, Response, Websocket
from .wrappers.websocket import WebsocketClosedError

__all__ = [
    "App",
    "Blueprint",
    "CancelledError",
    "Config",
    "HTTPException",
    "Request",
    "Response",
    "Websocket",
    "WebsocketClosedError",
    "abort",
    "current_app",
    "g",
    "has_request_context",
    "has_websocket_context",
    "jsonify",
    "make_response",
    "redirect",
    "request",
    "run",
    "send_file",
    "send_from_directory",
    "serve",
    "url_for",
    "websocket",
]
