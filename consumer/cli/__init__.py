"""The zeeg-consumer command line: the root click group, every command registered on it here
(each command module defines plain click commands and groups), and the entry point that turns
any failure into one line on stderr.
"""

from __future__ import annotations

import sys

import click
import redis

from consumer import __version__
from consumer.cli.alerts import alerts
from consumer.cli.audit import audit, trim
from consumer.cli.check import check, send_test_event
from consumer.cli.common import fail
from consumer.cli.delivery import failed, pause, requeue, resume, status
from consumer.cli.events import erase, events, replay
from consumer.cli.mappings import mappings
from consumer.cli.receipts import keys, receipt
from consumer.cli.serve import run, sandbox, web, worker
from consumer.errors import ConsumerError

COMMANDS: tuple[click.Command, ...] = (
    *(check, send_test_event),
    *(run, web, worker, sandbox),
    *(status, failed, requeue, pause, resume),
    *(events, replay, erase),
    *(audit, trim),
    *(keys, receipt),
    mappings,
    alerts,
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="zeeg-consumer")
@click.option(
    "--config", envvar="CONSUMER_CONFIG", type=click.Path(dir_okay=False), help="Config file."
)
@click.pass_context
def main(ctx: click.Context, config: str | None) -> None:
    """Erase Zeeg CRM records when upstream systems delete a person."""
    ctx.obj = {"config": config}


for _command in COMMANDS:
    main.add_command(_command)


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


__all__ = ["COMMANDS", "main", "run_main"]
