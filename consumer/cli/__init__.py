"""The zeeg-consumer command line: a click group, each command a few lines over library code."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any, NoReturn

import click
import redis

from consumer.errors import ConfigError, ConsumerError
from consumer.settings import Settings, load_settings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config", envvar="CONSUMER_CONFIG", type=click.Path(dir_okay=False), help="Config file."
)
@click.pass_context
def main(ctx: click.Context, config: str | None) -> None:
    """Erase Zeeg CRM records when upstream systems delete a person."""
    ctx.obj = {"config": config}


# Written by `zeeg-consumer run` while its embedded Redis runs, removed when it stops.
EMBEDDED_URL = Path("var") / "redis.url"


def fail(message: str, code: int = 1) -> NoReturn:
    """Exit non-zero (1 unless told) with one clear line on stderr."""
    click.echo(f"zeeg-consumer: {message}", err=True)
    sys.exit(code)


def get_settings(
    *, require_token: bool = False, sandbox: bool = False, embedded: bool = True
) -> Settings:
    """Load settings for the running command, or exit with every problem on one line.

    Without REDIS_URL, a command run beside a running `zeeg-consumer run` (make run) uses its
    embedded Redis, whose URL that process keeps in var/redis.url (embedded=False: never).
    """
    ctx = click.get_current_context()
    try:
        settings = load_settings(ctx.find_root().obj.get("config"))
    except ConfigError as e:
        fail(str(e))
    if embedded and settings.redis_url is None and EMBEDDED_URL.is_file():
        url = EMBEDDED_URL.read_text(encoding="utf-8").strip()
        if url.startswith(("redis://", "rediss://", "unix://")):
            settings = dataclasses.replace(settings, redis_url=url)
    if require_token and not settings.zeeg.token and not (sandbox or settings.sandbox):
        fail("ZEEG_API_TOKEN is not set: set it, or pass --sandbox to use the built-in fake Zeeg")
    return settings


def emit(data: Any, as_json: bool, text: str | None = None) -> None:
    """Print JSON with --json, else the readable text (or indented JSON)."""
    if as_json or text is None:
        click.echo(json.dumps(data, indent=None if as_json else 2, sort_keys=True, default=str))
    else:
        click.echo(text)


def run_main() -> None:
    """Entry point: every failure (usage, ConsumerError, Redis outage) is one line on stderr."""
    try:
        code = main(standalone_mode=False)
    except click.UsageError as e:  # click's own report is three lines: SPEC §6 wants one
        hint = f" (see `{e.ctx.command_path} --help`)" if e.ctx else ""
        fail(e.format_message() + hint, e.exit_code)
    except click.ClickException as e:
        fail(e.format_message(), e.exit_code)
    except click.Abort:
        fail("aborted")
    except ConsumerError as e:
        fail(str(e))
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
        fail("Redis is unavailable (check REDIS_URL)")
    sys.exit(code if isinstance(code, int) else 0)


from consumer.cli import check, mappings, ops, serve  # noqa: E402 - commands register on main

__all__ = ["check", "main", "mappings", "ops", "serve"]
