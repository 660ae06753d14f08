"""The status page's chart layout, its Redis key, the session fingerprint and its packaging."""

from __future__ import annotations

import fnmatch
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from consumer.store import chart, keys
from consumer.web import page_chart, page_login

ROOT = Path(__file__).resolve().parents[2]
T0 = 1_699_999_200  # a whole hour (UTC)


def test_the_chart_key_is_this_literal_string() -> None:
    """One hash per epoch minute; renaming it would orphan the stored counts."""
    assert keys.chart_minute(28333333) == "zc:chart:28333333"
    assert chart.minute_of(T0 + 59.9) == T0 // 60


@pytest.mark.parametrize(
    ("peak", "top"), [(0, 1), (1, 1), (2, 2), (3, 5), (7, 10), (11, 20), (260, 500)]
)
def test_the_y_axis_top_is_a_round_number_at_or_above_the_peak(peak: int, top: int) -> None:
    """1, 2, 5, 10, 20, 50, ...: the axis reads at a glance."""
    assert page_chart.nice_top(peak) == top


def test_bars_stack_the_outcomes_of_each_minute_in_proportion() -> None:
    """A minute's outcomes are stacked from the axis up, their heights in proportion."""
    start = T0 // 60
    series = [(start, {}), (start + 1, {"deleted": 3, "failed": 1}), (start + 2, {"stale": 2})]
    drawn = page_chart.draw(series, 1)
    _, top, _, bottom = drawn.plot
    by_outcome = {b.outcome: b for b in drawn.bars}
    assert [b.outcome for b in drawn.bars] == ["deleted", "failed", "stale"]
    assert by_outcome["deleted"].y + by_outcome["deleted"].height == pytest.approx(bottom)
    assert by_outcome["failed"].y + by_outcome["failed"].height == pytest.approx(
        by_outcome["deleted"].y
    )
    assert by_outcome["failed"].y == pytest.approx(top + (bottom - top) * (5 - 4) / 5)
    assert by_outcome["deleted"].height == pytest.approx(3 * by_outcome["failed"].height)
    assert drawn.totals == [
        ("deleted", "#1b7837", 3),
        ("stale", "#a64b00", 2),
        ("failed", "#b2182b", 1),
    ]
    assert drawn.total == 6 and by_outcome["deleted"].title.endswith("UTC: 3 deleted")


def test_an_empty_span_draws_no_bar_and_labels_each_half_hour() -> None:
    """No outcome: no bar, an axis from 0 to 1, time labels every 30 minutes over 3 hours."""
    start = T0 // 60
    drawn = page_chart.draw([(start + i, {}) for i in range(180)], 3)
    assert drawn.bars == [] and drawn.totals == []
    assert [t.text for t in drawn.y_ticks] == ["0", "1"]
    assert len(drawn.x_ticks) == 6 and drawn.x_ticks[0].text.endswith(":00")


def test_an_unknown_outcome_is_drawn_after_the_known_ones() -> None:
    """A stored outcome this version does not name still shows, in a neutral colour."""
    drawn = page_chart.draw([(T0 // 60, {"zz-new": 1, "deleted": 1})], 1)
    assert [(o, c) for o, c, _ in drawn.totals] == [("deleted", "#1b7837"), ("zz-new", "#000000")]


def test_the_session_keeps_a_fingerprint_of_the_token_never_the_token() -> None:
    """The fingerprint is stable for a token, differs between tokens and does not hold it."""
    fp = page_login.fingerprint("s3cret-token")
    assert fp == page_login.fingerprint("s3cret-token") != page_login.fingerprint("other")
    assert "s3cret" not in fp and len(fp) == 64


def test_every_template_ships_with_the_package() -> None:
    """pyproject's package-data covers every file under consumer/web/templates/."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["consumer.web"]
    base = ROOT / "consumer" / "web"
    files = [p.relative_to(base).as_posix() for p in (base / "templates").rglob("*") if p.is_file()]
    assert files, "no template found"
    assert [f for f in files if not any(fnmatch.fnmatch(f, p) for p in patterns)] == []


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_installs_chromium_with_apt_when_it_is_missing(tmp_path: Path) -> None:
    """`make chromium` (a prerequisite of `make test`) runs apt when the binary is absent."""
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    argv = ["make", "-s", "chromium", "SUDO=echo", f"CHROMIUM={tmp_path / 'none'}"]
    done = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "apt-get install -y -qq chromium" in done.stdout
    present = subprocess.run(
        [*argv[:-1], "CHROMIUM=/bin/sh"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert present.stdout == ""
    test_rule = next(
        line for line in (ROOT / "Makefile").read_text().splitlines() if line.startswith("test:")
    )
    assert "chromium" in test_rule.split()
