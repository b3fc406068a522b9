import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from trioweb.cli import load_app


def test_load_app_gives_a_clear_error() -> None:
    with pytest.raises(SystemExit, match="not a trioweb App"):
        load_app("examples.hello:nothing")


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
        assert "Serving on http://127.0.0.1:" in line
        port = int(line.rsplit(":", 1)[1])
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


def start_cli(tmp_path: Path, source: str) -> subprocess.Popen[str]:
    (tmp_path / "cliapp.py").write_text(source)
    return subprocess.Popen(
        [sys.executable, "-m", "trioweb", "serve", "cliapp:app", "--port", "0"],
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
        assert "Serving on http://127.0.0.1:" in line, line
        port = int(line.rsplit(":", 1)[1])
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
        line = process.stderr.readline()
        port = int(line.rsplit(":", 1)[1])
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
