"""The fan-out benchmark in one run: a publisher, 1,000 websocket subscribers, trioweb against Starlette + broadcaster.

    .venv/bin/python bench/fanout/run.py            # full: 6 cases x 3 repeats + the slow-subscriber check (~15 min)
    .venv/bin/python bench/fanout/run.py --smoke    # ~1 min: 200 subscribers, 4 cases, 1 repeat, short phases

See bench/fanout/README.md for what each figure means. Stdlib only; it needs
node and ``../shared/bench/setup.sh``'s node deps (``ws``), installs the
anchor's venv from ``requirements-anchor.txt`` and, when missing,
``redis-server`` with apt-get. Everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parent.parent
CACHE = Path(
    os.environ.get("BENCH_CACHE") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "trioweb-bench"
)
CLK_TCK = os.sysconf("SC_CLK_TCK")
SERVER_CPU, CLIENT_CPU = "0", "1"  # redis-server runs on the client's core: CPU 0 is the Python server's alone
CLIENT_BOUND_PCT = 85.0


@dataclass(frozen=True)
class Case:
    name: str
    side: str  # "trioweb" | "anchor"
    backend: str  # "memory" | "redis"
    workers: int

    @property
    def peer(self) -> str:
        """The same case on the other side: the ratio's denominator."""
        return ("A" if self.side == "trioweb" else "T") + self.name[1:]


CASES = {
    c.name: c
    for c in (
        Case("T_memory_1", "trioweb", "memory", 1),
        Case("T_redis_1", "trioweb", "redis", 1),
        Case("T_redis_2", "trioweb", "redis", 2),
        Case("A_memory_1", "anchor", "memory", 1),
        Case("A_redis_1", "anchor", "redis", 1),
        Case("A_redis_2", "anchor", "redis", 2),
    )
}
SIDE_LABEL = {"trioweb": "trioweb (native server)", "anchor": "Starlette + broadcaster (uvicorn)"}


# ---- /proc


def descendants(root: int) -> list[int]:
    """root and every process below it (uvicorn's and trioweb's worker processes)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def rss_kib(pids: list[int]) -> int:
    """Sum of VmRSS over pids (a process gone meanwhile counts 0)."""
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def cpu_ticks(pids: list[int]) -> int:
    """utime + stime of pids, clock ticks."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total


def core_busy() -> dict[str, tuple[int, int]]:
    """Per CPU: (busy, total) jiffies; busy includes irq and softirq (loopback TCP work)."""
    out = {}
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("cpu") and line[3].isdigit():
            name, *values = line.split()
            v = [int(x) for x in values[:8]]
            out[name[3:]] = (v[0] + v[1] + v[2] + v[5] + v[6] + v[7], sum(v))
    return out


def process_busy_ticks() -> int:
    """user + nice + system over all CPUs (irq and softirq left out: no process is charged for them)."""
    values = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:4]]
    return sum(values)


def busy_pct(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]) -> dict[str, float]:
    return {
        cpu: 100.0 * (after[cpu][0] - before[cpu][0]) / max(1, after[cpu][1] - before[cpu][1])
        for cpu in after
        if cpu in before
    }


# ---- figures


def median(values: list[float]) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def spread(values: list[float]) -> float | None:
    """Half of (max - min) / median, as ../shared/bench reports it."""
    values = [v for v in values if v is not None]
    if len(values) < 2 or not statistics.median(values):
        return None
    return (max(values) - min(values)) / 2 / statistics.median(values)


def rss_per_subscriber_kib(before_kib: int, after_kib: int, subscribers: int) -> float:
    return (after_kib - before_kib) / subscribers


