"""The samples of docs/command-line.md, run: each command shown, through click's runner or in a real process."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result

from tests.cli_env import isolated
from tests.docs_samples import EXAMPLES
from tests.test_cli import Output
from trioweb.cli import cli

TESTED = {"shop", "factory"}
SAMPLES = EXAMPLES / "command-line"


@pytest.fixture(autouse=True)
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The samples copied into a fresh current directory; the environment and modules put back after."""
    for sample in SAMPLES.glob("*.py"):
        shutil.copy(sample, tmp_path)
    with isolated(tmp_path, monkeypatch):
        yield tmp_path


def run(command: str, input: str | None = None) -> Result:
    """One ``trioweb ...`` line of a sample, in process, its ``NAME=value`` prefixes set, as in a fresh shell."""
    words = shlex.split(command, comments=True)
    while "=" in words[0]:
        name, _, value = words.pop(0).partition("=")
        os.environ[name] = value
    assert words[0] == "trioweb", command
    for name in [name for name in sys.modules if name in ("shop", "factory")]:
        del sys.modules[name]  # each line is a new process: a fresh import of the app
    try:
        return CliRunner().invoke(cli, words[1:], input=input)
    finally:
        for name in [name for name in os.environ if name.startswith("TRIOWEB_")]:
            del os.environ[name]


def transcript(name: str) -> list[tuple[str, list[str]]]:
    """The ``$ command`` lines of a terminal sample, each with the lines it printed."""
    shown: list[tuple[str, list[str]]] = []
    for line in (SAMPLES / name).read_text().splitlines():
        if line.startswith("$ "):
            shown.append((line[2:], []))
        else:
            shown[-1][1].append(line)
    return shown


def test_every_way_of_naming_the_app_finds_it() -> None:
    for line in (SAMPLES / "discovery.sh").read_text().splitlines():
        result = run(line)
        assert result.exit_code == 0, (line, result.output)
        assert result.output.startswith("Endpoint"), (line, result.output)


def test_the_factory_takes_the_stage_given() -> None:
    staging = run("trioweb --app 'factory:create_app(\"staging\")' routes")
    assert "index" in staging.output
    from factory import create_app

    assert create_app("staging").config["STAGE"] == "staging"


def test_the_routes_sample_is_what_routes_prints() -> None:
    [(command, lines)] = transcript("routes.txt")
    assert run(command).output.splitlines() == lines


def test_the_commands_sample_is_what_the_commands_print() -> None:
    for command, lines in transcript("commands.txt"):
        result = run(command)
        assert result.exit_code == 0, result.output
        assert result.output.splitlines() == lines


def test_the_shell_sample_is_a_session_of_the_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(sys, "__interactivehook__", raising=False)  # no readline history written
    [(command, lines)] = transcript("shell.txt")
    typed = [line.removeprefix(">>> ") if line != "..." else "" for line in lines if line.startswith((">>> ", "..."))]
    printed = [line for line in lines if not line.startswith((">>> ", "..."))]
    result = run(command, input="\n".join(typed) + "\n")
    assert result.exit_code == 0, result.output
    answers = [re.sub(r"^(>>> |\.\.\. )+", "", line) for line in result.output.splitlines()]
    for line in printed:
        assert line in answers, result.output


def test_the_env_files_are_read_with_env_winning() -> None:
    Path(".trioweb-env").write_text((SAMPLES / "trioweb-env.txt").read_text())
    Path(".env").write_text((SAMPLES / "env.txt").read_text())
    result = run("trioweb routes")  # TRIOWEB_APP came from .trioweb-env
    assert result.exit_code == 0, result.output
    assert os.environ["SHOP_GREETING"] == "hi from my machine"
    assert os.environ["SHOP_SECRET_KEY"] == "change-me"


def test_the_plugin_sample_names_the_entry_point_group() -> None:
    table = tomllib.loads((SAMPLES / "plugin.toml").read_text())
    assert table["project"]["entry-points"]["trioweb.commands"] == {"dump": "shop_tools.cli:dump"}


@pytest.mark.parametrize("line", (SAMPLES / "run.sh").read_text().splitlines())
def test_each_run_line_serves_the_app(project: Path, line: str) -> None:
    """In a real process, on a free port (``--port 0`` added; the last one counts), until SIGINT."""
    words = shlex.split(line, comments=True)
    trioweb = str(Path(sys.executable).parent / "trioweb")
    process = subprocess.Popen([trioweb, *words[1:], "--port", "0"], stderr=subprocess.PIPE, text=True, cwd=project)
    try:
        output = Output(process)  # read with a deadline: a server that hangs fails the test, not the run
        port = output.wait_for(r"Serving on http://[\d.]+:(\d+) \(Ctrl-C to stop\)")[1]
        response = httpx.get(f"http://127.0.0.1:{port}/items")
        assert response.json() == {"items": []}
        reloading = any("Watching" in line for line in output.seen)
        assert reloading == ("--reload" in words or "--debug" in words)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
