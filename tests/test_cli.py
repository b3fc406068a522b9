import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from trioweb.cli import main


def serving_port(line: str) -> int:
    """The port of the first line a server started from the command line (or ``app.run``) logs."""
    match = re.search(r"Serving on http://127\.0\.0\.1:(\d+) \(Ctrl-C to stop\)$", line.rstrip("\n"))
    assert match is not None, line
    return int(match[1])


def test_serve_command_serves_and_exits_on_sigint(tmp_path: object) -> None:
    """The CLI in a real process: it serves, logs access lines, and stops on Ctrl-C."""
    process = subprocess.Popen(
        [sys.executable, "-m", "trioweb", "serve", "examples.hello:app", "--port", "0"],
        stderr=subprocess.PIPE,
        text=True,
        cwd=os.path.dirname(os.path.dirname(__file__)),
        start_new_session=True,
    )
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        port = serving_port(line)
        assert httpx.get(f"http://127.0.0.1:{port}/").text == "Hello from trioweb!\n"
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
        assert '"GET / HTTP/1.1" 200' in process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()


SLOW_APP = """
import trio
from trioweb import App

app = App(__name__)


@app.route("/slow")
async def slow():
    await trio.sleep(0.5)
    return "finished"


@app.after_serving
async def last():
    print("after_serving ran", flush=True)
"""

FAILING_APP = """
from trioweb import App

app = App(__name__)


@app.before_serving
async def connect():
    raise ValueError("no database at startup")
"""


def start_cli(tmp_path: Path, source: str, *options: str) -> subprocess.Popen[str]:
    (tmp_path / "cliapp.py").write_text(source)
    return subprocess.Popen(
        [sys.executable, "-m", "trioweb", "serve", "cliapp:app", *(options or ("--port", "0"))],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        start_new_session=True,
    )


def test_sigterm_lets_the_request_in_flight_finish(tmp_path: Path) -> None:
    process = start_cli(tmp_path, SLOW_APP)
    try:
        assert process.stderr is not None and process.stdout is not None
        line = process.stderr.readline()
        port = serving_port(line)
        results: list[httpx.Response] = []
        request = threading.Thread(target=lambda: results.append(httpx.get(f"http://127.0.0.1:{port}/slow")))
        request.start()
        time.sleep(0.2)  # the request is in the view now
        process.send_signal(signal.SIGTERM)
        request.join(timeout=10)
        assert process.wait(timeout=10) == 0
        assert results[0].text == "finished"
        assert results[0].headers["connection"] == "close"
        assert process.stdout.read() == "after_serving ran\n"
        assert "SIGTERM: shutting down gracefully" in process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()


def test_startup_failure_exits_non_zero_with_the_traceback(tmp_path: Path) -> None:
    process = start_cli(tmp_path, FAILING_APP)
    try:
        assert process.wait(timeout=10) != 0
        assert process.stderr is not None
        stderr = process.stderr.read()
        assert "Traceback (most recent call last)" in stderr
        assert 'raise ValueError("no database at startup")' in stderr
        assert "ValueError: no database at startup" in stderr
        assert "ExceptionGroup" not in stderr
    finally:
        if process.poll() is None:
            process.kill()


def test_a_second_signal_stops_at_once(tmp_path: Path) -> None:
    process = start_cli(tmp_path, SLOW_APP.replace("trio.sleep(0.5)", "trio.sleep(60)"))
    try:
        assert process.stderr is not None
        port = serving_port(process.stderr.readline())
        errors: list[Exception] = []

        def get() -> None:
            try:
                httpx.get(f"http://127.0.0.1:{port}/slow", timeout=30)
            except httpx.HTTPError as error:
                errors.append(error)

        request = threading.Thread(target=get, daemon=True)
        request.start()
        time.sleep(0.2)
        process.send_signal(signal.SIGTERM)  # graceful: would wait for the 60 s view (SHUTDOWN_TIMEOUT: 10 s)
        time.sleep(0.2)
        start = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=5) == 0
        assert time.monotonic() - start < 3
        assert "SIGTERM again: stopping now" in process.stderr.read()
        request.join(timeout=5)
        assert isinstance(errors[0], httpx.RemoteProtocolError)  # the request in flight was cut off
    finally:
        if process.poll() is None:
            process.kill()


