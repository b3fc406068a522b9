"""Run a server under wrk and tell where its latency tail comes from: the collector, or the scheduling.

    taskset -c 0 .venv/bin/python bench/server_probe.py [--no-gc] -- trioweb serve bench.site.trioweb_app:app \
        --port 8500 --no-access-log
    # then, from another shell: taskset -c 1 wrk -t1 -c50 -d6s --latency http://127.0.0.1:8500/page
    kill -USR1 <pid>   # prints what was seen since the last USR1, and starts again

It runs ``python -m <module> <args>`` in this process with ``gc.callbacks``
timing every collection (count, total and longest pause per generation);
for the native server it also times, on each connection, the gap between
the end of one exchange and the start of the next (the request's wait for
the scheduler plus the client's turnaround), and when each connection's
first request was read (a spread of hundreds of milliseconds is new
connections waiting to be accepted). ``--no-gc`` disables the collector.
"""

from __future__ import annotations

import argparse
import gc
import runpy
import signal
import sys
import time
from typing import Any

collections: dict[int, list[float]] = {0: [], 1: [], 2: []}
gaps: list[float] = []
firsts: list[float] = []
started = 0.0


def on_gc(phase: str, info: dict[str, Any]) -> None:
    global started
    if phase == "start":
        started = time.perf_counter()
    else:
        collections[info["generation"]].append(time.perf_counter() - started)


def report(*_: object) -> None:
    for generation, pauses in collections.items():
        if pauses:
            print(
                f"gc gen{generation}: {len(pauses)} collections, {sum(pauses) * 1e3:.1f} ms in all, "
                f"longest {max(pauses) * 1e3:.2f} ms",
                file=sys.stderr,
            )
        pauses.clear()
    if gaps:
        ordered = sorted(gaps)
        at = [ordered[int(len(ordered) * q)] * 1e3 for q in (0.5, 0.9, 0.99)]
        print(
            f"gaps between a connection's exchanges: {len(ordered)}, p50 {at[0]:.1f} ms, p90 {at[1]:.1f} ms, "
            f"p99 {at[2]:.1f} ms, max {ordered[-1] * 1e3:.1f} ms",
            file=sys.stderr,
        )
        gaps.clear()
    if firsts:
        print(
            f"first requests of {len(firsts)} connections read over {(max(firsts) - min(firsts)) * 1e3:.0f} ms",
            file=sys.stderr,
        )
        firsts.clear()
    print(f"objects tracked by the collector: {len(gc.get_objects())}", file=sys.stderr, flush=True)


def time_exchanges() -> None:
    from trioweb.server import _http

    exchange = _http.HTTPConnection._exchange
    ended: dict[int, float] = {}

    async def timed(self: _http.HTTPConnection, event: Any) -> bool:
        now = time.perf_counter()
        last = ended.get(id(self))
        if last is None:
            firsts.append(now)
        else:
            gaps.append(now - last)
        try:
            return await exchange(self, event)
        finally:
            ended[id(self)] = time.perf_counter()

    _http.HTTPConnection._exchange = timed  # type: ignore[method-assign]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-gc", action="store_true", help="disable the collector")
    parser.add_argument("module")
    parser.add_argument("args", nargs=argparse.REMAINDER)
    options = parser.parse_args()
    if options.no_gc:
        gc.disable()
    gc.callbacks.append(on_gc)
    if options.module == "trioweb":
        time_exchanges()
    signal.signal(signal.SIGUSR1, report)
    sys.argv = [options.module, *options.args]
    runpy.run_module(options.module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
