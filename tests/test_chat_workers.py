"""The chat example across processes: ``trioweb serve examples.chat:app --workers 2`` with Redis, real clients.

The server runs as a subprocess with ``TRIOWEB_BROADCAST_URL`` pointing at a
throwaway ``redis-server`` (tests/redis_server.py). Members connect until
their join events (which name the worker holding each connection) show
both workers; then everyone talks and everyone hears everyone.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio
from trio_websocket import ConnectionClosed, WebSocketConnection, open_websocket_url

from tests.redis_server import RedisServer
from tests.test_cli import Output, gone

ROOT = Path(__file__).parent.parent
#: Members connected at a time, and at most, while looking for both workers.
BATCH, MOST = 4, 40


class ChatServer:
    """``trioweb serve examples.chat:app --workers 2`` on a free port, on Redis; killed with its workers after."""

    def __init__(self, broadcast_url: str) -> None:
        environment = {name: value for name, value in os.environ.items() if not name.startswith("TRIOWEB_")}
        environment["TRIOWEB_BROADCAST_URL"] = broadcast_url
        command = [sys.executable, "-m", "trioweb", "serve", "examples.chat:app", "--port", "0", "--workers", "2"]
        self.process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=environment)
        self.output = Output(self.process)
        match = self.output.wait_for(r"Serving on http://127\.0\.0\.1:(\d+) with 2 workers")
        self.port = int(match[1])
        self.workers = {int(pid) for pid in re.findall(r"Worker (\d+) started", "".join(self.output.seen))}
        assert len(self.workers) == 2

    def url(self, room: str, nick: str) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/{room}?nick={nick}"

    def stop(self) -> int:
        """SIGTERM, as a service manager stops it; the exit status. Then kill whatever is left."""
        try:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGTERM)
            return self.process.wait(timeout=20)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait(timeout=10)
            for pid in self.workers:
                if not gone(pid):
                    os.kill(pid, signal.SIGKILL)


@pytest.fixture
def chat_server(redis_server: RedisServer) -> Iterator[ChatServer]:
    server = ChatServer(redis_server.url)
    try:
        yield server
    finally:
        server.stop()


class Member:
    """A real websocket client in the lobby: the worker (pid) its join event named, and the messages it heard."""

    def __init__(self, nick: str) -> None:
        self.nick = nick
        self.worker = 0
        self.joined = trio.Event()
        self.heard: set[tuple[str, str]] = set()
        self.expected: set[tuple[str, str]] = set()
        self.heard_all = trio.Event()

    async def run(self, url: str, *, task_status: trio.TaskStatus[WebSocketConnection]) -> None:
        async with open_websocket_url(url) as ws:
            task_status.started(ws)
            while True:
                event = json.loads(await ws.get_message())
                if event["type"] == "join" and event["nick"] == self.nick:
                    self.worker = int(event["worker"].rpartition(":")[2])  # host:pid
                    self.joined.set()
                elif event["type"] == "message":
                    self.heard.add((event["nick"], event["text"]))
                    if self.expected and self.heard >= self.expected:
                        self.heard_all.set()


async def test_members_on_two_workers_hear_each_other_through_redis(chat_server: ChatServer) -> None:
    members: dict[str, tuple[Member, WebSocketConnection]] = {}
    async with trio.open_nursery() as nursery:
        with trio.fail_after(30):
            while {member.worker for member, _ in members.values()} != chat_server.workers:
                assert len(members) < MOST, f"{MOST} connections all landed on one worker"
                batch = [Member(f"m{len(members) + number}") for number in range(BATCH)]
                for member in batch:
                    ws = await nursery.start(member.run, chat_server.url("lobby", member.nick))
                    members[member.nick] = (member, ws)
                for member in batch:
                    await member.joined.wait()

        said = {(nick, f"hello from {nick}") for nick in members}
        for member, _ in members.values():
            member.expected = said
        with trio.fail_after(20):
            for nick, (_, ws) in members.items():
                await ws.send_message(f"hello from {nick}")
            for member, _ in members.values():
                await member.heard_all.wait()

        # A nickname stays unique in the room, whichever worker the namesake lands on.
        with trio.fail_after(20):
            for nick in list(members)[:BATCH]:
                async with open_websocket_url(chat_server.url("lobby", nick)) as namesake:
                    with pytest.raises(ConnectionClosed) as closed:
                        while True:
                            await namesake.get_message()
                assert (closed.value.reason.code, closed.value.reason.reason) == (1008, f"{nick} is taken in lobby")
        nursery.cancel_scope.cancel()
    assert chat_server.stop() == 0
