import os
import signal
import subprocess
import sys

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
