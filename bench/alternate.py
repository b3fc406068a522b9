"""Starlette against trioweb on Hypercorn's trio worker, taking turns.

``../shared/bench/run.sh`` measures one server after the other, so a machine
whose speed drifts by a few percent over minutes can tip a comparison of two
servers that are within a few percent of each other. This script keeps both
servers up and alternates them (D T, T D, D T, ...), with the bench's pinning
(servers on CPU 0, load on CPU 1) and its clients (wrk, ``clients/wsbench.js``).
For each run it reports the rate and the server CPU per operation, read from
``/proc/PID/stat``, which drift moves less than a rate.

    .venv/bin/python bench/alternate.py [--rounds 4] [--duration 6] [--tests http,ws]

It needs ``../shared/bench/setup.sh`` to have run (anchor venv, node modules).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.request import urlopen

PROJECT = Path(__file__).resolve().parent.parent
CACHE = Path(
    os.environ.get("BENCH_CACHE") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "trioweb-bench"
)
CLK_TCK = os.sysconf("SC_CLK_TCK")


class Server:
    def __init__(self, name: str, python: Path, cwd: Path, app: str, port: int) -> None:
        self.name, self.port = name, port
        command = ["taskset", "-c", "0", str(python), "-m", "hypercorn", "-k", "trio", "-w", "0"]
        command += ["-b", f"127.0.0.1:{port}", app]
        self.process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                urlopen(f"http://127.0.0.1:{port}/", timeout=1).read()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"{name} did not start on port {port}")

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def run_http(server: Server, duration: float) -> tuple[float, float]:
    """(requests/s, server CPU us per request) for ``wrk -t1 -c50``."""
    cpu = server.cpu_seconds()
    command = ["taskset", "-c", "1", "wrk", "-t1", "-c50", f"-d{duration:g}s", f"http://127.0.0.1:{server.port}/"]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    cpu = server.cpu_seconds() - cpu
    total = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    return rate, cpu / total * 1e6


def run_ws(server: Server, duration: float, bench: Path) -> tuple[float, float]:
    """(round trips/s, server CPU us per round trip) for 50 connections echoing 32 B."""
    env = dict(os.environ, NODE_PATH=str(CACHE / "node" / "node_modules"))
    command = ["taskset", "-c", "1", "node", str(bench / "clients" / "wsbench.js")]
    command += ["--url", f"ws://127.0.0.1:{server.port}/ws", "--mode", "echo", "--conns", "50", "--size", "32"]
    command += ["--duration", f"{duration:g}", "--warmup", "1"]
    client = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    assert client.stdout is not None
    cpu, result = 0.0, None
    for line in client.stdout:
        if line.startswith("#start"):
            cpu = server.cpu_seconds()
        elif line.startswith("#end"):
            cpu = server.cpu_seconds() - cpu
        elif line.startswith("{"):
            result = json.loads(line)
    if client.wait() != 0 or result is None:
        raise RuntimeError(f"wsbench.js against {server.name} failed (exit {client.returncode}); its stderr is above")
    return result["rate"], cpu / result["msgs"] * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--duration", type=float, default=6)
    parser.add_argument("--tests", default="http,ws")
    parser.add_argument("--bench", type=Path, default=PROJECT.parent / "shared" / "bench")
    args = parser.parse_args()
    anchor_python = Path(os.environ.get("BENCH_VENV") or CACHE / "venv") / "bin" / "python"
    servers = [
        Server("starlette", anchor_python, args.bench, "servers.starlette_app:app", 8301),
        Server("trioweb", Path(sys.executable), PROJECT, "bench.app:app", 8302),
    ]
    try:
        for server in servers:
            run_http(server, 2)  # warm-up
        for test in args.tests.split(","):
            ratios: dict[str, list[float]] = {"rate": [], "cpu": []}
            for round_ in range(args.rounds):
                order = servers if round_ % 2 == 0 else servers[::-1]
                got = {
                    s.name: run_http(s, args.duration) if test == "http" else run_ws(s, args.duration, args.bench)
                    for s in order
                }
                (d_rate, d_cpu), (t_rate, t_cpu) = got["starlette"], got["trioweb"]
                ratios["rate"].append(t_rate / d_rate)
                ratios["cpu"].append(d_cpu / t_cpu)
                print(
                    f"{test:4} starlette {d_rate:8.0f}/s {d_cpu:6.1f} us/op"
                    f"   trioweb {t_rate:8.0f}/s {t_cpu:6.1f} us/op"
                    f"   rate T/D {t_rate / d_rate:.3f}   cpu D/T {d_cpu / t_cpu:.3f}",
                    flush=True,
                )
            print(
                f"{test:4} median: rate T/D {statistics.median(ratios['rate']):.3f}, "
                f"cpu per op D/T {statistics.median(ratios['cpu']):.3f} (> 1: trioweb ahead)",
                flush=True,
            )
    finally:
        for server in servers:
            server.stop()


if __name__ == "__main__":
    main()
