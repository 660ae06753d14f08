"""mappings sync: link Zeeg records to external ids by an attribute's value, resumably."""

from __future__ import annotations

import dataclasses
import sys

import click

from consumer.cli import emit, fail, get_settings
from consumer.cli.mappings import mappings
from consumer.delivery.jobs import build_context
from consumer.errors import InvalidIdentifier, ZeegError
from consumer.mappings.sync import SyncReport, reset, sync


@mappings.command("sync")
@click.option("--source", required=True, help="The source whose external ids the values are.")
@click.option("--object", "object_slug", required=True, help="The Zeeg object slug to list.")
@click.option("--attribute", required=True, help="The attribute holding the external id.")
@click.option(
    "--count", type=click.IntRange(1, 100), default=100, show_default=True, help="Records per page."
)
@click.option("--restart", is_flag=True, help="Forget a saved cursor and start at page 1.")
@click.option("--json", "as_json", is_flag=True)
def sync_(
    source: str, object_slug: str, attribute: str, count: int, restart: bool, as_json: bool
) -> None:
    """Page through GET /crm/OBJECT and link each record by ATTRIBUTE (resumes if interrupted)."""
    settings = get_settings(require_token=True)
    if source not in settings.sources:
        fail(f"source {source!r} is not configured")
    ctx = build_context(settings)
    try:
        if restart:
            reset(ctx, source, object_slug, attribute)
    except InvalidIdentifier as e:
        fail(str(e))
    stderr = sys.stderr
    with click.progressbar(length=1, label="syncing", hidden=as_json, file=stderr) as bar:

        def on_page(report: SyncReport) -> None:
            """Advance the bar a page; its length follows Zeeg's totalPages."""
            bar.length = max(report.total_pages, 1)
            done = report.page if report.complete else report.page - 1
            bar.update(done - bar.pos)

        try:
            report = sync(ctx, source, object_slug, attribute, count, on_page=on_page)
        except InvalidIdentifier as e:
            fail(str(e))
        except ZeegError as e:
            fail(f"sync stopped ({e}); run the same command again to resume")
    emit(dataclasses.asdict(report), as_json, _text(report))


def _text(report: SyncReport) -> str:
    text = (
        f"{report.records} record(s) on {report.total_pages} page(s): linked {report.linked}, "
        f"already linked {report.unchanged}, skipped {report.skipped}, "
        f"erasures enqueued {report.erasures}"
    )
    return f"resumed at page {report.resumed_from}\n{text}" if report.resumed_from else text
