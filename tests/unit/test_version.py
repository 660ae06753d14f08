"""The version has one source: the installed distribution's metadata (pyproject's version)."""

from __future__ import annotations

from importlib.metadata import version

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
