"""The version has one source: the installed distribution's metadata (pyproject's version)."""

from __future__ import annotations

import re
from importlib.metadata import version
from pathlib import Path

from click.testing import CliRunner

from consumer import __version__
from consumer.cli import main
from consumer.web.openapi import document


def test_version_comes_from_the_distribution_metadata() -> None:
    """consumer.__version__ is what importlib.metadata reports for zeeg-consumer."""
    assert __version__ == version("zeeg-consumer")


def test_cli_prints_the_version() -> None:
    """`zeeg-consumer --version` prints the program name and the version, exit 0."""
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert result.output == f"zeeg-consumer, version {__version__}\n"


def test_openapi_info_version_is_the_package_version() -> None:
    """/openapi.json's info.version is the package version, not a copy of it."""
    assert document()["info"]["version"] == __version__


def test_the_changelog_has_an_unreleased_section_then_this_version() -> None:
    """CHANGELOG.md (Keep a Changelog): [Unreleased] first, then a dated section of the
    installed version; a merge that drops a release section fails here."""
    text = (Path(__file__).parents[2] / "CHANGELOG.md").read_text(encoding="utf-8")
    heads = re.findall(r"^## \[([^\]]+)\](?: - (\d{4}-\d{2}-\d{2}))?$", text, flags=re.M)
    assert heads[0] == ("Unreleased", "")
    assert (__version__, heads[1][1]) == heads[1] and heads[1][1] != ""
