"""Websockets through the test client and through real clients on a socket."""

import gc
import json
import socket
import struct

import h11
import pytest
import trio
import trio.testing
from trio_websocket import ConnectionClosed, ConnectionRejected, open_websocket_url
from websockets.client import ClientProtocol
from websockets.frames import Close
from websockets.protocol import State
from websockets.uri import parse_uri
from wsproto import ConnectionType
from wsproto.connection import Connection
from wsproto.events import BytesMessage, TextMessage

from trioweb import App, CancelledError, abort, websocket
from trioweb.server import HTTPConnection
from trioweb.server._frames import data_frame
from trioweb.testing import WebsocketDisconnectError, WebsocketResponseError

from .conftest import TEXT, client_frame, open_raw_websocket, read_until_closed


@pytest.fixture
def echo(app: App) -> App:
    @app.websocket("/ws")
    async def ws() -> None:
        while True:
            await websocket.send(await websocket.receive())

    return app


async def test_echo_keeps_types_and_empty_messages(echo: App) -> None:
    async with echo.test_client().websocket("/ws") as ws:
        for message in ("text", b"bytes", "", b""):
            await ws.send(message)
            received = await ws.receive(timeout=5)
            assert received == message
            assert type(received) is type(message)


async def test_request_attributes(app: App) -> None:
    @app.websocket("/info/<int:n>")
    async def info(n: int) -> None:
        auth = websocket.authorization
        await websocket.accept(subprotocol="chat.v2")
        await websocket.send_json(
            {
                "n": n,
                "path": websocket.path,
                "args": websocket.args.to_dict(),
                "header": websocket.headers.get("X-Token"),
                "cookies": dict(websocket.cookies),
                "user": auth.username if auth else None,
                "subprotocols": websocket.requested_subprotocols,
                "remote_addr": websocket.remote_addr,
            }
        )

    async with app.test_client().websocket(
        "/info/3",
        query_string={"q": "x"},
        headers={"X-Token": "t", "Cookie": "a=b", "Authorization": "Basic dXNlcjpwdw=="},
        subprotocols=["chat.v1", "chat.v2"],
    ) as ws:
        assert ws.subprotocol == "chat.v2"
        assert await ws.receive_json(timeout=5) == {
            "n": 3,
            "path": "/info/3",
            "args": {"q": "x"},
            "header": "t",
            "cookies": {"a": "b"},
            "user": "user",
            "subprotocols": ["chat.v1", "chat.v2"],
            "remote_addr": "127.0.0.1",
        }


@pytest.mark.parametrize(
    ("rule", "status", "body"),
    [("/returns", 401, b"Invalid password"), ("/aborts", 403, None), ("/closes", 403, None), ("/crashes", 500, None)],
)
async def test_rejections(app: App, rule: str, status: int, body: bytes | None) -> None:
    @app.websocket("/returns")
    async def returns() -> tuple[str, int]:
        return "Invalid password", 401

    @app.websocket("/aborts")
    async def aborts() -> None:
        abort(403)

    @app.websocket("/closes")
    async def closes() -> None:
        await websocket.close(1000)

    @app.websocket("/crashes")
    async def crashes() -> None:
        raise ValueError("before accepting")

    with pytest.raises(WebsocketResponseError) as raised:
        async with app.test_client().websocket(rule):
            pass
    assert raised.value.response.status_code == status
    if body is not None:
        assert await raised.value.response.get_data() == body


async def test_routing_choices(app: App) -> None:
    @app.route("/http-only")
    async def http_only() -> str:
        return "http"

    client = app.test_client()
    for path, status in (("/http-only", 400), ("/nowhere", 404)):
        with pytest.raises(WebsocketResponseError) as raised:
            async with client.websocket(path):
                pass
        assert raised.value.response.status_code == status