def growth(samples: list[tuple[float, int]]) -> dict[str, float]:
    """RSS samples (t, KiB) -> start/max/end MiB and the growth over the second half (bounded -> ~0)."""
    if not samples:
        return {}
    t_end = samples[-1][0]
    t_start = samples[0][0]
    middle = min(samples, key=lambda s: abs(s[0] - (t_start + t_end) / 2))
    return {
        "start_mib": samples[0][1] / 1024,
        "max_mib": max(s[1] for s in samples) / 1024,
        "end_mib": samples[-1][1] / 1024,
        "growth_mib": (samples[-1][1] - samples[0][1]) / 1024,
        "second_half_growth_mib": (samples[-1][1] - middle[1]) / 1024,
        "seconds": t_end - t_start,
    }


def fmt(value: float | None, digits: int = 0, suffix: str = "") -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}{suffix}"


# ---- processes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop(process: subprocess.Popen[Any]) -> None:
    """SIGINT to the process group it leads (workers included), then SIGTERM, then SIGKILL."""
    for sig, wait in ((signal.SIGINT, 10), (signal.SIGTERM, 5), (signal.SIGKILL, 5)):
        if process.poll() is not None:
            break
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(wait)
        except subprocess.TimeoutExpired:
            continue
    with contextlib.suppress(ProcessLookupError, PermissionError):  # workers left behind by a parent that died first
        os.killpg(process.pid, signal.SIGKILL)


def post_publish(port: int, body: bytes = b"w") -> str:
    """POST /publish on a new connection; the answer is 'ok <pid>'."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        head = f"POST /publish HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: {len(body)}\r\nconnection: close\r\n\r\n"
        s.sendall(head.encode() + body)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    status, _, rest = data.partition(b"\r\n")
    if b" 200 " not in status + b" ":
        raise RuntimeError(f"POST /publish answered {status.decode(errors='replace')}")
    return rest.partition(b"\r\n\r\n")[2].decode()


def wait_ready(port: int, process: subprocess.Popen[Any], workers: int, timeout: float = 30) -> set[str]:
    """Until POST /publish answers from `workers` different pids (a bound socket accepts before any worker runs)."""
    deadline = time.monotonic() + timeout
    pids: set[str] = set()
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode} before it was ready")
        try:
            answer = post_publish(port)
            pids.add(answer.split()[-1])
            if len(pids) >= workers:
                return pids
        except (OSError, RuntimeError, IndexError):
            time.sleep(0.1)
    raise RuntimeError(f"the server did not answer from {workers} processes in {timeout:.0f} s (seen: {sorted(pids)})")


class Redis:
    def __init__(self, log: Path) -> None:
        self.port = free_port()
        command = ["taskset", "-c", CLIENT_CPU, "redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", "--protected-mode", "yes"]
        self.process = subprocess.Popen(command, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(100).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"redis-server did not start (log: {log})")
            time.sleep(0.05)

    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def close(self) -> None:
        stop(self.process)


# ---- setup


def ensure_anchor_venv(venv: Path) -> Path:
    """The anchor's own venv, from requirements-anchor.txt; reinstalled when that file changes."""
    requirements = HERE / "requirements-anchor.txt"
    stamp = venv / ".fanout-requirements"
    python = venv / "bin" / "python"
    if not python.exists():
        log(f"creating the anchor venv {venv}")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    if not stamp.exists() or stamp.read_text() != requirements.read_text():
        log(f"installing {requirements.name} into {venv}")
        pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", "-r", str(requirements)]
        subprocess.run(pip, check=True)
        stamp.write_text(requirements.read_text())
    return python


def ensure_redis_server() -> None:
    if subprocess.run(["sh", "-c", "command -v redis-server"], capture_output=True).returncode == 0:
        return
    log("installing redis-server with apt-get")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    if subprocess.run(["apt-get", "install", "-y", "-qq", "redis-server"], env=env).returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "redis-server"], env=env, check=True)
    # Debian's package starts a system redis on 6379; the benchmark starts its own and never uses that one.


def ensure_node(node_dir: Path) -> None:
    if not (node_dir / "node_modules" / "ws" / "package.json").exists():
        raise SystemExit(
            f"no ws in {node_dir}/node_modules: run ../shared/bench/setup.sh first (or set BENCH_NODE_DIR)"
        )


