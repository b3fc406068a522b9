"""The app toolkit's costs, in one run: a static file, a large download, a template page.

    .venv/bin/python bench/site_bench.py [--repeats 3] [--duration 8] [--downloads 5]

Against Starlette (``StaticFiles``, ``FileResponse``, ``Jinja2Templates``) and
quart-trio, both on Hypercorn's trio worker, with the same site
(``bench/site/``) written for each:

1. ``../shared/bench/run.sh --config bench/site.toml``: wrk at 50
   connections on ``GET /static/1k.txt`` and ``GET /page``, every row of
   ``bench/site.toml``, with the shared driver's pinning, noise gate and
   repeats;
2. then, here, a 100 MiB download (``GET /download``) with curl, repeated:
   MiB/s, and the server's resident memory before the first download and
   after the last (and its peak, ``VmHWM``), which must not grow with the
   file. Server on CPU 0, curl on CPU 1, as the shared bench pins them.

It prints one table with the ratios the issue asks for and writes it to
``~/.cache/trioweb-bench/site/latest.md``. It needs ``../shared/bench/setup.sh``
to have run (wrk, the anchor venv).
"""

from __future__ import annotations

import argparse
import json
import os
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
OUT = CACHE / "site"
MiB = 1024 * 1024

DOWNLOAD_SERVERS = {
    "starlette": ("anchor", ["-m", "hypercorn", "-k", "trio", "-w", "0", "-b", "127.0.0.1:{port}"], "starlette_app"),
    "quart": ("anchor", ["-m", "hypercorn", "-k", "trio", "-w", "0", "-b", "127.0.0.1:{port}"], "quart_app"),
    "trioweb_native": ("project", ["-m", "trioweb", "serve", "--port", "{port}", "--no-access-log"], "trioweb_app"),
    "trioweb_hypercorn": (
        "project",
        ["-m", "hypercorn", "-k", "trio", "-w", "0", "-b", "127.0.0.1:{port}"],
        "trioweb_app",
    ),
}


def big_file(size_mib: int) -> Path:
    """A file of random bytes (not sparse, not compressible), made once."""
    path = OUT / f"{size_mib}MiB.bin"
    if not path.exists() or path.stat().st_size != size_mib * MiB:
        OUT.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as file:
            for _ in range(size_mib):
                file.write(os.urandom(MiB))
    return path


