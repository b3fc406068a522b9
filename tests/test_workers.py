"""Worker processes of the native server (``serve --workers N``), in real processes, with bounded waits."""

from __future__ import annotations

import concurrent.futures
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from click.testing import CliRunner
from trio_websocket import ConnectionClosed, open_websocket_url

from tests.test_cli import REPORTS_INHERITABLE, Output, gone
from trioweb import App
from trioweb.cli import cli
from trioweb.workers import Backoff, import_string

WORKER_APP = """
import os
import sys
import time

import trio
from trioweb import App, request, websocket

app = App(__name__)


@app.before_serving
async def announce():
    print(f"before_serving ran in {os.getpid()}", file=sys.stderr, flush=True)


@app.get("/pid")
async def pid():
    time.sleep(float(request.args.get("busy", 0)))  # a busy worker: another accepts the next connections
    return str(os.getpid())


@app.get("/slow")
async def slow():
    print(f"slow request began in {os.getpid()}", file=sys.stderr, flush=True)
    time.sleep(float(request.args.get("busy", 0)))  # the next connection goes to another worker
    await trio.sleep(1)
    return "finished"


@app.websocket("/ws")
async def ws():
    await websocket.accept()
    await websocket.send(str(os.getpid()))
    print(f"websocket opened in {os.getpid()}", file=sys.stderr, flush=True)
    time.sleep(float(websocket.args.get("busy", 0)))  # the next connection goes to another worker
    while True:
        await websocket.receive()
"""

FAILING_APP = """
from trioweb import App

app = App(__name__)


@app.before_serving
async def connect():
    raise ValueError("no database at startup")
"""


