"""alerts test: check the [alerts] configuration by sending one test alert."""

from __future__ import annotations

import time

import click

from consumer import logs
from consumer.alerts import Alert, Sender
from consumer.alerts.evaluate import FIRING, TEST
from consumer.cli.common import fail, get_ops, operator_command
from consumer.settings.load import log_format


@click.group()
def alerts() -> None:
    """Alerts sent to the [alerts] webhook (docs/alerts.md)."""


@alerts.command("test")
@operator_command
def test_alert() -> None:
    """Send one test alert to the configured webhook, with its retries; exit 1 if refused."""
    logs.configure(log_format(), "cli")
    ops = get_ops()
    if ops.settings.alerts.webhook_url is None:
        fail("alerts are off: set [alerts] webhook_url_env and that environment variable")
    text = "zeeg-consumer: test alert (`zeeg-consumer alerts test`); alerts reach this channel."
    sender = Sender(ops.r, ops.settings.alerts)
    if not sender.send(Alert(TEST, FIRING, text, time.time())):
        fail("the test alert could not be sent (see the lines above)")
    click.echo("test alert sent")
