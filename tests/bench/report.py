"""The report `make bench` writes: bench/results/<name>.json and the table in docs/benchmarks.md.

Every figure is a ratio against a floor measured in the same run (or against the limit the
sandbox enforced), next to the issue's target.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results"
DOCS = ROOT / "docs" / "benchmarks.md"
MARK = "<!-- table: written by make bench (tests/bench/report.py) -->"


def machine() -> dict[str, Any]:
    """Where the figures were measured: CPU, cores, versions."""
    binary = shutil.which("redis-server") or "redis-server"
    redis_version = subprocess.run(
        [binary, "--version"], capture_output=True, text=True, check=False
    ).stdout.split()
    packages = ("rq", "redis", "requests", "flask", "gunicorn")
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "redis_server": next((w[2:] for w in redis_version if w.startswith("v=")), "?"),
        **{p: metadata.version(p) for p in packages},
    }


def _cpu_model() -> str:
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.processor()
    return next((x.split(":", 1)[1].strip() for x in lines if x.startswith("model name")), "?")


def rows(f: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(figure, measured, target) rows from the report's figures."""
    ing, wk, lat, mem = (
        f["bench_ingest"],
        f["bench_workers"],
        f["bench_latency"],
        f["bench_memory_events"],
    )
    out = [
        ("ingest req/s: ours / floor (one LPUSH)", f"{ing['ours_vs_floor']:.2f}", ">= 0.8"),
        ("ingest req/s: ours / naive (Queue.enqueue)", f"{ing['ours_vs_naive']:.2f}", ">= 1.2"),
        *(
            (f"ingest {k}: req/s, p50, p99", _ingest(ing[k]), "")
            for k in ("floor", "naive", "ours")
        ),
        (
            "ingest p99 at half our max rate",
            f"{ing['ours_half_load']['p99_us'] / 1000:.1f} ms",
            "<= 10 ms",
        ),
    ]
    for name, d in f["bench_drain"].items():
        target = ">= 0.95 L, 0 429s" if name.endswith("rate1L") else ">= 0.85 L"
        measured = f"{d['vs_limit']:.2f} L, {d['http_429']} 429s"
        out.append((f"drain 5,000 events, 4 workers, {name}: erasures/s / L", measured, target))
    out += [
        ("one worker: ours / naive SimpleWorker", f"{wk['ours_vs_naive_simple']:.2f}", ">= 1.5"),
        ("one worker: ours / naive forking Worker", f"{wk['ours_vs_naive_forking']:.2f}", ""),
        *(
            (f"one worker {k}: erasures/s, CPU per erasure", _worker(wk[k]), "")
            for k in ("ours", "naive_simple", "naive_forking")
        ),
        ("CPU per erasure (ours)", f"{wk['ours']['cpu_ms_per_erasure']:.2f} ms", "<= 5 ms"),
        (
            "latency webhook -> deleted p50 / p99",
            f"{lat['p50_ms']:.1f} / {lat['p99_ms']:.1f} ms",
            "p50 <= 10 ms",
        ),
        ("memory per in-flight event", f"{mem['bytes_per_in_flight_event']:.0f} B", "<= 1,500 B"),
        ("memory per completed event", f"{mem['bytes_per_completed_event']:.0f} B", "<= 600 B"),
    ]
    return out


def _ingest(x: dict[str, float]) -> str:
    return f"{x['rps']:.0f}, {x['p50_us'] / 1000:.1f} ms, {x['p99_us'] / 1000:.1f} ms"


def _worker(x: dict[str, float]) -> str:
    return f"{x['erasures_per_second']:.1f}/s, {x['cpu_ms_per_erasure']:.2f} ms"


def table(name: str, f: dict[str, Any], where: dict[str, Any], seconds: float) -> str:
    """The Markdown table of one run, with where and how long it ran."""
    lines = [
        MARK,
        f"Run `{name}`: {where['cpu']}, {where['cores']} cores, Python {where['python']}, "
        f"redis-server {where['redis_server']}, rq {where['rq']}; {seconds:.0f} s in all.",
        "",
        "| figure | measured | target |",
        "|---|---|---|",
        *(f"| {a} | {b} | {c} |" for a, b, c in rows(f)),
    ]
    return "\n".join(lines) + "\n"


def write(name: str, figures: dict[str, Any], seconds: float) -> Path:
    """Write bench/results/<name>.json and replace the table in docs/benchmarks.md."""
    where = machine()
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    data = {"name": name, "machine": where, "seconds": seconds, "figures": figures}
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    text = DOCS.read_text() if DOCS.exists() else f"# Benchmarks\n\n{MARK}\n"
    head = text.split(MARK, 1)[0]
    DOCS.write_text(head + table(name, figures, where, seconds))
    return path