async def test_close_codes_from_the_server(app: App) -> None:
    @app.websocket("/returns")
    async def returns() -> None:
        await websocket.accept()

    @app.websocket("/closes")
    async def closes() -> None:
        await websocket.accept()
        await websocket.close(4000, "done here")

    @app.websocket("/crashes")
    async def crashes() -> None:
        await websocket.send("hi")
        raise ValueError("after accepting")

    client = app.test_client()
    for rule, code, reason in (("/returns", 1000, ""), ("/closes", 4000, "done here"), ("/crashes", 1011, None)):
        async with client.websocket(rule) as ws:
            if rule == "/crashes":
                assert await ws.receive(timeout=5) == "hi"
            with pytest.raises(WebsocketDisconnectError) as raised:
                await ws.receive(timeout=5)
            assert raised.value.code == code
            if reason is not None:
                assert raised.value.reason == reason


def add_ticker_that_records_its_close(app: App) -> tuple[dict[str, object], trio.Event]:
    """A /ws view whose producer and consumer run in a nursery; it records the close it is cancelled with."""
    seen: dict[str, object] = {}
    finished = trio.Event()

    @app.websocket("/ws")
    async def ws() -> None:
        try:
            async with trio.open_nursery() as nursery:

                async def producer() -> None:
                    while True:
                        await websocket.send("tick")
                        await trio.sleep(0.01)

                async def consumer() -> None:
                    while True:
                        await websocket.receive()

                nursery.start_soon(producer)
                nursery.start_soon(consumer)
        except* CancelledError:
            seen["code"], seen["reason"] = websocket.close_code, websocket.close_reason
            finished.set()
            raise

    return seen, finished


async def test_disconnect_cancels_the_view_with_the_client_code(app: App) -> None:
    seen, finished = add_ticker_that_records_its_close(app)

    async with app.test_client().websocket("/ws") as client_ws:
        assert await client_ws.receive(timeout=5) == "tick"
        await client_ws.close(4001, "going away")
    with trio.fail_after(5):
        await finished.wait()
    assert seen == {"code": 4001, "reason": "going away"}


async def test_swallowed_cancellation_is_warned_about(app: App, caplog: pytest.LogCaptureFixture) -> None:
    done = trio.Event()

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.accept()
        try:
            await trio.sleep_forever()
        except CancelledError:
            pass  # wrong: must re-raise
        finally:
            done.set()

    async with app.test_client().websocket("/ws") as client_ws:
        await client_ws.close()
    with trio.fail_after(5):
        await done.wait()
    assert "swallowed trio.Cancelled" in caplog.text


async def test_real_clients_on_a_socket(echo: App, live_server: str) -> None:
    async with open_websocket_url(f"ws://{live_server}/ws") as ws:
        for message in ("hello", b"\x00\x01", "", b""):
            await ws.send_message(message)
            assert await ws.get_message() == message


async def test_large_messages_on_a_socket(echo: App, live_server: str) -> None:
    """Messages larger than a socket takes at once, both ways, and of both types."""
    binary = bytes(range(256)) * (32 * 1024)  # 8 MiB
    text = "trioweb " * (1024 * 1024)
    async with open_websocket_url(f"ws://{live_server}/ws", max_message_size=16 * 1024 * 1024) as ws:
        for message in (binary, text, b"small"):
            await ws.send_message(message)
            with trio.fail_after(10):
                assert await ws.get_message() == message


async def test_an_open_websocket_keeps_none_of_its_http_state(echo: App, native_server: str) -> None:
    """An idle websocket holds what it keeps for as long as it is open: the
    handshake's h11 request and the h11 connection are let go at the upgrade."""
    async with (
        open_websocket_url(f"ws://{native_server}/ws") as first,
        open_websocket_url(f"ws://{native_server}/ws") as second,
    ):
        for ws in (first, second):
            await ws.send_message("x")
            assert await ws.get_message() == "x"
        gc.collect()
        objects = gc.get_objects()
        connections = [o for o in objects if type(o) is HTTPConnection]
        assert len(connections) == 2
        assert not any(hasattr(connection, "conn") for connection in connections)
        assert not any(type(o) is h11.Request for o in objects)


class StepCounter(trio.abc.Instrument):
    """Counts the scheduler's steps of one task: each is a trip through the scheduler."""

    def __init__(self) -> None:
        self.task: trio.lowlevel.Task | None = None
        self.steps = 0

    def before_task_step(self, task: trio.lowlevel.Task) -> None:
        if task is self.task:
            self.steps += 1


