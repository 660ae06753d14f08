"""make bench: the side-by-side report (REPORT, written to bench/results and docs), or the
benchmarks named (any tests/bench/bench_*.py, printed only).

    .venv/bin/python -m tests.bench                 # the report; BENCH_NAME names the result
    .venv/bin/python -m tests.bench bench_drain     # one benchmark with its defaults
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import socket
import sys
import time
from typing import Any

import tests.bench
from tests.bench import report

REPORT = ["bench_ingest", "bench_drain", "bench_workers", "bench_latency", "bench_memory_events"]


def run(names: list[str]) -> dict[str, Any]:
    """Run the named benchmarks, or all of them; the figures of those that return some."""
    found = sorted(m.name for m in pkgutil.iter_modules(tests.bench.__path__))
    chosen = [n for n in found if n.startswith("bench_") and (not names or n in names)]
    figures = {}
    for name in chosen:
        print(f"== {name}", flush=True)
        # Each benchmark reads its own options from sys.argv: the names chosen here are not.
        sys.argv = [f"tests.bench.{name}"]
        figures[name] = importlib.import_module(f"tests.bench.{name}").main()
    return figures


def main(names: list[str]) -> None:
    """The named benchmarks, or the report: run, then write its JSON and its docs table."""
    if names:
        run(names)
        return
    started = time.monotonic()
    figures = run(REPORT)
    name = os.environ.get("BENCH_NAME") or socket.gethostname()
    path = report.write(name, figures, time.monotonic() - started)
    print(f"== wrote {path} and {report.DOCS}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
