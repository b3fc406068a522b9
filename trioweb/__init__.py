"""trioweb: a trio-native web framework with Quart's programming model."""

from .app import App
from .blueprints import Blueprint
from .config import Config
from .ctx import current_app, g, has_request_context, has_websocket_context, request, session, websocket
from .exceptions import CancelledError, HTTPException, abort
from .helpers import flash, get_flashed_messages, jsonify, make_response, redirect, url_for
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
    "flash",
    "g",
    "get_flashed_messages",
    "has_request_context",
    "has_websocket_context",
    "jsonify",
    "make_response",
    "redirect",
    "request",
    "run",
    "serve",
    "session",
    "url_for",
    "websocket",
]
