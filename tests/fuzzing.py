"""Shared machinery of the fuzz suites: the settings profile, the log check, the case tally.

FUZZ_PROFILE picks the profile: "ci" (default, a few hundred cases in `make test`,
derandomized so a failure reproduces) or "chaos" (`make chaos`, at least 10,000 cases).
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

PROFILE = os.environ.get("FUZZ_PROFILE", "ci")
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


# Strings a sender (or an attacker with a valid secret) might put in an id or a time.
odd_text = (
    st.text(max_size=40)
    | st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=3)
    | st.text(st.characters(categories=["Nd", "No", "Cc", "Cf", "Zl", "Zp"]), max_size=20)
    | st.sampled_from(
        [
            "../../x",
            "%2F..%2F",
            "a\x00b",
            "a\r\nb",
            "a\u2028b",
            "\u043contacts",
            "x" * 10_000,
            "\ud800",
            "\uff12\uff10\uff12\uff14-\uff10\uff11-\uff10\uff11T00:00:00Z",
            "9999-12-31T23:59:59+00:00",
            "0001-01-01T00:00:00+00:00",
            "1e400",
            "-1e400",
            "NaN",
            "=cmd|'/C calc'!A0",
            "users/",
            "users/../x",
        ]
    )
)
odd_numbers = (
    st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from([0, -1, 2**63, 10**18, 1e11, 1e12, 253402300800, -62135596801])
)