def memory_kib(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of a process, KiB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


def measure_downloads(name: str, python: Path, port: int, file: Path, count: int) -> dict[str, float]:
    _, arguments, module = DOWNLOAD_SERVERS[name]
    command = ["taskset", "-c", "0", str(python), *(a.format(port=port) for a in arguments), f"bench.site.{module}:app"]
    env = dict(os.environ, BENCH_DOWNLOAD=str(file))
    server = subprocess.Popen(command, cwd=PROJECT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                urlopen(f"{base}/static/1k.txt", timeout=1).read()
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise RuntimeError(f"{name} did not start (command: {' '.join(command)})")
        for _ in range(20):  # warm the small paths and the allocator
            urlopen(f"{base}/static/1k.txt", timeout=5).read()
        rss_before, _ = memory_kib(server.pid)
        speeds = []
        curl = ["taskset", "-c", "1", "curl", "-s", "-o", "/dev/null", "-w", "%{speed_download} %{size_download}"]
        for _ in range(count):
            output = subprocess.run([*curl, f"{base}/download"], capture_output=True, text=True, check=True).stdout
            speed, size = output.split()
            if int(size) != file.stat().st_size:
                raise RuntimeError(f"{name} sent {size} bytes of {file.stat().st_size}")
            speeds.append(float(speed) / MiB)
        rss_after, peak = memory_kib(server.pid)
    finally:
        server.terminate()
        server.wait(10)
    return {
        "mib_s": statistics.median(speeds),
        "spread": (max(speeds) - min(speeds)) / 2 / statistics.median(speeds),
        "rss_before_mib": rss_before / 1024,
        "rss_growth_mib": (rss_after - rss_before) / 1024,
        "peak_growth_mib": (peak - rss_before) / 1024,
    }


def wrk_rates(results_file: Path) -> dict[str, float]:
    results = json.loads(results_file.read_text())["results"]
    rates = {}
    for row, result in results.items():
        runs = [run["rate"] for run in result.get("runs", {}).get("http_c50", []) if run.get("rate")]
        if runs:
            rates[row] = statistics.median(runs)
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--duration", type=float, default=8)
    parser.add_argument("--downloads", type=int, default=5, help="100 MiB downloads per server")
    parser.add_argument("--size-mib", type=int, default=100)
    parser.add_argument("--bench", type=Path, default=PROJECT.parent / "shared" / "bench")
    parser.add_argument("--skip-wrk", action="store_true", help="only the downloads")
    args = parser.parse_args()
    anchor_python = Path(os.environ.get("BENCH_VENV") or CACHE / "venv") / "bin" / "python"
    project_python = Path(sys.executable)
    OUT.mkdir(parents=True, exist_ok=True)

    rates: dict[str, float] = {}
    if not args.skip_wrk:
        wrk_out = OUT / "wrk"
        before = set(wrk_out.glob("results-*.json"))
        command = [str(args.bench / "run.sh"), "--config", str(PROJECT / "bench" / "site.toml")]
        command += ["--project", str(PROJECT), "--project-python", str(project_python), "--out", str(wrk_out)]
        command += ["--tests", "http", "--http-conns", "50", "--repeats", str(args.repeats)]
        command += ["--duration", str(args.duration)]
        subprocess.run(command, check=True, cwd=PROJECT)
        (results_file,) = set(wrk_out.glob("results-*.json")) - before
        rates = wrk_rates(results_file)

    file = big_file(args.size_mib)
    downloads = {}
    for port, name in enumerate(DOWNLOAD_SERVERS, start=8400):
        python = anchor_python if DOWNLOAD_SERVERS[name][0] == "anchor" else project_python
        downloads[name] = measure_downloads(name, python, port, file, args.downloads)
        print(f"download {name}: {downloads[name]}", file=sys.stderr, flush=True)

    lines = [
        f"| server | 1 KiB static req/s (c50) | page req/s (c50) | {args.size_mib} MiB download MiB/s "
        "| RSS before | RSS growth | peak growth |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, d in downloads.items():
        prefix = "T" if name.startswith("trioweb") else "D" if name == "starlette" else "C"
        static = rates.get(f"{prefix}static_{name}")
        page = rates.get(f"{prefix}page_{name}")
        lines.append(
            f"| {name} | {static or 0:,.0f} | {page or 0:,.0f} | {d['mib_s']:,.0f} ±{d['spread']:.0%} | "
            f"{d['rss_before_mib']:.1f} MiB | {d['rss_growth_mib']:+.1f} MiB | {d['peak_growth_mib']:+.1f} MiB |"
        )

    def ratio(kind: str, ours: str, theirs: str) -> str:
        if kind == "download":
            value = downloads[ours]["mib_s"] / downloads[theirs]["mib_s"]
        else:
            prefix = {"starlette": "D", "quart": "C"}[theirs]
            mine, anchor = rates.get(f"T{kind}_{ours}"), rates.get(f"{prefix}{kind}_{theirs}")
            if not mine or not anchor:
                return "-"
            value = mine / anchor
        return f"{value:.2f}"

    lines += ["", "| ratio | static 1 KiB | page | download |", "|---|---|---|---|"]
    for ours in ("trioweb_native", "trioweb_hypercorn"):
        for theirs in ("starlette", "quart"):
            lines.append(
                f"| {ours} / {theirs} | {ratio('static', ours, theirs)} | {ratio('page', ours, theirs)} | "
                f"{ratio('download', ours, theirs)} |"
            )
    table = "\n".join(lines)
    (OUT / "latest.md").write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
