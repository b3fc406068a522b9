"""Signals (trioweb.signals): each is sent with the app as sender and Quart's keywords, at its place among the hooks,
to async and plain receivers; a raising receiver does what docs/signals.md says; and nothing is sent without one."""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import httpx
import pytest
import trio
from blinker import Signal

from trioweb import (
    App,
    Response,
    abort,
    flash,
    has_app_context,
    has_request_context,
    has_websocket_context,
    render_template_string,
    stream_template_string,
    websocket,
)
from trioweb import signals as signals_module
from trioweb.app import TEARDOWN_TIMEOUT
from trioweb.signals import (
    appcontext_popped,
    appcontext_pushed,
    appcontext_tearing_down,
    before_render_template,
    got_background_exception,
    got_request_exception,
    got_serving_exception,
    got_websocket_exception,
    message_flashed,
    request_finished,
    request_started,
    request_tearing_down,
    template_rendered,
    websocket_finished,
    websocket_started,
    websocket_tearing_down,
)
from trioweb.testing import IncompleteResponseError, WebsocketDisconnectError, WebsocketResponseError

from .conftest import TEXT, client_frame, close_frame, open_raw_websocket, read_until_closed

EVERY_SIGNAL = {
    name: value for name, value in vars(signals_module).items() if isinstance(value, Signal) and name != "namespace"
}


class Boom(Exception):
    pass


@contextmanager
def recording(app: App, *signals: Signal, calls: list[Any]) -> Iterator[list[Any]]:
    """Connect a receiver to each signal, for ``app`` only, that appends ``(name, sender is app, kwargs)``;
    every other one is async, so both kinds are covered in every test."""
    with ExitStack() as stack:
        for index, signal in enumerate(signals):
            name = signal.name  # type: ignore[attr-defined]

            def plain(sender: Any, name: str = name, **kwargs: Any) -> None:
                calls.append((name, sender is app, kwargs))

            async def awaited(sender: Any, name: str = name, **kwargs: Any) -> None:
                await trio.lowlevel.checkpoint()
                calls.append((name, sender is app, kwargs))

            stack.enter_context(signal.connected_to(plain if index % 2 else awaited, app))
        yield calls


def names(calls: list[Any]) -> list[str]:
    return [call if isinstance(call, str) else call[0] for call in calls]


# -- HTTP ------------------------------------------------------------------------------


async def test_a_request_sends_its_signals_around_the_hooks_in_flasks_order(app: App) -> None:
    calls: list[Any] = []

    @app.before_request
    async def before() -> None:
        calls.append("before_request")

    @app.after_request
    async def after(response: Response) -> Response:
        calls.append("after_request")
        return response

    @app.teardown_request
    async def teardown(error: BaseException | None) -> None:
        calls.append("teardown_request")

    @app.teardown_appcontext
    async def teardown_app(error: BaseException | None) -> None:
        calls.append("teardown_appcontext")

    @app.route("/")
    async def index() -> str:
        calls.append("view")
        return "ok"

    signals = (
        appcontext_pushed,
        request_started,
        request_finished,
        request_tearing_down,
        appcontext_tearing_down,
        appcontext_popped,
    )
    with recording(app, *signals, calls=calls):
        response = await app.test_client().get("/")
    assert response.status_code == 200
    assert names(calls) == [
        "appcontext-pushed",
        "request-started",
        "before_request",
        "view",
        "after_request",
        "request-finished",
        "teardown_request",
        "request-tearing-down",
        "teardown_appcontext",
        "appcontext-tearing-down",
        "appcontext-popped",
    ]
    sent = {call[0]: call for call in calls if not isinstance(call, str)}
    assert all(call[1] for call in sent.values()), "the app is the sender of every signal"
    finished = sent["request-finished"][2]["response"]
    assert isinstance(finished, Response) and finished.status_code == 200
    assert sent["request-tearing-down"][2] == {"exc": None}
    assert sent["appcontext-tearing-down"][2] == {"exc": None}
    assert sent["request-started"][2] == sent["appcontext-pushed"][2] == sent["appcontext-popped"][2] == {}


