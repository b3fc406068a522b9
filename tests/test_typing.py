"""mypy --strict catches the usual mistakes in user code, and accepts what is right."""

from __future__ import annotations

from pathlib import Path

from mypy import api

RIGHT = """\
from trioweb import App, g, make_response, render_template, render_template_string, stream_template, websocket

app = App(__name__)


@app.websocket("/ws")
async def ws() -> None:
    g.user = "ann"
    name: str = g.user
    await websocket.accept()
    await websocket.send(name)
    await websocket.send_json({"a": 1})
    await websocket.close(1000)


async def forgets_await() -> None:
"""

#: Each line, in the body of ``forgets_await``, must be reported.
MISTAKES = [
    "websocket.send('x')",
    "websocket.receive()",
    "websocket.accept()",
    "websocket.close(1000)",
    "websocket.send_json({})",
    "websocket.receive_json()",
    "render_template('page.html')",
    "render_template_string('{{ x }}', x=1)",
    "stream_template('page.html')",
    "make_response('x', 201)",
    "app.make_response('x')",
]


def test_mypy_reports_a_forgotten_await_and_nothing_else(tmp_path: Path) -> None:
    path = tmp_path / "user_app.py"
    path.write_text(RIGHT + "".join(f"    {line}\n" for line in MISTAKES))
    stdout, stderr, _ = api.run(["--strict", "--cache-dir", str(tmp_path / "cache"), str(path)])
    first = RIGHT.count("\n") + 1
    errors = [line for line in stdout.splitlines() if ": error:" in line]
    expected = [f"{path}:{first + index}:" for index in range(len(MISTAKES))]
    assert [error.split(" ", 1)[0] for error in errors] == expected, stdout + stderr
    assert all("[unused-coroutine]" in error for error in errors), stdout