# -- what app.run shows in the terminal ------------------------------------------------------

RUN_SCRIPT = """
import sys
from trioweb import App

app = App(__name__)


@app.route("/")
async def index():
    return "hi"


@app.before_serving
async def started():
    print("before_serving ran", flush=True)


app.run(port=int(sys.argv[1]))
"""


def start_script(tmp_path: Path, source: str, *args: str) -> subprocess.Popen[str]:
    (tmp_path / "script.py").write_text(source)
    return subprocess.Popen(
        [sys.executable, "script.py", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        start_new_session=True,
    )


def test_app_run_from_a_script_logs_like_the_cli(tmp_path: Path) -> None:
    process = start_script(tmp_path, RUN_SCRIPT, "0")
    try:
        assert process.stderr is not None
        port = serving_port(process.stderr.readline())
        assert httpx.get(f"http://127.0.0.1:{port}/?q=1").text == "hi"
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
        assert re.search(r' INFO trioweb\.access: 127\.0\.0\.1 - "GET /\?q=1 HTTP/1\.1" 200 2\n', process.stderr.read())
    finally:
        if process.poll() is None:
            process.kill()


def test_app_run_keeps_the_logging_a_script_configured(tmp_path: Path) -> None:
    source = RUN_SCRIPT.replace(
        "import sys\n", 'import logging, sys\nlogging.basicConfig(format="MINE %(name)s %(message)s", level="INFO")\n'
    )
    process = start_script(tmp_path, source, "0")
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        assert line.startswith("MINE trioweb.server Serving on http://127.0.0.1:"), line
        port = serving_port(line)
        httpx.get(f"http://127.0.0.1:{port}/")
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
        assert 'MINE trioweb.access 127.0.0.1 - "GET / HTTP/1.1" 200 2\n' in process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()


def test_the_cli_keeps_the_logging_the_app_module_configured(tmp_path: Path) -> None:
    source = 'import logging\nlogging.basicConfig(format="MINE %(message)s", level="INFO")\n' + SLOW_APP
    process = start_cli(tmp_path, source)
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        assert line.startswith("MINE Serving on"), line
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port that a socket of the test is listening on."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        yield busy.getsockname()[1]


def test_a_port_in_use_is_one_line_and_a_non_zero_exit_before_startup(tmp_path: Path, busy_port: int) -> None:
    for process in (
        start_script(tmp_path, RUN_SCRIPT, str(busy_port)),
        start_cli(tmp_path, RUN_SCRIPT.replace("app.run(port=int(sys.argv[1]))", ""), "--port", str(busy_port)),
    ):
        try:
            stdout, stderr = process.communicate(timeout=10)
            assert process.returncode == 1
            assert stderr == f"trioweb: cannot listen on 127.0.0.1:{busy_port}: address already in use\n"
            assert stdout == ""  # before_serving did not run
        finally:
            if process.poll() is None:
                process.kill()


def test_keyfile_without_certfile_is_a_usage_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "key.pem").write_text("not read")
    with pytest.raises(SystemExit) as exited:
        main(["serve", "examples.hello:app", "--keyfile", str(tmp_path / "key.pem")])
    assert exited.value.code == 2
    assert "--keyfile needs --certfile" in capsys.readouterr().err


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command to make a certificate")
def test_certfile_and_keyfile_serve_https(tmp_path: Path) -> None:
    files = ["-keyout", str(tmp_path / "key.pem"), "-out", str(tmp_path / "cert.pem")]
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost", *files],
        check=True,
        capture_output=True,
    )
    source = RUN_SCRIPT.replace(
        "app.run(port=int(sys.argv[1]))", 'app.run(port=int(sys.argv[1]), certfile="cert.pem", keyfile="key.pem")'
    )
    process = start_script(tmp_path, source, "0")
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        match = re.search(r"Serving on https://127\.0\.0\.1:(\d+) \(Ctrl-C to stop\)$", line.rstrip("\n"))
        assert match is not None, line
        assert httpx.get(f"https://127.0.0.1:{match[1]}/", verify=False).text == "hi"
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()


