"""The docs stay true to the code: the home page's contents, the Commands table, retention.

These read the README until 0.2.0; its sections now live in docs/ (docs/index.md says where).
"""

from __future__ import annotations

import re
from pathlib import Path

import click

from consumer.cli import main

DOCS = Path(__file__).resolve().parents[2] / "docs"
OPERATIONS = (DOCS / "operations.md").read_text(encoding="utf-8")


def test_contents_links_every_docs_page() -> None:
    """The home page's table of pages links each docs page, and each link resolves."""
    home = (DOCS / "index.md").read_text(encoding="utf-8")
    contents = home.split("## The pages")[1].split("\n## ")[0]
    links = {link.partition("#")[0] for link in re.findall(r"\]\(([^)]+)\)", contents)}
    pages = {p.name for p in DOCS.glob("*.md")}
    assert links <= pages
    assert pages - {"index.md"} <= links


def test_commands_table_names_every_command() -> None:
    """Each command and subcommand of zeeg-consumer has a row in Operations' Commands table."""
    table = OPERATIONS.split("## Commands")[1].split("\n## ")[0]
    for name, command in main.commands.items():
        subs = command.commands if isinstance(command, click.Group) else {}
        for full in [f"{name} {sub}" for sub in subs] or [name]:
            assert f"zeeg-consumer {full}" in table or f"`{full}" in table, full


def test_trim_help_agrees_with_the_docs_on_who_trims() -> None:
    """Operations: workers trim once an hour, no scheduling needed; trim --help says the same."""
    assert "once an hour" in OPERATIONS.split("**Retention.**")[1].split("\n\n")[0]
    trim = main.commands["trim"].help or ""
    assert "once an hour" in trim and "cron" not in trim