def log(message: str) -> None:
    print(f"fanout: {message}", file=sys.stderr, flush=True)


# ---- noise


def foreign_cpu_pct(ours: list[int], seconds: float) -> float:
    """CPU used by processes other than `ours` over the next `seconds`, % of one core."""
    all_before, ours_before = process_busy_ticks(), cpu_ticks(ours)
    time.sleep(seconds)
    foreign = process_busy_ticks() - all_before - (cpu_ticks(ours) - ours_before)
    return max(0.0, 100.0 * foreign / CLK_TCK / seconds)


def wait_quiet(ours: list[int], quiet_pct: float, patience: float) -> float:
    """Until the rest of the machine uses < quiet_pct of a core (1 s samples), at most `patience` s; the last sample."""
    deadline = time.monotonic() + patience
    while True:
        used = foreign_cpu_pct(ours, 1.0)
        if used < quiet_pct or time.monotonic() >= deadline:
            return used
        log(f"waiting for a quiet machine: {used:.0f} % of a core used outside the benchmark")


def noisy(result: dict[str, Any], limit: float) -> bool:
    return any((p.get("foreign_cpu_pct") or 0) > limit for p in result.get("phases", []))


# ---- one run


@dataclass
class Settings:
    subs: int
    phases: str
    size: int
    slow: int
    slow_factor: int
    anchor_python: Path
    project_python: Path
    trioweb_app: str
    pythonpath: str
    node_dir: Path
    logs: Path


def server_command(case: Case, settings: Settings, port: int) -> list[str]:
    common = ["--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning"]
    if case.side == "trioweb":
        command = [str(settings.project_python), "-m", "trioweb", "serve", settings.trioweb_app, *common]
        if case.workers > 1:
            command += ["--workers", str(case.workers)]
    else:
        command = [str(settings.anchor_python), "-m", "uvicorn", "bench.fanout.anchor_app:app", *common]
        command += ["--loop", "uvloop", "--http", "httptools", "--ws", "websockets-sansio"]
        command += ["--workers", str(case.workers)]
    return ["taskset", "-c", SERVER_CPU, *command]


def run_once(case: Case, settings: Settings, redis: Redis | None, label: str, quiet: float = 0.0) -> dict[str, Any]:
    """Start the server, subscribe, run the client's phases, stop the server; figures of this run."""
    port = free_port()
    env = dict(os.environ, FANOUT_BROADCAST_URL=redis.url() if redis and case.backend == "redis" else "memory://")
    if settings.pythonpath:
        env["PYTHONPATH"] = settings.pythonpath + os.pathsep + env.get("PYTHONPATH", "")
    server_log = settings.logs / f"{label}.server.log"
    command = server_command(case, settings, port)
    server = subprocess.Popen(
        command, cwd=PROJECT, env=env, stdout=server_log.open("w"), stderr=subprocess.STDOUT, start_new_session=True
    )
    client: subprocess.Popen[str] | None = None
    result: dict[str, Any] = {"case": case.name, "label": label, "command": " ".join(command), "phases": []}
    result["foreign_before_pct"] = quiet
    try:
        wait_ready(port, server, case.workers)
        time.sleep(0.5)  # let the worker processes settle before the baseline
        tree = descendants(server.pid)
        result["server_processes"] = len(tree)
        rss_before = rss_kib(tree)
        client_command = ["taskset", "-c", CLIENT_CPU, "node", str(HERE / "client.js"), "--port", str(port)]
        client_command += ["--subs", str(settings.subs), "--phases", settings.phases, "--size", str(settings.size)]
        client_command += ["--slow", str(settings.slow), "--slow-factor", str(settings.slow_factor)]
        client_env = dict(os.environ, NODE_PATH=str(settings.node_dir / "node_modules"))
        client_log = (settings.logs / f"{label}.client.log").open("w")
        client = subprocess.Popen(
            client_command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=client_log,
            text=True,
            env=client_env,
            start_new_session=True,
        )
        assert client.stdin is not None and client.stdout is not None
        samples: list[tuple[float, int]] = []
        sampling = threading.Event()
        finished = threading.Event()

        def sample_rss() -> None:
            while not finished.wait(0.5):
                if sampling.is_set():
                    samples.append((time.monotonic(), rss_kib(descendants(server.pid))))

        sampler = threading.Thread(target=sample_rss, daemon=True)
        sampler.start()
        marks: dict[str, Any] = {}
        try:
            read_client(
                client.stdout,
                client.stdin,
                case,
                server,
                redis,
                result,
                marks,
                rss_before,
                settings,
                sampling,
                client.pid,
            )
        finally:
            finished.set()
            sampler.join()
        if client.wait(30) != 0:
            raise RuntimeError(f"the client exited with {client.returncode} (log: {client_log.name})")
        if settings.slow:
            result["rss_samples"] = samples
            result["rss"] = growth(samples)
    except Exception as error:  # one failed run is reported, the others go on
        result["error"] = f"{type(error).__name__}: {error}"
        log(f"{label}: {result['error']} (server log: {server_log})")
    finally:
        if client is not None and client.poll() is None:
            os.killpg(client.pid, signal.SIGKILL)
            client.wait()
        stop(server)
    return result


