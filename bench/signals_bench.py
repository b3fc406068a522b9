"""The cost of the signal send points on the dispatch: a loop of ``await app.handle_request(...)``.

    .venv/bin/python bench/signals_bench.py [--baseline REV] [--requests 10000] [--rounds 16] [--client]

It answers GET / (a view that returns a str) ``--requests`` times per round,
straight through ``App.handle_request`` (no server, no socket: the send
points are a few attribute tests among the dispatch's work, which a socket
would drown), and prints each variant's median and best round in
microseconds per request (``--client``: GETs through the test client, h11
bytes over a memory stream, instead): the working tree's ``trioweb/`` with no receiver,
with one plain receiver on ``request_started``, and ``trioweb/`` at the
commit ``REV`` (default ``HEAD``). Both versions are copied into a temporary
folder under package names of their own and loaded the same way, and their
rounds take turns in one process, each variant going first in turn, so
that a machine whose speed drifts moves them all alike (a version loaded
as ``trioweb`` itself came out 5 % slower than its own copy).
"""

from __future__ import annotations

import argparse
import importlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import trio

PROJECT = Path(__file__).resolve().parent.parent


def copy_versions(folder: Path, baseline: str) -> None:
    shutil.copytree(PROJECT / "trioweb", folder / "trioweb_tree")
    # A second copy for the receiver: ``signal.receivers`` holds the receivers for every sender, so one
    # connected for one app makes every app of that package take the (filtering) send.
    shutil.copytree(PROJECT / "trioweb", folder / "trioweb_tree_r")
    archive = subprocess.run(
        ["git", "-C", str(PROJECT), "archive", baseline, "trioweb"], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    (folder / "trioweb").rename(folder / "trioweb_base")


def make_round(package: str, requests: int, receiver: bool, client: bool = False) -> Callable[[], Awaitable[float]]:
    trioweb: Any = importlib.import_module(package)
    make_test_request = importlib.import_module(f"{package}.testing").make_test_request
    app = trioweb.App(__name__)

    @app.route("/")
    async def index() -> str:
        return "hello"

    if receiver:

        def started(sender: Any) -> None:
            pass

        importlib.import_module(f"{package}.signals").request_started.connect(started, app)
        app.receiver = started  # kept alive: blinker holds it weakly

    async def send(response: Any) -> None:
        pass

    test_client = app.test_client()

    async def one_round() -> float:
        start = time.perf_counter()
        if client:
            for _ in range(requests):
                await test_client.get("/")
        else:
            for _ in range(requests):
                await app.handle_request(make_test_request(app, "/"), send)
        return (time.perf_counter() - start) / requests * 1e6

    return one_round


async def main(requests: int, rounds: int, baseline: str, client: bool) -> None:
    variants = {
        "tree, no receiver": make_round("trioweb_tree", requests, False, client),
        f"{baseline}": make_round("trioweb_base", requests, False, client),
        "tree, one receiver": make_round("trioweb_tree_r", requests, True, client),
    }
    times: dict[str, list[float]] = {name: [] for name in variants}
    names = list(variants)
    for round_number in range(rounds):
        turn = round_number % len(names)
        for name in names[turn:] + names[:turn]:
            times[name].append(await variants[name]())
    for name, figures in times.items():
        print(
            f"{name:>18}: median {statistics.median(figures):.2f} us/request, "
            f"best {min(figures):.2f} ({rounds} rounds x {requests})"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--baseline", default="HEAD", help="the commit to compare with (default HEAD)")
    parser.add_argument("--requests", type=int, default=10000)
    parser.add_argument("--rounds", type=int, default=16)
    parser.add_argument("--client", action="store_true", help="GETs through the test client instead")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        copy_versions(Path(folder), arguments.baseline)
        sys.path.insert(0, folder)
        trio.run(main, arguments.requests, arguments.rounds, arguments.baseline, arguments.client)
