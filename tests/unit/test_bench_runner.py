"""`python -m tests.bench NAME` (README, Benchmarks) runs one benchmark with its defaults."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import tests.bench
from tests.bench.__main__ import run

PROBE = """
import sys
from pathlib import Path

def main():
    Path(__file__).with_suffix(".argv").write_text(" ".join(sys.argv[1:]))
"""


def test_a_named_benchmark_does_not_see_the_names_as_its_options(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """bench_drain parses argv and bench_mappings reads argv[1]: the runner clears the names."""
    (tmp_path / "bench_probe.py").write_text(PROBE)
    monkeypatch.setattr(tests.bench, "__path__", [str(tmp_path)])
    monkeypatch.setattr(sys, "argv", ["tests.bench", "bench_probe"])
    monkeypatch.delitem(sys.modules, "tests.bench.bench_probe", raising=False)
    run(["bench_probe"])
    assert (tmp_path / "bench_probe.argv").read_text() == ""
