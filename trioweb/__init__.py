"""trioweb: a trio-native web framework with Quart's programming model."""

from .app import App
from .blueprints import Blueprint
from .config import Config
from .ctx import (
    after_this_request,
    after_this_websocket,
    copy_current_app_context,
    copy_current_request_context,
    copy_current_websocket_context,
    current_app,
    g,
    has_app_context,
    has_request_context,
    has_websocket_context,
    request,
    session,
    websocket,
)
from .exceptions import CancelledError, HTTPException, abort
from .files import send_file, send_from_directory
from .helpers import flash, get_flashed_messages, jsonify, make_response, redirect, stream_with_context, url_for
from .server import run, serve
from .templating import render_template, render_template_string, stream_template, stream_template_string
from .views import MethodView, View
from .wrappers import Request, Response, Websocket
from .wrappers.websocket import WebsocketClosedError

__all__ = [
    "App",
    "Blueprint",
    "CancelledError",
    "Config",
    "HTTPException",
    "MethodView",
    "Request",
    "Response",
    "View",
    "Websocket",
    "WebsocketClosedError",
    "abort",
    "after_this_request",
    "after_this_websocket",
    "copy_current_app_context",
    "copy_current_request_context",
    "copy_current_websocket_context",
    "current_app",
    "flash",
    "g",
    "get_flashed_messages",
    "has_app_context",
    "has_request_context",
    "has_websocket_context",
    "jsonify",
    "make_response",
    "redirect",
    "render_template",
    "render_template_string",
    "request",
    "run",
    "send_file",
    "send_from_directory",
    "serve",
    "session",
    "stream_template",
    "stream_template_string",
    "stream_with_context",
    "url_for",
    "websocket",
]
