"""docs/architecture.md stays true: its module map, the citations of it, and the outcomes no other test covers."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
from trio_websocket import ConnectionClosed, ConnectionRejected, open_websocket_url

from tests.docs_samples import DOCS, ROOT
from trioweb import App, abort, websocket

TESTED: set[str] = set()  # the page's one sample is a diagram (layers.txt)
PAGE = DOCS / "architecture.md"
SKIPPED = {".venv", ".git", "_build", "node_modules"}


def project_files(*suffixes: str) -> list[Path]:
    """The repository's own files with these suffixes: not the virtual environment, not the built docs."""
    return [
        path
        for path in ROOT.rglob("*")
        if path.suffix in suffixes and path.is_file() and not SKIPPED & set(path.relative_to(ROOT).parts)
    ]


def section(title: str) -> str:
    """The text of the page's ``## title`` section."""
    text = PAGE.read_text()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def anchor(heading: str) -> str:
    """The anchor MyST gives a heading (``myst_heading_anchors``), as GitHub does."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def test_the_module_map_lists_the_package_as_it_is() -> None:
    listed = set(re.findall(r"^\| `(trioweb/[\w/]+\.py)` \|", section("Module map"), re.M))
    on_disk = {path.relative_to(ROOT).as_posix() for path in (ROOT / "trioweb").rglob("*.py")}
    assert listed == on_disk


def test_the_contract_is_numbered_from_1() -> None:
    numbers = [int(n) for n in re.findall(r"^(\d+)\. ", section("Concurrency contract"), re.M)]
    assert numbers == list(range(1, len(numbers) + 1)) and numbers


def test_every_citation_of_the_page_names_a_contract_or_section_that_exists() -> None:
    contracts = len(re.findall(r"^\d+\. ", section("Concurrency contract"), re.M))
    anchors = {anchor(heading) for heading in re.findall(r"^#{2,3} (.+)$", PAGE.read_text(), re.M)}
    cited = 0
    for path in project_files(".py", ".md", ".rst"):
        text = path.read_text()
        for number in re.findall(r"architecture\.md, contracts? (\d+)", text):
            assert 1 <= int(number) <= contracts, f"{path.relative_to(ROOT)} cites contract {number}"
            cited += 1
        for name in re.findall(r"architecture\.md#([\w-]+)", text):
            assert name in anchors, f"{path.relative_to(ROOT)} cites #{name}, which the page does not have"
            cited += 1
    assert cited  # the citations this test guards are there


def test_nothing_cites_the_design_document_outside_the_repository() -> None:
    old = re.compile("DESIGN" + r"(\.md|\s*§)")  # split, so that this file does not cite it either
    files = project_files(".py", ".md", ".rst")
    assert [path.relative_to(ROOT).as_posix() for path in files if old.search(path.read_text())] == []


# -- rows of the outcomes table that no other test covers on both servers ---------------


@pytest.fixture
def views(app: App) -> App:
    @app.websocket("/returns-none")
    async def returns_none() -> None:
        return None

    @app.websocket("/crashes-before")
    async def crashes_before() -> None:
        raise ValueError("before accepting")

    @app.websocket("/aborts-after")
    async def aborts_after() -> None:
        await websocket.accept()
        abort(403)

    return app


@pytest.mark.parametrize(("path", "status"), [("/returns-none", 403), ("/crashes-before", 500)])
async def test_a_websocket_view_that_does_not_accept(
    views: App, live_server: str, caplog: pytest.LogCaptureFixture, path: str, status: int
) -> None:
    with pytest.raises(ConnectionRejected) as rejected:
        async with open_websocket_url(f"ws://{live_server}{path}"):
            pass
    assert rejected.value.status_code == status
    assert ("ValueError: before accepting" in caplog.text) == (status == 500)


async def test_abort_after_accepting_closes_1000_and_logs_nothing(
    views: App, live_server: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="tests.conftest"):
        async with open_websocket_url(f"ws://{live_server}/aborts-after") as ws:
            with pytest.raises(ConnectionClosed) as closed:
                await ws.get_message()
    assert closed.value.reason is not None and closed.value.reason.code == 1000
    assert not [record for record in caplog.records if record.name == "tests.conftest"]
