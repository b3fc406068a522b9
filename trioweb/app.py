"""The App: registration, configuration and the dispatch of requests.

The app never sees a socket or an ASGI message. A server hands it a
:class:`Request` and a function that sends a :class:`Response`
(:meth:`App.handle_request`), or a :class:`Websocket` (:meth:`App.handle_websocket`).
"""

from __future__ import annotations

import inspect
import logging
import math
import os
from collections.abc import AsyncGenerator, AsyncIterable, Awaitable, Callable, Iterable, Iterator, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar, Unpack

import trio
from werkzeug.datastructures import Headers
from werkzeug.exceptions import (
    HTTPException,
    InternalServerError,
)
from werkzeug.routing import RequestRedirect, Rule
from werkzeug.wrappers import Response as WerkzeugResponse

from .asgi import dispatch as asgi_dispatch
from .config import Config
from .ctx import (
    AppContext,
    RequestContext,
    WebsocketContext,
    collect,
    propagated_errors_var,
    raise_collected,
    request_var,
    session_var,
    websocket_var,
)
from .json import NO_JSON, dumps
from .lifespan import NOT_SERVING, Lifespan, run_background_task, shutdown_event
from .routing import Router, check_static_host
from .scaffold import Scaffold, ensure_async, inward, outward
from .sessions import (
    AFTER_HEADERS,
    SecureCookieSession,
    SecureCookieSessionInterface,
    SessionInterface,
    lifetime,
    save_session,
)
from .signals import (
    appcontext_tearing_down,
    got_request_exception,
    got_websocket_exception,
    request_finished,
    request_started,
    send,
    send_reporting,
    websocket_finished,
    websocket_started,
)
from .templating import AppTemplating
from .wrappers.request import Request
from .wrappers.response import DEFAULT_TIMEOUT, NO_CONTENT_STATUSES, Response, close_body, drop_content
from .wrappers.websocket import Websocket

if TYPE_CHECKING:
    import socket
    import ssl
    from collections.abc import Sequence

    from werkzeug.datastructures import FileStorage

    from .asgi import Receive, Scope, Send
    from .blueprints import Blueprint, RegisterOptions
    from .testing import QueryString, TestApp, TestClient
    from .typing import BeforeHook, ErrorHandler, ResponseReturnValue, View
    from .wrappers.base import BaseRequestWebsocket

SendResponse = Callable[[Response], Awaitable[None]]
#: Seconds the teardown of a cancelled request (its client left, its response timed out, a shutdown's grace
#: ran out) may take: it runs shielded from that cancellation, as a websocket's runs after its session's end.
TEARDOWN_TIMEOUT = 5.0
F = TypeVar("F", bound=Callable[..., Any])


class AppRule(Rule):
    """A werkzeug rule that remembers whether trioweb answers OPTIONS for it."""

    provide_automatic_options = False


