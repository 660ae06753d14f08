"""deploy/prometheus/alerts.yml: valid rules for promtool, and alerts that fire as documented."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    """Run promtool in the rules folder (Debian's prometheus package; make test installs it)."""
    binary = shutil.which("promtool")
    assert binary, "promtool is not installed (make test installs Debian's prometheus package)"
    return subprocess.run(
        [binary, *args], cwd=RULES, capture_output=True, text=True, timeout=60, check=False
    )


def test_promtool_checks_the_example_rules() -> None:
    """promtool check rules accepts every rule of alerts.yml."""
    done = promtool("check", "rules", "alerts.yml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_the_alerts_fire_once_across_replicas() -> None:
    """promtool's rule tests: two replicas serving one pause raise one alert (max, not sum)."""
    done = promtool("test", "rules", "alerts_test.yml")
    assert done.returncode == 0, done.stdout + done.stderr