async def test_a_send_takes_one_trip_through_the_scheduler(app: App, native_server: str) -> None:
    """In a fan-out each message is one send per subscriber: the send lock, when
    free, adds no trip of its own to the send's checkpoint (it used to double them)."""
    counter = StepCounter()
    sends = 50

    @app.websocket("/burst")
    async def burst() -> None:
        await websocket.send("start")
        counter.task = trio.lowlevel.current_task()
        trio.lowlevel.add_instrument(counter)
        try:
            for number in range(sends):
                await websocket.send(str(number))
        finally:
            trio.lowlevel.remove_instrument(counter)

    async with open_websocket_url(f"ws://{native_server}/burst") as ws:
        with trio.fail_after(10):
            received = [await ws.get_message() for _ in range(sends + 1)]
    assert received == ["start", *map(str, range(sends))]
    assert sends <= counter.steps <= sends + 5


async def test_concurrent_sends_wait_for_each_other_in_order(app: App, native_server: str) -> None:
    """A send that finds the lock taken waits for it; every message arrives whole."""

    @app.websocket("/both")
    async def both() -> None:
        await websocket.accept()

        async def sender(name: str) -> None:
            for number in range(20):
                await websocket.send(f"{name}{number}" * 1000)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(sender, "a")
            nursery.start_soon(sender, "b")

    async with open_websocket_url(f"ws://{native_server}/both") as ws:
        with trio.fail_after(10):
            received = [await ws.get_message() for _ in range(40)]
    for name in "ab":
        assert [m for m in received if m.startswith(name)] == [f"{name}{n}" * 1000 for n in range(20)]


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 70000])
@pytest.mark.parametrize("kind", [str, bytes])
def test_data_frames_are_the_ones_wsproto_writes(size: int, kind: type) -> None:
    """The native server encodes a message's frame itself, byte for byte as wsproto's server does."""
    data = ("é" * size)[:size] if kind is str else bytes(range(256)) * (size // 256) + bytes(size % 256)
    server = Connection(ConnectionType.SERVER)
    event = TextMessage(data=data) if kind is str else BytesMessage(data=data)
    assert data_frame(data) == server.send(event)


async def test_a_client_that_drops_the_connection_mid_stream_ends_the_view(app: App, native_server: str) -> None:
    """A send on a connection reset by the client breaks it: the session ends (1006), the server goes on."""
    ended: list[int | None] = []
    done = trio.Event()

    @app.websocket("/ws")
    async def flood() -> None:
        while True:
            await websocket.send("x" * 60000)

    @app.teardown_websocket
    async def after(error: BaseException | None) -> None:
        ended.append(websocket.close_code)
        done.set()

    stream, _ = await open_raw_websocket(native_server)
    with trio.fail_after(5):
        await stream.receive_some(65536)
    stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # a reset
    await stream.aclose()
    with trio.fail_after(5):
        await done.wait()
    assert ended == [1006]
    async with open_websocket_url(f"ws://{native_server}/ws") as ws:
        with trio.fail_after(5):
            assert await ws.get_message() == "x" * 60000


async def test_trio_websocket_sees_rejection_and_close_codes(app: App, live_server: str) -> None:
    @app.websocket("/reject")
    async def reject() -> tuple[str, int]:
        return "no", 403

    @app.websocket("/crash")
    async def crash() -> None:
        await websocket.accept()
        raise RuntimeError("boom")

    with pytest.raises(ConnectionRejected) as rejected:
        async with open_websocket_url(f"ws://{live_server}/reject"):
            pass
    assert rejected.value.status_code == 403
    async with open_websocket_url(f"ws://{live_server}/crash") as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await ws.get_message()
    assert closed.value.reason is not None and closed.value.reason.code == 1011


async def test_websockets_package_client(echo: App, live_server: str) -> None:
    """The ``websockets`` package's sans-I/O client, driven over a trio socket."""
    host, port = live_server.split(":")
    protocol = ClientProtocol(parse_uri(f"ws://{live_server}/ws"))
    stream = await trio.open_tcp_stream(host, int(port))
    async with stream:
        request = protocol.connect()
        protocol.send_request(request)

        async def flush() -> None:
            for data in protocol.data_to_send():
                if data:
                    await stream.send_all(data)

        async def next_event():  # type: ignore[no-untyped-def]
            while True:
                events = protocol.events_received()
                if events:
                    return events[0]
                data = await stream.receive_some(65536)
                protocol.receive_data(data)
                await flush()

        await flush()
        with trio.fail_after(5):
            handshake = await next_event()
            assert handshake.status_code == 101
            protocol.send_text(json.dumps({"a": 1}).encode())
            await flush()
            frame = await next_event()
            assert json.loads(frame.data) == {"a": 1}
            protocol.send_close(4321, "bye")
            await flush()
            while protocol.state is not State.CLOSED:
                data = await stream.receive_some(65536)
                protocol.receive_data(data)
                if not data:
                    break
    assert protocol.close_rcvd == Close(4321, "bye")


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Sec-WebSocket-Version": "8"}, b"426"),
        ({"Sec-WebSocket-Key": "not-base64!"}, b"400"),
    ],
)
@pytest.mark.native_only("the handshake is Hypercorn's: 400 for any bad version, and it does not check the key")
async def test_invalid_handshakes_are_refused(
    echo: App, live_server: str, headers: dict[str, str], status: bytes
) -> None:
    from .conftest import raw_exchange

    fields = {
        "Host": "x",
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version": "13",
        **headers,
    }
    head = "GET /ws HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in fields.items()) + "\r\n"
    received = await raw_exchange(live_server, head.encode())
    assert received.startswith(b"HTTP/1.1 " + status)
    if status == b"426":
        assert b"sec-websocket-version: 13" in received.lower()


