"""Type aliases for handlers and what they may return."""

from __future__ import annotations

from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Mapping
from typing import Any

from werkzeug.datastructures import Headers

from .wrappers.response import Response

StatusCode = int
HeadersValue = Headers | Mapping[str, str] | Iterable[tuple[str, str]]
ResponseValue = Response | str | bytes | dict[str, Any] | list[Any] | AsyncIterable[bytes | str] | None
ResponseReturnValue = (
    ResponseValue
    | tuple[ResponseValue, StatusCode]
    | tuple[ResponseValue, HeadersValue]
    | tuple[ResponseValue, StatusCode, HeadersValue]
)

View = Callable[..., Awaitable[Any]] | Callable[..., Any]
BeforeHook = Callable[[], Awaitable[Any]]
AfterHook = Callable[[Response], Awaitable[Response]]
TeardownHook = Callable[[BaseException | None], Awaitable[None]]
ErrorHandler = Callable[[Any], Awaitable[Any]]
#: ``(endpoint, values)``: the values of a matched request, or those ``url_for`` builds with.
URLValuePreprocessor = Callable[[str | None, dict[str, Any]], None]
URLDefaults = Callable[[str, dict[str, Any]], None]
