"""`zeeg-consumer web --workers` defaults to WEB_CONCURRENCY, as platforms set it."""

from __future__ import annotations

import os
from typing import Any

import pytest
from click.testing import CliRunner

from consumer.cli import main


def _argv(monkeypatch: pytest.MonkeyPatch, args: list[str], env: dict[str, str]) -> list[str]:
    """The gunicorn command line `web` would exec (os.execv captured)."""
    seen: list[list[str]] = []

    def fake_execv(path: Any, argv: list[str]) -> None:
        seen.append(argv)

    monkeypatch.setattr(os, "execv", fake_execv)
    result = CliRunner().invoke(main, ["web", "--sandbox", *args], env=env)
    assert result.exit_code == 0, result.output
    return seen[0]


@pytest.mark.parametrize(
    ("args", "env", "workers"),
    [
        ([], {}, "2"),
        ([], {"WEB_CONCURRENCY": "5"}, "5"),
        (["--workers", "3"], {"WEB_CONCURRENCY": "5"}, "3"),
    ],
)
def test_workers_from_web_concurrency(
    monkeypatch: pytest.MonkeyPatch, args: list[str], env: dict[str, str], workers: str
) -> None:
    """No option: WEB_CONCURRENCY, else 2; --workers wins over both."""
    monkeypatch.delenv("WEB_CONCURRENCY", raising=False)
    argv = _argv(monkeypatch, args, env)
    assert argv[argv.index("--workers") + 1] == workers


def test_bad_web_concurrency_is_a_usage_error() -> None:
    """WEB_CONCURRENCY=0 fails before gunicorn starts, naming the option."""
    result = CliRunner().invoke(main, ["web", "--sandbox"], env={"WEB_CONCURRENCY": "0"})
    assert result.exit_code == 2
    assert "--workers" in result.output