async def test_post_upgrade_is_refused(echo: App, live_server: str) -> None:
    from .conftest import raw_exchange

    head = (
        b"POST /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nContent-Length: 0\r\n\r\n"
    )
    # The native server refuses the handshake; Hypercorn takes a POST as plain
    # HTTP, which a websocket-only route refuses with 400 as well.
    received = await raw_exchange(live_server, head, read_until_close=False)
    assert received.startswith(b"HTTP/1.1 400")


async def test_message_over_the_limit_closes_1009(app: App, sink: list[tuple[int | None, str | None]]) -> None:
    app.config["WEBSOCKET_MAX_MESSAGE_SIZE"] = 1000
    async with app.test_client().websocket("/ws") as client_ws:
        await client_ws.send(b"x" * 2000)
        with pytest.raises(WebsocketDisconnectError) as raised:
            await client_ws.receive(timeout=5)
    assert raised.value.code == 1009
    assert [code for code, _ in sink] == [1009]


async def test_reset_after_protocol_error_does_not_stop_the_server(echo: App, live_server: str) -> None:
    import socket
    import struct

    host, port = live_server.split(":")
    for _ in range(3):
        sock = trio.socket.socket()
        await sock.connect((host, int(port)))
        await sock.send(
            b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        with trio.fail_after(5):
            assert (await sock.recv(4096)).startswith(b"HTTP/1.1 101")
        await sock.send(b"\x8f\x80\x00\x00\x00\x00")  # unmasked-bit set, reserved opcode: protocol error
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    async with open_websocket_url(f"ws://{live_server}/ws") as ws:
        await ws.send_message("still here")
        assert await ws.get_message() == "still here"


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (client_frame(TEXT, b"\xff\xfe"), 1007),  # invalid UTF-8
        (client_frame(0x3, b""), 1002),  # a reserved opcode
        (bytes((0x81, 0x00)), 1002),  # a client frame without a mask
    ],
)
async def test_protocol_errors_are_answered_with_a_close_frame(
    app: App, sink: list[tuple[int | None, str | None]], native_server: str, frame: bytes, code: int
) -> None:
    stream, rest = await open_raw_websocket(native_server)
    async with stream:
        await stream.send_all(frame)
        received = await read_until_closed(stream, rest)
    # One close frame with that code (and wsproto's reason), then the end of the stream.
    assert received[0] == 0x88
    assert len(received) == 2 + received[1]
    assert int.from_bytes(received[2:4], "big") == code
    assert [seen for seen, _ in sink] == [code]
