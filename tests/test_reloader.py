"""The reloader's supervisor in process: how it stops a child, on trio's mock clock."""

from __future__ import annotations

import logging
import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import trio
import trio.testing

from trioweb.cli import ScriptInfo
from trioweb.reloader import STOP_TIMEOUT, Supervisor, watched_paths

STUBBORN = """
import signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("ready", flush=True)
time.sleep(60)
"""


async def start(source: str) -> trio.Process:
    process = await trio.lowlevel.open_process([sys.executable, "-c", source], stdout=subprocess.PIPE)
    assert process.stdout is not None
    received = b""
    while not received.endswith(b"\n"):  # its SIGTERM handler is in place
        received += await process.stdout.receive_some()
    assert received == b"ready\n"
    return process


async def test_a_child_that_ignores_sigterm_is_killed_after_the_stop_timeout(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    process = await start(STUBBORN)
    started = trio.current_time()
    await Supervisor([], []).stop(process)
    assert process.returncode == -signal.SIGKILL
    assert trio.current_time() - started == pytest.approx(STOP_TIMEOUT)
    assert f"did not stop within {STOP_TIMEOUT:g} s: killing it" in caplog.text


async def test_a_second_signal_kills_the_child_at_once(autojump_clock: trio.testing.MockClock) -> None:
    process = await start(STUBBORN)
    supervisor = Supervisor([], [])
    async with trio.open_nursery() as nursery:
        nursery.start_soon(supervisor.stop, process)
        await trio.sleep(1)
        supervisor.hurry.set()
    assert process.returncode == -signal.SIGKILL
    assert trio.current_time() < STOP_TIMEOUT


async def test_a_child_that_stops_on_sigterm_is_not_killed(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    process = await start("import time\nprint('ready', flush=True)\ntime.sleep(60)\n")
    with trio.fail_after(10):
        await Supervisor([], []).stop(process)
    assert process.returncode == -signal.SIGTERM
    assert "killing" not in caplog.text


async def test_stopping_ends_the_file_watcher_at_once(tmp_path: Path) -> None:
    # The watcher waits for changes in a thread, for up to 5 s at a time, and a trio cancellation does not
    # reach the thread: without the stop event, Ctrl-C left the supervisor running for up to 5 s more.
    supervisor = Supervisor([], [str(tmp_path)])
    send, _ = trio.open_memory_channel[set[str]](math.inf)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(supervisor._watch_files, send)
        await trio.testing.wait_all_tasks_blocked()  # the watcher is waiting in its thread
        supervisor.stopping.set()
        nursery.cancel_scope.cancel()  # as Supervisor.run does when it stops
        cancelled = trio.current_time()
    assert trio.current_time() - cancelled < 2.5


def test_the_current_folder_is_watched_and_the_folder_of_an_app_path_outside_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project, elsewhere = (os.path.realpath(tmp_path / name) for name in ("project", "elsewhere"))
    os.mkdir(project)
    monkeypatch.chdir(project)
    assert watched_paths(ScriptInfo()) == [project]
    assert watched_paths(ScriptInfo("shop:create_app('dev')")) == [project]
    assert watched_paths(ScriptInfo("src/shop/app.py")) == [project]
    assert watched_paths(ScriptInfo("../elsewhere/shop.py:create_app('dev')")) == [project, elsewhere]


def test_the_childs_inherited_socket_and_pipe_are_not_passed_on_to_its_own_processes() -> None:
    import os
    import socket

    from trioweb.reloader import adopt

    listener = socket.create_server(("127.0.0.1", 0))
    read_end, write_end = os.pipe()
    listener.set_inheritable(True)
    os.set_inheritable(read_end, True)
    try:
        sockets, alive = adopt({"sockets": [listener.detach()], "alive": read_end})
        assert [sock.get_inheritable() for sock in sockets] == [False]
        assert alive == read_end and not os.get_inheritable(alive)
        sockets[0].close()
    finally:
        os.close(read_end)
        os.close(write_end)
