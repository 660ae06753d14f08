"""Shared machinery of the fuzz suites: the settings profile, the log check, the case tally.

ZC_FUZZ_PROFILE picks the profile: "ci" (default, a few hundred cases in `make test`,
derandomized so a failure reproduces) or "chaos" (`make chaos`, at least 10,000 cases).
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

PROFILE = os.environ.get("ZC_FUZZ_PROFILE", "ci")
# Each fuzz test asks for a share; chaos multiplies it so the suites together pass 10,000.
SCALE = {"ci": 1, "chaos": 40}.get(PROFILE, 1)
TALLY: Counter[str] = Counter()


def fuzz(examples: int) -> settings:
    """Hypothesis settings for one fuzz test: examples (times the profile's scale)."""
    return settings(
        max_examples=examples * SCALE,
        deadline=None,
        derandomize=PROFILE != "chaos",
        database=None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
        ],
    )


def count(status: int) -> None:
    """Tally one case and whether it was a server error (reported at the end of the run)."""
    TALLY["cases"] += 1
    if status >= 500:
        TALLY["5xx"] += 1


def no_tracebacks(caplog: pytest.LogCaptureFixture, context: Any) -> None:
    """Fail if any log record carries an exception or a traceback; then forget the records."""
    bad = [
        r
        for r in caplog.records
        if r.exc_info or "Traceback" in r.getMessage() or r.levelno >= logging.CRITICAL
    ]
    caplog.clear()
    assert not bad, f"{context!r} logged {bad[0].getMessage()!r} ({bad[0].exc_info!r})"


def report(config: pytest.Config) -> None:
    """Write the tally to the terminal (and reset it for the next module)."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    line = f"fuzz[{PROFILE}]: {TALLY['cases']} cases, {TALLY['5xx']} answered 5xx"
    TALLY.clear()
    if reporter is None or capture is None:
        return
    with capture.global_and_fixture_disabled():  # teardown output is captured otherwise
        reporter.write_line("")
        reporter.write_line(line)
