"""The fan-out benchmark's driver computes its figures right, and trioweb's side serves what its client expects."""

from __future__ import annotations

import argparse
import importlib
import os
import subprocess
import sys

import pytest

from bench.fanout import run


def phase(rate: float, p50: float, p99: float, client: float = 50.0, lost: int = 0) -> dict[str, object]:
    return {
        "delivered_rate": rate,
        "p50_ms": p50,
        "p99_ms": p99,
        "server_cpu_pct": 100.0,
        "client_cpu_pct": client,
        "redis_cpu_pct": 3.0,
        "lost": lost,
    }


def a_run(case: str, delivered: float, kib: float, client: float = 50.0) -> dict[str, object]:
    return {
        "case": case,
        "open": {"pids": {"11": 480, "12": 520}},
        "kib_per_subscriber": kib,
        "phases": [phase(20_000, 10.0, 30.0), phase(delivered, 80.0, 200.0, client)],
    }


def arguments(**overrides: object) -> argparse.Namespace:
    values: dict[str, object] = dict(subs=1000, size=64, repeats=3, phases="rate:20:10,max:8:10")
    values.update(slow_subs=100, slow_factor=10, slow_rate=100.0, slow_size=16384, slow_duration=30.0)
    values.update(overrides)
    return argparse.Namespace(**values)


def test_rss_per_subscriber_is_the_growth_divided_by_the_subscribers() -> None:
    assert run.rss_per_subscriber_kib(40_000, 65_000, 1000) == 25.0


def test_bounded_memory_shows_no_growth_over_the_second_half() -> None:
    flat = [(float(t), 50_000 + min(t, 4) * 1024) for t in range(21)]  # grows for 4 s (kernel buffers), then flat
    growing = [(float(t), 50_000 + t * 1024) for t in range(21)]
    assert run.growth(flat)["second_half_growth_mib"] == 0
    assert run.growth(flat)["growth_mib"] == 4
    assert run.growth(growing)["second_half_growth_mib"] == 10
    assert run.growth(growing)["max_mib"] == (50_000 + 20 * 1024) / 1024


def test_median_and_spread_ignore_missing_values() -> None:
    assert run.median([3.0, None, 1.0, 2.0]) == 2.0  # type: ignore[list-item]
    assert run.median([]) is None
    assert run.spread([90.0, 100.0, 110.0]) == pytest.approx(0.1)
    assert run.spread([100.0]) is None


def test_core_busy_counts_irq_time_as_busy() -> None:
    before = {"0": (100, 1000), "1": (0, 1000)}
    after = {"0": (600, 2000), "1": (1000, 2000)}
    assert run.busy_pct(before, after) == {"0": 50.0, "1": 100.0}


def test_descendants_finds_the_worker_processes() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        found = run.descendants(os.getpid())
        assert found[0] == os.getpid()
        assert child.pid in found
        assert run.rss_kib([child.pid]) > 0
        assert run.cpu_ticks([os.getpid()]) > 0
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(10)


def test_report_gives_the_ratio_of_the_same_case_and_marks_a_client_bound_run() -> None:
    results = {
        "T_redis_2": [a_run("T_redis_2", 120_000, 20.0, client=90.0) for _ in range(3)],
        "A_redis_2": [a_run("A_redis_2", 60_000, 40.0) for _ in range(3)],
    }
    table = run.report(results, {}, arguments())
    assert "| T_redis_2 / A_redis_2 | **2.00** | 1.00 | 1.00 | 0.50 |" in table
    assert "120,000 †" in table  # the client used >= 85 % of its core
    assert "60,000 ±0%" in table and "60,000 †" not in table
    assert "520/480" in table


def test_report_lists_a_failed_case_with_its_error() -> None:
    results = {"A_redis_1": [{"case": "A_redis_1", "error": "RuntimeError: no"}]}
    assert "failed: RuntimeError: no" in run.report(results, {}, arguments())


def test_report_shows_the_slow_subscriber_and_the_memory() -> None:
    slow_phase = phase(2000, 1.0, 3.0)
    slow_phase["slow"] = [{"received": 300, "read_rate": 10.0, "gaps": 4, "gap_lost": 2400}]
    samples = [(float(t), 60_000 + min(t, 4) * 1024) for t in range(21)]
    slow = {"T_redis_2": {"phases": [slow_phase], "rss": run.growth(samples)}}
    table = run.report({}, slow, arguments())
    assert "| T_redis_2 | 0 | 300 (10.0) | 4 (2400) | 58.6 | 62.6 | 62.6 | 0.0 |" in table


@pytest.mark.parametrize("module", ["trioweb_app", "trioweb_loop_app"])
async def test_the_trioweb_app_says_hello_then_forwards_what_is_published(module: str) -> None:
    pytest.importorskip("trioweb.broadcast")
    app = importlib.import_module(f"bench.fanout.{module}").app

    async with app.test_app() as test_app:
        client = test_app.test_client()
        async with client.websocket("/ws") as ws:
            assert await ws.receive(timeout=5) == f"hello {os.getpid()}"
            response = await client.post("/publish", data="1:0 12.5 xx")
            assert response.status_code == 200
            assert await response.get_data(as_text=True) == f"ok {os.getpid()}"
            assert await ws.receive(timeout=5) == "1:0 12.5 xx"


def test_a_run_is_noisy_when_other_processes_used_more_than_the_limit_in_a_phase() -> None:
    assert run.noisy({"phases": [{"foreign_cpu_pct": 3.0}, {"foreign_cpu_pct": 12.0}]}, 10)
    assert not run.noisy({"phases": [{"foreign_cpu_pct": 3.0}, {"foreign_cpu_pct": None}]}, 10)
