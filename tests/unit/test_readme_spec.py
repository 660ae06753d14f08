"""README.md stays true to the code: its contents links and its Commands table."""

from __future__ import annotations

import re
from pathlib import Path

import click

from consumer.cli import main

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def _anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to dashes."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_contents_links_every_top_level_section() -> None:
    """The contents list at the top links each ## section, and each link resolves."""
    headings = re.findall(r"^#{2,3} (.+)$", README, flags=re.MULTILINE)
    anchors = {_anchor(h) for h in headings}
    links = re.findall(r"\]\(#([^)]+)\)", README.split("## Quick start")[0])
    assert set(links) <= anchors
    top = {_anchor(h) for h in re.findall(r"^## (.+)$", README, flags=re.MULTILINE)}
    assert top <= set(links)


def test_commands_table_names_every_command() -> None:
    """Each command and subcommand of zeeg-consumer has a row in the README's Commands table."""
    table = README.split("## Commands")[1].split("\n## ")[0]
    for name, command in main.commands.items():
        subs = command.commands if isinstance(command, click.Group) else {}
        for full in [f"{name} {sub}" for sub in subs] or [name]:
            assert f"zeeg-consumer {full}" in table or f"`{full}" in table, full


def test_trim_help_agrees_with_the_readme_on_who_trims() -> None:
    """README: workers trim once an hour, nothing needs scheduling; trim --help says the same."""
    assert "once an hour" in README.split("**Retention.**")[1].split("\n\n")[0]
    trim = main.commands["trim"].help or ""
    assert "once an hour" in trim and "cron" not in trim