async def test_a_receiver_for_another_app_hears_nothing_of_this_one(app: App) -> None:
    other = App("other")
    calls: list[Any] = []

    @app.route("/")
    async def index() -> str:
        return "ok"

    with recording(other, request_started, request_finished, calls=calls):
        await app.test_client().get("/")
    assert calls == []


async def test_got_request_exception_comes_before_the_500_handler_with_the_exception(app: App) -> None:
    calls: list[Any] = []

    @app.route("/crash")
    async def crash() -> str:
        raise Boom("in the view")

    @app.errorhandler(500)
    async def server_error(error: Exception) -> tuple[str, int]:
        calls.append("500 handler")
        return "sorry", 500

    with recording(app, got_request_exception, calls=calls):
        response = await app.test_client().get("/crash")
    assert await response.get_data(as_text=True) == "sorry"
    assert names(calls) == ["got-request-exception", "500 handler"]
    exception = calls[0][2]["exception"]
    assert isinstance(exception, Boom) and str(exception) == "in the view"


async def test_an_http_error_or_a_handled_exception_sends_no_got_request_exception(app: App) -> None:
    @app.route("/missing")
    async def missing() -> str:
        abort(404)

    @app.route("/handled")
    async def handled() -> str:
        raise Boom

    @app.errorhandler(Boom)
    async def on_boom(error: Boom) -> tuple[str, int]:
        return "handled", 409

    calls: list[Any] = []
    with recording(app, got_request_exception, calls=calls):
        assert (await app.test_client().get("/missing")).status_code == 404
        assert (await app.test_client().get("/handled")).status_code == 409
    assert calls == []


async def test_with_testing_got_request_exception_is_sent_and_then_the_test_gets_the_error(app: App) -> None:
    app.config["TESTING"] = True

    @app.route("/crash")
    async def crash() -> str:
        raise Boom("propagated")

    calls: list[Any] = []
    with recording(app, got_request_exception, calls=calls), pytest.raises(Boom, match="propagated"):
        await app.test_client().get("/crash")
    assert names(calls) == ["got-request-exception"]


