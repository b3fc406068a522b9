"""docs/architecture.md stays true: its module map, its numbering, and the outcomes no other test covers."""

from __future__ import annotations

import logging
import re

import pytest
from trio_websocket import ConnectionClosed, ConnectionRejected, open_websocket_url

from tests.docs_samples import DOCS, ROOT
from trioweb import App, abort, websocket

TESTED: set[str] = set()  # the page's one sample is a diagram (layers.txt)
PAGE = DOCS / "architecture.md"


def section(title: str) -> str:
    """The text of the page's ``## title`` section."""
    text = PAGE.read_text()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def test_the_module_map_lists_the_package_as_it_is() -> None:
    listed = set(re.findall(r"^\| `(trioweb/[\w/]+\.py)` \|", section("Module map"), re.M))
    on_disk = {path.relative_to(ROOT).as_posix() for path in (ROOT / "trioweb").rglob("*.py")}
    assert listed == on_disk


def test_the_contract_is_numbered_from_1() -> None:
    numbers = [int(n) for n in re.findall(r"^(\d+)\. ", section("Concurrency contract"), re.M)]
    assert numbers == list(range(1, len(numbers) + 1)) and numbers


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