class App(AppTemplating, Scaffold):
    """A trioweb application: ``app = App(__name__)``.

    Templates (``jinja_env``, ``template_filter``, ...) come from :class:`trioweb.templating.AppTemplating`.
    """

    response_class = Response
    request_class = Request
    #: Opens and saves every request's and websocket's session (trioweb.sessions; docs/sessions.md).
    session_interface: SessionInterface = SecureCookieSessionInterface()

    def __init__(
        self,
        import_name: str,
        static_url_path: str | None = None,
        static_folder: str | os.PathLike[str] | None = "static",
        template_folder: str | os.PathLike[str] | None = "templates",
        root_path: str | None = None,
        *,
        host_matching: bool = False,
        subdomain_matching: bool = False,
        static_host: str | None = None,
    ) -> None:
        """``host_matching`` matches each rule's ``host=`` against the request's ``Host`` (the static route
        then needs ``static_host``); ``subdomain_matching`` matches each rule's ``subdomain=`` against what
        ``Host`` has in front of ``SERVER_NAME`` (docs/hosts.md)."""
        super().__init__(
            import_name,
            static_folder=static_folder,
            static_url_path=static_url_path,
            template_folder=template_folder,
            root_path=root_path,
        )
        self.config = Config(self.root_path)
        self.router = Router(self.config, host_matching=host_matching, subdomain_matching=subdomain_matching)
        self.url_map = self.router.url_map
        self.view_functions: dict[str, View] = {}
        self.blueprints: dict[str, Blueprint] = {}
        self.logger = logging.getLogger("trioweb.app" if import_name == "__main__" else import_name)
        self.before_serving_funcs: list[Callable[[], Awaitable[Any]]] = []
        self.after_serving_funcs: list[Callable[[], Awaitable[Any]]] = []
        self.while_serving_gens: list[Callable[[], AsyncGenerator[Any, None]]] = []
        self.teardown_appcontext_funcs: list[Callable[[BaseException | None], Awaitable[Any]]] = []
        #: The current period of serving (see ``trioweb.lifespan``); ``None`` when not serving.
        self.lifespan: Lifespan | None = None
        #: The event ``shutdown_event`` gave out while the app was not serving; the next period takes it.
        self.next_shutdown_event: trio.Event | None = None
        check_static_host(host_matching, static_host, self.has_static_folder)
        if self.has_static_folder:
            # Flask's static route, whether or not the folder exists yet (trioweb.files sends the files).
            self.add_url_rule(
                f"{self.static_url_path}/<path:filename>", "static", self.send_static_file, host=static_host
            )

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "make_response" in cls.__dict__:
            raise TypeError(
                f"{cls.__name__} overrides make_response, which trioweb's dispatch does not call: it calls the "
                "synchronous response_for(value), so that no request pays for a coroutine. Override response_for "
                "instead (make_response awaits it)."
            )

    def __repr__(self) -> str:
        return f"<trioweb.App {self.import_name!r}>"

    @property
    def subdomain_matching(self) -> bool:
        """Whether rules' ``subdomain=`` are matched, against ``Host`` under ``SERVER_NAME`` (settable, as in Flask)."""
        return self.router.subdomain_matching

    @subdomain_matching.setter
    def subdomain_matching(self, value: bool) -> None:
        self.router.subdomain_matching = value

    @property
    def secret_key(self) -> str | bytes | None:
        """``SECRET_KEY``: signs the session cookie."""
        return self.config["SECRET_KEY"]  # type: ignore[no-any-return]

    @secret_key.setter
    def secret_key(self, value: str | bytes | None) -> None:
        self.config["SECRET_KEY"] = value

    @property
    def permanent_session_lifetime(self) -> timedelta:
        """``PERMANENT_SESSION_LIFETIME`` as a timedelta (the setting may be seconds)."""
        return lifetime(self.config["PERMANENT_SESSION_LIFETIME"])

    @permanent_session_lifetime.setter
    def permanent_session_lifetime(self, value: timedelta | int) -> None:
        self.config["PERMANENT_SESSION_LIFETIME"] = value

    # -- registration ------------------------------------------------------

    def add_url_rule(
        self,
        rule: str,
        endpoint: str | None = None,
        view_func: View | None = None,
        methods: Iterable[str] | None = None,
        *,
        websocket: bool = False,
        defaults: dict[str, Any] | None = None,
        strict_slashes: bool | None = None,
        provide_automatic_options: bool | None = None,
        subdomain: str | None = None,
        host: str | None = None,
    ) -> None:
        """Route ``rule`` to ``view_func`` under ``endpoint`` (default: the function's name).

        As in Flask, the view function's own attributes count where the call
        gives nothing: ``methods`` (the methods it takes), ``required_methods``
        (added to whatever methods are given) and ``provide_automatic_options``.
        """
        if view_func is None:
            raise TypeError(f"add_url_rule({rule!r}) needs a view_func")
        if endpoint is None:
            endpoint = view_func.__name__
        if websocket:
            if methods is not None:
                raise TypeError("websocket rules take no methods")
            allowed = {"GET"}
            provide_automatic_options = False
        else:
            if methods is None:
                methods = getattr(view_func, "methods", None) or ("GET",)
            if isinstance(methods, str):
                raise TypeError(f"methods must be a list of strings, like [{methods!r}], not a string")
            allowed = {method.upper() for method in methods}
            allowed.update(method.upper() for method in getattr(view_func, "required_methods", ()))
            if provide_automatic_options is None:
                provide_automatic_options = getattr(view_func, "provide_automatic_options", None)
            if provide_automatic_options is None:
                provide_automatic_options = "OPTIONS" not in allowed
            if provide_automatic_options:
                allowed.add("OPTIONS")
        existing = self.view_functions.get(endpoint)
        # A plain function is kept wrapped (``__wrapped__``); a decorated one may carry a ``__wrapped__`` of its own.
        if (
            existing is not None
            and existing is not view_func
            and getattr(existing, "__wrapped__", None) is not view_func
        ):
            raise ValueError(
                f"The endpoint {endpoint!r} already maps to another function; "
                "give one of them an endpoint=... of its own"
            )
        url_rule = AppRule(
            rule,
            endpoint=endpoint,
            methods=allowed,
            websocket=websocket,
            defaults=defaults,
            strict_slashes=strict_slashes,
            subdomain=subdomain,
            host=host,
        )
        url_rule.provide_automatic_options = provide_automatic_options
        self.router.add(url_rule)
        if existing is None:
            self.view_functions[endpoint] = _as_view(view_func)

    def register_blueprint(self, blueprint: Blueprint, **options: Unpack[RegisterOptions]) -> None:
        """Add a blueprint's routes, hooks and error handlers (and those of the blueprints nested in it) to the app.

        ``name``, ``url_prefix``, ``subdomain`` and ``url_defaults`` override
        the blueprint's own; a second registration of the same blueprint
        needs a ``name=`` of its own (docs/blueprints.md).
        """
        blueprint.register(self, options)

    # -- dispatch of HTTP requests -------------------------------------------

    async def handle_request(self, request: Request, send: SendResponse) -> None:
        """Answer one request: route, hooks, view, error handlers, send, teardown.

        Only cancellation and the errors of ``send`` escape: every other error
        becomes a response. ``send`` must hold to ``response.timeout`` (set
        here from ``RESPONSE_TIMEOUT`` unless the view chose one) and close the
        connection when it runs out. A 204 or 304 reaches ``send`` without a
        body or the headers that describe one (``drop_content``), so that no
        server has to know the rule.
        """
        context = RequestContext(self, request)
        await context.push()  # routes the request too
        error: BaseException | None = None
        try:
            response = await self.full_dispatch_request(request)
            if request_finished.receivers:
                response = await self._request_finished(response)
            if response.timeout is DEFAULT_TIMEOUT:
                response.timeout = self.config["RESPONSE_TIMEOUT"]
            try:
                if response.status_code in NO_CONTENT_STATUSES:
                    await drop_content(response)  # whatever the view, hooks and handlers set
                await send(response)
            except BaseException:
                # The client left or the request was cancelled before the server
                # took the body (the head could not be written): close its file now,
                # not when the collector finds it. The servers close what they sent.
                await close_body(response.body)
                raise
        except BaseException as exception:
            error = exception
            if isinstance(exception, Exception) and not isinstance(exception, _TRANSPORT_ERRORS):
                # A streamed body that failed once its status went out: no 500 can
                # answer it, but a test client waiting for the app's errors gets it.
                waiting = propagated_errors_var.get(None)
                if waiting is not None and self.propagate_exceptions:
                    waiting.append(exception)
            raise
        finally:
            try:
                if error is not None and trio.current_effective_deadline() == -math.inf:
                    # Cancelled: the teardown still runs to its end (a connection closed, a thread's function
                    # run), bounded so that it cannot hold a shutdown.
                    with trio.move_on_after(TEARDOWN_TIMEOUT, shield=True):
                        await context.pop(error)
                else:
                    await context.pop(error)  # the teardown functions, then the variables
            except Exception as teardown_error:  # the response is made (and sent): reported, not a dropped connection
                self.report_unhandled(teardown_error, request)

    async def full_dispatch_request(self, request: Request) -> Response:
        """Run the before hooks and the view, handle errors, run the after hooks."""
        try:
            if request_started.receivers:
                await send(request_started, self)
            if request.body.too_large:
                raise request.body.too_large_error()
            if request.session_error is not None:
                raise request.session_error
            value = (
                await self.preprocess_request(request)
                if self.before_request_funcs or self.url_value_preprocessors
                else None
            )
            if value is None:
                value = await self.dispatch_request(request)
            response = self.response_for(value)
        except Exception as error:
            response = await self.handle_user_exception(error)
        if self.after_request_funcs or request.after_this_functions is not None:
            try:
                response = await self.process_response(request, response)
            except BaseException as error:
                response = await self._instead_of(response, error)
        session = session_var.get()
        if not self.session_interface.is_null_session(session):  # no secret key: nothing to save
            try:
                await self.session_interface.save_session(self, session, response)  # after the after_request functions
            except BaseException as error:
                return await self._instead_of(response, error)
            if type(response.body) is not bytes and isinstance(session, SecureCookieSession):
                session.seal(AFTER_HEADERS)  # a change while the body streams would be lost: an error instead
        return response

    async def _request_finished(self, response: Response) -> Response:
        """Send ``request_finished``; a receiver's error answers 500 instead, as an ``after_request`` function's
        does (Flask's way), and the 500 is sent to the receivers too (an error then is logged)."""
        try:
            await send(request_finished, self, response=response)
        except BaseException as error:
            response = await self._instead_of(response, error)
            try:
                await send(request_finished, self, response=response)
            except Exception as again:
                self.log_exception(again)
        return response

    async def _instead_of(self, response: Response, error: BaseException) -> Response:
        """The 500 for ``error`` raised after ``response`` was made; ``response``'s file is closed now.

        A cancellation (the client left during an after_request function or
        the session's save) is raised again, once the file is closed.
        """
        await close_body(response.body)
        if not isinstance(error, Exception):
            raise error
        return await self.handle_exception(error)

    async def preprocess_request(self, request: Request) -> ResponseReturnValue | None:
        """The URL value preprocessors, then the ``before_request`` functions (Flask's order)."""
        if self.url_value_preprocessors:
            self.preprocess_url_values(request)
        return await self._run_before_hooks(self.before_request_funcs, request.blueprint)

    def preprocess_url_values(self, request: BaseRequestWebsocket) -> None:
        """Hand the matched endpoint and its values to the URL value preprocessors: the app's, then each blueprint's.

        They run only for a request that matched a rule: for a 404 or 405
        there are no values to take (Flask would pass ``None``).
        """
        view_args = request.view_args
        if request.routing_exception is not None or view_args is None:
            return
        endpoint = request.endpoint
        for name in inward[request.blueprint]:
            for function in self.url_value_preprocessors.get(name, ()):
                function(endpoint, view_args)

    def inject_url_defaults(self, endpoint: str, values: dict[str, Any]) -> None:
        """Let the ``url_defaults`` functions fill in ``values``: the app's, then its blueprints' (outer first)."""
        for name in inward[endpoint.rpartition(".")[0]]:
            for function in self.url_default_functions.get(name, ()):
                function(endpoint, values)

    async def _run_before_hooks(
        self, funcs: dict[str | None, list[BeforeHook]], blueprint: str | None
    ) -> ResponseReturnValue | None:
        """The app's hooks, then each blueprint's from the outermost in, until one returns a value (the answer)."""
        for name in inward[blueprint]:
            for function in funcs.get(name, ()):
                value = await function()
                if value is not None:
                    return value  # type: ignore[no-any-return]
        return None

    def dispatch_request(self, request: Request) -> Awaitable[ResponseReturnValue]:
        """The matched view's call, to be awaited (or the routing error, raised).

        It returns the view's coroutine rather than awaiting it: one frame
        less on every request.
        """
        if request.routing_exception is not None:
            raise request.routing_exception
        rule = request.url_rule
        assert rule is not None and rule.endpoint is not None and request.view_args is not None
        if request.method == "OPTIONS" and getattr(rule, "provide_automatic_options", False):
            return _ready(self.make_default_options_response(request))
        return self.view_functions[rule.endpoint](**request.view_args)

    def make_default_options_response(self, request: Request) -> Response:
        response = self.response_class()
        response.headers["Allow"] = ", ".join(self.router.allowed_methods(request))
        return response

    async def process_response(self, request: Request, response: Response) -> Response:
        """The ``after_this_request`` functions, then the ``after_request`` ones: the blueprints', the app's."""
        if request.after_this_functions is not None:
            for function in request.after_this_functions:
                response = await function(response)
                if not isinstance(response, Response):
                    raise _not_a_response(function, response)
        for name in outward[request.blueprint]:
            for function in reversed(self.after_request_funcs.get(name, ())):
                response = await function(response)
                if not isinstance(response, Response):
                    raise _not_a_response(function, response)
        return response

    async def _teardown(
        self,
        funcs: dict[str | None, list[Callable[[BaseException | None], Awaitable[None]]]],
        blueprint: str | None,
        error: BaseException | None,
    ) -> None:
        """The ``teardown_request`` (``teardown_websocket``) functions: every one, even if one raises (Flask 3.2's
        way); then the errors they raised come out (several: in an ``ExceptionGroup``)."""
        errors: list[Exception] | None = None
        for name in outward[blueprint]:
            for function in reversed(funcs.get(name, ())):
                try:
                    await function(error)
                except Exception as raised:
                    errors = collect(errors, raised)
        if errors is not None:
            raise_collected(errors, "Errors in teardown functions")

    # -- dispatch of websockets ------------------------------------------------

    async def handle_websocket(self, websocket: Websocket) -> None:
        """Run the websocket view, then end the session as docs/architecture.md#outcomes-on-the-wire says.

        Before accepting, a returned response (or an HTTP error) rejects the
        handshake with it, a crash answers 500 and returning nothing 403.
        After accepting, returning None closes with 1000; a crash closes with
        1011, and so does returning a value (an error is logged): the
        handshake is over, so nothing can send it, and a silent drop would
        hide the mistake.
        The hooks and the view run in ``websocket.view_scope``, which the end
        of the session cancels (the client closed or left, a limit, a
        shutdown, or the view's own ``close()``); a group made only of
        ``Cancelled`` ends there quietly. The after hooks and teardown run
        outside it, so a disconnect does not cancel them.
        """
        context = WebsocketContext(self, websocket)
        await context.push()  # routes the handshake too
        error: BaseException | None = None
        try:
            response: Response | None = None
            crashed = False
            view_scope = websocket.view_scope
            value: ResponseReturnValue | None = None
            try:
                with view_scope:
                    if websocket_started.receivers:
                        await send(websocket_started, self)
                    if websocket.session_error is not None:
                        raise websocket.session_error
                    if self.url_value_preprocessors:
                        self.preprocess_url_values(websocket)
                    value = (
                        await self._run_before_hooks(self.before_websocket_funcs, websocket.blueprint)
                        if self.before_websocket_funcs
                        else None
                    )
                    if value is None:
                        value = await self._websocket_view(websocket)
                if value is not None and not view_scope.cancelled_caught:
                    if websocket.accepted:
                        raise _returned_after_accepting(value)
                    response = self.response_for(value)
            except Exception as exception:
                error = exception
                crashed = not isinstance(exception, HTTPException)
                if websocket.accepted:
                    if crashed:
                        if got_websocket_exception.receivers:
                            await send_reporting(got_websocket_exception, self, exception=exception)
                        self.report_unhandled(exception)
                else:
                    response = await self.handle_user_exception(exception)
            if view_scope.cancel_called and not view_scope.cancelled_caught and websocket.closed_by != "the view":
                self.logger.warning(
                    "The websocket view for %s swallowed trio.Cancelled after %s closed the websocket; "
                    "re-raise it (except CancelledError: ...; raise)",
                    websocket.path,
                    websocket.closed_by,
                )
            if response is not None:
                try:
                    response = await self._after_websocket(websocket, response)
                except Exception as exception:  # as an after_request function's: a 500, not a dropped handshake
                    error = error or exception
                    response = await self.handle_exception(exception)
            if websocket_finished.receivers:
                try:
                    await send(websocket_finished, self, response=response)
                except Exception as exception:  # as an after_websocket function's error, or a view's after accepting
                    error = error or exception
                    if websocket.accepted:
                        crashed = True
                        if got_websocket_exception.receivers:
                            await send_reporting(got_websocket_exception, self, exception=exception)
                        self.report_unhandled(exception)
                    else:
                        response = await self.handle_exception(exception)
            if websocket.closed:
                return
            if not websocket.accepted:
                response = response if response is not None else self.response_class("", 403)
                try:
                    await save_session(self, context.session, response)
                except Exception as exception:  # a value the store cannot keep: a 500, as for a request
                    error = error or exception
                    response = await self.handle_exception(exception)
                await websocket.reject(response)
            elif crashed:
                await websocket.close(1011, "internal error")
            else:
                await websocket.close(1000)
        except BaseException as exception:
            error = error or exception
            raise
        finally:
            try:
                await context.pop(error)  # the teardown functions, then the variables
            except Exception as teardown_error:  # the session is over: reported, as for a request
                self.report_unhandled(teardown_error, websocket)

    def _websocket_view(self, websocket: Websocket) -> Awaitable[ResponseReturnValue | None]:
        """The matched websocket view's call, to be awaited (a frame less per open websocket)."""
        if websocket.routing_exception is not None:
            raise websocket.routing_exception
        rule = websocket.url_rule
        assert rule is not None and rule.endpoint is not None and websocket.view_args is not None
        return self.view_functions[rule.endpoint](**websocket.view_args)

    async def _after_websocket(self, websocket: Websocket, response: Response) -> Response:
        if websocket.after_this_functions is not None:
            for function in websocket.after_this_functions:
                response = await function(response)
        for name in outward[websocket.blueprint]:
            for function in reversed(self.after_websocket_funcs.get(name, ())):
                response = await function(response)
        return response

    # -- errors ----------------------------------------------------------------

    def _find_error_handler(self, error: BaseException, blueprint: str | None) -> ErrorHandler | None:
        """Flask's order: a handler for the status code (the innermost blueprint's, ..., the app's), then one
        for the class or a base class (in the same order of blueprints)."""
        code = error.code if isinstance(error, HTTPException) else None
        names = outward[blueprint]
        for key in (code, None) if code is not None else (None,):
            for name in names:
                spec = self.error_handler_spec.get(name)
                handlers = spec.get(key) if spec else None
                if not handlers:
                    continue
                for cls in type(error).__mro__:
                    handler = handlers.get(cls)
                    if handler is not None:
                        return handler
        return None

    async def handle_user_exception(self, error: Exception) -> Response:
        """The response for an exception a hook or view raised."""
        if isinstance(error, HTTPException):
            return await self.handle_http_exception(error)
        handler = self._find_error_handler(error, _current_blueprint())
        if handler is None:
            return await self.handle_exception(error)
        try:
            return self.response_for(await handler(error))
        except Exception as handler_error:
            return await self.handle_exception(handler_error)

    async def handle_http_exception(self, error: HTTPException) -> Response:
        if error.code is None or isinstance(error, RequestRedirect):
            return self.http_exception_response(error)
        handler = self._find_error_handler(error, _current_blueprint())
        if handler is None:
            return self.http_exception_response(error)
        try:
            return self.response_for(await handler(error))
        except Exception as handler_error:
            return await self.handle_exception(handler_error)

    def http_exception_response(self, error: HTTPException) -> Response:
        """The default response for an HTTP error: werkzeug's page and headers."""
        if isinstance(error.response, Response):
            return error.response
        if isinstance(error.response, WerkzeugResponse):
            return self._from_werkzeug(error.response)
        if isinstance(error, RequestRedirect):
            from .helpers import redirect

            return redirect(error.new_url, error.code)
        return self.response_class(error.get_body(), error.code, error.get_headers())

    async def handle_exception(self, error: BaseException) -> Response:
        """Log an unhandled exception and answer 500 (through a 500 handler, if any).

        An app that propagates exceptions (``PROPAGATE_EXCEPTIONS``, which
        follows ``TESTING`` when ``None``) skips the 500 handlers, as Flask
        does: the test client raises the error in the test, and a server
        logs it and answers a plain 500.
        """
        if got_request_exception.receivers or got_websocket_exception.receivers:
            # Before the 500 handler and whether or not the app propagates exceptions, as in Flask.
            signal = got_websocket_exception if websocket_var.get(None) is not None else got_request_exception
            await send_reporting(signal, self, exception=error)
        server_error = InternalServerError(original_exception=error)
        if self.propagate_exceptions:
            self.report_unhandled(error)
            return self.http_exception_response(server_error)
        self.log_exception(error)
        handler = self._find_error_handler(server_error, _current_blueprint())
        if handler is not None:
            try:
                return self.response_for(await handler(server_error))
            except Exception as handler_error:
                self.log_exception(handler_error)
        return self.http_exception_response(server_error)

    @property
    def propagate_exceptions(self) -> bool:
        """``PROPAGATE_EXCEPTIONS``, or ``TESTING`` when that is ``None``."""
        propagate = self.config["PROPAGATE_EXCEPTIONS"]
        return bool(self.config["TESTING"] if propagate is None else propagate)

    def report_unhandled(self, error: BaseException, exchange: BaseRequestWebsocket | None = None) -> None:
        """An error no handler took: to the test client that waits for it (see ``propagate_exceptions``), or the log
        (``exchange`` as for :meth:`log_exception`)."""
        if self.propagate_exceptions and isinstance(error, Exception):
            waiting = propagated_errors_var.get(None)
            if waiting is not None:
                waiting.append(error)
                return
        self.log_exception(error, exchange)

    def log_exception(self, error: BaseException, exchange: BaseRequestWebsocket | None = None) -> None:
        """Log an error with its traceback, and the request (or websocket) it happened in: the current one, or
        ``exchange``, whose context is popped already (a teardown function's error)."""
        if exchange is None:
            exchange = request_var.get(None)
            if exchange is None:
                exchange = websocket_var.get(None)
        if exchange is None:
            where = ""
        elif isinstance(exchange, Websocket):
            where = f" on websocket {exchange.method} {exchange.path}"
        else:
            where = f" on {exchange.method} {exchange.path}"
        self.logger.error("Exception%s", where, exc_info=error)

    # -- responses ---------------------------------------------------------------

    async def make_response(self, value: ResponseReturnValue | HTTPException) -> Response:
        """Turn what a view returned into a :class:`Response`: ``await app.make_response(value)``, as in Quart.

        It awaits nothing itself: the work is :meth:`response_for`, which the
        dispatch calls directly, so that no request pays for a coroutine.
        """
        return self.response_for(value)

    def response_for(self, value: ResponseReturnValue | HTTPException) -> Response:
        """The :class:`Response` for what a view returned (the synchronous half of :meth:`make_response`).

        Accepts str, bytes, dict or list (JSON), a Response (trioweb's, or
        werkzeug's, whose status, headers and body are taken over), an
        ``HTTPException`` (its response, without the error handlers, which
        only a raised one goes through), an async (or plain) iterator of
        chunks, and the tuples ``(body, status)``, ``(body, headers)`` and
        ``(body, status, headers)``. A subclass that changes how return
        values become responses overrides this method.
        """
        if type(value) is str or type(value) is bytes:
            return self.response_class(value)
        status: Any = None
        headers: Any = None
        if isinstance(value, tuple):
            if len(value) == 3:
                value, status, headers = value
            elif len(value) == 2:
                value, extra = value
                if isinstance(extra, Headers | dict | list | tuple):
                    headers = extra
                else:
                    status = extra
            else:
                raise TypeError(
                    "A view returned a tuple of the wrong size; return (body, status), "
                    "(body, headers) or (body, status, headers)"
                )
        if isinstance(value, Response):
            response = value
        elif isinstance(value, WerkzeugResponse):
            response = self._from_werkzeug(value)
        elif isinstance(value, HTTPException):
            response = self.http_exception_response(value)
        elif isinstance(value, str | bytes):
            response = self.response_class(value)
        elif isinstance(value, dict | list):
            response = self.json_response(value)
        elif isinstance(value, AsyncIterable | Iterator):
            response = self.response_class(value)
        elif value is None:
            raise TypeError(
                "The view returned None. Return a str, bytes, dict, list, Response, "
                "an async generator, or a tuple with a status or headers."
            )
        else:
            raise _cannot_send(value)
        if status is not None:
            response.status = status
        if headers:
            response.headers.update(headers)
        return response

    def _from_werkzeug(self, value: WerkzeugResponse) -> Response:
        """A trioweb response with a werkzeug response's status, headers and body (streamed if it streams)."""
        body: bytes | Iterator[bytes] = value.iter_encoded() if value.is_streamed else value.get_data()
        response = self.response_class(body, value.status_code, Headers(value.headers))
        if value.is_streamed and value.content_length is not None:
            response.headers["Content-Length"] = str(value.content_length)  # set_data dropped it
        return response

    def json_response(self, value: Any, status: int | None = None) -> Response:
        body = dumps(value, sort_keys=self.config["JSON_SORT_KEYS"])
        return self.response_class(body, status, mimetype="application/json")

    # -- contexts (see trioweb.ctx) ------------------------------------------------

    def app_context(self) -> AppContext:
        """``async with app.app_context():`` sets ``current_app`` and a fresh ``g`` for the block."""
        return AppContext(self)

    def request_context(self, request: Request) -> RequestContext:
        """The context of ``request`` (``async with``): ``request``, ``g``, ``current_app``, and the request routed."""
        return RequestContext(self, request)

    def teardown_appcontext(self, function: F) -> F:
        """Run ``function(error_or_None)`` whenever an app context pops: each request's and websocket's (after its
        ``teardown_request`` or ``teardown_websocket`` functions), the lifespan's, and ``app.app_context()``'s.

        As in Flask 3.2, the last registered runs first and every one runs
        even if one raises; a plain function runs in a worker thread, as a hook
        does. For closing what ``g`` opened. An error one raises comes out of
        ``app.app_context()``'s block once the context is popped; for a request
        or websocket it is reported as an unhandled error (logged, or raised in
        the test with ``TESTING``), and the response already made is sent.
        """
        self.teardown_appcontext_funcs.append(ensure_async(function))
        return function

    async def do_teardown_appcontext(self, exc: BaseException | None = None) -> None:
        """The ``teardown_appcontext`` functions (the last registered first, every one even if one raises), then
        ``appcontext_tearing_down``; then the errors the functions raised come out (several: in an
        ``ExceptionGroup``)."""
        errors: list[Exception] | None = None
        for function in reversed(self.teardown_appcontext_funcs):
            try:
                await function(exc)
            except Exception as raised:
                errors = collect(errors, raised)
        if appcontext_tearing_down.receivers:
            await send_reporting(appcontext_tearing_down, self, exc=exc)
        if errors is not None:
            raise_collected(errors, "Errors in teardown_appcontext functions")

    def websocket_context(self, websocket: Websocket) -> WebsocketContext:
        """The context of ``websocket`` (``async with``), as :meth:`request_context` for a request."""
        return WebsocketContext(self, websocket)

    def test_request_context(
        self,
        path: str = "/",
        *,
        method: str = "GET",
        headers: Mapping[str, str] | Headers | None = None,
        query_string: QueryString = None,
        data: bytes | str | None = None,
        form: Mapping[str, Any] | None = None,
        files: Mapping[str, FileStorage] | None = None,
        json: Any = NO_JSON,
        scheme: str = "http",
        root_path: str = "",
        http_version: str = "1.1",
        remote_addr: str = "127.0.0.1",
        subdomain: str | None = None,
        base_url: str | None = None,
    ) -> RequestContext:
        """A request's context without a client: ``async with app.test_request_context("/items?q=x"):``.

        Inside it ``request`` is a request built as the test client would send
        it (its body readable: ``await request.get_json()``, ``await
        request.form``), routed (``request.endpoint``, ``view_args``), and
        ``url_for``, ``g`` and ``current_app`` work. Leaving it runs the
        ``teardown_request`` functions. No hook or view runs. ``subdomain``
        and ``base_url`` choose the host (and root path) as for the test client.
        """
        from .testing import make_test_request

        request = make_test_request(
            self,
            path,
            method=method,
            headers=headers,
            query_string=query_string,
            data=data,
            form=form,
            files=files,
            json=json,
            scheme=scheme,
            root_path=root_path,
            http_version=http_version,
            remote_addr=remote_addr,
            subdomain=subdomain,
            base_url=base_url,
        )
        return RequestContext(self, request)

    # -- serving and testing ---------------------------------------------------

    def test_client(self, use_cookies: bool = True) -> TestClient:
        """A client that speaks real HTTP/1.1 and websocket bytes to this app, in memory.

        ``use_cookies=False`` gives it no cookie jar, as in Quart and Flask.
        """
        from .testing import TestClient

        return TestClient(self, use_cookies=use_cookies)

    def run(
        self,
        host: str | None = "127.0.0.1",
        port: int = 8000,
        *,
        ssl_context: ssl.SSLContext | None = None,
        certfile: str | os.PathLike[str] | None = None,
        keyfile: str | os.PathLike[str] | None = None,
        access_log: bool = True,
        shutdown_trigger: Callable[[], Awaitable[Any]] | None = None,
        backlog: int | None = None,
        sockets: Sequence[socket.socket] | None = None,
        workers: int = 1,
    ) -> None:
        """Serve the app with the native server until Ctrl-C or SIGTERM (blocks), then shut down gracefully.

        It logs what the command line logs: the address, then each request
        (see :func:`trioweb.server.run`, which takes the same arguments).
        There is no debug mode and no reloader here (``trioweb run --reload``
        has them), so ``run(debug=True)`` is a type error (and a ``TypeError``
        before anything starts). ``workers=N`` runs N worker processes, which
        import the app again: call it under ``if __name__ == "__main__":``.
        """
        from .server import run

        run(
            self,
            host=host,
            port=port,
            ssl_context=ssl_context,
            certfile=certfile,
            keyfile=keyfile,
            access_log=access_log,
            shutdown_trigger=shutdown_trigger,
            backlog=backlog,
            sockets=sockets,
            workers=workers,
        )

    # -- lifespan and ASGI (see trioweb.lifespan and trioweb.asgi) ---------------

    def before_serving(self, function: F) -> F:
        """Run once at startup, before the app serves anything."""
        self.before_serving_funcs.append(ensure_async(function))
        return function

    def after_serving(self, function: F) -> F:
        """Run once at shutdown, after in-flight work and background tasks are done."""
        self.after_serving_funcs.append(ensure_async(function))
        return function

    def while_serving(self, function: F) -> F:
        """An async generator around serving: before its one ``yield`` at startup, after it at shutdown."""
        if not inspect.isasyncgenfunction(function):
            raise TypeError(f"while_serving needs an async generator function (one that yields), not {function!r}")
        self.while_serving_gens.append(function)
        return function

    @property
    def nursery(self) -> trio.Nursery:
        """The app's nursery, open from startup to shutdown: background work goes here.

        A task started here directly follows trio's rules: if it raises, the
        app stops serving with that error. ``add_background_task`` logs
        errors instead.
        """
        lifespan = self.lifespan
        if lifespan is None or lifespan.nursery is None:
            raise RuntimeError(NOT_SERVING)
        return lifespan.nursery

    @property
    def shutdown_event(self) -> trio.Event:
        """A ``trio.Event`` set the moment a graceful shutdown begins: watch it to stop at once.

        A background loop or a long-poll view that waits on it (or checks
        it) ends when the shutdown begins, instead of running until
        ``SHUTDOWN_TIMEOUT`` cancels it. Each period of serving has its own
        event. While the app is not serving, this is the event of the next
        period, not set until that one's shutdown begins.
        """
        return shutdown_event(self)

    def add_background_task(self, function: Callable[..., Any], *args: Any) -> None:
        """Run ``function(*args)`` in the app nursery; an error is logged, not raised.

        It gets the shutdown grace period (``SHUTDOWN_TIMEOUT``) to finish,
        then it is cancelled. A plain function runs in a worker thread.
        """
        self.nursery.start_soon(run_background_task, self, ensure_async(function), args)

    def test_app(self) -> TestApp:
        """``async with app.test_app() as test_app:`` runs startup and shutdown around a block."""
        from .testing import TestApp

        return TestApp(self)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The app as an ASGI 3 application (``hypercorn --worker-class trio module:app``)."""
        await asgi_dispatch(self, scope, receive, send)


async def _ready(value: ResponseReturnValue) -> ResponseReturnValue:
    return value


def _cannot_send(value: object) -> TypeError:
    """The error for a value that is not a response; a coroutine is closed (it would warn later)."""
    if inspect.iscoroutine(value):
        value.close()
        return TypeError(f"A view, hook or error handler returned {_describe(value)}")
    name = type(value).__name__
    return TypeError(
        f"The view returned {_article(name)} {name}, which trioweb cannot send. "
        "Return a str, bytes, dict, list, Response, an async generator, "
        "or a tuple with a status or headers."
    )


def _returned_after_accepting(value: object) -> TypeError:
    if inspect.iscoroutine(value):
        return _cannot_send(value)
    return TypeError(
        f"The websocket view returned {_describe(value)} after accepting the websocket, which closes with 1011: "
        "a returned value can only answer the handshake, before accepting. "
        "Send it with `await websocket.send(...)` and return None."
    )


def _not_a_response(after_request: Callable[..., Any], value: object) -> TypeError:
    if inspect.iscoroutine(value):
        value.close()
        return TypeError(f"after_request function {after_request.__name__} returned {_describe(value)}")
    return TypeError(
        f"after_request function {after_request.__name__} returned {_describe(value)}; it must return the response"
    )


def _describe(value: object) -> str:
    """A returned value in an error message; a coroutine comes with the usual cause."""
    if inspect.iscoroutine(value):
        return f"the coroutine {value.__qualname__}() instead of its result; did you forget `await`?"
    if value is None:
        return "None"
    name = type(value).__name__
    return f"{_article(name)} {name}"


def _article(noun: str) -> str:
    """The article for ``noun``, by how it is said: an int, a UUID, a user."""
    if noun[:1].lower() in ("a", "e", "i", "o") or (noun[:1] == "u" and not noun.startswith(("uni", "us", "uu"))):
        return "an"
    return "a"


#: What sending raises when the client has gone: not an error of the app's.
_TRANSPORT_ERRORS = (trio.BrokenResourceError, trio.ClosedResourceError)


def _current_blueprint() -> str | None:
    current = request_var.get(None) or websocket_var.get(None)
    return current.blueprint if current is not None else None


def _as_view(view_func: View) -> View:
    """A view trioweb can await: async functions as they are, others adapted."""
    if inspect.isasyncgenfunction(view_func):
        generator_function = view_func

        async def stream(**kwargs: Any) -> Any:
            return generator_function(**kwargs)

        stream.__wrapped__ = view_func  # type: ignore[attr-defined]
        return stream
    return ensure_async(view_func)


__all__ = ["App"]