class Served:
    """``trioweb serve wapp:app --workers ...`` in a process of its own, its log, and the workers it started."""

    def __init__(
        self, folder: Path, source: str, *options: str, command: list[str] | None = None, stdin: bool = False
    ) -> None:
        (folder / "wapp.py").write_text(source)
        arguments = command or [sys.executable, "-m", "trioweb", "serve", "wapp:app", "--port", "0", *options]
        self.process = subprocess.Popen(
            arguments, stdin=subprocess.PIPE if stdin else None, stderr=subprocess.PIPE, text=True, cwd=folder
        )
        self.output = Output(self.process)
        self.workers: list[int] = []
        self.port = 0

    def wait_serving(self, count: int = 2, scheme: str = "http") -> None:
        pattern = rf"Serving on {scheme}://127\.0\.0\.1:(\d+) with {count} workers \(Ctrl-C to stop\)"
        self.port = int(self.output.wait_for(pattern)[1])
        self.workers += [int(pid) for pid in re.findall(r"Worker (\d+) started", self.log())]
        assert len(self.workers) == count

    def log(self) -> str:
        """Every line so far, the ones no ``wait_for`` has read yet too."""
        while not self.output.lines.empty():
            self.output.seen.append(self.output.lines.get_nowait())
        return "".join(self.output.seen)

    def wait_stopped(self, status: int = 0) -> None:
        """The parent exits with ``status``, its last line logged."""
        assert self.process.wait(timeout=20) == status
        self.output.wait_for(r"trioweb\.workers \[\d+\]: Stopped")

    def url(self, path: str, scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        """Kill what is left: the parent, then every worker it logged."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.workers += [int(pid) for pid in re.findall(r"Worker (\d+) started", self.log())]
        for pid in self.workers:
            if not gone(pid):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture
def serving(tmp_path: Path) -> Iterator[list[Served]]:
    started: list[Served] = []
    yield started
    for served in started:
        served.stop()


def serve(serving: list[Served], folder: Path, source: str = WORKER_APP, *options: str) -> Served:
    served = Served(folder, source, *options)
    serving.append(served)
    return served


def wait_gone(pids: list[int], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not all(gone(pid) for pid in pids):
        assert time.monotonic() < deadline, f"still running: {[pid for pid in pids if not gone(pid)]}"
        time.sleep(0.05)


def pids_answering(url: str, wanted: set[int], verify: bool = True, rounds: int = 20) -> set[int]:
    """The pids that answer rounds of 8 requests at once, each on a new connection, until ``wanted`` are seen."""
    seen: set[int] = set()

    def one(_: int) -> int:
        return int(httpx.get(url, timeout=10, verify=verify).text)

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        for _ in range(rounds):
            seen.update(pool.map(one, range(8)))
            if wanted <= seen:
                break
    return seen


def test_every_worker_ran_before_serving_and_answers_requests(tmp_path: Path, serving: list[Served]) -> None:
    served = serve(serving, tmp_path, WORKER_APP, "--workers", "2")
    served.wait_serving()
    ran_before_serving = [int(pid) for pid in re.findall(r"before_serving ran in (\d+)", served.log())]
    assert sorted(served.workers) == sorted(ran_before_serving)
    assert served.process.pid not in served.workers
    seen = pids_answering(served.url("/pid?busy=0.05"), set(served.workers))
    assert seen == set(served.workers)
    served.process.send_signal(signal.SIGINT)
    assert served.process.wait(timeout=20) == 0
    wait_gone(served.workers)


def test_a_worker_that_dies_is_started_again_and_requests_are_still_answered(
    tmp_path: Path, serving: list[Served]
) -> None:
    served = serve(serving, tmp_path, WORKER_APP, "--workers", "2")
    served.wait_serving()
    killed = served.workers[0]
    os.kill(killed, signal.SIGKILL)
    served.output.wait_for(rf"Worker {killed} stopped unexpectedly \(killed by SIGKILL\): starting another in 0\.5 s")
    new = int(served.output.wait_for(r"Worker (\d+) started")[1])
    served.workers.append(new)
    assert new not in (killed, served.process.pid)
    assert f"before_serving ran in {new}" in served.log()
    assert pids_answering(served.url("/pid?busy=0.05"), {new, served.workers[1]}) == {new, served.workers[1]}
    served.process.send_signal(signal.SIGTERM)
    assert served.process.wait(timeout=20) == 0
    wait_gone(served.workers)


def test_a_before_serving_that_raises_stops_everything_with_the_error_and_a_failure_status(
    tmp_path: Path, serving: list[Served]
) -> None:
    served = serve(serving, tmp_path, FAILING_APP, "--workers", "2")
    started = time.monotonic()
    assert served.process.wait(timeout=20) == 1
    assert time.monotonic() - started < 15
    served.output.wait_for(r"Stopped: worker \d+ could not start \(exit status 1\)")
    log = served.log()
    assert "ValueError: no database at startup" in log
    assert "Serving on" not in log
    failed = [int(pid) for pid in re.findall(r"worker (\d+) could not start", log)]
    assert failed
    wait_gone(failed)


async def test_sigterm_shuts_every_worker_down_gracefully(tmp_path: Path, serving: list[Served]) -> None:
    served = serve(serving, tmp_path, WORKER_APP, "--workers", "2")
    await trio.to_thread.run_sync(served.wait_serving)
    answers: list[str] = []
    codes: dict[str, int] = {}

    async def slow() -> None:
        async with httpx.AsyncClient() as client:
            answers.append((await client.get(served.url("/slow?busy=0.5"), timeout=20)).text)

    async def websocket_client() -> None:
        async with open_websocket_url(f"ws://127.0.0.1:{served.port}/ws?busy=0.5") as ws:
            pid = await ws.get_message()
            with pytest.raises(ConnectionClosed) as closed:
                await ws.get_message()
            codes[pid] = closed.value.reason.code

    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            # Each first blocks its worker for 0.5 s, so the second of each goes to the other worker.
            for _ in range(2):
                nursery.start_soon(websocket_client)
                await trio.to_thread.run_sync(served.output.wait_for, "websocket opened in")
            for _ in range(2):
                nursery.start_soon(slow)
                await trio.to_thread.run_sync(served.output.wait_for, "slow request began")
            served.process.send_signal(signal.SIGTERM)
    assert answers == ["finished", "finished"]
    assert codes == dict.fromkeys(map(str, served.workers), 1001)  # a websocket on each worker, each closed 1001
    slow_in = re.findall(r"slow request began in (\d+)", served.log())
    assert sorted(map(int, slow_in)) == sorted(served.workers)  # a slow request on each, each finished
    await trio.to_thread.run_sync(served.wait_stopped)
    assert len(re.findall(r"SIGTERM: shutting down gracefully", served.log())) == 2  # each worker's own
    wait_gone(served.workers)


FAILING_STOP_APP = """
from trioweb import App

app = App(__name__)


@app.after_serving
async def flush():
    raise ValueError("could not flush the queue")
"""


def test_a_worker_whose_shutdown_fails_makes_the_stop_fail_as_a_single_server_does(
    tmp_path: Path, serving: list[Served]
) -> None:
    served = serve(serving, tmp_path, FAILING_STOP_APP, "--workers", "2")
    served.wait_serving()
    served.process.send_signal(signal.SIGTERM)
    served.wait_stopped(status=1)
    assert "ValueError: could not flush the queue" in served.log()
    assert re.search(r"Stopped: worker \d+ stopped with exit status 1", served.log())
    wait_gone(served.workers)


LINGERING_APP = (
    WORKER_APP
    + """

@app.after_serving
async def linger():
    await trio.sleep(60)
"""
)


def test_a_second_signal_kills_the_workers_at_once(tmp_path: Path, serving: list[Served]) -> None:
    served = serve(serving, tmp_path, LINGERING_APP, "--workers", "2")
    served.wait_serving()
    served.process.send_signal(signal.SIGINT)
    for _ in served.workers:
        served.output.wait_for(r"Shutting down: ")  # each worker is in its shutdown, lingering
    started = time.monotonic()
    served.process.send_signal(signal.SIGINT)
    served.wait_stopped()
    assert time.monotonic() - started < 15
    assert "SIGINT again: killing the workers" in served.log()
    assert len(re.findall(r"Worker \d+ stopped: killed by SIGKILL", served.log())) == 2
    wait_gone(served.workers)


def test_the_workers_stop_when_the_parent_is_killed(tmp_path: Path, serving: list[Served]) -> None:
    served = serve(serving, tmp_path, WORKER_APP, "--workers", "2")
    served.wait_serving()
    served.process.kill()  # no chance to stop them: they see the parent's pipe close
    served.process.wait(timeout=10)
    wait_gone(served.workers)


GATED_APP = (
    WORKER_APP
    + """

@app.before_serving
async def wait_for_the_go():
    print(f"startup waiting in {os.getpid()}", file=sys.stderr, flush=True)
    with trio.move_on_after(30):  # bounded, should the test fail
        while not os.path.exists("go"):
            await trio.sleep(0.02)
"""
)


def test_a_worker_still_starting_when_the_parent_is_killed_shuts_down_gracefully(
    tmp_path: Path, serving: list[Served]
) -> None:
    served = serve(serving, tmp_path, GATED_APP, "--workers", "2")
    starting = [int(served.output.wait_for(r"startup waiting in (\d+)")[1]) for _ in range(2)]
    served.workers += starting
    served.process.kill()  # while both are in before_serving, the ready pipe's reading end goes with it
    served.process.wait(timeout=10)
    (tmp_path / "go").touch()
    wait_gone(starting)
    stopped: set[int] = set()
    while stopped != set(starting):  # in either order: waiting for one reads past the other's line
        stopped.add(int(served.output.wait_for(r"trioweb\.server \[(\d+)\]: Stopped")[1]))
    assert "Traceback" not in served.log()


def test_a_stop_during_the_workers_startup_does_not_announce_serving(tmp_path: Path, serving: list[Served]) -> None:
    served = serve(serving, tmp_path, GATED_APP, "--workers", "2")
    starting = [int(served.output.wait_for(r"startup waiting in (\d+)")[1]) for _ in range(2)]
    served.workers += starting
    served.process.send_signal(signal.SIGTERM)
    served.output.wait_for(r"SIGTERM: shutting the workers down gracefully")
    (tmp_path / "go").touch()  # they finish starting, then stop at once
    served.wait_stopped()
    wait_gone(starting)
    assert "Serving on" not in served.log()


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command to make a certificate")
def test_two_workers_serve_tls(tmp_path: Path, serving: list[Served]) -> None:
    files = ["-keyout", str(tmp_path / "key.pem"), "-out", str(tmp_path / "cert.pem")]
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost", *files],
        check=True,
        capture_output=True,
    )
    served = serve(serving, tmp_path, WORKER_APP, "--workers", "2", "--certfile", "cert.pem", "--keyfile", "key.pem")
    served.wait_serving(scheme="https")
    url = served.url("/pid?busy=0.05", scheme="https")
    assert pids_answering(url, set(served.workers), verify=False) == set(served.workers)
    served.process.send_signal(signal.SIGTERM)
    assert served.process.wait(timeout=20) == 0


def test_one_worker_is_this_process_with_no_parent(tmp_path: Path, serving: list[Served]) -> None:
    served = serve(serving, tmp_path, WORKER_APP, "--workers", "1")
    served.port = int(served.output.wait_for(r"Serving on http://127\.0\.0\.1:(\d+) \(Ctrl-C to stop\)$")[1])
    assert httpx.get(served.url("/pid")).text == str(served.process.pid)
    assert "Worker" not in served.log()
    served.process.send_signal(signal.SIGTERM)
    assert served.process.wait(timeout=20) == 0


def test_the_group_option_names_the_app_for_the_workers(tmp_path: Path, serving: list[Served]) -> None:
    command = [sys.executable, "-m", "trioweb", "--app", "wapp", "run", "--port", "0", "--workers", "2"]
    served = Served(tmp_path, WORKER_APP, command=command)
    serving.append(served)
    served.wait_serving()
    assert int(httpx.get(served.url("/pid")).text) in served.workers
    served.process.send_signal(signal.SIGINT)
    assert served.process.wait(timeout=20) == 0


INHERITING_APP = WORKER_APP + REPORTS_INHERITABLE


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="lists the descriptors in /proc")
def test_no_descriptor_of_the_parent_is_inheritable_while_a_worker_imports_the_app(
    tmp_path: Path, serving: list[Served]
) -> None:
    served = serve(serving, tmp_path, INHERITING_APP, "--workers", "2")
    served.wait_serving()
    assert re.findall(r"inheritable at import: (.*)", served.log()) == ["[]", "[]"]
    served.process.send_signal(signal.SIGTERM)
    served.wait_stopped()


UNGUARDED_SCRIPT = """
from trioweb import App

app = App(__name__)
app.run(port=0, workers=2)
"""


def test_an_app_run_with_workers_outside_a_main_guard_is_refused_in_the_worker(
    tmp_path: Path, serving: list[Served]
) -> None:
    (tmp_path / "script.py").write_text(UNGUARDED_SCRIPT)
    served = Served(tmp_path, "", command=[sys.executable, "script.py"])
    serving.append(served)
    assert served.process.wait(timeout=20) == 1
    served.output.wait_for(r"Stopped: worker \d+ could not start")
    assert 'call it under `if __name__ == "__main__":`' in served.log()


LAUNCHED_MODULE = """
import os

from trioweb import App

app = App(__name__)


@app.get("/pid")
async def pid():
    return str(os.getpid())
"""

LAUNCHER = """
from launched import app

if __name__ == "__main__":
    app.run(port=0, workers=2)
"""


def test_app_run_with_workers_from_a_module_the_launching_script_imported_from_its_folder(
    tmp_path: Path, serving: list[Served]
) -> None:
    (tmp_path / "tools").mkdir()
    (tmp_path / "tools" / "launched.py").write_text(LAUNCHED_MODULE)
    (tmp_path / "tools" / "launch.py").write_text(LAUNCHER)
    served = Served(tmp_path, "", command=[sys.executable, "tools/launch.py"])  # the module is not in the cwd
    serving.append(served)
    served.wait_serving()
    assert int(httpx.get(served.url("/pid")).text) in served.workers
    served.process.send_signal(signal.SIGTERM)
    served.wait_stopped()


SOCKET_SCRIPT = """
import socket
import sys

import trio
from trioweb import App
from trioweb.server import run

app = App(__name__)


@app.get("/")
async def index():
    return "on the given socket"


async def a_line_on_stdin():
    await trio.to_thread.run_sync(sys.stdin.readline, abandon_on_cancel=True)


if __name__ == "__main__":
    sock = socket.create_server(("127.0.0.1", 0))
    print(f"bound {sock.getsockname()[1]}", file=sys.stderr, flush=True)
    run(app, sockets=[sock], workers=2, shutdown_trigger=a_line_on_stdin)
"""


def test_server_run_with_workers_serves_on_given_sockets_until_its_trigger(
    tmp_path: Path, serving: list[Served]
) -> None:
    (tmp_path / "script.py").write_text(SOCKET_SCRIPT)
    served = Served(tmp_path, "", command=[sys.executable, "script.py"], stdin=True)
    serving.append(served)
    process = served.process
    bound = int(served.output.wait_for(r"bound (\d+)")[1])
    served.wait_serving()
    assert served.port == bound
    assert httpx.get(served.url("/")).text == "on the given socket"
    assert process.stdin is not None
    process.stdin.write("stop\n")
    process.stdin.flush()
    served.wait_stopped()
    assert "Shutting the workers down gracefully" in served.log()
    wait_gone(served.workers)


# -- the arguments, and the back-off, in process -----------------------------------------------


def test_the_restart_delay_doubles_up_to_its_limit_and_starts_over_after_a_long_run() -> None:
    backoff = Backoff(first=0.5, last=10, reset_after=30)
    assert [backoff.after_crash(1) for _ in range(7)] == [0.5, 1, 2, 4, 8, 10, 10]
    assert backoff.after_crash(30) == 0.5
    assert backoff.after_crash(29) == 1


def test_a_worker_imports_a_scripts_app_by_its_file_and_name(app: App) -> None:
    main = sys.modules["__main__"]
    saved = {name: getattr(main, name, None) for name in ("app", "__spec__")}
    app.import_name = "__main__"
    try:
        main.app = app  # type: ignore[attr-defined]
        main.__spec__ = None
        assert import_string(app, 2) == f"{os.path.realpath(main.__file__ or '')}:app"
    finally:
        for name, value in saved.items():
            setattr(main, name, value)


def test_an_app_a_factory_made_cannot_be_imported_by_the_workers() -> None:
    def create_app() -> App:
        return App("tests.test_workers")

    with pytest.raises(ValueError, match=r"trioweb serve module:create_app\(\) --workers 2"):
        import_string(create_app(), 2)


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        ({"workers": 0}, ValueError, "1 or more"),
        ({"workers": 2, "ssl_context": object()}, TypeError, "not ssl_context"),
    ],
)
def test_app_run_checks_the_worker_arguments_before_anything_starts(
    app: App, arguments: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        app.run(**arguments)


def test_reload_and_workers_do_not_go_together(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["--app", "wapp", "run", "--reload", "--workers", "2"])
    assert result.exit_code == 2
    assert "--reload runs one app process, so it does not go with --workers" in result.output


def test_zero_workers_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["serve", "wapp:app", "--workers", "0"])
    assert result.exit_code == 2
    assert "--workers" in result.output