def read_client(
    out: TextIO,
    stdin: TextIO,
    case: Case,
    server: subprocess.Popen[Any],
    redis: Redis | None,
    result: dict[str, Any],
    marks: dict[str, Any],
    rss_before: int,
    settings: Settings,
    sampling: threading.Event,
    client_pid: int,
) -> None:
    """Follow the client's protocol lines (see client.js), sampling the server between them."""
    redis_pids = [redis.process.pid, *descendants(redis.process.pid)] if redis else []
    for line in out:
        word, _, rest = line.strip().partition(" ")
        if word == "OPEN":
            result["open"] = json.loads(rest)
            time.sleep(1.0)  # the last subscribers' buffers and tasks are in place
            tree = descendants(server.pid)
            rss_after = rss_kib(tree)
            result["rss_before_kib"], result["rss_after_kib"] = rss_before, rss_after
            result["kib_per_subscriber"] = rss_per_subscriber_kib(rss_before, rss_after, settings.subs + settings.slow)
            sampling.set()
            stdin.write("go\n")
            stdin.flush()
        elif word == "READY":
            result["ready"] = json.loads(rest)
        elif word == "#start":
            tree = descendants(server.pid)
            ours = [*tree, *redis_pids, client_pid, os.getpid()]
            marks.update(t=time.monotonic(), server=cpu_ticks(tree), redis=cpu_ticks(redis_pids), cores=core_busy())
            marks.update(tree=tree, ours=ours, ours_ticks=cpu_ticks(ours), all_ticks=process_busy_ticks())
        elif word == "#end":
            elapsed = time.monotonic() - marks["t"]
            marks["server_cpu_pct"] = 100.0 * (cpu_ticks(marks["tree"]) - marks["server"]) / CLK_TCK / elapsed
            marks["redis_cpu_pct"] = 100.0 * (cpu_ticks(redis_pids) - marks["redis"]) / CLK_TCK / elapsed
            marks["core_busy_pct"] = busy_pct(marks["cores"], core_busy())
            foreign = process_busy_ticks() - marks["all_ticks"] - (cpu_ticks(marks["ours"]) - marks["ours_ticks"])
            marks["foreign_cpu_pct"] = max(0.0, 100.0 * foreign / CLK_TCK / elapsed)
        elif word == "PHASE":
            phase = json.loads(rest)
            phase.update(
                server_cpu_pct=marks.get("server_cpu_pct"),
                redis_cpu_pct=marks.get("redis_cpu_pct") if redis_pids and case.backend == "redis" else None,
                core_busy_pct=marks.get("core_busy_pct"),
                foreign_cpu_pct=marks.get("foreign_cpu_pct"),
            )
            result["phases"].append(phase)
            log(f"{result['label']}: {summary(phase)}")
        elif word == "DONE":
            stdin.close()
            return
    raise RuntimeError("the client stopped before DONE")


