"""make bench: run every tests/bench/bench_*.py main() in turn (or the ones named)."""

from __future__ import annotations

import importlib
import pkgutil
import sys

import tests.bench


def run(names: list[str]) -> None:
    """Run the named benchmarks, or all of them."""
    found = sorted(m.name for m in pkgutil.iter_modules(tests.bench.__path__))
    chosen = [n for n in found if n.startswith("bench_") and (not names or n in names)]
    for name in chosen:
        print(f"== {name}", flush=True)
        # Each benchmark reads its own options from sys.argv: the names chosen here are not.
        sys.argv = [f"tests.bench.{name}"]
        importlib.import_module(f"tests.bench.{name}").main()


if __name__ == "__main__":
    run(sys.argv[1:])