async def test_a_raising_request_started_receiver_answers_500_like_a_before_request_function(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    @app.route("/")
    async def index() -> str:
        raise AssertionError("the view must not run")

    def broken(sender: App) -> None:
        raise Boom("in request_started")

    with request_started.connected_to(broken, app):
        response = await app.test_client().get("/")
    assert response.status_code == 500
    assert "in request_started" in caplog.text


async def test_a_raising_request_finished_receiver_answers_500_and_hears_of_the_500(app: App) -> None:
    @app.route("/")
    async def index() -> str:
        return "fine"

    statuses: list[int] = []

    def broken(sender: App, response: Response) -> None:
        statuses.append(response.status_code)
        if response.status_code == 200:
            raise Boom("in request_finished")

    with request_finished.connected_to(broken, app):
        response = await app.test_client().get("/")
    assert response.status_code == 500
    assert statuses == [200, 500]


async def test_a_raising_got_request_exception_receiver_is_logged_and_the_client_still_gets_the_500_handlers_page(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    @app.route("/crash")
    async def crash() -> str:
        raise Boom("the first error")

    @app.errorhandler(500)
    async def server_error(error: Exception) -> tuple[str, int]:
        return "sorry", 500

    async def broken(sender: App, exception: Exception) -> None:
        raise ValueError("in the receiver")

    with got_request_exception.connected_to(broken, app):
        response = await app.test_client().get("/crash")
    assert await response.get_data(as_text=True) == "sorry"
    assert "in the receiver" in caplog.text and "the first error" in caplog.text


async def test_a_raising_request_tearing_down_receiver_is_reported_and_the_client_gets_its_response(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    torn: list[str] = []

    @app.route("/")
    async def index() -> str:
        return "answered"

    @app.teardown_appcontext
    async def teardown_app(error: BaseException | None) -> None:
        torn.append("teardown_appcontext")

    def broken(sender: App, exc: BaseException | None) -> None:
        raise Boom("in request_tearing_down")

    with (
        request_tearing_down.connected_to(broken, app),
        appcontext_popped.connected_to(lambda sender: torn.append("popped"), app),
    ):
        response = await app.test_client().get("/")
        assert await response.get_data(as_text=True) == "answered"  # not a dropped connection
        assert torn == ["teardown_appcontext", "popped"]
        assert "in request_tearing_down" in caplog.text
        app.config["TESTING"] = True
        with pytest.raises(Boom, match="in request_tearing_down"):  # a test hears of it
            await app.test_client().get("/")


async def test_signals_are_sent_on_both_real_servers(app: App, live_server: str) -> None:
    @app.route("/")
    async def index() -> str:
        return "ok"

    calls: list[Any] = []
    torn = trio.Event()
    with (
        recording(app, request_started, request_finished, request_tearing_down, calls=calls),
        appcontext_popped.connected_to(lambda sender: torn.set(), app),
    ):
        async with httpx.AsyncClient(base_url=f"http://{live_server}") as client:
            response = await client.get("/")
        assert response.text == "ok"
        with trio.fail_after(5):
            await torn.wait()  # on Hypercorn the teardown may end after the client has the response
    assert names(calls) == ["request-started", "request-finished", "request-tearing-down"]


# -- websockets ---------------------------------------------------------------------------


async def test_a_websocket_sends_its_signals_around_the_hooks(app: App) -> None:
    calls: list[Any] = []

    @app.before_websocket
    async def before() -> None:
        calls.append("before_websocket")

    @app.teardown_websocket
    async def teardown(error: BaseException | None) -> None:
        calls.append("teardown_websocket")

    @app.teardown_appcontext
    async def teardown_app(error: BaseException | None) -> None:
        calls.append("teardown_appcontext")

    @app.websocket("/ws")
    async def ws() -> None:
        calls.append("view")
        await websocket.send(await websocket.receive())

    signals = (
        appcontext_pushed,
        websocket_started,
        websocket_finished,
        websocket_tearing_down,
        appcontext_tearing_down,
        appcontext_popped,
    )
    with recording(app, *signals, calls=calls):
        async with app.test_client().websocket("/ws") as ws_client:
            await ws_client.send("hi")
            assert await ws_client.receive() == "hi"
            with pytest.raises(WebsocketDisconnectError):
                await ws_client.receive()
    assert names(calls) == [
        "appcontext-pushed",
        "websocket-started",
        "before_websocket",
        "view",
        "websocket-finished",
        "teardown_websocket",
        "websocket-tearing-down",
        "teardown_appcontext",
        "appcontext-tearing-down",
        "appcontext-popped",
    ]
    sent = {call[0]: call for call in calls if not isinstance(call, str)}
    assert all(call[1] for call in sent.values())
    assert sent["websocket-finished"][2] == {"response": None}  # accepted: no response
    assert sent["websocket-tearing-down"][2] == {"exc": None}


async def test_a_rejected_websocket_is_finished_with_its_response(app: App) -> None:
    @app.websocket("/ws")
    async def ws() -> tuple[str, int]:
        return "go away", 401

    calls: list[Any] = []
    with recording(app, websocket_finished, calls=calls), pytest.raises(WebsocketResponseError):
        async with app.test_client().websocket("/ws"):
            pass
    [(_, _, kwargs)] = calls
    assert kwargs["response"].status_code == 401


async def test_got_websocket_exception_is_sent_for_a_crash_after_and_before_accepting(app: App) -> None:
    @app.websocket("/after")
    async def after() -> None:
        await websocket.accept()
        raise Boom("after accepting")

    @app.websocket("/before")
    async def before() -> None:
        raise Boom("before accepting")

    calls: list[Any] = []
    with recording(app, got_websocket_exception, got_request_exception, calls=calls):
        async with app.test_client().websocket("/after") as ws_client:
            with pytest.raises(WebsocketDisconnectError) as closed:
                await ws_client.receive()
        assert closed.value.code == 1011
        with pytest.raises(WebsocketResponseError, match="500"):
            async with app.test_client().websocket("/before"):
                pass
    assert [(name, str(kwargs["exception"])) for name, _, kwargs in calls] == [
        ("got-websocket-exception", "after accepting"),
        ("got-websocket-exception", "before accepting"),
    ]


async def test_with_testing_got_websocket_exception_is_sent_and_the_test_gets_the_error(app: App) -> None:
    app.config["TESTING"] = True

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.accept()
        raise Boom("propagated")

    calls: list[Any] = []
    with recording(app, got_websocket_exception, calls=calls), pytest.raises(Boom, match="propagated"):
        async with app.test_client().websocket("/ws") as ws_client:
            await ws_client.receive()
    assert names(calls) == ["got-websocket-exception"]


async def test_a_raising_websocket_finished_receiver_closes_an_accepted_websocket_with_1011(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.accept()

    def broken(sender: App, response: Response | None) -> None:
        raise Boom("in websocket_finished")

    with websocket_finished.connected_to(broken, app):
        async with app.test_client().websocket("/ws") as ws_client:
            with pytest.raises(WebsocketDisconnectError) as closed:
                await ws_client.receive()
    assert closed.value.code == 1011
    assert "in websocket_finished" in caplog.text


# -- flash, templates, contexts, the lifespan ------------------------------------------------


async def test_flash_sends_message_flashed_with_the_message_and_category(app: App) -> None:
    app.secret_key = "secret"

    @app.route("/")
    async def index() -> str:
        await flash("Saved", "info")
        await flash("Plain")
        return "ok"

    calls: list[Any] = []
    with recording(app, message_flashed, calls=calls):
        await app.test_client().get("/")
    assert [kwargs for _, _, kwargs in calls] == [
        {"message": "Saved", "category": "info"},
        {"message": "Plain", "category": "message"},
    ]


async def test_a_rendered_template_is_announced_before_and_after_with_its_template_and_context(app: App) -> None:
    calls: list[Any] = []

    @app.route("/")
    async def index() -> str:
        page = await render_template_string("Hi {{ name }}", name="Ann")
        calls.append("rendered")
        return page

    with recording(app, before_render_template, template_rendered, calls=calls):
        response = await app.test_client().get("/")
    assert await response.get_data(as_text=True) == "Hi Ann"
    assert names(calls) == ["before-render-template", "template-rendered", "rendered"]
    for _, from_app, kwargs in calls[:2]:
        assert from_app and kwargs["context"]["name"] == "Ann"
        assert kwargs["template"].render(name="Bo") == "Hi Bo"


async def test_a_streamed_template_is_rendered_once_its_last_piece_is_made(app: App) -> None:
    calls: list[Any] = []

    async def pieces() -> Any:
        for word in ("a", "b"):
            calls.append(f"piece {word}")
            yield word

    @app.route("/")
    async def index() -> Any:
        return await stream_template_string("{% for w in words %}{{ w }}{% endfor %}", words=pieces())

    with recording(app, before_render_template, template_rendered, calls=calls):
        response = await app.test_client().get("/")
    assert await response.get_data(as_text=True) == "ab"
    assert names(calls) == ["before-render-template", "piece a", "piece b", "template-rendered"]


async def test_a_raising_template_rendered_receiver_cuts_a_streamed_template_short(app: App) -> None:
    @app.route("/")
    async def index() -> Any:
        return await stream_template_string("{{ 'a' }}b")

    def broken(sender: App, template: Any, context: dict[str, Any]) -> None:
        raise Boom("in template_rendered")

    with template_rendered.connected_to(broken, app):
        with pytest.raises(IncompleteResponseError, match="HTTP 200, 2 bytes"):
            await app.test_client().get("/")
        app.config["TESTING"] = True
        with pytest.raises(Boom, match="in template_rendered"):
            await app.test_client().get("/")


async def test_teardown_appcontext_runs_for_an_app_context_with_its_error_last_registered_first(app: App) -> None:
    calls: list[Any] = []

    @app.teardown_appcontext
    def first(error: BaseException | None) -> None:  # a plain one runs in a worker thread
        calls.append(("first", error))

    @app.teardown_appcontext
    async def second(error: BaseException | None) -> None:
        calls.append(("second", error))

    with (
        recording(app, appcontext_pushed, appcontext_tearing_down, appcontext_popped, calls=calls),
        pytest.raises(Boom),
    ):
        async with app.app_context():
            raise Boom("in the block")
    assert names(calls) == ["appcontext-pushed", "second", "first", "appcontext-tearing-down", "appcontext-popped"]
    assert isinstance(calls[1][1], Boom) and calls[1][1] is calls[2][1] is calls[3][2]["exc"]


async def test_a_nested_push_of_one_app_context_tears_down_once(app: App) -> None:
    torn: list[Any] = []
    app.teardown_appcontext(lambda error: torn.append(error))
    context = app.app_context()
    async with context:
        async with context:
            pass
        assert torn == []
    assert torn == [None]


async def test_teardown_appcontext_runs_for_each_request_and_for_the_lifespan(app: App) -> None:
    torn: list[Any] = []

    @app.teardown_appcontext
    async def teardown_app(error: BaseException | None) -> None:
        torn.append(error)

    @app.route("/")
    async def index() -> str:
        return "ok"

    async with app.test_app() as test_app:
        client = test_app.test_client()
        await client.get("/")
        await client.get("/")
        assert torn == [None, None]
    assert torn == [None, None, None]  # the lifespan's own app context


async def test_the_lifespans_teardown_appcontext_gets_the_error_that_ended_it(app: App) -> None:
    torn: list[Any] = []
    app.teardown_appcontext(torn.append)

    @app.before_serving
    async def start() -> None:
        raise Boom("at startup")

    with pytest.raises(Boom):
        async with app.test_app():
            pass
    [error] = torn
    assert isinstance(error, Boom) and str(error) == "at startup"


async def test_got_serving_exception_is_sent_when_startup_fails(app: App) -> None:
    @app.before_serving
    async def start() -> None:
        raise Boom("at startup")

    calls: list[Any] = []
    with recording(app, got_serving_exception, calls=calls), pytest.raises(Boom):
        async with app.test_app():
            pass
    assert [str(kwargs["exception"]) for _, _, kwargs in calls] == ["at startup"]


async def test_got_background_exception_is_sent_when_a_background_task_fails(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    async def fails() -> None:
        raise Boom("in the background")

    calls: list[Any] = []
    with recording(app, got_background_exception, calls=calls):
        async with app.test_app():
            app.add_background_task(fails)
    assert [str(kwargs["exception"]) for _, _, kwargs in calls] == ["in the background"]
    assert "in the background" in caplog.text  # still logged


# -- receivers -----------------------------------------------------------------------------


async def test_an_async_callable_object_and_an_async_function_behind_a_plain_decorator_are_awaited(app: App) -> None:
    calls: list[str] = []

    class Receiver:
        async def __call__(self, sender: App) -> None:
            await trio.lowlevel.checkpoint()
            calls.append("object")

    def plain_decorator(function: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any) -> Any:
            return function(*args)  # the coroutine, which blinker's send_async would not await

        return wrapper

    @plain_decorator
    async def decorated(sender: App) -> None:
        await trio.lowlevel.checkpoint()
        calls.append("decorated")

    instance = Receiver()

    @app.route("/")
    async def index() -> str:
        return "ok"

    with (
        request_started.connected_to(decorated, app),
        request_started.connected_to(instance, app),
    ):
        await app.test_client().get("/")
    assert sorted(calls) == ["decorated", "object"]


async def test_a_muted_signal_calls_no_receiver(app: App) -> None:
    @app.route("/")
    async def index() -> str:
        return "ok"

    calls: list[Any] = []
    with recording(app, request_started, calls=calls), request_started.muted():
        await app.test_client().get("/")
    assert calls == []


# -- the cost when unused ----------------------------------------------------------------------


@pytest.fixture
def sends(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every call of ``trioweb.signals.send`` (and ``send_reporting``), in every trioweb module that imported it."""
    made: list[str] = []
    original_send, original_reporting = signals_module.send, signals_module.send_reporting

    async def counting_send(signal: Signal, sender: Any, /, **kwargs: Any) -> Any:
        made.append(signal.name)  # type: ignore[attr-defined]
        return await original_send(signal, sender, **kwargs)

    async def counting_reporting(signal: Signal, app: App, /, **kwargs: Any) -> None:
        made.append(signal.name)  # type: ignore[attr-defined]
        await original_reporting(signal, app, **kwargs)

    patched = 0
    for name, module in list(sys.modules.items()):
        if name.startswith("trioweb") and module is not signals_module:
            for attribute, replacement in (("send", counting_send), ("send_reporting", counting_reporting)):
                if getattr(module, attribute, None) in (original_send, original_reporting):
                    monkeypatch.setattr(module, attribute, replacement)
                    patched += 1
    assert patched >= 6  # app (2), ctx, helpers, templating, lifespan
    return made


def exercise_everything(app: App) -> Callable[[], Any]:
    """An app whose one request and one websocket pass every send point but the error ones."""
    app.secret_key = "secret"

    @app.route("/")
    async def index() -> Any:
        await flash("hi")
        await render_template_string("x")
        return await stream_template_string("y")

    @app.route("/crash")
    async def crash() -> str:
        raise Boom

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.accept()

    async def run() -> None:
        async with app.test_app() as test_app:
            client = test_app.test_client()
            assert (await client.get("/")).status_code == 200
            assert (await client.get("/crash")).status_code == 500
            async with client.websocket("/ws") as ws_client:
                with pytest.raises(WebsocketDisconnectError):
                    await ws_client.receive()

    return run


async def test_without_receivers_no_send_is_made_at_any_point(app: App, sends: list[str]) -> None:
    run = exercise_everything(app)
    await run()
    assert sends == []
    # The same run with a receiver on every signal makes the sends, so the count above can see them.
    with recording(app, *EVERY_SIGNAL.values(), calls=[]):
        await run()
    assert set(sends) >= {
        signal.name  # type: ignore[attr-defined]
        for name, signal in EVERY_SIGNAL.items()
        if name not in ("got_websocket_exception", "got_serving_exception", "got_background_exception")
    }


async def test_a_weak_receiver_that_is_collected_leaves_the_signal_unconnected(app: App, sends: list[str]) -> None:
    @app.route("/")
    async def index() -> str:
        return "ok"

    def receiver(sender: App) -> None:
        pass

    request_started.connect(receiver, app)  # weak=True, blinker's default
    assert request_started.receivers
    del receiver
    gc.collect()
    assert not request_started.receivers
    await app.test_client().get("/")
    assert sends == []


def test_connect_via_holds_its_receiver_strongly_until_disconnected_even_after_its_app_is_gone() -> None:
    app = App("short-lived")

    @request_started.connect_via(app)
    def receiver(sender: App) -> None:
        pass

    del app
    gc.collect()
    assert request_started.receivers  # every app's requests now test receivers_for(); disconnect to stop that
    request_started.disconnect(receiver)
    assert not request_started.receivers


async def test_a_raising_appcontext_pushed_receiver_fails_the_block_and_leaves_nothing_set(
    app: App,
) -> None:
    def broken(sender: App) -> None:
        raise Boom("in appcontext_pushed")

    with appcontext_pushed.connected_to(broken, app), pytest.raises(Boom):
        async with app.app_context():
            raise AssertionError("the block must not run")
    assert not has_app_context()


async def test_a_raising_websocket_finished_receiver_turns_a_rejection_into_a_500(app: App) -> None:
    @app.websocket("/ws")
    async def ws() -> tuple[str, int]:
        return "go away", 401

    def broken(sender: App, response: Response | None) -> None:
        if response is not None and response.status_code == 401:
            raise Boom("in websocket_finished")

    with websocket_finished.connected_to(broken, app), pytest.raises(WebsocketResponseError, match="500"):
        async with app.test_client().websocket("/ws"):
            pass


async def test_a_raising_message_flashed_receiver_fails_the_flash_call_like_any_error_in_the_view(app: App) -> None:
    app.secret_key = "secret"

    @app.route("/")
    async def index() -> str:
        await flash("Saved")
        return "not reached"

    def broken(sender: App, message: str, category: str) -> None:
        raise Boom("in message_flashed")

    with message_flashed.connected_to(broken, app):
        assert (await app.test_client().get("/")).status_code == 500


async def test_request_finished_hears_every_response_a_404_included(app: App) -> None:
    calls: list[Any] = []
    with recording(app, request_finished, calls=calls):
        await app.test_client().get("/nowhere")
    [(_, _, kwargs)] = calls
    assert kwargs["response"].status_code == 404


# -- teardown functions that raise -----------------------------------------------------------


def raising_teardowns(app: App, hook: str, ran: list[str]) -> None:
    """On ``app``: a ``hook`` function that raises for an exchange (not for the lifespan's app context), and one
    registered before it (so it runs after it), the other teardown functions, and ``appcontext_popped``."""

    def before(error: BaseException | None) -> None:  # a plain one, in a worker thread
        ran.append(f"{hook} registered first")

    getattr(app, hook)(before)

    @getattr(app, hook)
    async def broken(error: BaseException | None) -> None:
        if has_request_context() or has_websocket_context():
            raise Boom(f"in {hook}")

    for other in ("teardown_request", "teardown_websocket", "teardown_appcontext"):
        if other != hook:
            getattr(app, other)(lambda error, other=other: ran.append(other))


@pytest.mark.parametrize("hook", ["teardown_request", "teardown_appcontext"])
async def test_a_raising_teardown_function_is_logged_the_others_run_and_the_client_gets_its_response(
    app: App, live_server: str, hook: str, caplog: pytest.LogCaptureFixture
) -> None:
    ran: list[str] = []
    raising_teardowns(app, hook, ran)
    popped, pops = trio.open_memory_channel[None](2)

    @app.route("/")
    async def index() -> str:
        return "answered"

    with appcontext_popped.connected_to(lambda sender: popped.send_nowait(None), app):
        async with httpx.AsyncClient(base_url=f"http://{live_server}") as client:
            response = await client.get("/")  # not "Server disconnected without sending a response"
            assert response.text == "answered"
            assert (await client.get("/")).text == "answered"  # and the connection serves on
        with trio.fail_after(5):
            for _ in range(2):
                await pops.receive()  # on Hypercorn the teardown may end after the client has the response
    assert ran.count(f"{hook} registered first") == 2
    assert ran.count("teardown_appcontext" if hook == "teardown_request" else "teardown_request") == 2
    assert "Exception on GET /\n" in caplog.text and f"in {hook}" in caplog.text
    assert "Connection from" not in caplog.text and "Error in ASGI Framework" not in caplog.text


@pytest.mark.parametrize("hook", ["teardown_request", "teardown_appcontext"])
async def test_with_testing_a_raising_teardown_function_is_raised_in_the_test_after_every_teardown(
    app: App, hook: str
) -> None:
    app.config["TESTING"] = True
    ran: list[str] = []
    raising_teardowns(app, hook, ran)

    @app.route("/")
    async def index() -> str:
        return "answered"

    with pytest.raises(Boom, match=f"in {hook}"):
        await app.test_client().get("/")
    assert f"{hook} registered first" in ran
    assert ("teardown_appcontext" if hook == "teardown_request" else "teardown_request") in ran


@pytest.mark.parametrize("hook", ["teardown_websocket", "teardown_appcontext"])
async def test_a_raising_teardown_function_of_a_websocket_is_logged_after_its_close(
    app: App, live_server: str, hook: str, caplog: pytest.LogCaptureFixture
) -> None:
    ran: list[str] = []
    raising_teardowns(app, hook, ran)
    popped = trio.Event()

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.send(await websocket.receive())

    with appcontext_popped.connected_to(lambda sender: popped.set(), app):
        stream, received = await open_raw_websocket(live_server)
        async with stream:
            await stream.send_all(client_frame(TEXT, b"hi"))
            with trio.fail_after(5):
                while len(received) < 8:
                    received += await stream.receive_some(65536)
            assert received.startswith(b"\x81\x02hi\x88")  # the echo, then a close frame
            assert int.from_bytes(received[6:8], "big") == 1000
            await stream.send_all(close_frame(1000, ""))
            await read_until_closed(stream)
        with trio.fail_after(5):
            await popped.wait()
    assert f"{hook} registered first" in ran
    assert ("teardown_appcontext" if hook == "teardown_websocket" else "teardown_websocket") in ran
    assert "Exception on websocket GET /ws\n" in caplog.text and f"in {hook}" in caplog.text
    assert "Connection from" not in caplog.text and "Error in ASGI Framework" not in caplog.text


async def test_with_testing_a_raising_teardown_websocket_function_is_raised_in_the_test_after_the_close(
    app: App,
) -> None:
    app.config["TESTING"] = True
    ran: list[str] = []
    raising_teardowns(app, "teardown_websocket", ran)

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.accept()

    with pytest.raises(Boom, match="in teardown_websocket"):
        async with app.test_client().websocket("/ws") as ws_client:
            with pytest.raises(WebsocketDisconnectError) as closed:
                await ws_client.receive()
            assert closed.value.code == 1000
    assert ran == ["teardown_websocket registered first", "teardown_appcontext"]


async def test_every_teardown_appcontext_function_runs_and_the_first_error_leaves_the_block(app: App) -> None:
    ran: list[str] = []
    app.teardown_appcontext(lambda error: ran.append("registered first"))

    @app.teardown_appcontext
    async def broken(error: BaseException | None) -> None:
        raise Boom("in teardown_appcontext")

    with appcontext_popped.connected_to(lambda sender: ran.append("popped"), app), pytest.raises(Boom):
        async with app.app_context():
            pass
    assert ran == ["registered first", "popped"]
    assert not has_app_context()


async def test_several_raising_teardown_functions_come_out_together_in_an_exception_group(app: App) -> None:
    for text in ("first", "second"):

        def broken(error: BaseException | None, text: str = text) -> None:
            raise Boom(text)

        app.teardown_appcontext(broken)
    with pytest.raises(ExceptionGroup) as raised:
        async with app.app_context():
            pass
    assert [str(error) for error in raised.value.exceptions] == ["second", "first"]


# -- a client that leaves ------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["view", "request_finished"])
async def test_a_client_that_leaves_still_gets_the_teardown_run_to_its_end(
    app: App, live_server: str, where: str
) -> None:
    ran: list[Any] = []
    waiting = trio.Event()
    popped, pops = trio.open_memory_channel[None](1)

    @app.route("/")
    async def index() -> str:
        if where == "view":
            waiting.set()
            await trio.sleep_forever()
        return "never sent"

    async def slow(sender: App, response: Response) -> None:
        waiting.set()
        await trio.sleep_forever()

    @app.teardown_request
    async def teardown(error: BaseException | None) -> None:
        ran.append(("teardown_request", type(error)))
        await trio.lowlevel.checkpoint()  # not cancelled again: the exchange's cancellation is over
        ran.append("teardown_request went on")

    app.teardown_appcontext(lambda error: ran.append("plain teardown_appcontext"))  # in a worker thread

    def on_popped(sender: App) -> None:
        ran.append("appcontext_popped")
        popped.send_nowait(None)

    with ExitStack() as stack:
        if where == "request_finished":
            stack.enter_context(request_finished.connected_to(slow, app))
        stack.enter_context(appcontext_popped.connected_to(on_popped, app))
        host, port = live_server.rsplit(":", 1)
        stream = await trio.open_tcp_stream(host, int(port))
        await stream.send_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        with trio.fail_after(5):
            await waiting.wait()
            await stream.aclose()  # the client leaves
            await pops.receive()
    assert ran == [
        ("teardown_request", trio.Cancelled),
        "teardown_request went on",
        "plain teardown_appcontext",
        "appcontext_popped",
    ]


async def test_the_teardown_after_a_client_left_is_cut_off_after_its_grace(
    app: App, autojump_clock: trio.testing.MockClock
) -> None:
    cut_off: list[float] = []

    @app.route("/")
    async def index() -> str:
        await trio.sleep_forever()
        return "never sent"

    @app.teardown_request
    async def teardown(error: BaseException | None) -> None:
        started = trio.current_time()
        try:
            await trio.sleep_forever()
        finally:
            cut_off.append(trio.current_time() - started)

    with trio.move_on_after(1):
        await app.test_client().get("/")  # the client gives up after a second, and waits for the server's end
    assert cut_off == [pytest.approx(TEARDOWN_TIMEOUT)]