def summary(phase: dict[str, Any]) -> str:
    text = (
        f"{phase['phase']}: {phase['delivered_rate']:,.0f} delivered/s, p50 {phase['p50_ms'] or 0:.1f} ms, "
        f"p99 {phase['p99_ms'] or 0:.1f} ms, lost {phase['lost']}, server {phase['server_cpu_pct'] or 0:.0f}%, "
        f"client {phase['client_cpu_pct']:.0f}%, others {phase['foreign_cpu_pct'] or 0:.0f}%"
    )
    for slow in phase["slow"]:
        text += f"; slow sub read {slow['received']} ({slow['read_rate']:.1f}/s), {slow['gaps']} gaps"
    return text


# ---- report


def phase_figures(runs: list[dict[str, Any]], index: int) -> dict[str, Any]:
    phases = [run["phases"][index] for run in runs if len(run.get("phases", [])) > index]

    def m(key: str) -> float | None:
        return median([p[key] for p in phases])

    figures = {key: m(key) for key in ("delivered_rate", "p50_ms", "p99_ms", "server_cpu_pct", "client_cpu_pct")}
    figures["delivered_spread"] = spread([p["delivered_rate"] for p in phases])
    figures["lost"] = sum(p["lost"] for p in phases)
    figures["client_bound"] = any(p["client_cpu_pct"] >= CLIENT_BOUND_PCT for p in phases)
    figures["redis_cpu_pct"] = m("redis_cpu_pct") if all(p["redis_cpu_pct"] is not None for p in phases) else None
    figures["runs"] = len(phases)
    return figures


def split_pids(run: dict[str, Any]) -> str:
    pids = run.get("open", {}).get("pids", {})
    return "/".join(str(n) for n in sorted(pids.values(), reverse=True)) or "-"