# -- trioweb run, and run --reload, in real processes ---------------------------------------------

TRIOWEB = str(Path(sys.executable).parent / "trioweb")


class Output:
    """A process's stderr, read by a thread into a queue, so a test waits for a line with a deadline."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        assert process.stderr is not None
        stream = process.stderr
        threading.Thread(target=lambda: [self.lines.put(line) for line in stream], daemon=True).start()

    def wait_for(self, pattern: str, timeout: float = 20) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                seen = "".join(self.seen)
                raise AssertionError(f"no line matching {pattern!r} within {timeout} s:\n{seen}") from None
            self.seen.append(line)
            match = re.search(pattern, line)
            if match is not None:
                return match


def poll_until(url: str, text: str, timeout: float = 20) -> None:
    """GET ``url`` until it answers ``text``; a refused connection fails at once (the socket must stay open)."""
    deadline = time.monotonic() + timeout
    while True:
        answer = httpx.get(url, timeout=timeout).text
        if answer == text:
            return
        assert time.monotonic() < deadline, f"still {answer!r}, not {text!r}"
        time.sleep(0.05)


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


RELOADED_APP = """
import trio
from trioweb import App

app = App(__name__)


@app.route("/")
async def index():
    return "one"


@app.after_serving
async def linger():
    await trio.sleep(1)  # a slow shutdown: clients connect while no child accepts