def report(results: dict[str, list[dict[str, Any]]], slow: dict[str, dict[str, Any]], args: argparse.Namespace) -> str:
    rate_spec, max_spec = args.phases.split(",")[:2]
    rate = rate_spec.split(":")[1]
    window = max_spec.split(":")[1]
    lines = [
        f"{args.subs} subscribers, {args.size}-byte text messages, {args.repeats} repeat(s), medians; "
        f"servers on CPU {SERVER_CPU}, client and redis-server on CPU {CLIENT_CPU}.",
        "",
        f"| case | server | processes | subscribers per process | delivered msg/s (closed loop, {window} in flight) "
        f"| p50 / p99 ms there | p50 / p99 ms at {rate} msg/s | lost | KiB per subscriber | server CPU % "
        "| client CPU % | redis CPU % |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    figures: dict[str, dict[str, Any]] = {}
    for name, runs in results.items():
        case = CASES[name]
        good = [run for run in runs if "error" not in run]
        if not good:
            errors = "; ".join(sorted({run.get("error", "") for run in runs}))
            lines.append(f"| {name} | {SIDE_LABEL[case.side]} | {case.workers} | - | failed: {errors} |||||||| ")
            continue
        rated, maxed = phase_figures(good, 0), phase_figures(good, 1)
        kib = median([run["kib_per_subscriber"] for run in good])
        figures[name] = {"rate": rated, "max": maxed, "kib": kib}
        mark = " †" if maxed["client_bound"] else ""
        lost = rated["lost"] + maxed["lost"]
        lines.append(
            f"| {name} | {SIDE_LABEL[case.side]}, {case.backend}:// | {case.workers} | {split_pids(good[0])} "
            f"| {fmt(maxed['delivered_rate'])}{mark} ±{fmt((maxed['delivered_spread'] or 0) * 100)}% "
            f"| {fmt(maxed['p50_ms'], 1)} / {fmt(maxed['p99_ms'], 1)} "
            f"| {fmt(rated['p50_ms'], 1)} / {fmt(rated['p99_ms'], 1)} | {lost} | {fmt(kib, 1)} "
            f"| {fmt(rated['server_cpu_pct'])} / {fmt(maxed['server_cpu_pct'])} "
            f"| {fmt(rated['client_cpu_pct'])} / {fmt(maxed['client_cpu_pct'])} "
            f"| {fmt(rated['redis_cpu_pct'])} / {fmt(maxed['redis_cpu_pct'])} |"
        )
    kept = [run for runs in results.values() for run in runs]
    foreign = [p.get("foreign_cpu_pct") or 0.0 for run in kept for p in run.get("phases", [])]
    lines += [
        "",
        "CPU columns: at the fixed rate / in the closed loop. † = the client used >= 85 % of its core.",
        f"Processes outside the benchmark used at most {max(foreign, default=0):.0f} % of a core during a phase; "
        f"{sum(noisy(run, 10) for run in kept)} of {len(kept)} runs kept had more than 10 % "
        f"(after {sum(run.get('attempt', 1) - 1 for run in kept)} redone).",
    ]
    ratio_lines = []
    for name, mine in figures.items():
        if CASES[name].side != "trioweb" or CASES[name].peer not in figures:
            continue
        theirs = figures[CASES[name].peer]

        def ratio(a: float | None, b: float | None) -> str:
            return f"{a / b:.2f}" if a is not None and b else "-"

        delivered = ratio(mine["max"]["delivered_rate"], theirs["max"]["delivered_rate"])
        ratio_lines.append(
            f"| {name} / {CASES[name].peer} | **{delivered}** "
            f"| {ratio(mine['rate']['p50_ms'], theirs['rate']['p50_ms'])} "
            f"| {ratio(mine['rate']['p99_ms'], theirs['rate']['p99_ms'])} | {ratio(mine['kib'], theirs['kib'])} |"
        )
    if ratio_lines:
        lines += [
            "",
            f"| ratio (same run) | delivered msg/s | p50 at {rate} msg/s | p99 at {rate} msg/s | KiB per subscriber |",
            "|---|---|---|---|---|",
            *ratio_lines,
            "",
            "Delivered msg/s: > 1 = trioweb faster; latency and memory: < 1 = trioweb lower.",
        ]
    if slow:
        lines += [
            "",
            f"Slow subscriber: {args.slow_subs} subscribers + 1 reading {args.slow_factor}x slower than "
            f"{args.slow_rate} msg/s of {args.slow_size} bytes, {args.slow_duration:g} s, "
            "server RSS sampled every 0.5 s.",
            "",
            "| case | others lost | slow one read (msg/s) | gap notices (messages they report lost) "
            "| RSS start MiB | max | end | growth over the 2nd half MiB |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for name, run in slow.items():
            if "error" in run or not run.get("phases"):
                lines.append(f"| {name} | failed: {run.get('error', 'no phase')} |||||||")
                continue
            phase, rss = run["phases"][0], run.get("rss", {})
            (one,) = phase["slow"]
            lines.append(
                f"| {name} | {phase['lost']} | {one['received']} ({one['read_rate']:.1f}) "
                f"| {one['gaps']} ({one['gap_lost']}) | {fmt(rss.get('start_mib'), 1)} | {fmt(rss.get('max_mib'), 1)} "
                f"| {fmt(rss.get('end_mib'), 1)} | {fmt(rss.get('second_half_growth_mib'), 1)} |"
            )
    return "\n".join(lines)


# ---- main


def skip_reasons(cases: list[Case], settings: Settings) -> dict[str, str]:
    """Cases that cannot run with this checkout, and why (trioweb.broadcast or --workers not there yet)."""
    reasons: dict[str, str] = {}
    if any(c.side == "trioweb" for c in cases):
        module = settings.trioweb_app.partition(":")[0]
        env = dict(os.environ, FANOUT_BROADCAST_URL="memory://")
        if settings.pythonpath:
            env["PYTHONPATH"] = settings.pythonpath
        check = subprocess.run(
            [str(settings.project_python), "-c", f"import {module}"],
            cwd=PROJECT,
            env=env,
            capture_output=True,
            text=True,
        )
        if check.returncode != 0:
            last = (check.stderr.strip().splitlines() or ["?"])[-1]
            reasons.update({c.name: f"cannot import {module}: {last}" for c in cases if c.side == "trioweb"})
        else:
            helptext = subprocess.run(
                [str(settings.project_python), "-m", "trioweb", "serve", "--help"],
                cwd=PROJECT,
                env=env,
                capture_output=True,
                text=True,
            ).stdout
            if "--workers" not in helptext:
                reasons.update(
                    {c.name: "trioweb serve has no --workers" for c in cases if c.side == "trioweb" and c.workers > 1}
                )
    return reasons


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="~1 min: 200 subscribers, 4 cases, 1 repeat, short phases")
    parser.add_argument("--cases", help=f"comma-separated, of {','.join(CASES)} (default: all; --smoke: 4)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--subs", type=int, default=1000, help="websocket subscribers")
    parser.add_argument("--rate", type=float, default=20, help="messages/s of the fixed-rate phase (latency, loss)")
    parser.add_argument("--window", type=int, default=8, help="messages in flight in the closed-loop phase")
    parser.add_argument("--duration", type=float, default=10, help="seconds of publishing per phase")
    parser.add_argument("--size", type=int, default=64, help="message bytes")
    parser.add_argument("--slow-cases", help="cases of the slow-subscriber check (default: all run; 'none' to skip)")
    parser.add_argument("--slow-subs", type=int, default=100, help="normal subscribers next to the slow one")
    parser.add_argument("--slow-rate", type=float, default=100, help="messages/s in the slow-subscriber check")
    parser.add_argument("--slow-size", type=int, default=16384, help="message bytes there (to outgrow kernel buffers)")
    parser.add_argument("--slow-duration", type=float, default=30)
    parser.add_argument("--slow-factor", type=int, default=10, help="how many times slower the slow one reads")
    parser.add_argument("--project-python", type=Path, default=Path(sys.executable))
    parser.add_argument("--trioweb-app", default="bench.fanout.trioweb_app:app")
    parser.add_argument("--pythonpath", default="", help="prepended to PYTHONPATH of the trioweb servers")
    parser.add_argument("--out", type=Path, default=CACHE / "fanout")
    parser.add_argument("--quiet-pct", type=float, default=5, help="wait before each run until others use less")
    parser.add_argument("--quiet-wait", type=float, default=120, help="at most this many s (--smoke: 5)")
    parser.add_argument("--foreign-max-pct", type=float, default=10, help="a run where others used more is redone")
    parser.add_argument("--max-retries", type=int, default=2, help="redos of a noisy run, then it is kept, marked")
    parser.add_argument("--report", type=Path, help="only print the tables of a results-<stamp>.json")
    args = parser.parse_args()
    if args.report:
        raw = json.loads(args.report.read_text())
        saved = argparse.Namespace(**{**vars(args), **raw["settings"]})
        print(render(raw["results"], raw["slow"], raw["skipped"], saved))
        return
    os.sched_setaffinity(0, {int(CLIENT_CPU)})  # this driver's own sampling stays off the server's core
    if args.smoke:  # smaller defaults; options given on the command line still win
        smoke = {"repeats": 1, "subs": 200, "duration": 2, "slow_subs": 20, "slow_duration": 6, "quiet_wait": 5}
        smoke.update(cases="T_memory_1,T_redis_2,A_redis_1,A_redis_2", slow_cases="T_redis_2,A_redis_2")
        for key, value in smoke.items():
            if getattr(args, key) == parser.get_default(key):
                setattr(args, key, value)
    args.phases = f"rate:{args.rate:g}:{args.duration:g},max:{args.window}:{args.duration:g}"
    names = args.cases.split(",") if args.cases else list(CASES)
    unknown = [n for n in names if n not in CASES]
    if unknown:
        parser.error(f"unknown case(s) {unknown}; known: {', '.join(CASES)}")
    slow_names = (
        [] if args.slow_cases == "none" else [n for n in (args.slow_cases.split(",") if args.slow_cases else names)]
    )

    stamp = time.strftime("%Y%m%d-%H%M%S")
    logs = args.out / "logs" / stamp
    logs.mkdir(parents=True, exist_ok=True)
    node_dir = Path(os.environ.get("BENCH_NODE_DIR") or CACHE / "node")
    ensure_node(node_dir)
    ensure_redis_server()
    anchor_python = ensure_anchor_venv(Path(os.environ.get("FANOUT_ANCHOR_VENV") or CACHE / "fanout-venv"))
    settings = Settings(
        subs=args.subs,
        phases=args.phases,
        size=args.size,
        slow=0,
        slow_factor=args.slow_factor,
        anchor_python=anchor_python,
        project_python=args.project_python,
        trioweb_app=args.trioweb_app,
        pythonpath=args.pythonpath,
        node_dir=node_dir,
        logs=logs,
    )
    cases = [CASES[n] for n in names]
    skipped = skip_reasons([c for n, c in CASES.items() if n in {*names, *slow_names}], settings)
    for name, reason in skipped.items():
        log(f"skipping {name}: {reason}")

    redis = Redis(logs / "redis.log")
    results: dict[str, list[dict[str, Any]]] = {c.name: [] for c in cases if c.name not in skipped}
    slow: dict[str, dict[str, Any]] = {}
    ours = [os.getpid(), redis.process.pid]

    def measured(case: Case, settings: Settings, label: str) -> dict[str, Any]:
        """One run after the machine is quiet, redone (up to --max-retries) when others used the CPU meanwhile."""
        for attempt in range(args.max_retries + 1):
            result = run_once(case, settings, redis, label, wait_quiet(ours, args.quiet_pct, args.quiet_wait))
            result["attempt"] = attempt + 1
            if not noisy(result, args.foreign_max_pct):
                break
            log(f"{label}: processes outside the benchmark used > {args.foreign_max_pct:g} % of a core: again")
        return result

    settings_saved = {k: getattr(args, k) for k in REPORT_SETTINGS}
    results_file = args.out / f"results-{stamp}.json"

    def save() -> None:  # after every run: an interrupted run still leaves its figures (--report)
        raw = {"settings": settings_saved, "results": results, "slow": slow, "skipped": skipped}
        results_file.write_text(json.dumps(raw, indent=1))

    try:
        for repeat in range(args.repeats):  # cases take turns, so a noisy minute touches each side alike
            for case in cases:
                if case.name not in skipped:
                    results[case.name].append(measured(case, settings, f"{case.name}-{repeat + 1}"))
                    save()
        slow_settings = Settings(
            **{
                **settings.__dict__,
                "subs": args.slow_subs,
                "slow": 1,
                "size": args.slow_size,
                "phases": f"rate:{args.slow_rate:g}:{args.slow_duration:g}",
            }
        )
        for name in slow_names:
            if name not in skipped:
                slow[name] = measured(CASES[name], slow_settings, f"{name}-slow")
                save()
    finally:
        redis.close()

    save()
    table = render(results, slow, skipped, args)
    (args.out / "latest.md").write_text(table + "\n")
    print(table)
    log(f"raw runs: {results_file} (--report it again); logs: {logs}")


REPORT_SETTINGS = ("subs", "size", "repeats", "phases", "slow_subs", "slow_factor", "slow_rate", "slow_size")
REPORT_SETTINGS += ("slow_duration",)


def render(
    results: dict[str, list[dict[str, Any]]],
    slow: dict[str, dict[str, Any]],
    skipped: dict[str, str],
    args: argparse.Namespace,
) -> str:
    table = report(results, slow, args)
    if skipped:
        table += "\n\nSkipped: " + "; ".join(f"{name} ({reason})" for name, reason in skipped.items())
    return table


if __name__ == "__main__":
    main()