"""


def test_the_console_script_runs_the_app_until_sigint(tmp_path: Path) -> None:
    (tmp_path / "cliapp.py").write_text(RUN_SCRIPT.replace("app.run(port=int(sys.argv[1]))", ""))
    process = subprocess.Popen(
        [TRIOWEB, "--app", "cliapp", "run", "--port", "0"], stderr=subprocess.PIPE, text=True, cwd=tmp_path
    )
    try:
        output = Output(process)
        port = int(output.wait_for(r"Serving on http://127\.0\.0\.1:(\d+) \(Ctrl-C to stop\)")[1])
        assert httpx.get(f"http://127.0.0.1:{port}/").text == "hi"
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()


def test_run_reload_restarts_on_a_change_keeps_the_socket_and_survives_a_syntax_error(tmp_path: Path) -> None:
    source = tmp_path / "app.py"
    source.write_text(RELOADED_APP)
    process = subprocess.Popen(
        [sys.executable, "-m", "trioweb", "run", "--port", "0", "--reload"],
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    children: list[int] = []
    try:
        output = Output(process)
        children.append(int(output.wait_for(r"Started the app in process (\d+)")[1]))
        port = int(output.wait_for(r"Serving on http://127\.0\.0\.1:(\d+) ")[1])
        url = f"http://127.0.0.1:{port}/"
        assert httpx.get(url).text == "one"

        source.write_text(RELOADED_APP.replace('"one"', '"two"'))
        output.wait_for(r"app\.py changed: restarting")
        output.wait_for(r"Shutting down: ")  # the old child accepts no more, and lingers a second
        during = httpx.get(url, timeout=20)  # connects now; waits in the backlog for the new child
        assert during.text == "two"
        children.append(int(output.wait_for(r"Started the app in process (\d+)")[1]))

        source.write_text(RELOADED_APP.replace("return", "return return"))
        output.wait_for(r"SyntaxError: invalid syntax")
        output.wait_for(r"The app stopped \(exit status 3\); it starts again when a file changes")
        assert process.poll() is None
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass  # still listening: not refused while the app is broken

        source.write_text(RELOADED_APP.replace('"one"', '"three"'))
        children.append(int(output.wait_for(r"Started the app in process (\d+)")[1]))
        poll_until(url, "three")

        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=15) == 0
        assert all(gone(pid) for pid in children)
    finally:
        if process.poll() is None:
            process.kill()
        for pid in children:
            if not gone(pid):
                os.kill(pid, signal.SIGKILL)


def test_serve_takes_the_app_from_the_group_option(tmp_path: Path) -> None:
    (tmp_path / "cliapp.py").write_text(RUN_SCRIPT.replace("app.run(port=int(sys.argv[1]))", ""))
    process = subprocess.Popen(
        [sys.executable, "-m", "trioweb", "--app", "cliapp", "serve", "--port", "0", "--no-access-log"],
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    try:
        output = Output(process)
        port = int(output.wait_for(r"Serving on http://127\.0\.0\.1:(\d+) ")[1])
        assert httpx.get(f"http://127.0.0.1:{port}/").text == "hi"
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
        assert "trioweb.access" not in "".join(output.seen) + "".join(list(output.lines.queue))
    finally:
        if process.poll() is None:
            process.kill()


def test_run_debug_sets_debug_reloads_and_the_child_stops_if_the_supervisor_is_killed(tmp_path: Path) -> None:
    source = RUN_SCRIPT.replace('return "hi"', 'return str(app.config["DEBUG"])').replace(
        "app.run(port=int(sys.argv[1]))", ""
    )
    (tmp_path / "cliapp.py").write_text(source)
    process = subprocess.Popen(
        [TRIOWEB, "--app", "cliapp.py", "run", "--debug", "--port", "0"],
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    child = 0
    try:
        output = Output(process)
        output.wait_for(r"Watching .* for changes")  # --debug turned the reloader on
        child = int(output.wait_for(r"Started the app in process (\d+)")[1])
        port = int(output.wait_for(r"Serving on http://127\.0\.0\.1:(\d+) ")[1])
        assert httpx.get(f"http://127.0.0.1:{port}/").text == "True"
        process.kill()  # no chance to stop the child: the child sees the supervisor's pipe close
        process.wait(timeout=5)
        deadline = time.monotonic() + 15
        while not gone(child):
            assert time.monotonic() < deadline, "the child outlived its supervisor"
            time.sleep(0.05)
    finally:
        if process.poll() is None:
            process.kill()
        if child and not gone(child):
            os.kill(child, signal.SIGKILL)


#: Appended to an app module (which imports os and sys): prints the descriptors inheritable while it is imported,
#: what a process the import starts with os.system (fork and exec) would inherit: the listening socket kept bound.
REPORTS_INHERITABLE = """

def inheritable_descriptors():
    found = []
    for fd in map(int, os.listdir("/proc/self/fd")):
        try:
            if fd > 2 and os.get_inheritable(fd):
                found.append(fd)
        except OSError:
            pass  # the listing's own descriptor, closed by now
    return found


print(f"inheritable at import: {inheritable_descriptors()}", file=sys.stderr, flush=True)
"""

INHERITING_APP = (
    """
import os
import sys

from trioweb import App

app = App(__name__)
"""
    + REPORTS_INHERITABLE
)


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="lists the descriptors in /proc")
def test_no_descriptor_of_the_supervisor_is_inheritable_while_the_reloaders_child_imports_the_app(
    tmp_path: Path,
) -> None:
    (tmp_path / "cliapp.py").write_text(INHERITING_APP)
    process = subprocess.Popen(
        [TRIOWEB, "--app", "cliapp.py", "run", "--reload", "--port", "0"],
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    try:
        output = Output(process)
        assert output.wait_for(r"inheritable at import: (.*)")[1] == "[]"
        output.wait_for(r"Serving on http://127\.0\.0\.1:(\d+) ")
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
